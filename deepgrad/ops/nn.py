"""Fused layer primitives: the affine map of Dense and the table lookup of Embedding.

Each is one graph node, so a Dense layer costs one GEMM forward and two backward, and an
Embedding lookup one gather forward and one scatter-add backward.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .halves import BLAS_THREADS_MIN, matmul_row_halves
from .halves import matmul as halves_matmul
from .manipulation import IndexAdd


class Linear(Function):
    """``y = x @ kernel + bias`` over the last axis of ``x`` (any rank >= 1)."""

    fused_relu = False  # LinearReLU: relu(x @ kernel + bias), applied in place on the GEMM's output
    writes_input_grads = True  # dW and db straight into the caller's gradient arrays (a flat bucket's views)

    def forward(self, x, kernel, bias=None):
        shape = x.shape
        if kernel.ndim != 2 or not shape or shape[-1] != kernel.shape[0]:
            raise ValueError(f"linear: input of shape {x.shape} does not match kernel of shape {kernel.shape} "
                             f"(the last axis of the input must be {kernel.shape[0] if kernel.ndim else '?'})")
        if bias is not None and bias.shape != kernel.shape[1:]:
            raise ValueError(f"linear: bias of shape {bias.shape} does not match kernel of shape {kernel.shape}")
        flat = len(shape) == 2  # a batch of vectors, the common case: no reshapes
        x2 = x if flat else x.reshape(-1, shape[-1])
        work = x2.shape[0] * kernel.size
        if work < BLAS_THREADS_MIN:  # small: straight to NumPy (OpenBLAS runs it on one thread)
            y = x2 @ kernel
            if bias is not None:
                y += bias
            if self.fused_relu:
                np.maximum(y, 0, out=y)
        else:
            # large: on deepgrad's threads (halves.matmul_row_halves), bias and relu right after
            # each half; else one call, kept off OpenBLAS's pool when it is short (halves.matmul)
            after = self._bias_relu(bias)
            y = matmul_row_halves(x2, kernel, after)
            if y is None:
                y = halves_matmul(x2, kernel)
                if after is not None:
                    after(y)
        self.in_shape = shape
        needs = self.needs_input_grad
        if True in needs:  # save_for_backward, inlined: dX needs the kernel, dKernel the input, the relu's mask its output
            self.saved = (x2 if needs[1] else None, kernel if needs[0] else None, y if self.fused_relu else None)
        return y if flat else y.reshape(shape[:-1] + kernel.shape[1:])

    def _bias_relu(self, bias):
        """The passes after the GEMM, on some rows of its output (the same operations as the plain path)."""
        relu = self.fused_relu

        def after(y):
            if bias is not None:
                y += bias
            if relu:
                np.maximum(y, 0, out=y)

        return after if bias is not None or relu else None

    def backward(self, g, into=None):
        # dX = dY W^T,  dW = X^T dY,  db = sum_rows dY   (dY masked by y > 0 for the fused relu)
        x2, kernel, relu_out = self.saved
        g2 = g.reshape(-1, g.shape[-1])
        if relu_out is not None:
            g2 = g2 * (relu_out > 0)
        needs = self.needs_input_grad
        if g2.size * self.in_shape[-1] >= BLAS_THREADS_MIN:  # large: on this process's threads (halves)
            gemm = halves_matmul
        else:
            gemm = np.matmul
        gx = gemm(g2, kernel.T).reshape(self.in_shape) if needs[0] else None
        if into is None:
            gk = gemm(x2.T, g2) if needs[1] else None
            gb = g2.sum(axis=0) if len(needs) > 2 and needs[2] else None
            return gx, gk, gb
        # the same GEMM and row sum, written where the caller keeps the gradients (same bits)
        gk = gb = None
        if needs[1]:
            out = into[1]
            gk = (gemm(x2.T, g2) if out is None or out.dtype != g2.dtype or x2.dtype != g2.dtype
                  else gemm(x2.T, g2, out=out))
        if len(needs) > 2 and needs[2]:
            out = into[2]
            gb = g2.sum(axis=0) if out is None or out.dtype != g2.dtype else np.add.reduce(g2, axis=0, out=out)
        return gx, gk, gb

    def graph_backward(self, g):
        x, kernel = self.inputs[:2]
        g2 = g.reshape((-1, g.shape[-1]))
        if self.fused_relu:  # the relu's mask is a constant: its second derivative is 0
            g2 = g2 * (self.saved[2] > 0)
        gx = (g2 @ kernel.T).reshape(self.in_shape) if self.needs_input_grad[0] else None
        gk = x.reshape((-1, x.shape[-1])).T @ g2 if self.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return gx, gk, gb


class LinearReLU(Linear):
    fused_relu = True


def linear(x, kernel, bias=None):
    """``x @ kernel + bias`` as one op; ``kernel`` is ``(in, out)`` as Keras stores it."""
    if bias is None:
        return Linear.apply(x, kernel)
    return Linear.apply(x, kernel, bias)


def linear_relu(x, kernel, bias=None):
    """``relu(x @ kernel + bias)`` as one op."""
    if bias is None:
        return LinearReLU.apply(x, kernel)
    return LinearReLU.apply(x, kernel, bias)


class Embedding(Function):
    """``out[...] = table[indices[...]]``; the gradient of a row repeated k times is summed k times."""

    def forward(self, table, indices=None):
        self.table_shape = table.shape
        self.save_for_backward(indices)
        return table[indices]

    def backward(self, g):
        # d table[r] = sum over positions p with indices[p] == r of g[p]
        rows, dim = self.table_shape
        flat = self.saved[0].reshape(-1)
        g2 = g.reshape(-1, dim)
        out = np.zeros(self.table_shape, g.dtype)
        if flat.size:
            # sort once, then one segmented sum: faster than np.add.at for large batches
            order = np.argsort(flat, kind="stable")
            sorted_idx = flat[order]
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            out[sorted_idx[starts]] = np.add.reduceat(g2[order], starts, axis=0)
        return (out,)

    def graph_backward(self, g):
        # the rows' gradients are a scatter-add of g: the adjoint of indexing, itself differentiable
        return (IndexAdd.apply(g, index=self.saved[0], shape=self.table_shape),)


def embedding(indices, table):
    """Rows of ``table`` (``(input_dim, output_dim)``) picked by integer ``indices``."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = table.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range [0, {n}): found {int(idx.min())}..{int(idx.max())}")
    return Embedding.apply(table, indices=idx)


