"""RNN, its cells and ConvLSTM1D/2D/3D against Keras 3: signatures, configs, outputs after
set_weights, masks, initial and kept states, and gradients of weights and inputs."""
import inspect

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy
from test_keras_config import normalise
from test_keras_layers import assert_same_layer

RTOL, ATOL = 1e-5, 1e-5
MASK = np.array([[0, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@keras.saving.register_keras_serializable(package="rnn_tests")
class KerasMinimalRNNCell(keras.layers.Layer):
    """The cell of Keras's RNN documentation."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(states[0], self.recurrent_kernel)
        return output, [output]


class MinimalRNNCell(dg.layers.Layer):
    """The same cell written on deepgrad: only the imports change."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = dg.ops.matmul(inputs, self.kernel) + dg.ops.matmul(states[0], self.recurrent_kernel)
        return output, [output]

    def get_config(self):  # deepgrad's Layer does not record constructor arguments by itself
        return {**super().get_config(), "units": self.units}


CLASSES = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "ConvLSTM1D", "ConvLSTM2D",
           "ConvLSTM3D"]


@pytest.mark.parametrize("name", CLASSES)
def test_signature_matches_keras(name):
    def params(cls):
        return [(p.name, p.default, p.kind) for p in inspect.signature(cls).parameters.values()]
    assert params(getattr(dg.layers, name)) == params(getattr(keras.layers, name))


@pytest.mark.parametrize("name, args", [("SimpleRNNCell", (3,)), ("LSTMCell", (3,)), ("GRUCell", (3,)),
                                        ("ConvLSTM1D", (2, 3)), ("ConvLSTM2D", (2, 3)), ("ConvLSTM3D", (2, 3))])
def test_config_matches_keras(name, args):
    k_config = getattr(keras.layers, name)(*args).get_config()
    d_config = getattr(dg.layers, name)(*args).get_config()
    assert set(k_config) == set(d_config)
    for key in set(k_config) & set(d_config) - {"name"}:
        assert normalise(d_config[key]) == normalise(k_config[key]), key


def test_rnn_config_matches_keras():
    k_config = keras.layers.RNN(keras.layers.LSTMCell(3), go_backwards=True).get_config()
    d_config = dg.layers.RNN(dg.layers.LSTMCell(3), go_backwards=True).get_config()
    assert set(k_config) == set(d_config)
    for key in set(k_config) - {"name", "cell"}:
        assert d_config[key] == k_config[key], key
    assert d_config["cell"]["class_name"] == k_config["cell"]["class_name"] == "LSTMCell"


# --------------------------------------------------------------------------- outputs
CELLS = [("SimpleRNNCell", dict()), ("SimpleRNNCell", dict(activation="relu", use_bias=False)),
         ("LSTMCell", dict()), ("LSTMCell", dict(unit_forget_bias=False, recurrent_activation="hard_sigmoid")),
         ("GRUCell", dict()), ("GRUCell", dict(reset_after=False))]
OPTIONS = [dict(), dict(return_sequences=True), dict(return_state=True),
           dict(return_sequences=True, return_state=True, go_backwards=True),
           dict(return_sequences=True, zero_output_for_mask=True)]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("name, extra", CELLS)
@pytest.mark.parametrize("masked", [False, True])
def test_rnn_with_cell(name, extra, options, masked):
    kwargs = {"mask": MASK} if masked else {}
    assert_same_layer(keras.layers.RNN(getattr(keras.layers, name)(4, **extra), **options),
                      dg.layers.RNN(getattr(dg.layers, name)(4, **extra), **options), rand(3, 5, 2), **kwargs)


@pytest.mark.parametrize("options", OPTIONS)
def test_stacked_cells(options):
    k_cells = [keras.layers.LSTMCell(3), keras.layers.GRUCell(4), keras.layers.SimpleRNNCell(2)]
    d_cells = [dg.layers.LSTMCell(3), dg.layers.GRUCell(4), dg.layers.SimpleRNNCell(2)]
    k_layer, d_layer = keras.layers.RNN(k_cells, **options), dg.layers.RNN(d_cells, **options)
    x = rand(3, 5, 2)
    k_out = k_layer(x, mask=MASK)
    d_layer(dg.Tensor(x))
    d_layer.set_weights(k_layer.get_weights())
    d_out = d_layer(dg.Tensor(x), mask=MASK)
    if options.get("return_state"):  # the states nest as Keras nests them: one entry per cell
        k_shapes = keras.tree.map_structure(lambda t: tuple(t.shape), list(k_out))
        d_shapes = dg.layers.rnn.pack_like(d_out, [tuple(t.shape) for t in dg.layers.rnn.flatten(d_out)])
        assert d_shapes == k_shapes
    k_flat = [to_numpy(t) for t in keras.tree.flatten(k_out)]
    d_flat = [t.data for t in dg.layers.rnn.flatten(d_out)]
    assert len(k_flat) == len(d_flat)
    for d, k in zip(d_flat, k_flat):
        np.testing.assert_allclose(d, k, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("options", OPTIONS[:4])
def test_custom_cell_from_the_guide(options):
    assert_same_layer(keras.layers.RNN(KerasMinimalRNNCell(4), **options),
                      dg.layers.RNN(MinimalRNNCell(4), **options), rand(3, 5, 2), mask=MASK)


@pytest.mark.parametrize("name, n_states", [("SimpleRNNCell", 1), ("LSTMCell", 2), ("GRUCell", 1)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state_with_mask(name, n_states, go_backwards):
    """Leading masked steps output zeros, not the initial state; the states carry it."""
    states = [rand(3, 4, seed=10 + i) for i in range(n_states)]
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    assert_same_layer(keras.layers.RNN(getattr(keras.layers, name)(4), **options),
                      dg.layers.RNN(getattr(dg.layers, name)(4), **options), rand(3, 5, 2), mask=MASK,
                      initial_state=states)


@pytest.mark.parametrize("name, n_states", [("SimpleRNN", 1), ("LSTM", 2), ("GRU", 1)])
@pytest.mark.parametrize("options", [dict(), dict(return_sequences=True, go_backwards=True),
                                     dict(return_state=True, zero_output_for_mask=True)])
def test_fused_layers_with_mask_and_initial_state(name, n_states, options):
    states = [rand(3, 4, seed=20 + i) for i in range(n_states)]
    assert_same_layer(getattr(keras.layers, name)(4, **options), getattr(dg.layers, name)(4, **options),
                      rand(3, 5, 2), mask=MASK, initial_state=states)


@pytest.mark.parametrize("make_keras, make_dg", [
    (lambda: keras.layers.RNN(keras.layers.GRUCell(4), return_sequences=True, stateful=True),
     lambda: dg.layers.RNN(dg.layers.GRUCell(4), return_sequences=True, stateful=True)),
    (lambda: keras.layers.LSTM(4, return_sequences=True, stateful=True),
     lambda: dg.layers.LSTM(4, return_sequences=True, stateful=True)),
    (lambda: keras.layers.SimpleRNN(4, stateful=True), lambda: dg.layers.SimpleRNN(4, stateful=True)),
    (lambda: keras.layers.ConvLSTM1D(2, 3, padding="same", stateful=True),
     lambda: dg.layers.ConvLSTM1D(2, 3, padding="same", stateful=True)),
])
def test_stateful_across_batches(make_keras, make_dg):
    k_layer, d_layer = make_keras(), make_dg()
    shape = (3, 5, 6, 2) if "ConvLSTM" in type(d_layer).__name__ else (3, 5, 2)
    k_layer(rand(*shape))
    d_layer(dg.Tensor(rand(*shape)))
    d_layer.set_weights(k_layer.get_weights())
    k_layer.reset_state()
    d_layer.reset_state()
    for step in range(3):
        x = rand(*shape, seed=step + 1)
        np.testing.assert_allclose(d_layer(dg.Tensor(x), mask=MASK).data, to_numpy(k_layer(x, mask=MASK)),
                                   rtol=RTOL, atol=ATOL, err_msg=f"batch {step}")
    k_layer.reset_state()
    d_layer.reset_state()
    x = rand(*shape, seed=9)
    np.testing.assert_allclose(d_layer(dg.Tensor(x)).data, to_numpy(k_layer(x)), rtol=RTOL, atol=ATOL)


def test_embedding_mask_reaches_rnn():
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]], dtype="int32")
    k_model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 3, mask_zero=True),
                                keras.layers.RNN(keras.layers.LSTMCell(4), return_sequences=True),
                                keras.layers.RNN(keras.layers.GRUCell(2))])
    d_model = dg.Sequential([dg.layers.Input((5,), dtype="int32"), dg.layers.Embedding(10, 3, mask_zero=True),
                             dg.layers.RNN(dg.layers.LSTMCell(4), return_sequences=True),
                             dg.layers.RNN(dg.layers.GRUCell(2))])
    d_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(d_model.predict(ids, verbose=0), to_numpy(k_model(ids)), rtol=RTOL, atol=ATOL)


