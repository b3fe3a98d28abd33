"""The autograd contract, checked on every ``Function`` subclass of the package.

Each op is run through its public function on small float64 inputs from ``OPS`` below; its
graph is then differentiated twice with ``retain_graph=True`` and once more without. Every
backward must give the gradients of a fresh graph: a retained backward that wrote into its
saved arrays (or into the incoming gradient) would make the next one differ, and the last,
which may reuse the saved arrays (``Function.last_use``), must still be right. Every concrete Function subclass must
be reached by some entry, so a new op cannot be added without one.
"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.ops
from deepgrad import ops
from deepgrad.autograd import FloatMath, Function
from deepgrad.optimizers.optimizer_state import _updated


def _rng(seed):
    return np.random.default_rng(seed)


def _normal(*shape, seed=0):
    return _rng(seed).standard_normal(shape)


def _positive(*shape, seed=0):
    return _rng(seed).uniform(0.5, 2.0, shape)


def _away_from_zero(*shape, seed=0):
    """Values in (-2, -0.3) U (0.3, 2): no kink of abs/relu/clip within reach of a tie."""
    r = _rng(seed)
    return r.uniform(0.3, 2.0, shape) * r.choice([-1.0, 1.0], shape)


def _distinct(*shape, seed=0):
    """A permutation of well-separated values: no ties for max, min, maximum or pooling."""
    n = int(np.prod(shape))
    return (_rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


# name -> (public function, positional inputs, keyword arguments). A float array becomes a
# leaf that requires grad; anything else (integer labels, boolean conditions) is passed as
# is. Entries are named by the class they exercise, the recurrent ones by their public
# function (their classes have names of their own).
def _fft_real(x):
    from deepgrad.compat.tf_signal import signal
    return ops.real(signal.fft2d(x))  # a float tensor cast to complex, transformed, its real part


def _ifft_imag(x):
    from deepgrad.compat.tf_signal import signal
    return ops.imag(signal.ifft(x))


def _float8_qdq(x, scale, history):
    from deepgrad.quantizers.float8 import float8_qdq
    return float8_qdq(x, scale, history, training=True)  # scale and history get their new values


def _float8_grad_qdq(x, scale, history):
    from deepgrad.quantizers.float8 import float8_grad_qdq
    return float8_grad_qdq(x, scale, history) * 3.0


def _bfloat16_round(x):
    from deepgrad.quantizers.float8 import bfloat16_round
    return bfloat16_round(x)


OPS = {
    # float8 training's fake quantization (Keras's delayed scaling) and bfloat16 rounding
    "Float8QDQ": (_float8_qdq, [_normal(3, 4).astype(np.float32), np.array([0.5], np.float32),
                                np.abs(_normal(8)).astype(np.float32)], {}),
    "Float8GradQDQ": (_float8_grad_qdq, [_normal(3, 4).astype(np.float32), np.array([2.0], np.float32),
                                         np.abs(_normal(8)).astype(np.float32)], {}),
    "BFloat16Round": (_bfloat16_round, [_normal(3, 4).astype(np.float32)], {}),
    # complex values: the FFTs of the tf.signal namespace and the parts of their results
    "ComplexFFT": (_fft_real, [_normal(3, 4)], {}),
    "Imag": (_ifft_imag, [_normal(3, 4)], {}),
    # activation
    "Sigmoid": (ops.sigmoid, [_normal(3, 4)], {}),
    "Tanh": (ops.tanh, [_normal(3, 4)], {}),
    "ReLU": (ops.relu, [_away_from_zero(3, 4)], {}),
    "LeakyReLU": (ops.leaky_relu, [_away_from_zero(3, 4)], {"negative_slope": 0.1}),
    "ELU": (ops.elu, [_away_from_zero(3, 4)], {"alpha": 0.7}),
    "SELU": (ops.selu, [_away_from_zero(3, 4)], {}),
    "GELU": (ops.gelu, [_normal(3, 4)], {}),
    "GELU-tanh": (ops.gelu, [_normal(3, 4)], {"approximate": True}),
    "Softplus": (ops.softplus, [_normal(3, 4)], {}),
    "Softmax": (ops.softmax, [_normal(3, 4)], {"axis": 0}),
    "LogSoftmax": (ops.log_softmax, [_normal(3, 4)], {"axis": 1}),
    "SoftmaxCrossEntropy-sparse": (ops.softmax_cross_entropy, [_normal(3, 4), np.array([0, 3, 1])], {}),
    "SoftmaxCrossEntropy-soft": (ops.softmax_cross_entropy,
                                 [_normal(4, 3), _rng(1).dirichlet(np.ones(4), 3).T], {"axis": 0}),
    "SoftmaxCrossEntropy-reused": (
        lambda z, y: ops.softmax_cross_entropy(z, y, softmax_output=ops.softmax(z)),
        [_normal(3, 4), np.array([2, 0, 1])], {}),
    "Dropout": (ops.dropout, [_normal(4, 5)], {"rate": 0.5, "seed": 3}),
    # math
    "Add": (ops.add, [_normal(2, 3), _normal(3, seed=1)], {}),
    "Sub": (ops.subtract, [_normal(2, 1), _normal(3, seed=1)], {}),
    "Mul": (ops.multiply, [_normal(2, 3), _normal(2, 1, seed=1)], {}),
    "Div": (ops.divide, [_normal(2, 3), _away_from_zero(3, seed=1)], {}),
    "Pow": (ops.power, [_positive(2, 3), _normal(2, 3, seed=1)], {}),
    "Maximum": (ops.maximum, [_distinct(2, 3), _distinct(3, seed=1) + 0.05], {}),
    "Minimum": (ops.minimum, [_distinct(2, 3), _distinct(3, seed=1) + 0.05], {}),
    "Where": (ops.where, [_normal(2, 3) > 0, _normal(2, 3, seed=1), _normal(3, seed=2)], {}),
    "Neg": (ops.negative, [_normal(2, 3)], {}),
    "Exp": (ops.exp, [_normal(2, 3)], {}),
    "Log": (ops.log, [_positive(2, 3)], {}),
    "Sqrt": (ops.sqrt, [_positive(2, 3)], {}),
    "Abs": (ops.abs, [_away_from_zero(2, 3)], {}),
    "LogAbsDet": (lambda x: ops.slogdet(x)[1], [_normal(3, 3) + 3 * np.eye(3)], {}),
    "Clip": (ops.clip, [_away_from_zero(2, 3)], {"x_min": -1.0, "x_max": 1.0}),
    # linalg, nn, normalization
    "MatMul": (ops.matmul, [_normal(2, 3, 4), _normal(4, 5, seed=1)], {}),
    "Linear": (ops.nn.linear, [_normal(2, 3, 4), _normal(4, 5, seed=1), _normal(5, seed=2)], {}),
    "LinearReLU": (ops.nn.linear_relu, [_normal(6, 4), _normal(4, 5, seed=1), _normal(5, seed=2)], {}),
    "Embedding": (ops.embedding, [np.array([[0, 2, 2], [4, 0, 1]]), _normal(5, 3)], {}),
    "Normalize-layer": (ops.layer_norm, [_normal(3, 5), _positive(5, seed=1), _normal(5, seed=2)], {}),
    # a scale and offset that vary over the batch axis: the general Normalize
    "Normalize-batch": (ops.batch_norm, [_normal(4, 3), _positive(4, 3, seed=1), _normal(4, 3, seed=2)], {}),
    "BatchNormalize": (ops.batch_norm, [_normal(4, 3), _positive(1, 3, seed=1), _normal(1, 3, seed=2)], {}),
    "BatchNormalize-per-feature": (ops.batch_norm, [_normal(4, 3), _positive(3, seed=1), _normal(3, seed=2)], {}),
    # convolution and pooling
    "Conv2D": (ops.conv2d, [_normal(2, 5, 5, 2), _normal(3, 3, 2, 3, seed=1), _normal(3, seed=2)],
               {"padding": "same", "strides": 2}),
    "Conv2DReLU": (ops.im2col.conv2d_relu, [_normal(2, 5, 5, 2), _normal(3, 3, 2, 3, seed=1), _normal(3, seed=2)],
                   {"dilation_rate": 2}),
    "Conv1D": (ops.conv1d, [_normal(2, 7, 3), _normal(3, 3, 4, seed=1)], {"padding": "causal"}),
    "Conv1DReLU": (ops.im2col.conv1d_relu, [_normal(2, 7, 3), _normal(3, 3, 4, seed=1), _normal(4, seed=2)], {}),
    "ConvReLU": (ops.convolution.depthwise_conv_bias_relu,
                 [_normal(2, 6, 5, 3), _normal(3, 3, 3, 2, seed=1), _normal(6, seed=2)],
                 {"strides": (2, 1), "padding": "same"}),
    "MaxPool2D": (ops.max_pool2d, [_distinct(2, 5, 5, 2)], {"pool_size": 3, "strides": 2, "padding": "same"}),
    "AvgPool2D": (ops.avg_pool2d, [_normal(2, 5, 5, 2)], {"pool_size": 2, "strides": 1}),
    "MaxPool1D": (ops.max_pool1d, [_distinct(2, 6, 3)], {"pool_size": 2}),
    "AvgPool1D": (ops.avg_pool1d, [_normal(2, 7, 3)], {"pool_size": 3, "padding": "same"}),
    # reductions
    "Sum": (ops.sum, [_normal(2, 3, 4)], {"axis": (0, 2)}),
    "Mean": (ops.mean, [_normal(2, 3, 4)], {"axis": 1, "keepdims": True}),
    "Max": (ops.max, [_distinct(2, 3, 4)], {"axis": -1}),
    "Min": (ops.min, [_distinct(2, 3, 4)], {"axis": 0}),
    "Var": (ops.var, [_normal(2, 3, 4)], {"axis": 1, "ddof": 1}),
    "Std": (ops.std, [_normal(2, 3, 4)], {"axis": (0, 1)}),
    "LogSumExp": (ops.logsumexp, [_normal(2, 3, 4)], {"axis": 2}),
    # shapes and indexing
    "Reshape": (lambda a: ops.reshape(a, (4, 6)), [_normal(2, 3, 4)], {}),
    "Transpose": (lambda a: ops.transpose(a, (2, 0, 1)), [_normal(2, 3, 4)], {}),
    "BroadcastTo": (ops.broadcast_to, [_normal(3, 1)], {"shape": (2, 3, 4)}),
    "Concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), [_normal(2, 3), _normal(2, 2, seed=1)], {}),
    "Stack": (lambda a, b: ops.stack([a, b], axis=-1), [_normal(2, 3), _normal(2, 3, seed=1)], {}),
    "Split": (ops.split, [_normal(2, 6)], {"indices_or_sections": [1, 4], "axis": 1}),
    "Pad": (ops.pad, [_normal(2, 3)], {"pad_width": ((1, 0), (2, 1))}),
    "Cast": (ops.astype, [_normal(2, 3)], {"dtype": np.float32}),
    "GetItem-basic": (ops.getitem, [_normal(4, 5)], {"index": (slice(1, 3), slice(None, None, 2))}),
    "GetItem-repeated": (ops.getitem, [_normal(4, 5)], {"index": (np.array([0, 2, 0, 3]), slice(1, 4))}),
    # recurrent, named by public function
    "lstm": (ops.lstm, [_normal(2, 4, 3), _normal(3, 8, seed=1), _normal(2, 8, seed=2), _normal(8, seed=3),
                        _normal(2, 2, seed=4), _normal(2, 2, seed=5)], {}),
    "gru": (ops.gru, [_normal(2, 4, 3), _normal(3, 6, seed=1), _normal(2, 6, seed=2), _normal(2, 6, seed=3),
                      _normal(2, 2, seed=4)], {}),
    # a rematerialized call: its backward runs the function again and differentiates that
    "Checkpoint": (lambda a, b: dg.autograd.checkpoint(lambda u, v: ops.tanh(u) * v + u, a, b),
                   [_normal(2, 3), _normal(2, 3, seed=1)], {}),
    # stateless_apply's new value standing for the given one (its gradient passes unchanged)
    "_Updated": (lambda a: _updated(a.data * 0.5 - 1.0, a), [_normal(2, 3)], {}),
    "simple_rnn": (ops.simple_rnn, [_normal(2, 4, 3), _normal(3, 2, seed=1), _normal(2, 2, seed=2),
                                    _normal(2, seed=3), _normal(2, 2, seed=4)], {"go_backwards": True}),
}



def _cases_of_other_test_files() -> dict:
    """The ``BACKWARD_CASES`` tables of the other op test files: ``{class: (fn, inputs[, kwargs])}``."""
    import pathlib

    cases = {}
    for path in sorted(pathlib.Path(__file__).parent.glob("test_*.py")):
        if path.stem == pathlib.Path(__file__).stem or "BACKWARD_CASES" not in path.read_text():
            continue
        module = importlib.import_module(path.stem)
        for name, case in getattr(module, "BACKWARD_CASES", {}).items():
            fn, args, kwargs = (*case, {}) if len(case) == 2 else case
            cases[f"{path.stem}:{name}"] = (fn, list(args), dict(kwargs))
    return cases


OPS.update(_cases_of_other_test_files())

# a backward known to write into its saved arrays (none today): the case is marked a strict xfail
KNOWN_BROKEN: dict = {}


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _package_functions() -> set:
    """Every Function subclass defined in deepgrad, after importing every module of deepgrad.ops."""
    for info in pkgutil.walk_packages(deepgrad.ops.__path__, "deepgrad.ops."):
        importlib.import_module(info.name)
    found = {c for c in _all_subclasses(Function) if c.__module__.startswith("deepgrad.")}
    # a private base (``_Binary``, ``_Pool2D``) or the ``FloatMath`` mixin only shares code: its
    # subclasses are the ops
    found = {c for c in found if not getattr(c, "refuses_backward", False)}  # FirstOrderOnly: raises by design
    return {c for c in found if not ((c.__name__.startswith("_") or c is FloatMath) and c.__subclasses__())}


def _build(name):
    fn, args, kwargs = OPS[name]
    leaves = [dg.Tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
              for a in args]
    out = fn(*leaves, **kwargs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out]) if isinstance(o, dg.Tensor)]
    # a weighted sum of every output, so each output element gets its own upstream gradient
    loss = None
    for k, o in enumerate(outs):
        term = (o * dg.Tensor(_normal(*o.shape, seed=100 + k).astype(o.dtype))).sum()
        loss = term if loss is None else loss + term
    return [t for t in leaves if isinstance(t, dg.Tensor)], outs, loss


def _graph_functions(outs) -> set:
    seen, stack = set(), [o._ctx for o in outs if o._ctx is not None]
    while stack:
        fn = stack.pop()
        if type(fn) in seen:
            continue
        seen.add(type(fn))
        stack.extend(t._ctx for t in fn.inputs if t._ctx is not None)
    return seen


def test_every_function_subclass_has_an_entry():
    covered = set()
    for name in OPS:
        _, outs, _ = _build(name)
        covered |= _graph_functions(outs)
    missing = sorted(c.__qualname__ for c in _package_functions() - covered)
    assert not missing, f"Function subclasses with no entry in OPS of {__file__}: {missing}"


def _backward(leaves, loss, retain_graph=True):
    for t in leaves:
        t.grad = None
    loss.backward(retain_graph=retain_graph)
    return [t.grad for t in leaves]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[n])) if n in KNOWN_BROKEN else n
    for n in OPS
])
def test_a_second_backward_gives_the_same_gradients(name):
    leaves, _, loss = _build(name)
    first = _backward(leaves, loss)
    second = _backward(leaves, loss)
    fresh_leaves, _, fresh_loss = _build(name)
    fresh = _backward(fresh_leaves, fresh_loss)
    assert all(g is not None for g in fresh), f"{name}: some input got no gradient"
    for k, (g1, g2, g0) in enumerate(zip(first, second, fresh)):
        np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}: first backward, input {k}")
        np.testing.assert_allclose(g2, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}: second backward, input {k}")
    # and through grad(), which returns the gradients instead of accumulating them
    again = dg.grad(loss, leaves, retain_graph=True)
    for k, (g, g0) in enumerate(zip(again, fresh)):
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}: grad(), input {k}")
    # the last backward (not retained) may reuse the saved arrays as workspace: same gradients
    last = _backward(leaves, loss, retain_graph=False)
    for k, (g, g0) in enumerate(zip(last, fresh)):
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}: last backward, input {k}")


def test_the_table_fails_for_an_op_without_an_entry():
    """The coverage check is not vacuous: a new subclass in the package is reported."""

    class Doubled(Function):
        def forward(self, a):
            return 2 * a

        def backward(self, g):
            return 2 * g

    Doubled.__module__ = "deepgrad.ops.math"
    try:
        assert Doubled in _package_functions()
    finally:
        Doubled.__module__ = __name__


def _multi_output_cases() -> list:
    """``(name, k)`` for each output ``k`` of every entry whose public function gives several tensors."""
    cases = []
    for name in OPS:
        _, outs, _ = _build(name)
        if len(outs) > 1:
            cases += [(name, k) for k in range(len(outs))]
    return cases


@pytest.mark.parametrize("name,used", _multi_output_cases())
def test_an_op_with_one_output_used_gets_none_for_the_others(name, used):
    """The engine passes None for the outputs of a multi-output Function that no gradient
    reached: the gradients must be those of zeros sent through every other output."""
    def gradients(others_times_zero: bool):
        fn, args, kwargs = OPS[name]
        leaves = [dg.Tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                  for a in args]
        out = fn(*leaves, **kwargs)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else [out]) if isinstance(o, dg.Tensor)]
        o = outs[used]
        loss = (o * dg.Tensor(_normal(*o.shape, seed=100 + used).astype(o.dtype))).sum()
        if others_times_zero:  # zeros reach every other output
            for k, other in enumerate(outs):
                if k != used and other.requires_grad:
                    loss = loss + (other * 0.0).sum()
        leaves = [t for t in leaves if isinstance(t, dg.Tensor)]
        return dg.grad(loss, leaves, allow_unused=True)

    for k, (g, g0) in enumerate(zip(gradients(False), gradients(True))):
        if g0 is None or g is None:
            assert g is None and (g0 is None or not np.any(g0)), f"{name}: input {k}"
            continue
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}, output {used}: input {k}")
