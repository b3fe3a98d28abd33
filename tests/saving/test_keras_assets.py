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


# ------------------------------------------------------------------ output modes, tf-idf
DOCS = np.array(["the cat sat", "the dog ran", "a cat", "the end", "dog dog"])
TOKENS = np.array(["b", "a", "b", "c", "c", "c", "d"])
LOOKUP_SETTINGS = [dict(output_mode="tf_idf"), dict(output_mode="tf_idf", pad_to_max_tokens=True, max_tokens=9),
                   dict(output_mode="tf_idf", num_oov_indices=2, mask_token=""), dict(output_mode="multi_hot"),
                   dict(output_mode="count", num_oov_indices=2), dict(output_mode="one_hot"),
                   dict(output_mode="int", mask_token="[M]"), dict(output_mode="int", invert=True)]


def lookup_model(settings):
    sl = layers.StringLookup(name="sl", **settings)
    il = layers.IntegerLookup(name="il", **{k: (0 if k == "mask_token" else v) for k, v in settings.items()
                                            if k != "mask_token" or v is not None})
    text_mode = {"one_hot": "multi_hot"}.get(settings["output_mode"], settings["output_mode"])
    tv = layers.TextVectorization(output_mode=text_mode, name="tv")
    tv.adapt(DOCS)
    if settings.get("invert"):  # an inverting lookup is given its vocabulary, Keras cannot adapt one
        sl.set_vocabulary(["c", "b", "a"])
        il.set_vocabulary([9, 7, 5])
        i1, i2 = layers.Input((1,), dtype="int64"), layers.Input((1,), dtype="int64")
        x = [np.array([[1], [2], [0]]), np.array([[3], [1], [2]])]
    else:
        sl.adapt(TOKENS)
        il.adapt(np.array([5, 7, 7, 9, 9, 9, 4]))
        i1, i2 = layers.Input((1,), dtype="string"), layers.Input((1,), dtype="int64")
        x = [np.array([["a"], ["z"], ["c"]]), np.array([[7], [3], [9]])]
    i3 = layers.Input((), dtype="string")
    return dg.Model([i1, i2, i3], [sl(i1), il(i2), tv(i3)]), x + [np.array(["the cat cat", "a dog", "end zz"])]


def _without_vocabularies(files):
    """The archive as Keras writes adapted lookups: no vocabulary nor IDF weights in the config."""
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] in ("StringLookup", "IntegerLookup", "TextVectorization"):
            layer["config"]["vocabulary"] = layer["config"]["idf_weights"] = None
    return {**files, "config.json": json.dumps(config).encode()}


def h5_datasets(data: bytes) -> dict:
    import io

    import h5py
    found = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("settings", LOOKUP_SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_lookup_modes_load_from_kerass_layout(settings, tmp_path):
    """Vocabularies in ``assets/``, IDF weights at ``{path}/vars/idf_weights`` (Keras's
    ``IndexLookup.save_own_variables``: one per index, special ones first), outputs equal."""
    model, x = lookup_model(settings)
    path = str(tmp_path / "m.keras")
    model.save(path)
    files = members(path)
    weights = h5_datasets(files["model.weights.h5"])
    tf_idf = settings["output_mode"] == "tf_idf"
    expected_idf = {f"layers/{name}/vars/idf_weights": model.get_layer(layer).idf_weights
                    for name, layer in (("string_lookup", "sl"), ("integer_lookup", "il"))}
    expected_idf["layers/text_vectorization/_lookup_layer/vars/idf_weights"] = \
        model.get_layer("tv")._lookup_layer.idf_weights
    assert sorted(weights) == (sorted(expected_idf) if tf_idf else [])
    for key, idf in weights.items():
        assert idf.dtype == np.float32 and idf.ndim == 1
        np.testing.assert_array_equal(idf, expected_idf[key])
    if tf_idf:
        vocabulary = model.get_layer("sl").get_vocabulary()
        assert files["assets/layers/string_lookup/vocabulary.txt"].decode().split("\n") == vocabulary
        assert weights["layers/string_lookup/vars/idf_weights"].size == settings.get("max_tokens", len(vocabulary))
    rewrite(path, _without_vocabularies(files) if not settings.get("invert") else files)
    loaded = dg.models.load_model(path)
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        if np.asarray(b).dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:  # an inverting lookup gives tokens
            np.testing.assert_array_equal(a, b)
    if tf_idf:
        assert float(np.max(loaded.predict(x, verbose=0)[0])) > 0.5  # weighted counts, not zeros


def test_bad_idf_weights_are_refused(tmp_path):
    import io

    import h5py
    model, _ = lookup_model(dict(output_mode="tf_idf"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    files = _without_vocabularies(members(path))

    def with_idf(value):
        buffer = io.BytesIO(files["model.weights.h5"])
        with h5py.File(buffer, "a") as f:
            del f["layers/string_lookup/vars/idf_weights"]
            f["layers/string_lookup/vars/idf_weights"] = value
        rewrite(path, {**files, "model.weights.h5": buffer.getvalue()})
    with_idf(np.ones((2, 3), np.float32))
    with pytest.raises(UnsafeFileError, match="1-D float"):
        dg.models.load_model(path)
    with_idf(np.ones(2, np.float32))  # fewer weights than the vocabulary has tokens
    with pytest.raises(UnsafeFileError, match="StringLookup 'sl' is a tf-idf lookup of 5 tokens"):
        dg.models.load_model(path)
