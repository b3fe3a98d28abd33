"""Matrix product against PyTorch for every operand rank NumPy's matmul accepts."""
import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given
from oracle import check_gradients, compare_with_torch

from blas_bits import assert_bits_or_close, row_halves_keep_bits

import deepgrad as dg

DTYPES = [np.float64, np.float32]
seeds = st.integers(0, 2**16)
sides = st.integers(1, 4)


def data(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@st.composite
def matmul_shapes(draw):
    """Two operand shapes that matmul accepts: 1-D or 2-D each, or batched with broadcasting."""
    m, k, n = draw(sides), draw(sides), draw(sides)
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched", "3x2", "2x3", "1x3", "3x1"]))
    batch = tuple(draw(st.lists(sides, min_size=1, max_size=2)))
    # each batch side of b is either the same as a's or 1 (broadcast), and b may have fewer batch axes
    b_batch = tuple(1 if draw(st.booleans()) else s for s in batch)[draw(st.integers(0, len(batch))):]
    return {
        "1x1": ((k,), (k,)),
        "1x2": ((k,), (k, n)),
        "2x1": ((m, k), (k,)),
        "2x2": ((m, k), (k, n)),
        "batched": (batch + (m, k), b_batch + (k, n)),
        "3x2": ((batch[0], m, k), (k, n)),
        "2x3": ((m, k), (batch[0], k, n)),
        "1x3": ((k,), (batch[0], k, n)),
        "3x1": ((batch[0], m, k), (k,)),
    }[kind]


@pytest.mark.parametrize("dtype", DTYPES)
@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_matches_torch(dtype, shapes, seed):
    sa, sb = shapes
    a, b = data(seed, sa, dtype), data(seed + 1, sb, dtype)
    out = compare_with_torch(dg.matmul, torch.matmul, [a, b])
    assert out.shape == np.matmul(a, b).shape
    compare_with_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_central_differences(shapes, seed):
    sa, sb = shapes
    check_gradients(dg.matmul, [data(seed, sa), data(seed + 1, sb)])


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((3,), (3,))])
def test_matmul_gradient_of_only_one_operand(sa, sb):
    a, b = data(0, sa), data(1, sb)
    compare_with_torch(dg.matmul, torch.matmul, [a, b], grad_mask=[True, False])
    compare_with_torch(dg.matmul, torch.matmul, [a, b], grad_mask=[False, True])


def test_matmul_methods_and_dot():
    a, b = data(2, (2, 3)), data(3, (3, 4))
    compare_with_torch(lambda x, y: x.matmul(y), torch.matmul, [a, b])
    compare_with_torch(lambda x, y: x.dot(y), torch.matmul, [a, b])
    compare_with_torch(dg.dot, torch.matmul, [a, b])
    compare_with_torch(lambda x, y: x.T @ y.T.T, lambda x, y: x.T @ y, [a.T.copy(), b])


def test_matmul_with_an_ndarray_operand():
    a, b = data(4, (2, 3)), data(5, (3, 4))
    compare_with_torch(lambda x: x @ b, lambda x: x @ torch.tensor(b), [a])
    compare_with_torch(lambda y: a @ y, lambda y: torch.tensor(a) @ y, [b])


@pytest.mark.parametrize("sa,sb,message", [
    ((2, 3), (4, 5), r"matmul: shapes \(2, 3\) and \(4, 5\) do not align \(3 != 4\)"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) do not align"),
    ((2, 2, 3), (3, 3, 4), r"matmul: shapes \(2, 2, 3\) and \(3, 3, 4\) do not align: batch dimensions "
                           r"\(2,\) and \(3,\) cannot be broadcast"),
    ((), (3,), r"matmul: operands must have at least one dimension"),
])
def test_matmul_errors_name_both_shapes(sa, sb, message):
    with pytest.raises(ValueError, match=message):
        dg.matmul(dg.Tensor(np.ones(sa)), dg.Tensor(np.ones(sb)))


@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                    ((1, 3, 4), (6, 4, 5)), ((6, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)),
                                    ((2, 3, 4), (4,)), ((64, 128, 64), (64, 64, 128)),
                                    ((8, 4, 128, 32), (8, 4, 32, 128)), ((8, 4, 128, 32), (1, 4, 32, 128)),
                                    ((256, 512), (512, 256))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_on_deepgrads_threads_equal_one_blas_thread(sa, sb, dtype):
    """Large 2-D and batched products run on deepgrad's two threads (halves, each on one BLAS
    thread) rather than OpenBLAS's pool: forward and both gradients are bit-equal to NumPy's
    matmul on one BLAS thread (a 2-D product's row halves where this BLAS keeps their bits, else
    within rounding; a batched product splits between whole products)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    ta, tb = dg.Tensor(a, requires_grad=True), dg.Tensor(b, requires_grad=True)
    out = dg.ops.matmul(ta, tb)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(dg.Tensor(g))
    with threadpoolctl.threadpool_limits(1):
        want = np.matmul(a, b)
        a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        g2 = g.reshape(np.matmul(a2, b2).shape)
        ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
        gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
    same_bits = len(sa) != 2 or len(sb) != 2 or row_halves_keep_bits(dtype, sa[0], sa[1], sb[1])
    # else a float32 sum of 512 unit-scale products in another order: within 1e-6 of the largest entry
    assert_bits_or_close(out.data, want, same_bits, 1e-5, 1e-6)
    assert out.data.dtype == want.dtype
    # the gradients: the same products, summed over broadcast axes (compared to float tolerance,
    # as the sum's order over a broadcast stack may differ: 1,024 terms of unit scale add up to
    # entries near 100, rounded at that scale)
    for grad, ref in ((ta.grad.data, _reduced(ga, a.shape)), (tb.grad.data, _reduced(gb, b.shape))):
        np.testing.assert_allclose(grad, ref, rtol=1e-5, atol=max(1e-5, 1e-6 * np.abs(ref).max()))


def _reduced(g, shape):
    """``g`` summed over the axes a broadcast of an operand of ``shape`` (1-D promoted) added."""
    target = shape if len(shape) > 1 else g.shape[-2:]
    g = g.sum(axis=tuple(range(g.ndim - len(target)))) if g.ndim > len(target) else g
    g = g.sum(axis=tuple(i for i, n in enumerate(target) if n == 1 and g.shape[i] != 1), keepdims=True)
    return g.reshape(shape)
