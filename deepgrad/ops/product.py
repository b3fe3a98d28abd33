"""Matrix product with NumPy's ``matmul`` rules: 1-D, 2-D and batched (broadcast) operands."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, unbroadcast
from . import blas


def _mm(a, b):
    """``a @ b``; a stack of rows times one matrix is folded into a single GEMM."""
    if a.ndim > 2 and b.ndim == 2:
        return blas.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    return blas.matmul(a, b)


class MatMul(Function):
    keeps_integers = True
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: operands must have at least one dimension (use * for scalars)")
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if a.shape[-1] != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({a.shape[-1]} != {k_b})")
        self.save_for_backward(a, b)
        try:
            return _mm(a, b)
        except ValueError:  # the batch dimensions do not broadcast
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: batch dimensions "
                             f"{a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast") from None

    def backward(self, g):
        # C = A B  =>  dA = dC B^T,  dB = A^T dC   (1-D operands are promoted, then squeezed back)
        a, b = self.saved
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:  # first, so that a 0-d g (1-D x 1-D) becomes (1, 1)
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(_mm(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # sum over the stack in one GEMM: (k, N) @ (N, n)
                gb = blas.matmul(a2.reshape(-1, a2.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = unbroadcast(blas.matmul(np.swapaxes(a2, -1, -2), g), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb

    def graph_backward(self, g):
        # the same products, recorded: dA = dC B^T, dB = A^T dC
        a, b = self.inputs
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        if b.ndim == 1:
            g = g.reshape(g.shape + (1,))
        if a.ndim == 1:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(matmul(g, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(matmul(a2.swapaxes(-1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


def matmul(x1, x2):
    return MatMul.apply(x1, x2)
