"""Matrix product with NumPy's ``matmul`` rules: 1-D, 2-D and batched (broadcast) operands."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, unbroadcast
from .halves import matmul as halves_matmul
from .halves import over_batch, rows_of


def _mm(a, b):
    """``a @ b``; a stack of rows times one matrix is folded into a single GEMM. A floating-point
    GEMM runs as ``Dense``'s do (``halves.matmul``: on deepgrad's own threads, or on one BLAS
    thread, never waking OpenBLAS's spinning pool), so a layer written with ``ops.matmul`` is as
    fast as the built-in one."""
    if a.ndim > 2 and b.ndim == 2:
        return _mm(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    if a.dtype.kind == "f" and b.dtype.kind == "f" and a.dtype != np.float16 and b.dtype != np.float16:
        if a.ndim == 2 and b.ndim == 2:
            return halves_matmul(a, b)
        if a.ndim > 2 or b.ndim > 2:
            return _batched(a, b)
    return np.matmul(a, b)


def _batched(a, b):
    """A stack of products (2-D or more, batch axes broadcast): its halves of the leading batch
    axis in two threads, each on one BLAS thread, when large; each item the same GEMM either way."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        return np.matmul(a, b)   # the caller reports the shapes
    shape = batch + (a2.shape[-2], b2.shape[-1])
    out = np.empty(shape, np.result_type(a.dtype, b.dtype))
    over_batch(lambda rows: np.matmul(rows_of(a2, rows, shape), rows_of(b2, rows, shape), out=out[rows]), shape)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


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
                gb = _mm(a2.reshape(-1, a2.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = unbroadcast(_mm(np.swapaxes(a2, -1, -2), g), b2.shape)
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
