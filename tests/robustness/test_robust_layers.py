"""Layers with bad constructor arguments and inputs of the wrong rank: a working layer or a clear error."""
import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
from robust_support import cases, clear_error, outcome, ALLOWED

L = dg.layers
counts = st.one_of(st.integers(-3, 4), st.just(0), st.just(2.5), st.just("8"), st.none(), st.just(True))
# an epsilon below float32's range underflows to 0 in the layer and 0/0 is NaN, as in Keras: left out
rates = st.one_of(st.floats(-1, 2).filter(lambda r: not 0 < abs(r) < 1e-30), st.just(float("nan")),
                  st.just("0.5"), st.none())
paddings = st.sampled_from(["valid", "same", "VALID", "causal", "full", "bogus", 3, None])
activations = st.sampled_from([None, "relu", "softmax", "linear", "bogus", 3, "Relu", lambda x: x])

CONSTRUCT = {
    "Dense": lambda n, r, p, a: L.Dense(n, activation=a),
    "Conv1D": lambda n, r, p, a: L.Conv1D(n, 2, padding=p, activation=a),
    "Conv2D": lambda n, r, p, a: L.Conv2D(n, 2, padding=p, activation=a),
    "Conv2DKernel": lambda n, r, p, a: L.Conv2D(2, n, padding=p),
    "Conv2DStrides": lambda n, r, p, a: L.Conv2D(2, 2, strides=n, padding=p),
    "MaxPooling2D": lambda n, r, p, a: L.MaxPooling2D(n, padding=p),
    "AveragePooling1D": lambda n, r, p, a: L.AveragePooling1D(n, padding=p),
    "Dropout": lambda n, r, p, a: L.Dropout(r),
    "SimpleRNN": lambda n, r, p, a: L.SimpleRNN(n, activation=a, dropout=r if isinstance(r, float) else 0.0),
    "LSTM": lambda n, r, p, a: L.LSTM(n, dropout=r),
    "GRU": lambda n, r, p, a: L.GRU(n, recurrent_dropout=r),
    "Embedding": lambda n, r, p, a: L.Embedding(n, 3),
    "EmbeddingDim": lambda n, r, p, a: L.Embedding(5, n),
    "Activation": lambda n, r, p, a: L.Activation(a),
    "BatchNormalization": lambda n, r, p, a: L.BatchNormalization(momentum=r),
    "Reshape": lambda n, r, p, a: L.Reshape((n, -1)),
    "Flatten": lambda n, r, p, a: L.Flatten(),
    "LayerNormalization": lambda n, r, p, a: L.LayerNormalization(epsilon=r),
}
INPUT_RANK = {"Dense": 2, "Conv1D": 3, "Conv2D": 4, "Conv2DKernel": 4, "Conv2DStrides": 4, "MaxPooling2D": 4,
              "AveragePooling1D": 3, "Dropout": 2, "SimpleRNN": 3, "LSTM": 3, "GRU": 3, "Embedding": 2,
              "EmbeddingDim": 2, "Activation": 2, "BatchNormalization": 2, "Reshape": 2, "Flatten": 3,
              "LayerNormalization": 2}


def _names(kind):
    return (kind.replace("Kernel", "").replace("Strides", "").replace("Dim", "").lower(), "units", "filters",
            "kernel_size", "strides", "padding", "activation", "rate", "dropout", "pool_size", "input_dim",
            "output_dim", "momentum", "epsilon", "shape", "target_shape", "rank", "expected", "input")


@cases(4)
@given(kind=st.sampled_from(sorted(CONSTRUCT)), n=counts, rate=rates, padding=paddings, activation=activations,
       rank=st.integers(0, 5), data=st.data())
def test_layers_with_bad_arguments_and_inputs(kind, n, rate, padding, activation, rank, data):
    layer = outcome(lambda: CONSTRUCT[kind](n, rate, padding, activation), _names(kind))
    if layer is None:
        return
    side = 3 if kind.startswith(("Conv", "Max", "Average")) else 2
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    if kind.startswith(("Conv", "Max", "Average")):
        shape = tuple(max(s, side) for s in shape)
    x = np.abs(np.random.default_rng(0).normal(size=shape)).astype("float32")
    if kind.startswith("Embedding"):
        x = np.floor(x).astype("int64")
    try:
        y = layer(x)
    except ALLOWED as e:
        clear_error(e, _names(kind))
        return
    out = y.numpy()
    assert np.isfinite(out).all(), f"{kind} gave non-finite values from finite inputs {shape}"


@cases(1)
@given(units=st.integers(1, 4), rank=st.integers(0, 4), last=st.integers(1, 4))
def test_dense_on_any_rank_is_matmul_or_a_clear_error(units, rank, last):
    layer = L.Dense(units, kernel_initializer="ones", bias_initializer="zeros")
    x = np.ones((2,) * max(rank - 1, 0) + (last,) if rank else (), "float32")
    out = outcome(lambda: layer(x), ("dense", "rank", "shape", "input"))
    if out is not None:
        np.testing.assert_allclose(out.numpy(), x @ np.ones((last, units), "float32"))