CONV_CASES = [
    ("ConvLSTM1D", (2, 3, 7, 2), dict(filters=3, kernel_size=3)),
    ("ConvLSTM1D", (2, 3, 7, 2), dict(filters=3, kernel_size=2, padding="same", strides=2, return_sequences=True)),
    ("ConvLSTM1D", (2, 3, 2, 7), dict(filters=2, kernel_size=3, data_format="channels_first", return_state=True)),
    ("ConvLSTM2D", (2, 3, 6, 5, 2), dict(filters=2, kernel_size=(3, 2), padding="same", return_state=True)),
    ("ConvLSTM2D", (2, 3, 6, 5, 2), dict(filters=2, kernel_size=3, dilation_rate=2, return_sequences=True,
                                         go_backwards=True)),
    ("ConvLSTM2D", (2, 3, 2, 6, 5), dict(filters=2, kernel_size=3, data_format="channels_first", padding="same",
                                         unit_forget_bias=False, use_bias=False)),
    ("ConvLSTM3D", (2, 2, 4, 5, 4, 2), dict(filters=2, kernel_size=2, return_sequences=True)),
    ("ConvLSTM3D", (1, 2, 5, 4, 4, 1), dict(filters=2, kernel_size=3, strides=(2, 1, 2), padding="same")),
]