__all__ = ["embedding", "linear", "linear_relu"]


# ``keras.ops.nn``: every name of that namespace is reachable as ``deepgrad.ops.nn.<name>``.
from .activation import elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax, softplus  # noqa: E402
from .nn_activations import (  # noqa: E402
    celu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, log_sigmoid, relu6, silu,
    soft_shrink, softsign, sparse_plus, sparse_sigmoid, sparsemax, squareplus, swish, tanh_shrink, threshold,
)
from .convolution import conv, conv_transpose, depthwise_conv, separable_conv  # noqa: E402
from .nn_functions import (  # noqa: E402
    batch_normalization, depth_to_space, dot_product_attention, fold, layer_normalization, moments, multi_hot,
    normalize, one_hot, polar, psnr, rms_normalization, space_to_depth, unfold,
)
from .nn_losses import (  # noqa: E402
    binary_crossentropy, categorical_crossentropy, ctc_decode, ctc_loss, sparse_categorical_crossentropy,
)
from .pooling import adaptive_average_pool, adaptive_max_pool, average_pool, max_pool  # noqa: E402

__all__ += [
    "adaptive_average_pool", "adaptive_max_pool", "average_pool", "batch_normalization", "binary_crossentropy",
    "categorical_crossentropy", "celu", "conv", "conv_transpose", "ctc_decode", "ctc_loss", "depth_to_space",
    "depthwise_conv", "dot_product_attention", "elu", "fold", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "layer_normalization", "leaky_relu", "log_sigmoid", "log_softmax",
    "max_pool", "moments", "multi_hot", "normalize", "one_hot", "polar", "psnr", "relu", "relu6",
    "rms_normalization", "selu", "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "space_to_depth", "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh_shrink", "threshold", "unfold",
]
