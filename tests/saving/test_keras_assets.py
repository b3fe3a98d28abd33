"""Keras's ``assets/`` in ``.keras`` files: adapted vocabularies of StringLookup, IntegerLookup
and TextVectorization are written where Keras's ``save_assets`` writes them and read back into
layers whose config has no vocabulary, as a Keras-written file has it.

Keras's lookup layers need TensorFlow, which is absent here, so Keras cannot build them: its
side is the file layout of ``keras/src/saving/saving_lib.py`` (``assets/{object path}/``, the
object paths Keras gives the weights, checked against Keras in test_keras_format.py) and of
``IndexLookup.save_assets`` (``vocabulary.txt``: the vocabulary with its special tokens, one per
line)."""
import json
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.files import UnsafeFileError


def adapted_model():
    sl = layers.StringLookup(mask_token="", name="sl")
    sl.adapt(np.array(["b", "a", "b", "c", "c", "c"]))
    tv = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    tv.adapt(np.array(["the cat sat", "the dog ran", "a cat", "the end"]))
    il = layers.IntegerLookup(name="il")
    il.adapt(np.array([5, 7, 7, 9, 9, 9]))
    fixed = layers.StringLookup(vocabulary=["x", "y"], name="given")
    i1, i2, i3 = layers.Input((1,), dtype="string"), layers.Input((), dtype="string"), layers.Input((1,), dtype="int64")
    return dg.Model([i1, i2, i3], [sl(i1), tv(i2), il(i3), fixed(i1)])


X = [np.array([["a"], ["z"], ["c"]]), np.array(["the cat", "a dog", "end"]), np.array([[7], [3], [9]])]


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(path, members_):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members_.items():
            zf.writestr(name, data)


def test_adapted_vocabularies_are_written_as_kerass_assets(tmp_path):
    model = adapted_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    assets = {k: v for k, v in members(path).items() if k.startswith("assets/")}
    # the layer given its vocabulary ("given") has none: Keras keeps that one in the config
    assert assets == {
        "assets/layers/string_lookup/vocabulary.txt": b"\n[UNK]\nc\nb\na",
        "assets/layers/text_vectorization/vocabulary.txt": b"\n[UNK]\nthe\ncat\nsat\nran\nend\ndog\na",
        "assets/layers/text_vectorization/_lookup_layer/vocabulary.txt": b"\n[UNK]\nthe\ncat\nsat\nran\nend\ndog\na",
        "assets/layers/integer_lookup/vocabulary.txt": b"-1\n9\n7\n5",
    }
    loaded = dg.models.load_model(path)
    for a, b in zip(loaded.predict(X, verbose=0), model.predict(X, verbose=0)):
        np.testing.assert_array_equal(a, b)


def _as_keras_writes_it(path):
    """The file with the adapted layers' configs holding no vocabulary, as in Keras's file."""
    files = members(path)
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] in ("StringLookup", "IntegerLookup", "TextVectorization") \
                and layer["config"]["name"] != "given":
            layer["config"]["vocabulary"] = None
    files["config.json"] = json.dumps(config).encode()
    return files


def test_vocabularies_load_from_assets_when_the_config_has_none(tmp_path):
    model = adapted_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    files = _as_keras_writes_it(path)
    rewrite(path, files)
    loaded = dg.models.load_model(path)
    assert loaded.get_layer("sl").get_vocabulary() == ["", "[UNK]", "c", "b", "a"]
    assert loaded.get_layer("il").get_vocabulary() == [-1, 9, 7, 5]
    for a, b in zip(loaded.predict(X, verbose=0), model.predict(X, verbose=0)):
        np.testing.assert_array_equal(a, b)
    # without the assets the layers have no vocabulary: the assets are what was read
    rewrite(path, {k: v for k, v in files.items() if not k.startswith("assets/")})
    bare = dg.models.load_model(path)
    assert bare.get_layer("sl").get_vocabulary() == ["", "[UNK]"]


def test_bad_vocabulary_files_are_refused(tmp_path):
    path = str(tmp_path / "m.keras")
    adapted_model().save(path)
    files = _as_keras_writes_it(path)
    files["assets/layers/integer_lookup/vocabulary.txt"] = b"-1\n9\nseven"
    rewrite(path, files)
    with pytest.raises(UnsafeFileError, match=r"IntegerLookup 'il'.*'seven'"):
        dg.models.load_model(path)
    files["assets/layers/integer_lookup/vocabulary.txt"] = b"-1\n9\n\xff\xfe"
    rewrite(path, files)
    with pytest.raises(UnsafeFileError, match="not UTF-8"):
        dg.models.load_model(path)
    files["assets/../../evil.txt"] = b"x"
    rewrite(path, files)
    with pytest.raises(UnsafeFileError):
        dg.models.load_model(path)


def test_models_without_lookups_have_kerass_members(tmp_path):
    keras = pytest.importorskip("keras")
    dg.Sequential([layers.Input((3,)), layers.Dense(2)]).save(str(tmp_path / "d.keras"))
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(str(tmp_path / "k.keras"))
    assert sorted(members(str(tmp_path / "d.keras"))) == sorted(members(str(tmp_path / "k.keras")))