@pytest.mark.parametrize("name, shape, kwargs", CONV_CASES)
def test_conv_lstm(name, shape, kwargs):
    assert_same_layer(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(*shape))


@pytest.mark.parametrize("name, shape, kwargs", CONV_CASES[1:2] + CONV_CASES[4:5])
def test_conv_lstm_with_mask(name, shape, kwargs):
    mask = np.array([[1, 1, 0], [0, 1, 1]], bool)
    assert_same_layer(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(*shape),
                      mask=mask)


@pytest.mark.parametrize("name, shape, kwargs", CONV_CASES)
def test_conv_lstm_output_shape(name, shape, kwargs):
    k_shape = getattr(keras.layers, name)(**kwargs).compute_output_shape((None,) + shape[1:])
    d_shape = getattr(dg.layers, name)(**kwargs).compute_output_shape((None,) + shape[1:])
    assert normalise(d_shape) == normalise(k_shape)


# --------------------------------------------------------------------------- gradients
def assert_same_gradients(k_layer, d_layer, x, **call_kwargs):
    """d sum(output * r) / d (weights, inputs) from torch autograd on Keras and from deepgrad."""
    k_x = torch.tensor(x, requires_grad=True)
    k_out = k_layer(k_x, **call_kwargs)
    k_out = k_out[0] if isinstance(k_out, (list, tuple)) else k_out
    d_layer(dg.Tensor(x), **call_kwargs)
    d_layer.set_weights(k_layer.get_weights())
    r = rand(*k_out.shape, seed=7)
    k_grads = torch.autograd.grad((k_out * torch.from_numpy(r)).sum(),
                                  [w.value for w in k_layer.trainable_weights] + [k_x])
    d_x = dg.Tensor(x, requires_grad=True)
    d_out = d_layer(d_x, **call_kwargs)
    d_out = d_out[0] if isinstance(d_out, list) else d_out
    (d_out * dg.Tensor(r)).sum().backward()
    d_grads = [w.grad for w in d_layer.trainable_weights] + [d_x.grad]
    assert len(d_grads) == len(k_grads)
    for i, (d_g, k_g) in enumerate(zip(d_grads, k_grads)):
        np.testing.assert_allclose(d_g, to_numpy(k_g), rtol=1e-4, atol=1e-5, err_msg=f"gradient {i}")


@pytest.mark.parametrize("name, extra", CELLS)
@pytest.mark.parametrize("options", [dict(), dict(return_sequences=True, go_backwards=True)])
def test_rnn_gradients(name, extra, options):
    assert_same_gradients(keras.layers.RNN(getattr(keras.layers, name)(3, **extra), **options),
                          dg.layers.RNN(getattr(dg.layers, name)(3, **extra), **options), rand(2, 5, 4),
                          mask=MASK[:2])


