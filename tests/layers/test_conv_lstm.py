"""ConvLSTM1D/2D/3D: the layer checks, a NumPy reference, the 1x1 case against LSTM,
channels_first, masks, states, float64 gradients and saving."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers import LSTM, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from layer_test import run_layer_test

RNG = np.random.default_rng(0)


def _randomize(layer, scale=0.4, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape).astype(w.dtype) * scale for w in layer.weights])


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _conv1d(x, w, stride, padding, dilation=1):
    """NumPy 1-D cross-correlation, channels last: x (B, L, C), w (k, C, F)."""
    k = w.shape[0]
    span = dilation * (k - 1) + 1
    if padding == "same":
        out_len = -(-x.shape[1] // stride)
        total = max((out_len - 1) * stride + span - x.shape[1], 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    else:
        out_len = (x.shape[1] - span) // stride + 1
    return np.stack([sum(x[:, i * stride + j * dilation] @ w[j] for j in range(k)) for i in range(out_len)], axis=1)


def _conv_lstm1d_reference(x, kernel, recurrent, bias, strides, padding, dilation):
    batch, steps = x.shape[:2]
    f = recurrent.shape[-1] // 4
    h = c = None
    outputs = []
    for t in range(steps):
        z = _conv1d(x[:, t], kernel, strides, padding, dilation) + bias
        if h is None:
            h = c = np.zeros(z.shape[:-1] + (f,))
        z = z + _conv1d(h, recurrent, 1, "same")
        i, fg, g, o = (z[..., n * f:(n + 1) * f] for n in range(4))
        c = _sigmoid(fg) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


# --------------------------------------------------------------------------- the layer checks
@pytest.mark.parametrize("cls, kwargs, shape, out_shape, kernel", [
    (ConvLSTM1D, dict(filters=3, kernel_size=3), (2, 4, 7, 2), (2, 5, 3), (3, 2, 12)),
    (ConvLSTM1D, dict(filters=2, kernel_size=2, strides=2, padding="same", return_sequences=True), (2, 3, 7, 2),
     (2, 3, 4, 2), (2, 2, 8)),
    (ConvLSTM2D, dict(filters=2, kernel_size=(3, 2)), (2, 3, 5, 6, 3), (2, 3, 5, 2), (3, 2, 3, 8)),
    (ConvLSTM2D, dict(filters=2, kernel_size=3, padding="same", dilation_rate=2, return_sequences=True),
     (2, 3, 5, 6, 1), (2, 3, 5, 6, 2), (3, 3, 1, 8)),
    (ConvLSTM3D, dict(filters=2, kernel_size=2, use_bias=False), (1, 2, 3, 4, 3, 2), (1, 2, 3, 2, 2),
     (2, 2, 2, 2, 8)),
])
def test_conv_lstm_layer_checks(cls, kwargs, shape, out_shape, kernel):
    filters = kwargs["filters"]
    weights = [kernel, kernel[:-2] + (filters, 4 * filters)] + ([(4 * filters,)] if kwargs.get("use_bias", True) else [])
    layer, _ = run_layer_test(cls, kwargs, input_shape=shape, expected_output_shape=out_shape,
                              expected_weight_shapes=weights)
    if layer.use_bias:
        np.testing.assert_array_equal(layer.cell.bias.data, np.repeat([0.0, 1.0, 0.0, 0.0], filters))


@pytest.mark.parametrize("kwargs", [dict(strides=1, padding="valid"), dict(strides=2, padding="same"),
                                    dict(strides=1, padding="same", dilation_rate=2),
                                    dict(strides=3, padding="valid")])
def test_conv_lstm1d_against_numpy(kwargs):
    layer = ConvLSTM1D(3, 3, return_sequences=True, **kwargs)
    x = RNG.standard_normal((2, 4, 9, 2)).astype(np.float32)
    layer(x)
    _randomize(layer)
    kernel, recurrent, bias = (w.data.astype(np.float64) for w in layer.weights)
    want = _conv_lstm1d_reference(x.astype(np.float64), kernel, recurrent, bias, kwargs["strides"],
                                  kwargs["padding"], kwargs.get("dilation_rate", 1))
    np.testing.assert_allclose(layer(x).data, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_one_by_one_kernel_is_an_lstm_per_pixel(go_backwards):
    x = RNG.standard_normal((2, 4, 3, 5, 2)).astype(np.float32)
    conv = ConvLSTM2D(3, 1, return_sequences=True, go_backwards=go_backwards)
    lstm = LSTM(3, return_sequences=True, go_backwards=go_backwards)
    conv(x)
    _randomize(conv)
    kernel, recurrent, bias = conv.get_weights()
    lstm(np.zeros((1, 1, 2), np.float32))
    lstm.set_weights([kernel[0, 0], recurrent[0, 0], bias])
    per_pixel = x.transpose(0, 2, 3, 1, 4).reshape(-1, 4, 2)  # (batch * H * W, time, channels)
    want = lstm(per_pixel).data.reshape(2, 3, 5, 4, 3).transpose(0, 3, 1, 2, 4)
    np.testing.assert_allclose(conv(x).data, want, rtol=1e-5, atol=1e-6)


def test_channels_first_is_channels_last_transposed():
    x = RNG.standard_normal((2, 3, 6, 5, 2)).astype(np.float32)
    last = ConvLSTM2D(2, 3, padding="same", strides=(2, 1), return_sequences=True)
    first = ConvLSTM2D(2, 3, padding="same", strides=(2, 1), return_sequences=True, data_format="channels_first")
    last(x)
    first(x.transpose(0, 1, 4, 2, 3))
    _randomize(last)
    first.set_weights(last.get_weights())
    got = first(x.transpose(0, 1, 4, 2, 3)).data
    np.testing.assert_allclose(got, last(x).data.transpose(0, 1, 4, 2, 3), rtol=1e-5, atol=1e-6)
    assert first.compute_output_shape((None, 3, 2, 6, 5)) == (None, 3, 2, 3, 5)


def test_mask_keeps_states_and_state_round_trip():
    x = RNG.standard_normal((2, 5, 6, 2)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = ConvLSTM1D(2, 3, padding="same", return_sequences=True, return_state=True)
    layer(x)
    _randomize(layer)
    seq, h, c = layer(x, mask=mask)
    seq_3, h_3, c_3 = layer(x[:1, :3])
    np.testing.assert_allclose(h.data[:1], h_3.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c.data[:1], c_3.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(seq.data[0, 3:], np.broadcast_to(seq.data[0, 2], (2, 6, 2)))
    # the last states continue the sequence: initial_state=(h, c) on the rest equals the whole run
    rest = layer(x[:1, 3:], initial_state=[h_3, c_3])[0]
    full = layer(x[:1])[0]
    np.testing.assert_allclose(rest.data, full.data[:, 3:], rtol=1e-5, atol=1e-6)


def test_stateful_conv_lstm():
    x = RNG.standard_normal((2, 4, 5, 5, 1)).astype(np.float32)
    whole, halves = ConvLSTM2D(2, 2, return_sequences=True), ConvLSTM2D(2, 2, return_sequences=True, stateful=True)
    whole(x), halves(x)
    halves.set_weights(whole.get_weights())
    halves.reset_state()
    parts = [halves(x[:, :2]).data, halves(x[:, 2:]).data]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole(x).data, rtol=1e-5, atol=1e-6)


def test_gradients_central_differences_float64():
    layer = ConvLSTM1D(2, 2, padding="same", return_sequences=True, dtype="float64")
    x = RNG.standard_normal((2, 3, 4, 2))
    layer(x)
    _randomize(layer)
    r = RNG.standard_normal((2, 3, 4, 2))

    def loss(inputs):
        return dg.sum(layer(inputs) * dg.Tensor(r))

    xt = dg.Tensor(x, requires_grad=True)
    loss(xt).backward()
    eps = 1e-6
    for target, grad in [(layer.cell.kernel.data, layer.cell.kernel.grad),
                         (layer.cell.recurrent_kernel.data, layer.cell.recurrent_kernel.grad),
                         (layer.cell.bias.data, layer.cell.bias.grad), (x, xt.grad)]:
        numeric = np.zeros(target.shape)
        for index in np.ndindex(*target.shape):
            old = target[index]
            target[index] = old + eps
            up = float(loss(dg.Tensor(x)).data)
            target[index] = old - eps
            down = float(loss(dg.Tensor(x)).data)
            target[index] = old
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_dropout_in_training_only():
    layer = ConvLSTM1D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, seed=0, return_sequences=True)
    x = RNG.standard_normal((2, 3, 6, 2)).astype(np.float32)
    inference = layer(x).data
    np.testing.assert_array_equal(layer(x, training=False).data, inference)
    assert not np.allclose(layer(x, training=True).data, inference)


def test_config_and_save_load(tmp_path):
    layer = ConvLSTM2D(2, (3, 2), strides=(1, 2), padding="same", recurrent_activation="hard_sigmoid",
                       return_sequences=True, kernel_regularizer="l2")
    config = layer.get_config()
    json.dumps(config)
    assert config["kernel_size"] == (3, 2) and config["strides"] == (1, 2)
    assert config["recurrent_activation"] == "hard_sigmoid" and "cell" not in config
    assert layer.filters == 2 and layer.kernel_size == (3, 2) and layer.padding == "same"
    model = dg.Sequential([layers.Input((3, 5, 6, 1)), layer, layers.Flatten(), layers.Dense(2)])
    x = RNG.standard_normal((2, 3, 5, 6, 1)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "conv_lstm.keras")
    loaded = dg.models.load_model(tmp_path / "conv_lstm.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    assert len(model.losses) == 1  # the kernel's L2 penalty


def test_errors():
    with pytest.raises(ValueError, match="strides > 1 cannot be combined with dilation_rate > 1"):
        ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding must be"):
        ConvLSTM1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="kernel_size must be"):
        ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="expected ndim=5, found ndim=4"):
        ConvLSTM2D(2, 3)(np.zeros((2, 3, 5, 1), np.float32))
