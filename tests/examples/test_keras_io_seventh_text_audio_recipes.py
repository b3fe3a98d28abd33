"""Patterns of the Keras documentation's text, audio, structured-data and recipe programs and guides
(keras-team/keras-io), seventh list: registered loss and metric functions saved in ``.keras``
files, ``tf.unique`` / ``tf.unique_with_counts``, ``tensor == None``, ``Dense.build`` of a 1-D
shape and its input spec, exported serving signatures; written here in small form and checked
against Keras 3 (torch backend) where Keras gives the number."""
from __future__ import annotations

import json
import os
import re
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.registry import GLOBAL_CUSTOM_NAMES, GLOBAL_CUSTOM_OBJECTS  # noqa: E402


def _np(x):
    return x.numpy() if isinstance(x, dg.Tensor) else np.asarray(keras.ops.convert_to_numpy(x))


# ----------------------------------------------------------------- registered loss and metric functions
@pytest.fixture
def registered_functions():
    """A loss registered under its own name and a metric under the default package, registered in
    both deepgrad and Keras; the registrations are removed afterwards."""
    made = {}
    for lib in (dg, keras):
        ops = lib.ops

        def seventh_loss(y_true, y_pred, ops=ops):
            return ops.mean(ops.square(y_true - y_pred), axis=-1) + 0.5 * ops.mean(ops.abs(y_pred), axis=-1)

        def seventh_metric(y_true, y_pred, ops=ops):
            return ops.mean(ops.abs(y_true - y_pred), axis=-1)

        loss = lib.saving.register_keras_serializable(package="seventh", name="half_l1")(seventh_loss)
        metric = lib.saving.register_keras_serializable()(seventh_metric)
        made[lib] = (loss, metric)
    yield made
    for key in ("seventh>half_l1", "Custom>seventh_metric"):
        GLOBAL_CUSTOM_OBJECTS.pop(key, None)
        keras.saving.get_custom_objects().pop(key, None)
    for fn in made[dg]:
        GLOBAL_CUSTOM_NAMES.pop(fn, None)


def _compiled(lib, loss, metric):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=loss, metrics=[metric])
    return model


def test_registered_loss_and_metric_functions_are_saved_by_registered_name(tmp_path, registered_functions):
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    y = np.linspace(0, 1, 8, dtype="float32").reshape(4, 2)
    ours = _compiled(dg, *registered_functions[dg])
    theirs = _compiled(keras, *registered_functions[keras])
    ours.set_weights(theirs.get_weights())
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    saved = {name: json.loads(zipfile.ZipFile(tmp_path / f"{name}.keras").read("config.json"))["compile_config"]
             for name in ("ours", "theirs")}
    for key in ("loss", "metrics"):
        assert saved["ours"][key] == saved["theirs"][key]
    assert saved["ours"]["loss"]["config"] == "seventh>half_l1"
    expected = theirs.evaluate(x, y, verbose=0, return_dict=True)
    # each library reads its own file and the other's, and compiles with the registered functions
    for path in ("ours", "theirs"):
        back = dg.models.load_model(tmp_path / f"{path}.keras")
        assert back.loss is registered_functions[dg][0]
        got = back.evaluate(x, y, verbose=0, return_dict=True)
        np.testing.assert_allclose([got["loss"], got["seventh_metric"]],
                                   [expected["loss"], expected["seventh_metric"]], rtol=1e-5)
    back = keras.models.load_model(tmp_path / "ours.keras")
    assert back.loss is registered_functions[keras][0]


