"""Identity, Masking, Lambda (config and saving), Input(batch_shape), InputSpec and Embedding with
float ids."""
import numpy as np
import pytest
from layer_test import run_layer_test

import deepgrad as dg
from deepgrad import layers
from deepgrad.files.safetensors_format import UnsafeFileError


def double(x):
    return x * 2.0


def test_identity_and_masking_layer_checks():
    run_layer_test(layers.Identity, {}, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    x[0, 2] = 0.0
    _, out = run_layer_test(layers.Masking, {}, input_data=x, expected_output_shape=(2, 5, 3))
    np.testing.assert_array_equal(out._keras_mask, [[1, 1, 0, 1, 1], [1, 1, 1, 1, 1]])


def test_masking_zeroes_masked_steps_and_passes_gradient_to_kept_ones():
    x = dg.Tensor(np.array([[[1.0, 2.0], [5.0, 5.0], [0.0, 3.0]]], "float32"), requires_grad=True)
    out = layers.Masking(mask_value=5.0)(x)
    np.testing.assert_array_equal(out.data, [[[1, 2], [0, 0], [0, 3]]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[1, 1], [0, 0], [1, 1]]])


def test_masking_reaches_lstm_in_a_model():
    """Masked steps at the end leave the LSTM's last output as it was at the last kept step."""
    dg.backend.seed(0)
    x = np.random.default_rng(1).standard_normal((2, 6, 3)).astype("float32")
    x[:, 4:] = 0.0
    model = dg.Sequential([layers.Input((6, 3)), layers.Masking(), layers.LSTM(4)])
    short = dg.Sequential([layers.Input((4, 3)), layers.LSTM(4)])
    short.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), short.predict(x[:, :4], verbose=0), rtol=1e-5)


def test_lambda_with_arguments_mask_and_training():
    def fn(x, scale=1.0, training=None):
        return x * (scale if training else -scale)

    layer = layers.Lambda(fn, arguments={"scale": 3.0}, mask=lambda inputs, mask: inputs.data > 0)
    x = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_array_equal(layer(x, training=True).data, [[3.0, -6.0]])
    out = layer(x)
    np.testing.assert_array_equal(out.data, [[-3.0, 6.0]])
    np.testing.assert_array_equal(out._keras_mask, [[True, False]])
    assert layers.Lambda(fn, output_shape=lambda s: (s[0], 7)).compute_output_shape((None, 2)) == (None, 7)


def test_lambda_saved_by_function_name(tmp_path):
    inputs = layers.Input(shape=(3,))
    outputs = layers.Lambda(double, output_shape=(3,))(layers.Dense(3)(inputs))
    model = dg.Model(inputs, layers.Lambda(dg.ops.tanh)(outputs))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(ValueError, match="'double' is neither in custom_objects"):
        dg.models.load_model(path)
    loaded = dg.models.load_model(path, custom_objects={"double": double})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_python_lambda_is_never_stored_or_loaded(tmp_path):
    model = dg.Sequential([layers.Input(shape=(2,)), layers.Lambda(lambda x: x + 1.0)])
    with pytest.raises(NotImplementedError, match="Python lambda"):
        model.save(tmp_path / "m.keras")
    # a config holding Keras's serialized bytecode is refused before anything runs, even with safe_mode=False
    config = {"class_name": "Lambda", "config": {"name": "l", "function": {
        "class_name": "__lambda__", "config": {"code": "4wEAAAAA", "defaults": None, "closure": None}}}}
    from deepgrad.models.config_check import check_model_config
    with pytest.raises(UnsafeFileError, match="__lambda__"):
        check_model_config(config)


def test_input_batch_shape_and_input_layer_config():
    x = layers.Input(batch_shape=(5, 2, 3), name="seq")
    assert x.shape == (5, 2, 3)
    config = x.input_layer.get_config()
    assert config == {"batch_shape": (5, 2, 3), "dtype": "float32", "sparse": False, "ragged": False,
                      "name": "seq", "optional": False}
    assert layers.InputLayer.from_config(config).batch_shape == (5, 2, 3)
    with pytest.raises(ValueError, match="sparse"):
        layers.Input(shape=(3,), sparse=True)


def test_input_spec_checks():
    spec = layers.InputSpec(ndim=3, axes={-1: 4})
    spec.check((None, 5, 4))
    with pytest.raises(ValueError, match=r"'rnn'.*ndim=3.*\(2, 4\)"):
        spec.check((2, 4), layer_name="rnn")
    with pytest.raises(ValueError, match="axis -1"):
        spec.check((2, 5, 3))
    with pytest.raises(ValueError, match="min_ndim=2"):
        layers.InputSpec(min_ndim=2).check((3,))
    with pytest.raises(ValueError, match="dtype=int32"):
        layers.InputSpec(dtype="int32").check((3,), dtype="float32")
    layers.InputSpec(shape=(None, 3)).check((7, 3))
    with pytest.raises(ValueError, match="axis 3 is greater"):
        layers.InputSpec(ndim=2, axes={3: 1})
    assert layers.InputSpec.from_config(spec.get_config()).axes == {-1: 4}


def test_embedding_float_ids():
    layer = layers.Embedding(6, 2)
    out = layer(np.array([[1.9, 0.0, 5.2]], "float32"))
    np.testing.assert_array_equal(out.data, layer.get_weights()[0][[[1, 0, 5]]])
    masked = layers.Embedding(6, 2, mask_zero=True)(np.array([[0.5, 0.0, 2.0]], "float32"))
    np.testing.assert_array_equal(masked._keras_mask, [[True, False, True]])  # the mask reads the raw ids


def test_batch_shape_survives_a_saved_functional_model(tmp_path):
    inputs = layers.Input(batch_shape=(2, 3))
    model = dg.Model(inputs, layers.Dense(4)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    assert tuple(loaded.inputs[0].shape) == (2, 3)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
