"""deepgrad.ops (and Python's operators) on the KerasTensors of a functional model being
defined: each call becomes a node that runs on real tensors, as with Keras 3's keras.ops."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402
from deepgrad import layers, ops  # noqa: E402

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 3)).astype("float32")


def _model_and_eager(build):
    """``build(t, lib)`` on a KerasTensor, as a model, and on the eager Tensor, for comparison."""
    inp = layers.Input((3,))
    model = dg.Model(inp, build(inp, ops))
    return model, build(dg.Tensor(X), ops)


OPERATORS = {
    "add": lambda t, o: t + 1.5, "radd": lambda t, o: 2.0 + t, "sub": lambda t, o: t - t * 0.5,
    "rsub": lambda t, o: 1.0 - t, "mul": lambda t, o: t * np.float32(3.0), "div": lambda t, o: t / 4.0,
    "rdiv": lambda t, o: 1.0 / (o.abs(t) + 1.0), "floordiv": lambda t, o: t // 0.5, "mod": lambda t, o: t % 0.7,
    "pow": lambda t, o: o.abs(t) ** 1.5, "rpow": lambda t, o: 2.0 ** t, "neg": lambda t, o: -t,
    "matmul": lambda t, o: t @ np.ones((3, 2), "float32"), "getitem": lambda t, o: t[:, 1:],
    "less": lambda t, o: o.cast(t < 0.0, "float32"),
    "numpy_scalar_left": lambda t, o: np.float32(2.0) * t, "numpy_array_left": lambda t, o: np.arange(3.0) - t,
    "tensor_left": lambda t, o: dg.Tensor(np.full(3, 0.5, "float32")) * t,
}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_python_operators_on_symbolic_tensors_run_as_the_eager_ops(name):
    model, eager = _model_and_eager(OPERATORS[name])
    np.testing.assert_allclose(model.predict(X, verbose=0), eager.data, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("build, shape", [
    (lambda t, o: o.concatenate([t, t * 2.0], axis=-1), (None, 6)),
    (lambda t, o: o.sum(t, axis=0, keepdims=True), (1, 3)),   # the batch axis reduced away
    (lambda t, o: o.transpose(o.expand_dims(t, -1), (2, 1, 0)), (1, 3, None)),  # and moved last
    (lambda t, o: o.reshape(t, (-1, 3, 1)), (None, 3, 1)),
    (lambda t, o: o.take(t, [0, 2], axis=1), (None, 2)),
])
def test_output_shapes_agree_with_keras_and_values_with_eager(build, shape):
    model, eager = _model_and_eager(build)
    assert model.outputs[0].shape == shape
    assert tuple(build(keras.Input((3,)), keras.ops).shape) == shape
    np.testing.assert_allclose(model.predict(X, verbose=0), eager.data, rtol=1e-6)


def test_several_outputs_integer_dtypes_and_several_symbolic_inputs():
    a, b = layers.Input((3,)), layers.Input((3,))
    parts = ops.split(ops.concatenate([a, b], axis=1), 2, axis=1)
    best = ops.argmax(parts[1], axis=-1)
    assert [p.shape for p in parts] == [(None, 3), (None, 3)] and best.dtype == np.int32
    model = dg.Model([a, b], [parts[0] + parts[1], best])
    y = RNG.normal(size=(4, 3)).astype("float32")
    total, index = model.predict([X, y], verbose=0)
    np.testing.assert_allclose(total, X + y, rtol=1e-6)
    np.testing.assert_array_equal(index, y.argmax(-1))


def test_gradients_flow_through_recorded_ops_and_the_model_trains():
    inp = layers.Input((3,))
    dense = layers.Dense(2, activation="tanh")
    model = dg.Model(inp, dense(inp) * 2.0 + ops.mean(inp, axis=-1, keepdims=True))
    target = RNG.normal(size=(4, 2)).astype("float32")
    with dg.GradientTape() as tape:
        loss = ops.mean(ops.square(model(X) - target))
    grads = tape.gradient(loss, dense.trainable_weights)
    kernel, bias = dense.kernel.data, dense.bias.data
    h = np.tanh(X @ kernel + bias)
    dout = 2 * (2 * h + X.mean(-1, keepdims=True) - target) / target.size
    np.testing.assert_allclose(grads[0], X.T @ (dout * 2 * (1 - h ** 2)), rtol=1e-5, atol=1e-7)
    model.compile("adam", "mse")
    history = model.fit(X, target, epochs=20, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.parametrize("suffix", [".deepgrad", ".keras"])
def test_a_model_with_recorded_ops_saves_and_loads(tmp_path, suffix):
    inp = layers.Input((3,))
    h = layers.Dense(4)(inp)
    out = ops.clip(ops.concatenate([h, inp[:, :1]], axis=-1) * np.array([1, 2, 3, 4, 5], "float32"), -1.0, 1.0)
    model = dg.Model(inp, out)
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    loaded = dg.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_arguments_that_cannot_be_saved_are_named_and_ops_outside_a_graph_still_refuse_keras_tensors(tmp_path):
    inp = layers.Input((3,))
    model = dg.Model(inp, ops.add(inp, object.__new__(_Opaque)))
    with pytest.raises(NotImplementedError, match="cannot be saved"):
        model.save(str(tmp_path / "m.deepgrad"))
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(inp)


class _Opaque:
    """Something an op accepts (it adds as zero) but a file cannot hold."""

    def __array__(self, dtype=None, copy=None):
        return np.zeros((), dtype or "float32")


@pytest.mark.parametrize("build", [lambda t, o: t * 2, lambda t, o: t + t, lambda t, o: o.abs(t) - 1,
                                   lambda t, o: t / 2, lambda t, o: o.cast(t, "float32") * 0.5])
def test_integer_inputs_give_the_dtype_keras_records_and_predict_returns(build):
    inp = layers.Input((3,), dtype="int32")
    out = build(inp, ops)
    expected = build(keras.Input((3,), dtype="int32"), keras.ops).dtype
    assert out.dtype == np.dtype(expected)
    model = dg.Model(inp, out)
    assert model.predict(np.arange(6, dtype="int32").reshape(2, 3), verbose=0).dtype == np.dtype(expected)
