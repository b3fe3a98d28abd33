"""Patterns of the Keras documentation's vision and text examples (keras-team/keras-io,
examples/vision and examples/nlp: the mixture-of-experts layer that reshapes to a fixed number
of tokens per batch, sub-layers assigned before ``super().__init__()``, ...), written here in
small form and checked against Keras 3 (torch backend) where Keras gives the number."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers, ops  # noqa: E402
from deepgrad.autograd.scopes import in_symbolic_scope  # noqa: E402


class _FixedTokens(layers.Layer):
    """Flattens (batch, tokens, width) to a fixed (batch_size * tokens, width), mixes the rows by
    a matrix of that fixed size, and reshapes back with the batch read from the input."""

    def __init__(self, batch_size, tokens, width):
        # sub-layers and variables made before the base constructor runs, as mixture-of-experts
        # routers are often written
        self.route = layers.Dense(width)
        self.experts = [layers.Dense(width) for _ in range(2)]
        self.rows = batch_size * tokens
        self.width = width
        super().__init__()

    def call(self, inputs):
        batch, tokens = ops.shape(inputs)[0], ops.shape(inputs)[1]
        flat = ops.reshape(inputs, [self.rows, self.width])
        mixed = self.route(flat) + self.experts[0](flat) * self.experts[1](flat)
        return ops.reshape(mixed, [batch, tokens, self.width])


def test_a_layer_reshaping_to_a_fixed_batch_builds_symbolically_and_runs_on_that_batch():
    inputs = dg.Input((5, 4))
    outputs = _FixedTokens(batch_size=3, tokens=5, width=4)(inputs)
    assert outputs.shape == (None, 5, 4)  # as a graph with an unknown batch infers it
    model = dg.Model(inputs, layers.GlobalAveragePooling1D()(outputs))
    assert model.output_shape == (None, 4)
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    layer = model.layers[1]
    flat = x.reshape(15, 4)
    weights = [w.numpy() for w in layer.weights]
    (k0, b0), (k1, b1), (k2, b2) = weights[0:2], weights[2:4], weights[4:6]
    want = (flat @ k0 + b0 + (flat @ k1 + b1) * (flat @ k2 + b2)).reshape(3, 5, 4).mean(axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    # any other batch is refused when the model runs, naming the reshape and both shapes
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 5, 4\) into shape \(15, 4\)"):
        model(x[:2])


def test_a_reshape_whose_count_differs_raises_outside_a_trace_and_gives_the_shape_inside():
    x = dg.Tensor(np.ones((1, 6, 2), "float32"))
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(1, 6, 2\) into shape \(24, 2\)"):
        ops.reshape(x, [24, 2])
    with dg.SymbolicScope():
        assert ops.reshape(x, [24, 2]).shape == (24, 2)
        assert ops.reshape(x, [-1, 5]).shape == (2, 5)  # the -1 takes what the other entries leave
        assert ops.reshape(x, [4, -1, 2]).shape == (4, 1, 2)
        assert ops.reshape(x, [3, 4]).shape == (3, 4)  # a count that matches is an ordinary reshape
        np.testing.assert_array_equal(ops.reshape(x, [3, 4]).numpy(), np.ones((3, 4)))


def test_layers_and_variables_assigned_before_the_base_constructor_are_tracked():
    layer = _FixedTokens(batch_size=2, tokens=3, width=4)
    layer(np.zeros((2, 3, 4), "float32"))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(4, 4), (4,)] * 3
    assert len(layer._layers) == 3

    class Scaled(layers.Layer):
        def __init__(self):
            self.scale = dg.Variable(np.full((2,), 3.0, "float32"))
            super().__init__()

        def call(self, x):
            return x * self.scale

    scaled = Scaled()
    assert len(scaled.trainable_weights) == 1
    np.testing.assert_allclose(scaled(np.ones((1, 2), "float32")).numpy(), [[3.0, 3.0]])


def test_a_layer_call_traced_for_its_shape_runs_in_the_symbolic_scope_as_in_keras():
    for lib in (dg, keras):
        seen = []
        probe = keras.src.backend.common.symbolic_scope.in_symbolic_scope if lib is keras else in_symbolic_scope

        class Probe(lib.layers.Layer):
            def call(self, x):
                seen.append(probe())
                return x * 2.0

        inputs = lib.Input((3,))
        model = lib.Model(inputs, Probe()(inputs))
        model(np.ones((2, 3), "float32"))
        assert seen[0] is True and seen[-1] is False, (lib.__name__, seen)


def _keras_hsv_round_trip(x, fn):
    hsv = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_hsv(x, data_format="channels_last"))
    return keras.ops.convert_to_numpy(keras.ops.image.hsv_to_rgb(np.stack(fn(*np.moveaxis(hsv, -1, 0)), -1),
                                                                 data_format="channels_last"))


def test_tf_image_saturation_and_hue_match_an_hsv_round_trip_through_keras():
    from deepgrad.compat import tensorflow as tf

    x = np.random.default_rng(0).uniform(0.05, 1.0, (2, 5, 4, 3)).astype("float32")
    got = tf.image.adjust_saturation(x, 0.6).numpy()
    want = _keras_hsv_round_trip(x, lambda h, s, v: (h, np.clip(s * 0.6, 0, 1), v))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got = tf.image.adjust_hue(x, -0.3).numpy()
    want = _keras_hsv_round_trip(x, lambda h, s, v: (np.mod(h - 0.3, 1.0), s, v))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # known colours: red turned by a third of the circle is green; no saturation leaves the value
    red = np.array([[[1.0, 0.0, 0.0]]], "float32")
    np.testing.assert_allclose(tf.image.adjust_hue(red, 1 / 3).numpy(), [[[0.0, 1.0, 0.0]]], atol=1e-6)
    np.testing.assert_allclose(tf.image.adjust_saturation(x, 0.0).numpy(), np.repeat(x.max(-1, keepdims=True), 3, -1),
                               rtol=1e-6)
    # an integer image goes through [0, 1] and comes back in its own type
    pixels = (x[0] * 255).astype("uint8")
    out = tf.image.adjust_saturation(pixels, 1.0)
    assert out.dtype == np.uint8 and np.abs(out.numpy().astype(int) - pixels).max() <= 1


def test_tf_image_random_saturation_and_hue_draw_within_their_range_and_check_it():
    from deepgrad.compat import tensorflow as tf

    x = np.random.default_rng(1).uniform(0.05, 1.0, (6, 6, 3)).astype("float32")
    hsv = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_hsv(x))
    for seed in range(5):
        sat = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_hsv(tf.image.random_saturation(x, 0.5, 0.7, seed=seed).numpy()))
        ratio = sat[..., 1] / hsv[..., 1]
        assert np.ptp(ratio[hsv[..., 1] * 0.7 < 1]) < 1e-4 and 0.5 - 1e-5 <= ratio.mean() < 0.7
        hue = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_hsv(tf.image.random_hue(x, 0.1, seed=seed).numpy()))
        turn = (hue[..., 0] - hsv[..., 0] + 0.5) % 1.0 - 0.5
        assert np.ptp(turn) < 1e-4 and abs(turn.mean()) <= 0.1
    with pytest.raises(ValueError, match="random_hue: max_delta must be in the interval"):
        tf.image.random_hue(x, 0.7)
    with pytest.raises(ValueError, match="random_saturation: upper must be > lower"):
        tf.image.random_saturation(x, 0.7, 0.5)


def test_tf_initializer_functions_fill_variables_as_tensorflow_2_does():
    from deepgrad.compat import tensorflow as tf

    conv = layers.Conv2D(3, 2, use_bias=False, kernel_initializer=tf.constant_initializer(1.5))
    conv.build((None, 4, 4, 2))
    np.testing.assert_array_equal(conv.kernel.numpy(), np.full((2, 2, 2, 3), 1.5, "float32"))
    dense = layers.Dense(3, kernel_initializer=tf.constant_initializer([[1, 2, 3], [4, 5, 6]]),
                         bias_initializer=tf.ones_initializer())
    dense.build((None, 2))
    np.testing.assert_array_equal(dense.kernel.numpy(), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(dense.bias.numpy(), [1, 1, 1])
    flat = tf.constant_initializer(np.arange(6))((3, 2))  # the values are reshaped, in order
    np.testing.assert_array_equal(np.asarray(flat), np.arange(6).reshape(3, 2))
    with pytest.raises(TypeError, match=r"6 values cannot fill a variable of shape \(4, 2\)"):
        tf.constant_initializer(np.arange(6))((4, 2))
    np.testing.assert_array_equal(np.asarray(tf.zeros_initializer()((2, 2))), np.zeros((2, 2)))
    draws = np.asarray(tf.random_normal_initializer(mean=1.0, stddev=0.05, seed=3)((400, 50)))
    assert abs(draws.mean() - 1.0) < 0.005 and abs(draws.std() - 0.05) < 0.002


def test_tf_complex_fft_token_mixing_matches_torch_values_and_gradients():
    import torch
    from deepgrad.compat import tensorflow as tf

    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 6)).astype("float32")
    w = rng.normal(size=(2, 5, 6)).astype("float32")
    ours = dg.Tensor(x, requires_grad=True)
    mixed = tf.math.real(tf.signal.fft2d(tf.cast(ours, tf.complex64)))
    assert mixed.dtype == np.float32 and mixed.shape == (2, 5, 6)
    (mixed * w).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    want = torch.fft.fft2(theirs.to(torch.complex64)).real
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(mixed.numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_tf_complex_tensors_cast_transform_and_split_as_tensorflow_does():
    from deepgrad.compat import tensorflow as tf

    x = np.random.default_rng(3).normal(size=(3, 8)).astype("float32")
    spectrum = tf.signal.fft(tf.cast(x, tf.complex64))
    assert spectrum.dtype == np.complex64
    np.testing.assert_allclose(spectrum.numpy(), np.fft.fft(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.math.imag(spectrum).numpy(), np.fft.fft(x).imag, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.abs(spectrum).numpy(), np.abs(np.fft.fft(x)), rtol=1e-4, atol=1e-4)
    back = tf.cast(tf.signal.ifft(spectrum), tf.float32)  # complex -> real keeps the real part
    assert back.dtype == np.float32
    np.testing.assert_allclose(back.numpy(), x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.signal.ifft2d(tf.signal.fft2d(tf.complex(x, 2 * x))).numpy(), x + 2j * x,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(tf.math.real(x).numpy(), x)  # a real tensor is its own real part
    np.testing.assert_array_equal(tf.math.imag(x).numpy(), np.zeros_like(x))
    with pytest.raises(ValueError, match=r"tf.signal.fft2d: the input needs at least 2 axes, got shape \(8,\)"):
        tf.signal.fft2d(tf.cast(x[0], tf.complex64))


def test_an_rnn_cell_whose_state_size_is_a_tensor_shape_carries_one_matrix_state():
    from deepgrad.compat import tensorflow as tf

    class MatrixCell(layers.Layer):
        """state <- tanh(state @ w + inputs); the output is the new state."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = tf.TensorShape([3, 4])
            self.output_size = tf.TensorShape([3, 4])

        def build(self, input_shape):
            self.w = self.add_weight(shape=(4, 4), initializer="glorot_uniform", name="w")

        def call(self, inputs, states):
            new = ops.tanh(ops.matmul(states[0], self.w) + inputs)
            return new, [new]

    x = np.random.default_rng(4).normal(size=(2, 5, 3, 4)).astype("float32")
    rnn = layers.RNN(MatrixCell(), return_sequences=True, return_state=True)
    sequence, state = rnn(x)
    assert sequence.shape == (2, 5, 3, 4) and state.shape == (2, 3, 4)
    w, h, want = rnn.cell.w.numpy(), np.zeros((2, 3, 4), "float32"), []
    for t in range(5):  # the recurrence written out, from a zero matrix state
        h = np.tanh(h @ w + x[:, t])
        want.append(h)
    np.testing.assert_allclose(sequence.numpy(), np.stack(want, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.numpy(), h, rtol=1e-5, atol=1e-6)
    assert rnn.compute_output_shape((None, 5, 3, 4)) == [(None, 5, 3, 4), (None, 3, 4)]

