"""``keras.export.ExportArchive``, ``model.export(path)`` (its default format), their loading back
(``load_archive``, ``tf.saved_model.load``, ``layers.TFSMLayer``) and the archive's defences."""
import inspect
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("onnxruntime")

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.endpoints import MANIFEST, ArchiveError  # noqa: E402
from deepgrad.export import ExportArchive, ExportError, load_archive  # noqa: E402

from onnx_helpers import randomize  # noqa: E402


def _mlp(dropout=0.5, seed=0):
    model = dg.Sequential([layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dropout(dropout),
                           layers.BatchNormalization(), layers.Dense(2)])
    randomize(model, seed)
    return model


def _x(n=5, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 3)).astype("float32")


def test_keras_method_signatures():
    # Keras's archive needs TensorFlow to be made; its methods are read from the class
    from keras.src.export.saved_model_export_archive import SavedModelExportArchive
    for method in ["track", "add_endpoint", "track_and_add_endpoint", "add_variable_collection", "write_out"]:
        ours = list(inspect.signature(getattr(ExportArchive, method)).parameters)
        theirs = list(inspect.signature(getattr(SavedModelExportArchive, method)).parameters)
        assert ours == theirs, method


def test_endpoint_variables_and_collections_round_trip(tmp_path, capsys):
    model = _mlp()
    archive = ExportArchive()
    archive.track(model)
    fn = archive.add_endpoint("serve", model.call, [dg.InputSpec(shape=(None, 3), dtype="float32")])
    assert fn == model.call
    archive.add_variable_collection("my_vars", model.trainable_variables[:2])
    archive.write_out(str(tmp_path))
    assert "Saved artifact at" in capsys.readouterr().out
    loaded = load_archive(str(tmp_path))
    x = _x()
    out = loaded.serve(x)
    np.testing.assert_allclose(out.numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # any batch size, float64 input cast to the exported float32
    np.testing.assert_allclose(loaded.serve(x[:1].astype("float64")).numpy(), model.predict(x[:1], verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert [v.shape for v in loaded.variables] == [v.shape for v in model.variables]
    for got, want in zip(loaded.variables, model.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert len(loaded.trainable_variables) == len(model.trainable_variables)
    assert len(loaded.non_trainable_variables) == len(model.non_trainable_variables)
    assert [v.trainable for v in loaded.my_vars] == [True, True]
    np.testing.assert_array_equal(loaded.my_vars[0].numpy(), model.trainable_variables[0].numpy())
    sig = loaded.signatures["serving_default"](args_0=x)
    np.testing.assert_allclose(sig["output_0"].numpy(), out.numpy())


def test_nested_arguments_several_endpoints_and_dict_outputs(tmp_path):
    a, b = layers.Input((3,), name="a"), layers.Input((2,), name="b")
    h = layers.Concatenate()([layers.Dense(4, name="da")(a), b])
    model = dg.Model({"a": a, "b": b}, {"sum": layers.Dense(1, name="s")(h), "feat": h})
    randomize(model)
    archive = ExportArchive()
    archive.track_and_add_endpoint("serve", model)      # the model's own input structure
    archive.add_endpoint("first", lambda inputs: model.get_layer("da")(inputs[0]),
                         [[dg.InputSpec(shape=(None, 3)), dg.InputSpec(shape=(None, 2))]])
    archive.write_out(str(tmp_path), verbose=False)
    loaded = load_archive(str(tmp_path))
    rng = np.random.default_rng(0)
    feed = {"a": rng.normal(size=(4, 3)).astype("float32"), "b": rng.normal(size=(4, 2)).astype("float32")}
    got, want = loaded.serve(feed), model.predict(feed, verbose=0)
    assert set(got) == {"sum", "feat"}
    for k in got:
        np.testing.assert_allclose(got[k].numpy(), want[k], rtol=1e-5, atol=1e-6)
    first = loaded.first([feed["a"], feed["b"]])
    np.testing.assert_allclose(first.numpy(), model.get_layer("da")(feed["a"]).numpy(), rtol=1e-5, atol=1e-6)
    assert "serving_default" in loaded.signatures and "first" in loaded.signatures
    with pytest.raises(ValueError, match="expected a dict with keys"):
        loaded.serve([feed["a"], feed["b"]])
    with pytest.raises(ValueError, match=r"expected shape \(None, 3\)"):
        loaded.serve({"a": feed["b"], "b": feed["b"]})
    with pytest.raises(ValueError, match="takes 1 argument"):
        loaded.serve(feed, feed)


def test_keras_argument_checks(tmp_path):
    model = _mlp()
    archive = ExportArchive()
    with pytest.raises(ValueError, match="No endpoints have been set yet"):
        archive.write_out(str(tmp_path))
    with pytest.raises(ValueError, match="Invalid resource type"):
        archive.track("model")
    with pytest.raises(ValueError, match="not yet been built"):
        archive.track(dg.Sequential([layers.Dense(2)]))
    with pytest.raises(ValueError, match="input_signature"):
        archive.add_endpoint("serve", model.call)
    archive.add_endpoint("serve", model.call, [dg.InputSpec(shape=(None, 3))])
    with pytest.raises(ValueError, match="Endpoint name 'serve' is already taken"):
        archive.add_endpoint("serve", model.call, [dg.InputSpec(shape=(None, 3))])
    with pytest.raises(ValueError, match="only supported with the jax backend"):
        archive.add_endpoint("other", model.call, [dg.InputSpec(shape=(None, 3))], is_static=True)
    with pytest.raises(ValueError, match="list/tuple/set"):
        archive.add_variable_collection("v", model.variables[0])
    with pytest.raises(ValueError, match="keras.Variable"):
        archive.add_variable_collection("v", [np.zeros(2)])
    with pytest.raises(ValueError, match="Unsupported format"):
        ExportArchive(format="tflite")


def test_training_endpoints_of_layers_that_depend_on_it_are_refused():
    archive = ExportArchive()
    model = _mlp()
    with pytest.raises(ExportError, match=r"\['dropout.*', 'batch_normalization.*'\] with training=True"):
        archive.add_endpoint("train", lambda x: model.call(x, training=True), [dg.InputSpec(shape=(None, 3))])
    plain = dg.Sequential([layers.Input((3,)), layers.Dense(2)])
    archive.add_endpoint("train", lambda x: plain(x, training=True), [dg.InputSpec(shape=(None, 3))])


def test_model_export_default_format_and_tf_saved_model(tmp_path):
    model = _mlp()
    x = _x()
    model.export(str(tmp_path / "a"), verbose=False)
    np.testing.assert_allclose(tf.saved_model.load(str(tmp_path / "a")).serve(x).numpy(),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    tf.saved_model.save(model, str(tmp_path / "b"))
    np.testing.assert_allclose(load_archive(str(tmp_path / "b")).serve(x).numpy(), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    model.export(str(tmp_path / "c"), input_signature=[dg.InputSpec(shape=(None, 3), dtype="float64")],
                 verbose=False)
    assert json.loads((tmp_path / "c" / MANIFEST).read_text())["endpoints"]["serve"]["args"][0]["dtype"] == "float64"
    with pytest.raises(ValueError, match="options of format='onnx'"):
        model.export(str(tmp_path / "d"), quantize="int8")


def test_tfsm_layer_calls_an_endpoint(tmp_path):
    model = _mlp()
    archive = ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [dg.InputSpec(shape=(None, 3))])
    archive.add_endpoint("doubled", lambda x: layers.Rescaling(2.0)(model(x)), [dg.InputSpec(shape=(None, 3))])
    archive.write_out(str(tmp_path), verbose=False)
    x = _x()
    layer = layers.TFSMLayer(str(tmp_path), call_endpoint="serve", call_training_endpoint="doubled")
    np.testing.assert_allclose(layer(x).numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(x, training=True).numpy(), 2 * model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    inp = layers.Input((3,))
    outer = dg.Model(inp, layers.Dense(1)(layer(inp)))
    assert outer.output.shape == (None, 1) and layer.compute_output_shape((None, 3)) == (None, 2)
    assert outer.predict(x, verbose=0).shape == (5, 1)
    assert layer.trainable_weights == []
    again = layers.TFSMLayer.from_config(layer.get_config())
    np.testing.assert_allclose(again(x).numpy(), layer(x).numpy())
    with pytest.raises(ValueError, match="'nope' is not an attribute"):
        layers.TFSMLayer(str(tmp_path), call_endpoint="nope")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotImplementedError, match="TensorFlow"):
        layers.TFSMLayer(str(plain))


def test_rewriting_replaces_the_archive_and_a_failed_write_keeps_the_old_one(tmp_path, monkeypatch):
    first, second = _mlp(seed=0), _mlp(seed=3)
    x = _x()
    first.export(str(tmp_path), verbose=False)
    before = sorted(os.listdir(tmp_path))
    second.export(str(tmp_path), verbose=False)
    assert len(os.listdir(tmp_path)) == len(before)      # the first archive's files are gone
    np.testing.assert_allclose(load_archive(str(tmp_path)).serve(x).numpy(), second.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    import deepgrad.export.archive as archive_module
    real = archive_module.write_bytes_atomic

    def failing(path, data, overwrite=True):
        if path.endswith(MANIFEST):
            raise OSError("disk full")
        return real(path, data, overwrite)

    monkeypatch.setattr(archive_module, "write_bytes_atomic", failing)
    with pytest.raises(OSError, match="disk full"):
        first.export(str(tmp_path), verbose=False)
    np.testing.assert_allclose(load_archive(str(tmp_path)).serve(x).numpy(), second.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        second.export(str(tmp_path / "file"), verbose=False)


def test_hostile_or_broken_archives_are_refused(tmp_path):
    model = _mlp()
    model.export(str(tmp_path), verbose=False)
    manifest_path = tmp_path / MANIFEST
    good = json.loads(manifest_path.read_text())

    def broken(edit):
        m = json.loads(json.dumps(good))
        edit(m)
        manifest_path.write_text(json.dumps(m))

    with pytest.raises(ArchiveError, match="does not exist"):
        load_archive(str(tmp_path / "missing"))
    broken(lambda m: m["endpoints"]["serve"].update(file="../../etc/passwd"))
    with pytest.raises(ArchiveError, match="not a plain file name"):
        load_archive(str(tmp_path))
    broken(lambda m: m["endpoints"]["serve"].update(file="gone.onnx"))
    with pytest.raises(ArchiveError, match="missing"):
        load_archive(str(tmp_path))
    broken(lambda m: m.update(version=99))
    with pytest.raises(ArchiveError, match="version 99"):
        load_archive(str(tmp_path))
    broken(lambda m: m["endpoints"]["serve"].update(args=[{"oops": 1}]))
    with pytest.raises(ArchiveError, match="malformed"):
        load_archive(str(tmp_path))
    manifest_path.write_bytes(b"\x80\x04not json")
    with pytest.raises(ArchiveError, match="not valid JSON|corrupt"):
        load_archive(str(tmp_path))
    manifest_path.write_text(json.dumps(good))
    onnx_file = tmp_path / good["endpoints"]["serve"]["file"]
    onnx_file.write_bytes(b"garbage")
    with pytest.raises(ArchiveError, match="not a valid ONNX file|cannot be loaded"):
        load_archive(str(tmp_path))


def test_external_data_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = _mlp()
    model.export(str(tmp_path), verbose=False)
    good = json.loads((tmp_path / MANIFEST).read_text())
    path = tmp_path / good["endpoints"]["serve"]["file"]
    proto = onnx.load(str(path))
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    with pytest.raises(ArchiveError, match="external data"):
        load_archive(str(tmp_path))
