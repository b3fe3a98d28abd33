"""``KerasFileEditor`` against Keras's own editor: the same view of a file, the same edits, a
resaved file that both Keras and deepgrad load."""
import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.saving import KerasFileEditor

keras = pytest.importorskip("keras")
K = keras.layers


def keras_mlp(units=(4, 2)):
    return keras.Sequential([K.Input((3,))] + [K.Dense(u) for u in units])


def deepgrad_mlp(units=(4, 2)):
    return dg.Sequential([layers.Input((3,))] + [layers.Dense(u) for u in units])


def flat(d, path=""):
    out = {}
    for key, value in d.items():
        inner = f"{path}/{key}" if path else key
        if isinstance(value, dict):
            out.update(flat(value, inner))
        else:
            out[inner] = np.asarray(value)
    return out


def layout(path):
    shapes = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda p, o: shapes.__setitem__(p, o.shape) if isinstance(o, h5py.Dataset) else None)
    return shapes


@pytest.fixture
def saved(tmp_path):
    model = keras_mlp()
    for i, w in enumerate(model.weights):
        w.assign(np.random.default_rng(i).standard_normal(tuple(w.shape)).astype("float32"))
    model.save(tmp_path / "m.keras")
    return model, tmp_path / "m.keras"


def test_same_view_as_keras(saved, capsys):
    _, path = saved
    ours = KerasFileEditor(path)
    theirs = keras.saving.KerasFileEditor(str(path))
    a, b = flat(ours.weights_dict), flat(theirs.weights_dict)
    assert sorted(a) == sorted(b) == ["layers/dense/0", "layers/dense/1", "layers/dense_1/0", "layers/dense_1/1"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert ours.metadata["keras_version"] == "3.15.1"
    assert ours.config["class_name"] == "Sequential"
    ours.summary()
    printed = capsys.readouterr().out
    name = ours.object_metadata["layers/dense_1"]["name"]   # the layer's own name, e.g. "dense_1"
    assert f"dense_1 ('{name}')" in printed and "shape=(4, 2)" in printed


def test_compare(saved):
    _, path = saved
    editor = KerasFileEditor(path)
    assert editor.compare(deepgrad_mlp()) == {"status": "success", "error_count": 0, "match_count": 4}
    result = editor.compare(deepgrad_mlp((4, 3)))
    assert result["status"] == "error" and result["error_count"] == 2 and result["match_count"] == 2
    assert editor.compare(deepgrad_mlp((4, 2, 1)))["error_count"] == 1   # layers/dense_2 missing from the file


def test_edits_match_keras_and_both_load_the_result(saved, tmp_path):
    keras_model, path = saved
    extra = {"0": np.full((2, 1), 0.5, "float32"), "1": np.array([0.25], "float32")}
    files = {}
    for label, editor in (("ours", KerasFileEditor(path)), ("keras", keras.saving.KerasFileEditor(str(path)))):
        editor.add_object("layers/dense_2", extra)
        editor.rename_object("layers/dense", "tmp")
        editor.rename_object("tmp", "dense")
        files[label] = tmp_path / f"{label}.weights.h5"
        editor.save(files[label])
    assert layout(files["ours"]) == layout(files["keras"])

    x = np.random.default_rng(7).standard_normal((5, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(keras_model.predict(x, verbose=0)) @ extra["0"] + extra["1"]
    bigger_keras = keras_mlp((4, 2, 1))
    bigger_keras.load_weights(files["ours"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bigger_keras.predict(x, verbose=0)), expected, rtol=1e-5,
                               atol=1e-5)
    bigger = deepgrad_mlp((4, 2, 1))
    bigger.load_weights(files["keras"])
    np.testing.assert_allclose(bigger.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_weight_edits_and_errors(saved, tmp_path):
    _, path = saved
    editor = KerasFileEditor(path)
    editor.delete_weight("dense_1", "1")
    assert list(editor.weights_dict["layers"]["dense_1"]) == ["0"]
    editor.add_weights("layers/dense_1", {"1": np.zeros(2, "float32")})
    assert flat(editor.weights_dict)["layers/dense_1/1"].shape == (2,)
    editor.delete_object("dense")
    assert list(editor.weights_dict["layers"]) == ["dense_1"]
    with pytest.raises(ValueError, match="does not appear"):
        editor.delete_object("dense")
    with pytest.raises(ValueError, match="not found"):
        editor.rename_object("layers/nothing", "x")
    with pytest.raises(ValueError, match="leaf name"):
        editor.rename_object("dense_1", "a/b")
    with pytest.raises(ValueError, match="'.weights.h5'"):
        editor.save(tmp_path / "x.keras")
    editor.add_object("layers/dense_2", {"0": np.ones((2, 2), "float32")})
    editor.add_object("layers/dense_3", {"0": np.ones((2, 2), "float32")})
    editor.rename_object("layers/dense_3", "dense_2b")
    with pytest.raises(ValueError, match="occurs 3 times"):
        editor.delete_weight("0", "0")


def test_weights_file_and_recurrent_cells(tmp_path):
    model = keras.Sequential([K.Input((4, 2)), K.LSTM(3)])
    model.save_weights(tmp_path / "r.weights.h5")
    editor = KerasFileEditor(tmp_path / "r.weights.h5")
    assert sorted(flat(editor.weights_dict)) == ["layers/lstm/cell/0", "layers/lstm/cell/1", "layers/lstm/cell/2"]
    editor.save(tmp_path / "same.weights.h5")
    mine = dg.Sequential([layers.Input((4, 2)), layers.LSTM(3)])
    mine.load_weights(tmp_path / "same.weights.h5")
    for a, b in zip(mine.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))
