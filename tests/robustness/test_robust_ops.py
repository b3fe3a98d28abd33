"""Every op family of ``deepgrad.ops`` on random, often wrong, arguments.

Where NumPy has the op, it is the reference: a result must equal NumPy's (float32 tolerance),
and where NumPy refuses the arguments deepgrad must refuse them with a clear error naming the op
or the argument (never NumPy's own message). Inputs are finite, so NaN in a result is wrong
unless NumPy gives NaN too.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
from robust_support import cases, outcome

ops = dg.ops
_FAILED = object()

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
finite = st.floats(-3, 3, width=32)
arrays = hnp.arrays(np.float32, shapes, elements=finite)
nonempty = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), elements=finite)
junk = st.sampled_from([None, "abc", object(), [1, [2, 3]], {"a": 1}, 1 + 2j])
axes = st.one_of(st.none(), st.integers(-6, 6), st.tuples(st.integers(-5, 5), st.integers(-5, 5)),
                 st.just(1.5), st.just("0"), st.lists(st.integers(-4, 4), max_size=3))


def agree(op: str, call, reference, names=(), rtol=1e-4, atol=1e-5):
    """``call`` equals ``reference`` (NumPy) when both succeed; a clear error when NumPy refuses."""
    try:
        with np.errstate(all="ignore"):
            expected = reference()
    except Exception:  # noqa: BLE001 - NumPy refusing is the signal, whatever its type
        expected = _FAILED
    out = outcome(call, (op, *names))
    if out is None:
        return
    got = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
    if expected is _FAILED:  # deepgrad accepts more than NumPy (0-d axes, as PyTorch): no reference
        assert got.dtype.kind not in "fc" or np.isfinite(got).all(), f"{op}: non-finite from finite inputs"
        return
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{op}: shape {got.shape}, NumPy gives {expected.shape}"
    if expected.dtype.kind in "biuf":
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=op)


# ------------------------------------------------------------------ elementwise
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
    "minimum": np.minimum, "arctan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp,
    "greater": np.greater, "equal": np.equal, "where_like_mod": None,
}
BINARY.pop("where_like_mod")


@cases(2)
@given(op=st.sampled_from(sorted(BINARY)), a=arrays, b=arrays)
def test_binary_elementwise_ops_broadcast_as_numpy_or_name_both_shapes(op, a, b):
    agree(op, lambda: getattr(ops, op)(a, b), lambda: BINARY[op](a, b), names=("broadcast", "shape"))


@cases(0.5)
@given(op=st.sampled_from(["add", "multiply", "subtract", "divide", "maximum", "power"]), a=arrays, bad=junk)
def test_binary_ops_refuse_junk_operands(op, a, bad):
    for args in ((a, bad), (bad, a)):
        outcome(lambda: getattr(ops, op)(*args), (op, "None", "complex", "text", "number", "tensor", "ragged",
                                                  "object", "string"))


UNARY = {"exp": np.exp, "tanh": np.tanh, "abs": np.abs, "sqrt": np.sqrt, "log": np.log, "square": np.square,
         "sin": np.sin, "floor": np.floor, "sign": np.sign, "log1p": np.log1p, "negative": np.negative,
         "relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
         "softplus": lambda x: np.logaddexp(0, x)}


@cases(1)
@given(op=st.sampled_from(sorted(UNARY)), a=arrays)
def test_unary_ops_match_numpy(op, a):
    agree(op, lambda: getattr(ops, op)(a), lambda: UNARY[op](a.astype(np.float64)))


@cases(0.3)
@given(op=st.sampled_from(sorted(UNARY)), bad=junk)
def test_unary_ops_refuse_junk(op, bad):
    outcome(lambda: getattr(ops, op)(bad), (op, "None", "complex", "text", "number", "tensor", "ragged", "object",
                                            "string"))


@cases(0.5)
@given(a=arrays, lo=st.one_of(st.none(), finite), hi=st.one_of(st.none(), finite))
def test_clip_matches_numpy(a, lo, hi):
    assume(lo is not None or hi is not None)
    agree("clip", lambda: ops.clip(a, lo, hi), lambda: np.clip(a, lo, hi))


# ------------------------------------------------------------------ reductions
REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
          "std": np.std, "var": np.var, "any": np.any, "all": np.all}


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@cases(3)
@given(op=st.sampled_from(sorted(REDUCE)), a=arrays, axis=axes, keepdims=st.booleans())
def test_reductions_with_any_axis(op, a, axis, keepdims):
    agree(op, lambda: getattr(ops, op)(a, axis=axis, keepdims=keepdims),
          lambda: REDUCE[op](a.astype(np.float64), axis=_np_axis(axis), keepdims=keepdims),
          names=("axis", "empty", "dimension", "zero-size", "size 0"))


@cases(1)
@given(op=st.sampled_from(["argmax", "argmin"]), a=arrays, axis=st.one_of(st.none(), st.integers(-6, 6), st.just(1.5)))
def test_argmax_with_any_axis(op, a, axis):
    agree(op, lambda: getattr(ops, op)(a, axis=axis), lambda: getattr(np, op)(a, axis=axis),
          names=("axis", "empty"))


@cases(1)
@given(op=st.sampled_from(["softmax", "log_softmax", "cumsum", "sort", "logsumexp"]), a=arrays,
       axis=st.one_of(st.integers(-6, 6), st.just(1.5), st.just("x")))
def test_axis_ops_with_any_axis(op, a, axis):
    x = a.astype(np.float64)

    def reference():
        if op in ("softmax", "log_softmax", "logsumexp"):
            m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # logsumexp of nothing is -inf
            lse = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
            return {"softmax": np.exp(x - lse), "log_softmax": x - lse,
                    "logsumexp": np.squeeze(lse, axis=axis)}[op]
        return getattr(np, op)(x, axis=axis)

    agree(op, lambda: getattr(ops, op)(a, axis=axis), reference, names=("axis",))


# ------------------------------------------------------------------ shapes
@cases(2)
@given(a=arrays, newshape=st.lists(st.integers(-2, 6), min_size=0, max_size=4))
def test_reshape_to_any_shape(a, newshape):
    agree("reshape", lambda: ops.reshape(a, newshape), lambda: np.reshape(a, newshape), names=("shape",))


@cases(1)
@given(a=arrays, perm=st.one_of(st.none(), st.lists(st.integers(-5, 5), max_size=5)))
def test_transpose_with_any_axes(a, perm):
    agree("transpose", lambda: ops.transpose(a, perm), lambda: np.transpose(a, perm), names=("axes", "perm"))


@cases(1)
@given(a=arrays, axis=st.one_of(st.integers(-6, 6), st.none()), op=st.sampled_from(["expand_dims", "squeeze"]))
def test_expand_and_squeeze_with_any_axis(a, axis, op):
    if op == "expand_dims" and axis is None:
        axis = 0
    agree(op, lambda: getattr(ops, op)(a, axis), lambda: getattr(np, op)(a, axis), names=("axis",))


@cases(1)
@given(a=arrays, i=st.integers(-6, 6), j=st.integers(-6, 6), op=st.sampled_from(["swapaxes", "moveaxis"]))
def test_swapaxes_and_moveaxis(a, i, j, op):
    agree(op, lambda: getattr(ops, op)(a, i, j), lambda: getattr(np, op)(a, i, j), names=("axis", "axes"))


@cases(2)
@given(xs=st.lists(arrays, min_size=0, max_size=3), axis=st.integers(-4, 4),
       op=st.sampled_from(["concatenate", "stack"]))
def test_join_any_list_of_tensors(xs, axis, op):
    agree(op, lambda: getattr(ops, op)(xs, axis=axis), lambda: getattr(np, op)(xs, axis=axis),
          names=("axis", "shape", "empty", "tensors"))


@cases(1)
@given(a=arrays, sections=st.one_of(st.integers(-1, 5), st.lists(st.integers(-1, 5), max_size=3)),
       axis=st.integers(-4, 4))
def test_split_any_sections(a, sections, axis):
    try:
        expected = np.split(a, sections, axis=axis)
    except Exception:  # noqa: BLE001
        expected = None
    out = outcome(lambda: ops.split(a, sections, axis=axis), ("split", "axis", "sections", "indices"))
    if out is not None:
        assert expected is not None, f"split accepted {sections} on axis {axis} of {a.shape}"
        assert len(out) == len(expected)
        for got, want in zip(out, expected):
            np.testing.assert_array_equal(got.numpy(), want)


@cases(1)
@given(a=arrays, width=st.one_of(st.integers(-2, 3), st.lists(st.tuples(st.integers(-1, 2), st.integers(-1, 2)),
                                                             max_size=5)),
       mode=st.sampled_from(["constant", "reflect", "symmetric", "edge", "wrap", "bogus"]))
def test_pad_any_widths(a, width, mode):
    agree("pad", lambda: ops.pad(a, width, mode=mode), lambda: np.pad(a, width, mode=mode),
          names=("pad_width", "mode", "width"))


@cases(1)
@given(a=arrays, shift=st.integers(-5, 5), axis=st.one_of(st.none(), st.integers(-5, 5)),
       op=st.sampled_from(["roll", "flip"]))
def test_roll_and_flip(a, shift, axis, op):
    if op == "roll":
        agree(op, lambda: ops.roll(a, shift, axis=axis), lambda: np.roll(a, shift, axis=axis), names=("axis",))
    else:
        agree(op, lambda: ops.flip(a, axis=axis), lambda: np.flip(a, axis=axis), names=("axis",))


@cases(1)
@given(a=arrays, reps=st.one_of(st.integers(-2, 3), st.lists(st.integers(-1, 3), max_size=4)),
       axis=st.one_of(st.none(), st.integers(-5, 5)), op=st.sampled_from(["tile", "repeat"]))
def test_tile_and_repeat(a, reps, axis, op):
    if op == "tile":
        agree(op, lambda: ops.tile(a, reps), lambda: np.tile(a, reps), names=("repeats", "reps"))
    else:
        agree(op, lambda: ops.repeat(a, reps, axis=axis), lambda: np.repeat(a, reps, axis=axis),
              names=("repeats", "axis"))


@cases(1)
@given(a=arrays, shape=st.lists(st.integers(-1, 4), max_size=5))
def test_broadcast_to_any_shape(a, shape):
    agree("broadcast_to", lambda: ops.broadcast_to(a, shape), lambda: np.broadcast_to(a, shape), names=("shape",))


# ------------------------------------------------------------------ indexing
@cases(2)
@given(a=arrays, index=st.one_of(st.integers(-6, 6), st.tuples(st.integers(-6, 6), st.integers(-6, 6)),
                                 st.slices(6), st.lists(st.integers(-6, 6), max_size=3), st.just(None),
                                 st.just(Ellipsis), st.just(1.5), st.just("a")))
def test_getitem_any_index(a, index):
    t = dg.Tensor(a)
    agree("index", lambda: t[index], lambda: a[np.array(index) if isinstance(index, list) else index],
          names=("index", "out of range", "out of bounds", "indices", "dimension"))


@cases(1)
@given(a=arrays, indices=st.lists(st.integers(-7, 7), max_size=4), axis=st.one_of(st.none(), st.integers(-5, 5)))
def test_take_any_indices(a, indices, axis):
    idx = np.array(indices, dtype=np.int64)
    agree("take", lambda: ops.take(a, idx, axis=axis), lambda: np.take(a, idx, axis=axis),
          names=("indices", "index", "axis", "out of range"))


@cases(1)
@given(a=nonempty, data=st.data())
def test_take_along_axis_any_indices(a, data):
    axis = data.draw(st.integers(-a.ndim - 1, a.ndim))
    ishape = data.draw(st.lists(st.integers(1, 3), min_size=a.ndim, max_size=a.ndim))
    idx = data.draw(hnp.arrays(np.int64, tuple(ishape), elements=st.integers(-5, 5)))
    agree("take_along_axis", lambda: ops.take_along_axis(a, idx, axis=axis),
          lambda: np.take_along_axis(a, idx, axis=axis), names=("indices", "index", "axis", "out of range", "shape"))


@cases(1)
@given(labels=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), elements=st.integers(-3, 8)),
       num_classes=st.one_of(st.integers(-2, 6), st.just(2.5), st.none()))
def test_one_hot_any_labels(labels, num_classes):
    out = outcome(lambda: ops.one_hot(labels, num_classes), ("one_hot", "num_classes", "labels", "indices"))
    if out is not None:
        eye = np.eye(num_classes, dtype=np.float32)
        expected = np.where((labels >= 0)[..., None] & (labels < num_classes)[..., None],
                            eye[np.clip(labels, 0, num_classes - 1)], 0)
        np.testing.assert_array_equal(out.numpy(), expected)


# ------------------------------------------------------------------ products, convolution, pooling
@cases(2)
@given(a=arrays, b=arrays, op=st.sampled_from(["matmul", "dot"]))
def test_products_of_any_shapes(a, b, op):
    agree(op, lambda: getattr(ops, op)(a, b), lambda: getattr(np, op)(a.astype(np.float64), b.astype(np.float64)),
          names=("shape", "dimension", "rank", "scalar"), rtol=1e-3, atol=1e-3)


@cases(1)
@given(a=arrays, b=arrays, axes=st.one_of(st.integers(-1, 3), st.tuples(st.lists(st.integers(-3, 3), max_size=2),
                                                                        st.lists(st.integers(-3, 3), max_size=2))))
def test_tensordot_any_axes(a, b, axes):
    agree("tensordot", lambda: ops.tensordot(a, b, axes), lambda: np.tensordot(a, b, axes),
          names=("axes", "shape"), rtol=1e-3, atol=1e-3)


conv_arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=5), elements=finite)


@cases(2)
@given(x=conv_arrays, k=conv_arrays, strides=st.one_of(st.integers(-1, 3), st.tuples(st.integers(0, 2), st.integers(0, 2))),
       padding=st.sampled_from(["valid", "same", "causal", "full", "VALID", 3]),
       dilation=st.integers(0, 2), op=st.sampled_from(["conv", "depthwise_conv", "conv_transpose"]))
def test_convolutions_of_any_shapes(x, k, strides, padding, dilation, op):
    out = outcome(lambda: getattr(ops, op)(x, k, strides=strides, padding=padding, dilation_rate=dilation),
                  (op, "shape", "rank", "strides", "padding", "dilation", "kernel", "channels", "input"))
    if out is not None:
        assert np.isfinite(out.numpy()).all(), f"{op} gave non-finite values from finite inputs"


@cases(2)
@given(x=conv_arrays, pool=st.one_of(st.integers(-1, 4), st.tuples(st.integers(0, 3), st.integers(0, 3))),
       strides=st.one_of(st.none(), st.integers(-1, 3)), padding=st.sampled_from(["valid", "same", "bogus"]),
       op=st.sampled_from(["max_pool", "average_pool"]))
def test_pooling_of_any_shapes(x, pool, strides, padding, op):
    out = outcome(lambda: getattr(ops, op)(x, pool, strides=strides, padding=padding),
                  (op, "pool", "shape", "rank", "strides", "padding", "input"))
    if out is not None:
        assert np.isfinite(out.numpy()).all(), f"{op} gave non-finite values from finite inputs"


# ------------------------------------------------------------------ nn ops
@cases(1)
@given(labels=hnp.arrays(np.int64, st.integers(0, 4).map(lambda n: (n,)), elements=st.integers(-2, 5)),
       logits=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=finite),
       from_logits=st.booleans())
def test_sparse_categorical_crossentropy_labels_out_of_range(labels, logits, from_logits):
    out = outcome(lambda: ops.sparse_categorical_crossentropy(labels, logits, from_logits=from_logits),
                  ("sparse_categorical_crossentropy", "label", "class", "shape", "target", "output"))
    if out is not None:
        assert np.isfinite(out.numpy()).all() or not from_logits and (logits <= 0).any()


@cases(1)
@given(target=arrays, output=arrays, op=st.sampled_from(["categorical_crossentropy", "binary_crossentropy"]),
       from_logits=st.booleans())
def test_crossentropy_of_mismatched_shapes(target, output, op, from_logits):
    outcome(lambda: getattr(ops, op)(target, output, from_logits=from_logits),
            (op, "shape", "target", "output", "rank"))


@cases(1)
@given(a=arrays, rate=st.one_of(st.floats(-1, 2), st.just(float("nan")), st.just("half"), st.none()))
def test_dropout_any_rate(a, rate):
    out = outcome(lambda: dg.random.dropout(a, rate, seed=1), ("dropout", "rate"))
    if out is not None:
        assert 0 <= rate < 1
        kept = out.numpy() != 0
        np.testing.assert_allclose(out.numpy()[kept], a[kept] / (1 - rate), rtol=1e-5)


@cases(1)
@given(a=arrays, op=st.sampled_from(["leaky_relu", "elu", "gelu", "selu", "silu", "relu6", "hard_sigmoid"]),
       arg=st.one_of(st.none(), finite, st.just("x")))
def test_activation_ops_with_any_argument(a, op, arg):
    out = outcome(lambda: getattr(ops, op)(a) if arg is None else getattr(ops, op)(a, arg),
                  (op, "alpha", "slope", "approximate", "negative_slope", "argument"))
    if out is not None:
        assert np.isfinite(out.numpy()).all(), f"{op} gave non-finite values from finite inputs"


@cases(1)
@given(a=arrays, axes=st.one_of(st.integers(-5, 5), st.lists(st.integers(-5, 5), max_size=3)), keepdims=st.booleans())
def test_moments_any_axes(a, axes, keepdims):
    a_ = a
    # a repeated axis counts once in moments (a set of axes), so the reference takes each once
    ax = tuple(sorted(set(a % max(a_.ndim, 1) for a in axes))) if isinstance(axes, list) and all(
        -a_.ndim <= a < a_.ndim for a in axes) else (tuple(axes) if isinstance(axes, list) else axes)
    agree("moments", lambda: ops.moments(a, axes, keepdims=keepdims)[1],
          lambda: np.var(a.astype(np.float64), axis=ax, keepdims=keepdims), names=("axes", "axis", "empty"),
          atol=1e-4)


@cases(1)
@given(a=arrays, axis=st.integers(-5, 5), order=st.sampled_from([1, 2, 0, -1, "fro", 2.5]))
def test_normalize_any_axis_and_order(a, axis, order):
    out = outcome(lambda: ops.normalize(a, axis=axis, order=order), ("normalize", "axis", "order"))
    if out is not None:
        assert np.isfinite(out.numpy()).all(), "normalize gave non-finite values from finite inputs"