def test_registered_loss_class_keeps_its_registered_name_in_the_file(tmp_path):
    @dg.saving.register_keras_serializable(package="seventh")
    class ScaledAbs(dg.losses.Loss):
        def __init__(self, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * dg.ops.mean(dg.ops.abs(y_true - y_pred), axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    try:
        model = _compiled(dg, ScaledAbs(scale=3.0), "mae")
        model.save(tmp_path / "m.keras")
        saved = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["compile_config"]["loss"]
        assert saved["registered_name"] == "seventh>ScaledAbs" and saved["config"]["scale"] == 3.0
        back = dg.models.load_model(tmp_path / "m.keras")
        assert isinstance(back.loss, ScaledAbs) and back.loss.scale == 3.0
    finally:
        GLOBAL_CUSTOM_OBJECTS.pop("seventh>ScaledAbs", None)
        GLOBAL_CUSTOM_NAMES.pop(ScaledAbs, None)


def test_serialize_of_a_registered_function_is_its_registered_name(registered_functions):
    loss, metric = registered_functions[dg]
    assert dg.losses.serialize(loss) == "seventh>half_l1"
    assert dg.losses.deserialize("seventh>half_l1") is loss
    assert dg.losses.get("seventh>half_l1") is loss
    assert dg.losses.serialize(dg.losses.mean_squared_error) == "mean_squared_error"


# ----------------------------------------------------------------- tf.unique
def test_tf_unique_returns_named_tuples_in_first_seen_order():
    x = tf.constant([4, 1, 4, 7, 1, 1])
    out = tf.unique(x)
    assert type(out).__name__ == "UniqueOutput" and out._fields == ("y", "idx")
    np.testing.assert_array_equal(out.y.numpy(), [4, 1, 7])
    np.testing.assert_array_equal(out.idx.numpy(), [0, 1, 0, 2, 1, 1])
    assert out.idx.dtype == np.int32
    np.testing.assert_array_equal(out.y.numpy()[out.idx.numpy()], x.numpy())
    y, idx, count = tf.unique_with_counts(x, out_idx=tf.int64)
    np.testing.assert_array_equal(count.numpy(), [2, 3, 1])
    assert idx.dtype == np.int64 and count.dtype == np.int64
    assert tf.unique_with_counts(x)._fields == ("y", "idx", "count")
    words = tf.unique_with_counts(tf.constant(["b", "a", "b", "c"]))
    assert list(words.y) == ["b", "a", "c"] and words.count.numpy().tolist() == [2, 1, 1]
    assert tf.unique([2.5, 2.5, 1.0]).y.dtype == np.float32
    with pytest.raises(ValueError, match="1-D"):
        tf.unique(tf.constant([[1, 2]]))


# ----------------------------------------------------------------- tensor == None
def test_comparing_a_tensor_with_none_gives_a_python_bool_as_torch():
    import torch
    t, v = dg.Tensor(np.ones(3, "float32")), dg.Variable(np.ones(2, "float32"))
    for ours in (t, v):
        assert (ours == None) is (torch.ones(3) == None) is False  # noqa: E711
        assert (ours != None) is (torch.ones(3) != None) is True  # noqa: E711
    np.testing.assert_array_equal((t == 1).numpy(), [True, True, True])


# ----------------------------------------------------------------- Dense and a 1-D shape
def test_dense_builds_from_a_1d_shape_and_refuses_1d_inputs_as_keras():
    ours, theirs = layers.Dense(4), keras.layers.Dense(4)
    ours.build((10,))
    theirs.build((10,))
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights] == [(10, 4), (4,)]
    assert repr(ours.input_spec) == repr(theirs.input_spec) == "InputSpec(min_ndim=2, axes={-1: 10})"
    assert repr(layers.Dense(3).input_spec) == repr(keras.layers.Dense(3).input_spec)
    for bad in (np.ones((10,), "float32"), np.ones((2, 9), "float32")):
        with pytest.raises(ValueError) as theirs_error:
            theirs(bad)
        with pytest.raises(ValueError) as ours_error:
            ours(bad)
        unnamed = [re.sub(r"layer '[^']*'", "layer 'L'", str(e.value)) for e in (ours_error, theirs_error)]
        assert unnamed[0] == unnamed[1]
    fresh_ours, fresh_theirs = layers.Dense(2), keras.layers.Dense(2)
    for layer in (fresh_ours, fresh_theirs):
        with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1. Full shape received: \(3,\)"):
            layer(np.ones((3,), "float32"))
    np.testing.assert_array_equal(ours(np.ones((2, 10), "float32")).shape, (2, 4))
    assert ours.compute_output_shape((10,)) == theirs.compute_output_shape((10,)) == (4,)


# ----------------------------------------------------------------- exported serving signatures
def test_exported_serving_signature_describes_its_inputs_and_outputs_and_takes_positional_inputs(tmp_path):
    pytest.importorskip("onnxruntime")
    dg.utils.set_random_seed(0)
    inputs = dg.Input((5,), name="features")
    model = dg.Model(inputs, layers.Dense(3)(inputs))
    model.export(tmp_path / "served", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "served"))
    serve = reloaded.signatures["serving_default"]
    args, kwargs = serve.structured_input_signature
    assert args == () and len(kwargs) == 1
    (input_name, spec), = kwargs.items()   # the recipe reads the one input's key this way
    assert isinstance(spec, tf.TensorSpec) and spec.shape == (None, 5) and spec.dtype == np.float32
    assert spec.name == input_name
    (output_name, out_spec), = serve.structured_outputs.items()
    assert out_spec.shape == (None, 3) and out_spec.dtype == np.float32
    x = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(serve(x)[output_name].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(serve(**{input_name: x})[output_name].numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="both by position and by name"):
        serve(x, **{input_name: x})
    with pytest.raises(TypeError, match="1 input"):
        serve(x, x)
    # the endpoint itself: its arguments as exported
    (arg_spec,), no_kwargs = reloaded.serve.structured_input_signature
    assert no_kwargs == {} and arg_spec.shape == (None, 5)
    assert reloaded.serve.structured_outputs.shape == (None, 3)
    np.testing.assert_allclose(reloaded.serve(x).numpy(), expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- weighted metrics of several outputs
def _two_output_logs(lib):
    inputs = lib.Input((3,))
    model = lib.Model(inputs, [lib.layers.Dense(2, name="a")(inputs), lib.layers.Dense(1, name="b")(inputs)])
    model.compile("sgd", loss=["mse", "mse"], metrics=[["mae"], ["mae"]],
                  weighted_metrics=[["mae"], ["mae", "mae", "mse"]])
    return model


def test_weighted_metrics_of_several_outputs_are_logged_under_keras_names():
    ours, theirs = _two_output_logs(dg), _two_output_logs(keras)
    ours.set_weights(theirs.get_weights())
    x = np.linspace(0, 1, 12, dtype="float32").reshape(4, 3)
    y = [np.linspace(0, 2, 8, dtype="float32").reshape(4, 2), np.ones((4, 1), "float32")]
    sw = np.array([1.0, 2.0, 0.0, 1.0], "float32")
    expected = theirs.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert sorted(got) == sorted(expected)
    assert "b_weighted_mae_1" in got and "b_mse" in got
    np.testing.assert_allclose([got[k] for k in sorted(got)], [expected[k] for k in sorted(got)], rtol=1e-5)


def test_registered_functions_in_per_output_dicts_round_trip_through_keras_files(tmp_path, registered_functions):
    loss, metric = registered_functions[dg]
    inputs = dg.Input((3,))
    model = dg.Model(inputs, {"a": layers.Dense(2, name="a")(inputs), "b": layers.Dense(1, name="b")(inputs)})
    model.compile("sgd", loss={"a": loss, "b": "mse"}, metrics={"a": [metric], "b": ["mae"]},
                  weighted_metrics={"a": [metric]})
    x = np.linspace(0, 1, 12, dtype="float32").reshape(4, 3)
    y = {"a": np.ones((4, 2), "float32"), "b": np.zeros((4, 1), "float32")}
    model.save(tmp_path / "m.keras")
    saved = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["compile_config"]
    assert saved["loss"]["a"]["config"] == "seventh>half_l1" and saved["loss"]["b"] == "mse"
    assert saved["weighted_metrics"]["a"][0]["config"] == "Custom>seventh_metric"
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert "a_weighted_seventh_metric" in expected
    for lib in (dg, keras):
        back = lib.models.load_model(tmp_path / "m.keras")
        got = back.evaluate(x, y, verbose=0, return_dict=True)
        assert sorted(got) == sorted(expected)
        np.testing.assert_allclose([got[k] for k in sorted(got)], [expected[k] for k in sorted(got)], rtol=1e-5)


# ----------------------------------------------------------------- vocal track separation pattern
def _separation_pieces(lib, package):
    """The program's shape in small: an STFT front end, blocks that make their sub-layers in
    ``build(*_)``, a registered spectral loss and SDR metric."""
    ops, layers_ = lib.ops, lib.layers

    @lib.saving.register_keras_serializable(package=package)
    class FreqBlock(layers_.Layer):
        def __init__(self, channels, **kwargs):
            super().__init__(**kwargs)
            self.channels = channels

        def build(self, *_):
            self.norm = layers_.GroupNormalization(groups=-1)
            self.conv = layers_.Conv2D(self.channels, 3, padding="same", use_bias=False)

        def call(self, x):
            return self.conv(ops.gelu(self.norm(x)))

        def get_config(self):
            return {**super().get_config(), "channels": self.channels}

    def stft(x):
        real, imag = ops.stft(x, 64, 16, 64)
        return ops.stack([real, imag], axis=-1)

    @lib.saving.register_keras_serializable(package=package)
    def spectral_loss(y_true, y_pred):
        return ops.mean(ops.absolute(stft(ops.reshape(y_true, (-1, 256))) - y_pred))

    @lib.saving.register_keras_serializable(package=package)
    def sdr(y_true, y_pred):
        target = stft(ops.reshape(y_true, (-1, 256)))
        num = ops.sum(ops.square(target), axis=(1, 2, 3)) + 1e-8
        den = ops.sum(ops.square(target - y_pred), axis=(1, 2, 3)) + 1e-8
        return 10 * ops.log10(num / den)

    inputs = lib.Input((256,))
    x = stft(inputs)
    x = FreqBlock(4)(x)
    outputs = layers_.Conv2D(2, 1, use_bias=False)(x)
    return lib.Model(inputs, outputs), spectral_loss, sdr, FreqBlock


def test_vocal_separation_pattern_matches_keras_and_reloads_with_its_registered_pieces(tmp_path):
    package = "seventh_separation"
    try:
        ours, loss, metric, block = _separation_pieces(dg, package)
        theirs, *_ = _separation_pieces(keras, package)
        assert ours.count_params() == theirs.count_params()
        ours.set_weights(theirs.get_weights())
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 256)).astype("float32")
        y = (0.5 * x).reshape(4, 1, 256)
        np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)), rtol=1e-4,
                                   atol=1e-4)
        ours.compile(dg.optimizers.Adam(1e-3, gradient_accumulation_steps=2), loss=loss, metrics=[metric])
        ours.fit(x, y, batch_size=2, epochs=1, verbose=0)
        before = ours.evaluate(x, y, verbose=0, return_dict=True)
        ours.save(tmp_path / "separation.keras")
        back = dg.saving.load_model(tmp_path / "separation.keras")
        assert back.loss is loss and isinstance(back.layers[-2], block)
        after = back.evaluate(x, y, verbose=0, return_dict=True)
        np.testing.assert_allclose([after["loss"], after["sdr"]], [before["loss"], before["sdr"]], rtol=1e-5)
    finally:
        for key in [k for k in GLOBAL_CUSTOM_OBJECTS if k.startswith(package + ">")]:
            GLOBAL_CUSTOM_NAMES.pop(GLOBAL_CUSTOM_OBJECTS.pop(key), None)
        for key in [k for k in keras.saving.get_custom_objects() if k.startswith(package + ">")]:
            keras.saving.get_custom_objects().pop(key)
