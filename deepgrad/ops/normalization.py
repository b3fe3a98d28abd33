"""Fused normalisation: ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` as one op.

Batch normalisation takes ``mean``/``var`` over every axis but the feature axis, layer
normalisation over the feature axes; both share one forward and one backward:

    xhat = (x - mean) / sqrt(var + eps)
    dx   = (1 / sqrt(var + eps)) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * gamma

The element-wise passes over a large input run over the two halves of its leading axis in two
threads (``runtime.for_batch_halves``), the same operations on each element, so the same
numbers; the reductions (means, sums over the normalised axes) stay whole, one pass in one order.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, unbroadcast
from . import math as _math
from . import normalization_compiled, workspace
from .halves import channel_sums, matvec, over_rows, rows_of, ufunc_halves



def _centered_grad(rows, shape, g, xhat, shift, slope, factor, out, scratch) -> None:
    """``(g - shift - xhat * slope) * factor`` on ``rows`` of the batch, into ``out[rows]``
    (``scratch[rows]`` holds the product): the input gradient of a normalization, where
    ``shift`` and ``slope`` are the batch means of the gradient and of ``g * xhat``."""
    part = np.multiply(xhat[rows], rows_of(slope, rows, shape), out=scratch[rows])
    dx = np.subtract(g[rows], rows_of(shift, rows, shape), out=out[rows])
    dx -= part
    dx *= rows_of(factor, rows, shape)

class Normalize(Function):
    """Normalise ``x`` over ``axes`` with its own statistics, then scale and shift."""

    def forward(self, x, gamma, beta, axes=(), epsilon=1e-3, mean=None, var=None):
        if mean is None:
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(epsilon))
        # the same operations as (x - mean) * inv_std and xhat * gamma + beta, written into
        # pooled arrays (workspace) so that a step does not fault in fresh pages for them
        xhat = workspace.empty(x.shape, np.result_type(x, mean, inv_std))

        def normalise(rows):
            part = np.subtract(x[rows], rows_of(mean, rows, x.shape), out=xhat[rows])
            part *= rows_of(inv_std, rows, x.shape)

        over_rows(normalise, xhat.shape)
        return self._scaled(xhat, inv_std, gamma, beta, axes, epsilon)

    def _scaled(self, xhat, inv_std, gamma, beta, axes, epsilon):
        """``xhat gamma + beta`` in a pooled array, keeping what backward needs."""
        self.axes, self.shapes, self.epsilon = axes, (gamma.shape, beta.shape), epsilon
        self.save_for_backward(xhat, inv_std, gamma)
        out = workspace.empty(np.broadcast_shapes(xhat.shape, gamma.shape, beta.shape), np.result_type(xhat, gamma, beta))

        def scale(rows):
            part = np.multiply(rows_of(xhat, rows, out.shape), rows_of(gamma, rows, out.shape), out=out[rows])
            part += rows_of(beta, rows, out.shape)

        over_rows(scale, out.shape)
        return out

    def backward(self, g):
        xhat, inv_std, gamma = self.saved
        axes = self.axes
        gx = ggamma = gbeta = None
        if self.needs_input_grad[0] and g.shape == xhat.shape:
            # dx = inv_std (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) in two pooled arrays
            dtype = np.result_type(g, gamma, xhat)
            shape = xhat.shape
            dxhat, tmp = workspace.empty(shape, dtype), workspace.empty(shape, dtype)

            def products(rows):
                part = np.multiply(g[rows], rows_of(gamma, rows, shape), out=dxhat[rows])
                np.multiply(part, xhat[rows], out=tmp[rows])

            over_rows(products, dxhat.shape)
            m1, m2 = dxhat.mean(axis=axes, keepdims=True), tmp.mean(axis=axes, keepdims=True)

            over_rows(lambda rows: _centered_grad(rows, shape, dxhat, xhat, m1, m2, inv_std, dxhat, tmp),
                      dxhat.shape)
            gx = dxhat
        elif self.needs_input_grad[0]:
            dxhat = g * gamma
            gx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                                 - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        if self.needs_input_grad[1]:
            product = workspace.empty(np.broadcast_shapes(g.shape, xhat.shape), np.result_type(g, xhat))
            ggamma = unbroadcast(ufunc_halves(np.multiply, g, xhat, out=product), self.shapes[0])
        if self.needs_input_grad[2]:
            gbeta = unbroadcast(g, self.shapes[1])
        return gx, ggamma, gbeta

    def graph_backward(self, g):
        """``backward``'s formulas with xhat and 1/sqrt(var + eps) recomputed as recorded ops of x
        (the statistics are always x's own, also when batch_norm passes them in)."""
        x, gamma, _ = self.inputs
        axes = self.axes
        centered = x - x.mean(axis=axes, keepdims=True)
        inv_std = ((centered * centered).mean(axis=axes, keepdims=True) + self.epsilon) ** -0.5
        xhat = centered * inv_std
        gx = ggamma = gbeta = None
        if self.needs_input_grad[0]:
            dxhat = g * gamma
            gx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                            - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        if self.needs_input_grad[1]:
            ggamma = unbroadcast(g * xhat, self.shapes[0])
        if self.needs_input_grad[2]:
            gbeta = unbroadcast(g, self.shapes[1])
        return gx, ggamma, gbeta


class LayerNorm(Function):
    """Layer normalisation over the trailing ``features`` elements of each row, on 2-D views.

    Row sums are matrix-vector products (``x 1``, ``g gamma``), which BLAS runs faster than a
    reduction over the last axis; the variance is the two-pass ``mean((x - mean)^2)``:

        xhat = (x - mean) / sqrt(var + eps),  y = xhat gamma + beta
        dx = inv_std (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),  dxhat = g gamma,  mean(dxhat) = (g gamma) / F
        dgamma = sum_rows(g xhat),  dbeta = 1^T g
    """

    def forward(self, x, *params, features=1, epsilon=1e-3, has_gamma=True, has_beta=True):
        gamma = params[0].reshape(-1) if has_gamma else None
        beta = params[-1].reshape(-1) if has_beta else None
        self.meta = (x.shape, [p.shape for p in params], has_gamma, epsilon)
        fused = normalization_compiled.forward(x, features, gamma, beta, epsilon)
        if fused is not None:  # one compiled pass per row (normalization_compiled)
            out, xhat, inv_std = fused
            self.save_for_backward(xhat, inv_std, gamma)
            return out.reshape(x.shape)
        dt = x.dtype.type
        x2 = x.reshape(-1, features)
        mean = matvec(x2, np.ones(features, x.dtype))
        mean *= dt(1 / features)
        xhat = np.subtract(x2, mean[:, None], out=workspace.empty(x2.shape, x.dtype))
        var = np.einsum("ij,ij->i", xhat, xhat)
        var *= dt(1 / features)
        var += dt(epsilon)
        inv_std = np.sqrt(var, out=var)
        np.divide(1, inv_std, out=inv_std)
        xhat *= inv_std[:, None]
        if gamma is not None:
            out = np.multiply(xhat, gamma, out=workspace.empty(x2.shape, x.dtype))
            if beta is not None:
                out += beta
        else:
            out = np.add(xhat, beta, out=workspace.empty(x2.shape, x.dtype)) if beta is not None else xhat.copy()
        self.save_for_backward(xhat, inv_std, gamma)
        return out.reshape(x.shape)

    def backward(self, g):
        xhat, inv_std, gamma = self.saved
        x_shape, param_shapes, has_gamma, _ = self.meta
        features = xhat.shape[1]
        dt = xhat.dtype.type
        g2 = g.reshape(-1, features)
        fused = normalization_compiled.backward(g2, xhat, inv_std, gamma, self.needs_input_grad[0])
        if fused is not None:  # one compiled pass per row (normalization_compiled)
            dx, dgamma, dbeta = fused
            grads = [None if dx is None else dx.reshape(x_shape)]
            needs = self.needs_input_grad[1:]
            if has_gamma:
                grads.append(dgamma.astype(xhat.dtype).reshape(param_shapes[0]) if needs[0] else None)
                needs = needs[1:]
            if needs:
                grads.append(dbeta.astype(xhat.dtype).reshape(param_shapes[-1]) if needs[0] else None)
            return tuple(grads)
        grads = [None]
        if self.needs_input_grad[0]:
            if gamma is not None:
                dxhat = np.multiply(g2, gamma, out=workspace.empty(g2.shape, g2.dtype))
                m1 = matvec(g2, gamma)
            else:
                dxhat = g2.copy()
                m1 = matvec(g2, np.ones(features, g2.dtype))
            m2 = np.einsum("ij,ij->i", dxhat, xhat)
            # dx = inv_std dxhat - (inv_std mean(dxhat)) - xhat (inv_std mean(dxhat xhat))
            scale = inv_std * dt(1 / features)
            m1 *= scale
            m2 *= scale
            dxhat *= inv_std[:, None]
            tmp = np.multiply(xhat, m2[:, None], out=workspace.empty(g2.shape, g2.dtype))
            dxhat -= tmp
            dxhat -= m1[:, None]
            grads[0] = dxhat.reshape(x_shape)
        needs = self.needs_input_grad[1:]
        if has_gamma:
            grads.append(np.einsum("ij,ij->j", g2, xhat).reshape(param_shapes[0]) if needs[0] else None)
            needs = needs[1:]
        if needs:
            grads.append(matvec(np.ones(g2.shape[0], g2.dtype), g2).reshape(param_shapes[-1]) if needs[0] else None)
        return tuple(grads)

    def graph_backward(self, g):
        """``backward``'s formulas as recorded ops of x, xhat and inv_std recomputed from it."""
        x, params = self.inputs[0], self.inputs[1:]
        x_shape, param_shapes, has_gamma, epsilon = self.meta
        features = self.saved[0].shape[1]
        x2 = x.reshape((-1, features))
        centered = x2 - x2.mean(axis=1, keepdims=True)
        inv_std = ((centered * centered).mean(axis=1, keepdims=True) + epsilon) ** -0.5
        xhat = centered * inv_std
        g2 = g.reshape((-1, features))
        dxhat = g2 * params[0].reshape((features,)) if has_gamma else g2
        gx = inv_std * (dxhat - dxhat.mean(axis=1, keepdims=True)
                        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
        grads = [gx.reshape(x_shape) if self.needs_input_grad[0] else None]
        needs = self.needs_input_grad[1:]
        if has_gamma:
            grads.append((g2 * xhat).sum(axis=0).reshape(param_shapes[0]) if needs[0] else None)
            needs = needs[1:]
        if needs:
            grads.append(g2.sum(axis=0).reshape(param_shapes[-1]) if needs[0] else None)
        return tuple(grads)


class BatchNormalize(Normalize):
    """``Normalize`` for batch statistics, whose gamma and beta are constant over the reduced axes.

    The forward takes ``x - mean`` already made (``batch_norm`` makes it for the variance, in a
    pooled array it owns) and normalises it in place. With gamma constant over the reduced axes,
    ``mean(dxhat) = gamma dbeta / n`` and ``mean(dxhat xhat) = gamma dgamma / n``, so backward is

        dbeta = sum(g),  dgamma = sum(g xhat),  dx = gamma inv_std (g - dbeta / n - xhat dgamma / n)

    in two reductions and four passes (seven over the input's size, against eleven for
    ``Normalize``); the gradient agrees with ``Normalize``'s to rounding (float64 1e-12)."""

    def forward(self, x, gamma, beta, axes=(), epsilon=1e-3, centered=None, var=None):
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(epsilon))
        # (x - mean) inv_std, as Normalize computes it
        xhat = ufunc_halves(np.multiply, centered, inv_std, out=centered)
        return self._scaled(xhat, inv_std, gamma, beta, axes, epsilon)

    def backward(self, g):
        xhat, inv_std, gamma = self.saved
        axes, needs = self.axes, self.needs_input_grad
        n = xhat.size // inv_std.size
        shape = xhat.shape
        # the per-channel sums folded (halves.channel_sums) for channels-last maps
        gbeta = channel_sums(g, axes, keepdims=True)
        product = ufunc_halves(np.multiply, g, xhat, out=workspace.empty(shape, np.result_type(g, xhat)))
        ggamma = channel_sums(product, axes, keepdims=True)
        gx = None
        if needs[0]:
            gx = workspace.empty(shape, product.dtype)
            slope, shift, factor = ggamma / n, gbeta / n, gamma * inv_std

            over_rows(lambda rows: _centered_grad(rows, shape, g, xhat, shift, slope, factor, gx, product),
                      gx.shape)
        del product
        return (gx, ggamma.reshape(self.shapes[0]) if needs[1] else None,
                gbeta.reshape(self.shapes[1]) if needs[2] else None)


def _reduction_axes(ndim: int, keep, op: str) -> tuple:
    keep = [keep] if isinstance(keep, (int, np.integer)) else list(keep)
    for a in keep:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for an input of rank {ndim}")
    keep = {a % ndim for a in keep}
    return tuple(i for i in range(ndim) if i not in keep)


def _per_feature(shape, x_shape, axes) -> bool:
    """True when a parameter of ``shape`` broadcasts onto ``x_shape`` without growing it and is
    constant over the reduced ``axes``: ``(C,)`` or ``(1, 1, 1, C)`` for a last feature axis."""
    offset = len(x_shape) - len(shape)
    return offset >= 0 and all(d == 1 or (d == x_shape[offset + i] and offset + i not in axes)
                               for i, d in enumerate(shape))


def _param(p, x, shape, fill):
    return Tensor(np.full(shape, fill, dtype=x.dtype)) if p is None else p


def batch_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Normalise with the batch's own statistics (training mode).

    ``gamma``/``beta`` must broadcast against ``x`` (``(C,)`` for a last feature axis).
    Returns ``(y, mean, var)``: ``mean`` and ``var`` (biased) are plain arrays of the
    feature axes' size, for the moving averages.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    axes = _reduction_axes(x.ndim, axis, "batch_norm")
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    gamma, beta = _param(gamma, x, shape, 1), _param(beta, x, shape, 0)
    data = x.data
    mean = data.mean(axis=axes, keepdims=True)
    if data.dtype.kind != "f" or not all(_per_feature(p.shape, x.shape, axes) for p in (gamma, beta)):
        var = data.var(axis=axes, keepdims=True)
        y = Normalize.apply(x, gamma, beta, axes=axes, epsilon=epsilon, mean=mean, var=var)
    else:
        # x.var's own steps (mean, x - mean, its square, their mean), keeping x - mean for the
        # normalisation: the same numbers in four passes over x instead of six
        centered = workspace.empty(data.shape, data.dtype)
        square = workspace.empty(data.shape, data.dtype)

        def center(rows):
            part = np.subtract(data[rows], rows_of(mean, rows, data.shape), out=centered[rows])
            np.multiply(part, part, out=square[rows])

        over_rows(center, square.shape)
        var = square.sum(axis=axes, keepdims=True)
        del square
        var = np.true_divide(var, data.size // var.size, out=var)
        y = BatchNormalize.apply(x, gamma, beta, axes=axes, epsilon=epsilon, centered=centered, var=var)
    return y, mean.squeeze(axis=axes), var.squeeze(axis=axes)


def batch_norm_inference(x, mean, variance, gamma=None, beta=None, epsilon=1e-3):
    """``gamma * (x - mean) / sqrt(variance + eps) + beta`` with fixed statistics."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    mean = np.asarray(mean.data if isinstance(mean, Tensor) else mean, dtype=x.dtype)
    variance = np.asarray(variance.data if isinstance(variance, Tensor) else variance, dtype=x.dtype)
    inv_std = 1.0 / np.sqrt(variance + x.dtype.type(epsilon))
    scale = inv_std if gamma is None else _math.multiply(gamma, inv_std)
    shift = _math.negative(_math.multiply(scale, mean))
    if beta is not None:
        shift = _math.add(shift, beta)
    return _math.add(_math.multiply(x, scale), shift)


def _feature_shaped(shape, x_shape, n: int) -> bool:
    """True when ``shape`` is the last ``n`` axes of ``x_shape``, with only 1s before them."""
    return len(shape) >= n and tuple(shape[len(shape) - n:]) == tuple(x_shape[-n:]) and \
        all(d == 1 for d in shape[:len(shape) - n])


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Normalise each sample over ``axis`` (an int or a list of axes)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    keep = _reduction_axes(x.ndim, axis, "layer_norm")
    axes = tuple(i for i in range(x.ndim) if i not in keep)
    features = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    params = [p for p in (gamma, beta) if p is not None]
    if (axes and axes == tuple(range(x.ndim - len(axes), x.ndim)) and x.dtype in (np.float32, np.float64)
            and all(isinstance(p, Tensor) and p.dtype == x.dtype and _feature_shaped(p.shape, x.shape, len(axes))
                    for p in params)):
        # the trailing axes of a float32/64 input: the fused op on (rows, features) views
        return LayerNorm.apply(x, *params, features=features, epsilon=epsilon, has_gamma=gamma is not None,
                               has_beta=beta is not None)
    shape = tuple(n if i in axes else 1 for i, n in enumerate(x.shape))
    return Normalize.apply(x, _param(gamma, x, shape, 1), _param(beta, x, shape, 0), axes=axes, epsilon=epsilon)


__all__ = ["batch_norm", "batch_norm_inference", "layer_norm"]