def test_stacked_and_custom_cell_gradients():
    assert_same_gradients(keras.layers.RNN([keras.layers.GRUCell(3), KerasMinimalRNNCell(2)], return_sequences=True),
                          dg.layers.RNN([dg.layers.GRUCell(3), MinimalRNNCell(2)], return_sequences=True),
                          rand(2, 5, 4))


@pytest.mark.parametrize("name, shape, kwargs", CONV_CASES[:2] + CONV_CASES[3:6] + CONV_CASES[7:])
def test_conv_lstm_gradients(name, shape, kwargs):
    assert_same_gradients(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(*shape))


# --------------------------------------------------------------------------- saving
def test_save_load_round_trip(tmp_path):
    inputs = dg.layers.Input((3, 6, 5, 2))
    x = dg.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True)(inputs)
    x = dg.layers.TimeDistributed(dg.layers.Flatten())(x)
    x = dg.layers.RNN([dg.layers.LSTMCell(4), MinimalRNNCell(3)])(x)
    model = dg.Model(inputs, x)
    data = rand(2, 3, 6, 5, 2)
    expected = model.predict(data, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = dg.models.load_model(tmp_path / "model.keras", custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_allclose(loaded.predict(data, verbose=0), expected, rtol=1e-6, atol=1e-6)
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_rnn_with_cells(merge_mode, return_sequences):
    assert_same_layer(
        keras.layers.Bidirectional(keras.layers.RNN([keras.layers.LSTMCell(3), keras.layers.GRUCell(2)],
                                                    return_sequences=return_sequences), merge_mode=merge_mode),
        dg.layers.Bidirectional(dg.layers.RNN([dg.layers.LSTMCell(3), dg.layers.GRUCell(2)],
                                              return_sequences=return_sequences), merge_mode=merge_mode),
        rand(3, 5, 4), mask=MASK)


def test_bidirectional_custom_cell_and_conv_lstm():
    assert_same_layer(keras.layers.Bidirectional(keras.layers.RNN(KerasMinimalRNNCell(3), return_sequences=True)),
                      dg.layers.Bidirectional(dg.layers.RNN(MinimalRNNCell(3), return_sequences=True)),
                      rand(3, 5, 4), mask=MASK)
    assert_same_layer(keras.layers.Bidirectional(keras.layers.ConvLSTM1D(2, 3, return_state=True)),
                      dg.layers.Bidirectional(dg.layers.ConvLSTM1D(2, 3, return_state=True)), rand(2, 3, 6, 2))


@pytest.mark.parametrize("cell", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_masking_layer_reaches_rnn(cell):
    x = rand(3, 5, 2)
    x[0, 3:] = 0.0
    x[2, :2] = 0.0  # leading masked steps
    k_model = keras.Sequential([keras.Input((5, 2)), keras.layers.Masking(0.0),
                                keras.layers.RNN(getattr(keras.layers, cell)(4), return_sequences=True)])
    d_model = dg.Sequential([dg.layers.Input((5, 2)), dg.layers.Masking(0.0),
                             dg.layers.RNN(getattr(dg.layers, cell)(4), return_sequences=True)])
    d_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(d_model.predict(x, verbose=0), to_numpy(k_model(x)), rtol=RTOL, atol=ATOL)


def test_bidirectional_config_holds_both_layers_and_reads_back_both_ways():
    """Keras writes the forward layer as ``layer`` and always the ``backward_layer``; each library
    rebuilds the other's config with the same two layers, named as they were."""
    d_layer = dg.layers.Bidirectional(dg.layers.LSTM(3, name="l"), merge_mode="sum")
    k_layer = keras.layers.Bidirectional(keras.layers.LSTM(3, name="l"), merge_mode="sum")
    d_config, k_config = d_layer.get_config(), k_layer.get_config()
    assert set(d_config) == set(k_config)
    for config in (d_config, k_config):
        for K, lib in ((dg, "deepgrad"), (keras, "keras")):
            clone = K.layers.Bidirectional.from_config(config)
            assert (clone.forward_layer.name, clone.backward_layer.name) == ("forward_l", "backward_l"), lib
            assert (clone.forward_layer.go_backwards, clone.backward_layer.go_backwards) == (False, True), lib
