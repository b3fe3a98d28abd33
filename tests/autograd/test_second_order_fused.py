"""Second derivatives of the ops whose fast backward is NumPy code: pooling, normalization
statistics, logsumexp, einsum, running sums and products, the fused recurrent kernels and
dot-product attention. Each is compared with PyTorch's ``create_graph=True`` in float64 (the
first derivative, and a Hessian-vector product with respect to every input) and with central
differences of the first derivative (``check_second_order``)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import ops
from deepgrad.autograd import grad

from test_second_order_ops import _tf_same_pads, check_second_order

RNG = np.random.default_rng(15)


def _distinct(*shape):
    """Well-separated values in a random order: no ties inside a pooling window."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * (3.0 / n) - 1.5).reshape(shape) + RNG.uniform(0, 0.1 / n, shape)


def _torch_pool(x, kind, pool, strides, padding):
    """Keras's channels-last pooling in PyTorch: "same" pads as TensorFlow; the average counts
    only the real cells of a window."""
    nd = x.dim() - 2
    xc = x.permute(0, nd + 1, *range(1, nd + 1))
    pads = [_tf_same_pads(n, k, s, 1) if padding == "same" else (0, 0)
            for n, k, s in zip(x.shape[1:-1], pool, strides)]
    flat = [p for pair in reversed(pads) for p in pair]
    if kind == "max":
        y = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](F.pad(xc, flat, value=-float("inf")), pool, strides)
    else:
        avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
        y = avg(F.pad(xc, flat), pool, strides) / avg(F.pad(torch.ones_like(xc), flat), pool, strides)
    return y.permute(0, *range(2, nd + 2), 1)


POOLS = [  # (function, kind, input shape, pool, strides, padding)
    (lambda x: ops.max_pool2d(x, 2), "max", (2, 4, 6, 2), (2, 2), (2, 2), "valid"),
    (lambda x: ops.max_pool2d(x, 3, 2, "same"), "max", (2, 5, 5, 2), (3, 3), (2, 2), "same"),
    (lambda x: ops.avg_pool2d(x, 2, 1), "avg", (1, 4, 5, 3), (2, 2), (1, 1), "valid"),
    (lambda x: ops.avg_pool2d(x, 3, 2, "same"), "avg", (2, 5, 4, 2), (3, 3), (2, 2), "same"),
    (lambda x: ops.max_pool1d(x, 3, 2, "same"), "max", (2, 7, 3), (3,), (2,), "same"),
    (lambda x: ops.avg_pool1d(x, 2), "avg", (2, 6, 3), (2,), (2,), "valid"),
    (lambda x: ops.max_pool(x, (2, 3), (1, 2), "same"), "max", (2, 4, 5, 2), (2, 3), (1, 2), "same"),
    (lambda x: ops.average_pool(x, 2, 1, "same"), "avg", (2, 5, 3), (2,), (1,), "same"),
    (lambda x: ops.max_pool(x, 2), "max", (1, 4, 4, 4, 2), (2, 2, 2), (2, 2, 2), "valid"),
    (lambda x: ops.average_pool(x, (2, 2, 3), (1, 2, 1), "same"), "avg", (1, 3, 4, 4, 2), (2, 2, 3), (1, 2, 1), "same"),
]


@pytest.mark.parametrize("k", range(len(POOLS)))
def test_pooling(k):
    fn, kind, shape, pool, strides, padding = POOLS[k]
    x = _distinct(*shape)
    check_second_order(lambda x: dg.tanh(fn(dg.tanh(x))),
                       lambda x: torch.tanh(_torch_pool(torch.tanh(x), kind, pool, strides, padding)), [x])
