"""Encodings, normalizations, cross-entropies, attention and tensor rearrangements of ``keras.ops.nn``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..autograd.higher_order import frozen, linear_backward, recomputed_backward
from .attention import dot_product_attention  # noqa: F401  (exported here, as keras.ops.nn has it)
from .convolution import col2im, normalize_tuple, pad_spatial, windows
from .dtypes import result_type, standardize_dtype
from .math import clip, log, where
from .nn_activations import as_op_input


def dtype_name(dtype) -> str:
    """``standardize_dtype`` on a name: NumPy dtype objects compare equal to "float"/"int" there."""
    if dtype is not None and not isinstance(dtype, str) and not (isinstance(dtype, type) and dtype in (int, float, bool)):
        dtype = np.dtype(dtype).name
    return standardize_dtype(dtype)


def _indices(x, op: str) -> np.ndarray:
    """Class ids as int64; floats are truncated toward zero, as Keras casts them."""
    a = as_op_input(x, floating=False).data
    if a.dtype.kind not in "iubf":
        raise TypeError(f"{op}: expected integer class ids, got dtype {a.dtype}")
    return a.astype(np.int64)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """``out[..., k, ...] = (x[...] == k)`` with the class axis inserted at ``axis``.

    Ids that are negative or at least ``num_classes`` give a row of zeros. No gradient (the
    output is a function of integer ids).
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported (deepgrad has no sparse tensors)")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    ids = _indices(x, "one_hot")
    if not -(ids.ndim + 1) <= axis <= ids.ndim:
        raise ValueError(f"one_hot: axis {axis} is out of range for an output of rank {ids.ndim + 1}")
    out = (ids[..., None] == np.arange(num_classes)).astype(dtype_name(dtype))
    return Tensor(np.moveaxis(out, -1, axis), dtype=out.dtype)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for every class that occurs in a sample: the one-hot codes combined by ``max``.

    A sample is a row of a 2-D (or higher) input, with its ids along axis 1; a 1-D input is
    one sample. Keras's older name ``num_tokens`` is accepted for ``num_classes``. No gradient.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected keyword arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("multi_hot: num_classes is required")
    codes = one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse).data
    reduce_axis = 1 if codes.ndim > 2 else 0
    return Tensor(codes.max(axis=reduce_axis), dtype=codes.dtype)


# ------------------------------------------------------------------ statistics
def _axes(axis, ndim: int, op: str) -> tuple:
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a!r} is out of range for an input of rank {ndim}")
    return tuple(sorted({int(a) % ndim for a in axes}))


def _compute_dtype(x: Tensor) -> str:
    """Statistics in at least float32, as Keras computes them for float16 inputs."""
    return result_type(x.dtype.name, "float32")


def _cast(t: Tensor, dtype) -> Tensor:
    return t if t.dtype == np.dtype(dtype) else t.astype(dtype)


class Moments(Function):
    """mean = E[x] and variance = E[(x - mean)^2] over ``axes``; two outputs."""

    def forward(self, x, axes=(), keepdims=False):
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        self.axes, self.keepdims, self.count = axes, keepdims, int(np.prod([x.shape[a] for a in axes]))
        self.save_for_backward(centered)
        if not keepdims:
            mean, var = mean.squeeze(axis=axes), var.squeeze(axis=axes)
        return mean, var

    def backward(self, grads):
        # d mean / dx = 1/n;  d var / dx = 2 (x - mean) / n
        gmean, gvar = grads  # either may be None (that output unused)
        centered = self.saved[0]
        if not self.keepdims:
            gmean, gvar = (None if g is None else np.expand_dims(g, self.axes) for g in (gmean, gvar))
        n = centered.dtype.type(self.count)
        if gvar is None:
            return (np.broadcast_to(gmean / n, centered.shape),)
        g = 2 * gvar * centered
        return ((g if gmean is None else gmean + g) / n,)

    def graph_backward(self, grads):
        gmean, gvar = grads
        (x,) = self.inputs
        centered = x - x.mean(axis=self.axes, keepdims=True)
        if not self.keepdims:
            kept = tuple(1 if i in self.axes else n for i, n in enumerate(x.shape))
            gmean, gvar = gmean.reshape(kept), gvar.reshape(kept)
        return ((gmean + 2 * gvar * centered) / float(self.count),)


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of ``x`` over ``axes``.

    ``synchronized`` asks for statistics over every replica of a distributed run; a single
    process is its only replica, so the result is the same.
    """
    x = as_op_input(x)
    axes = _axes(axes, x.ndim, "moments")
    dtype = x.dtype
    mean, var = Moments.apply(_cast(x, _compute_dtype(x)), axes=axes, keepdims=keepdims)
    if dtype == np.float16:
        # statistics beyond float16's range saturate at its largest value, as Keras clips them
        big = float(np.finfo(np.float16).max)
        mean, var = (_cast(clip(t, -big, big), dtype) for t in (mean, var))
    return mean, var


class Standardize(Function):
    """y = u / sqrt(mean(v^2) + eps) over ``axes``, the core of layer and RMS normalization.

    u = x - mean(x) when ``center`` else x; v = x - mean(x) when ``center_variance`` else x.
    With r = (mean(v^2) + eps)^(-1/2) and d = dy:
        dx = r d - [center] mean(r d) - r^3 v mean(d u)
    """

    def forward(self, x, axes=(), epsilon=1e-3, center=True, center_variance=True):
        mu = x.mean(axis=axes, keepdims=True) if center or center_variance else None
        v = x - mu if center_variance else x
        r = 1 / np.sqrt((v * v).mean(axis=axes, keepdims=True) + x.dtype.type(epsilon))
        u = (v if center_variance else x - mu) if center else x
        self.axes, self.center = axes, center
        self.options = (epsilon, center_variance)  # for graph_backward, which recomputes the forward
        self.save_for_backward(u, v, r)
        return u * r

    def backward(self, g):
        u, v, r = self.saved
        rd = r * g
        dx = rd - r ** 3 * v * (g * u).mean(axis=self.axes, keepdims=True)
        if self.center:
            dx -= rd.mean(axis=self.axes, keepdims=True)
        return dx

    def graph_backward(self, g):
        axes, center, (epsilon, center_variance) = self.axes, self.center, self.options

        def standardize(x):
            mu = x.mean(axis=axes, keepdims=True)
            v = x - mu if center_variance else x
            u = (x - mu) if center else x
            return u * ((v * v).mean(axis=axes, keepdims=True) + epsilon) ** -0.5

        return recomputed_backward(self, g, standardize)[0]


def _param_like(p, x: Tensor, axes: tuple, op: str, name: str):
    """``gamma``/``beta``/``scale`` as a Tensor that broadcasts against ``x``."""
    if p is None:
        return None
    p = _cast(as_op_input(p), x.dtype)
    if p.ndim != x.ndim and axes != (x.ndim - 1,):
        shape = [1] * x.ndim
        for a in axes:
            shape[a] = x.shape[a]
        if p.size != int(np.prod(shape)):
            raise ValueError(f"{op}: {name} of shape {p.shape} does not match the normalized axes {axes} "
                             f"of an input of shape {x.shape}")
        p = p.reshape(shape)
    try:
        np.broadcast_shapes(p.shape, x.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {p.shape} does not broadcast against the input's "
                         f"{x.shape}") from None
    return p


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with statistics over ``axis``.

    ``rms_scaling=True`` (Keras's keyword) skips the centering and ``beta``:
    ``x / sqrt(var + epsilon) * gamma``. ``epsilon`` defaults to ``backend.epsilon()``.
    """
    rms_scaling = bool(kwargs.pop("rms_scaling", False))
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected keyword arguments {sorted(kwargs)}")
    x = as_op_input(x)
    dtype = x.dtype
    axes = _axes(axis, x.ndim, "layer_normalization")
    epsilon = backend.epsilon() if epsilon is None else epsilon
    xc = _cast(x, _compute_dtype(x))
    out = Standardize.apply(xc, axes=axes, epsilon=epsilon, center=not rms_scaling, center_variance=True)
    gamma = _param_like(gamma, xc, axes, "layer_normalization", "gamma")
    if gamma is not None:
        out = out * gamma
    beta = None if rms_scaling else _param_like(beta, xc, axes, "layer_normalization", "beta")
    if beta is not None:
        out = out + beta
    return _cast(out, dtype)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2) + epsilon) * scale`` with the mean over ``axis``."""
    x = as_op_input(x)
    dtype = x.dtype
    axes = _axes(axis, x.ndim, "rms_normalization") if x.ndim else ()
    epsilon = backend.epsilon() if epsilon is None else epsilon
    xc = _cast(x, _compute_dtype(x))
    out = Standardize.apply(xc, axes=axes, epsilon=epsilon, center=False, center_variance=False)
    scale = _param_like(scale, xc, axes, "rms_normalization", "scale")
    if scale is not None:
        out = out * scale
    return _cast(out, dtype)


class BatchNormalization(Function):
    """y = (x - mean) r scale + offset, r = (variance + eps)^(-1/2), statistics given as inputs.

    dx = g r s;  dmean = -sum(g r s);  dvar = -1/2 sum(g (x - mean) s) r^3;
    dscale = sum(g (x - mean) r);  doffset = sum(g)   (sums over every axis but ``axis``)
    """

    def forward(self, x, mean, variance, *params, axis=-1, epsilon=1e-3, has_offset=False, has_scale=False):
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        it = iter(params)
        offset = next(it).reshape(shape) if has_offset else None
        scale = next(it).reshape(shape) if has_scale else None
        mean, variance = mean.reshape(shape), variance.reshape(shape)
        r = 1 / np.sqrt(variance + x.dtype.type(epsilon))
        centered = x - mean
        factor = r if scale is None else r * scale
        out = centered * factor
        if offset is not None:
            out += offset
        self.meta = (axis, has_offset, has_scale)
        self.epsilon = epsilon
        self.save_for_backward(centered, r, scale)
        return out

    def backward(self, g):
        centered, r, scale = self.saved
        axis, has_offset, has_scale = self.meta
        others = tuple(i for i in range(g.ndim) if i != axis)
        s = 1 if scale is None else scale
        gs = g * s
        need = self.needs_input_grad
        grads = [gs * r if need[0] else None,
                 -(gs * r).sum(axis=others) if need[1] else None,
                 -0.5 * ((gs * centered).sum(axis=others, keepdims=True) * r ** 3).reshape(-1) if need[2] else None]
        if has_offset:
            grads.append(g.sum(axis=others) if need[len(grads)] else None)
        if has_scale:
            grads.append((g * centered * r).sum(axis=others) if need[len(grads)] else None)
        return tuple(grads)

    def graph_backward(self, g):
        """``backward``'s formulas on the inputs as Tensors."""
        axis, has_offset, has_scale = self.meta
        x, mean, variance, *params = self.inputs
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        others = tuple(i for i in range(g.ndim) if i != axis)
        r = (variance.reshape(tuple(shape)) + self.epsilon) ** -0.5
        centered = x - mean.reshape(tuple(shape))
        gs = g * params[-1].reshape(tuple(shape)) if has_scale else g
        need = self.needs_input_grad
        grads = [gs * r if need[0] else None,
                 -(gs * r).sum(axis=others) if need[1] else None,
                 -0.5 * ((gs * centered).sum(axis=others, keepdims=True) * r * r * r).reshape((-1,))
                 if need[2] else None]
        if has_offset:
            grads.append(g.sum(axis=others) if need[len(grads)] else None)
        if has_scale:
            grads.append((g * centered * r).sum(axis=others) if need[len(grads)] else None)
        return tuple(grads)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """Normalize ``x`` with given per-feature ``mean`` and ``variance`` (shape ``(x.shape[axis],)``)."""
    x = as_op_input(x)
    if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"batch_normalization: axis {axis!r} is out of range for an input of rank {x.ndim}")
    axis = int(axis) % x.ndim
    params = [("mean", mean), ("variance", variance), ("offset", offset), ("scale", scale)]
    tensors = []
    for name, p in params:
        if p is None:
            continue
        p = as_op_input(p)
        if p.size != x.shape[axis]:
            raise ValueError(f"batch_normalization: {name} of shape {p.shape} does not match axis {axis} of size "
                             f"{x.shape[axis]} (input shape {x.shape})")
        tensors.append(p)
    dtype = result_type(*[t.dtype.name for t in [x, *tensors]])
    tensors = [_cast(t, dtype) for t in [x, *tensors]]
    return BatchNormalization.apply(*tensors, axis=axis, epsilon=epsilon, has_offset=offset is not None,
                                    has_scale=scale is not None)


class Normalize(Function):
    """y = x / n with n = max(||x||_p, eps) along ``axis``.

    With dn/dx = sign(x) |x|^(p-1) / n^(p-1):  dx = g / n - (sum(g x) / n^2) dn/dx where the
    norm is at least eps, and dx = g / eps where it is clipped.
    """

    def forward(self, x, axis=-1, order=2, epsilon=1e-7):
        a = np.abs(x)
        norm = np.sqrt((x * x).sum(axis=axis, keepdims=True)) if order == 2 else \
            (a ** order).sum(axis=axis, keepdims=True) ** (1 / order)
        eps = x.dtype.type(epsilon)
        clipped = norm < eps
        denom = np.where(clipped, eps, norm)
        self.axis, self.order = axis, order
        self.save_for_backward(x, denom, clipped)
        return x / denom

    def backward(self, g):
        x, n, clipped = self.saved
        p = self.order
        dn = np.sign(x) * np.abs(x) ** (p - 1) / n ** (p - 1) if p != 1 else np.sign(x)
        inner = (g * x).sum(axis=self.axis, keepdims=True) / (n * n)
        return np.where(clipped, g / n, g / n - inner * dn)

    def graph_backward(self, g):
        _, denom, clipped = self.saved
        axis, p = self.axis, self.order

        def normalized(x):  # x / max(||x||_p, eps); where the norm was clipped, eps is a constant
            norm = ((x * x).sum(axis=axis, keepdims=True) ** 0.5 if p == 2 else
                    (abs(x) ** p).sum(axis=axis, keepdims=True) ** (1 / p))
            return x / where(clipped, denom, norm)

        return recomputed_backward(self, g, normalized)[0]


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    x = as_op_input(x)
    if x.ndim == 0:
        x = x.reshape(1)
    axis = _axes(axis, x.ndim, "normalize")
    epsilon = backend.epsilon() if epsilon is None else epsilon
    return Normalize.apply(x, axis=axis, order=order, epsilon=epsilon)


# ------------------------------------------------------------- rearrangements
class Unfold(Function):
    """im2col on (N, C, H, W): every (kh, kw) patch as a column, out (N, C kh kw, L)."""

    def forward(self, x, kernel=(1, 1), dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
        n, c = x.shape[:2]
        xl = pad_spatial(np.moveaxis(x, 1, -1), [(p, p) for p in padding])
        out = tuple((s - (k - 1) * d - 1) // st + 1 for s, k, d, st in zip(xl.shape[1:3], kernel, dilation, stride))
        if min(out) < 1:
            raise ValueError(f"unfold: kernel {kernel} does not fit in the input of shape {x.shape} "
                             f"(padding {padding}, dilation {dilation})")
        w = windows(xl, kernel, stride, dilation, out)  # (N, oh, ow, kh, kw, C)
        self.meta = (x.shape, xl.shape, kernel, dilation, padding, stride, out)
        return np.ascontiguousarray(w.transpose(0, 5, 3, 4, 1, 2)).reshape(n, c * kernel[0] * kernel[1], -1)

    def backward(self, g):
        x_shape, xl_shape, kernel, dilation, padding, stride, out = self.meta
        n, c = x_shape[:2]
        dcols = g.reshape(n, c, *kernel, *out).transpose(0, 4, 5, 2, 3, 1)
        dxl = col2im(dcols, xl_shape, kernel, stride, dilation, out)
        dxl = dxl[:, padding[0]:padding[0] + x_shape[2], padding[1]:padding[1] + x_shape[3]]
        return np.moveaxis(dxl, -1, 1)

    def graph_backward(self, g):  # linear in g (col2im); its adjoint is im2col, the forward
        twin = frozen(self)
        _, _, kernel, dilation, padding, stride, _ = self.meta
        return linear_backward(self, g, lambda u: twin.forward(u, kernel=kernel, dilation=dilation, padding=padding,
                                                               stride=stride))


class Fold(Function):
    """col2im, the adjoint of ``unfold``: (N, C kh kw, L) patches summed into (N, C, H, W)."""

    def forward(self, x, size=(1, 1), kernel=(1, 1), dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
        n, ckk, length = x.shape
        padded = tuple(s + 2 * p for s, p in zip(size, padding))
        out = tuple((s - (k - 1) * d - 1) // st + 1 for s, k, d, st in zip(padded, kernel, dilation, stride))
        taps = kernel[0] * kernel[1]
        if ckk % taps or min(out) < 1 or out[0] * out[1] != length:
            raise ValueError(f"fold: input of shape {x.shape} does not hold C * {taps} rows of {out[0] * out[1]} "
                             f"patches for output_size {size}, kernel_size {kernel}")
        c = ckk // taps
        cols = x.reshape(n, c, *kernel, *out).transpose(0, 4, 5, 2, 3, 1)
        full = col2im(cols, (n, *padded, c), kernel, stride, dilation, out)
        self.meta = (x.shape, (n, *padded, c), kernel, dilation, padding, stride, out)
        return np.moveaxis(full[:, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]], -1, 1)

    def backward(self, g):
        x_shape, padded_shape, kernel, dilation, padding, stride, out = self.meta
        gl = pad_spatial(np.moveaxis(g, 1, -1), [(p, p) for p in padding])
        w = windows(gl, kernel, stride, dilation, out)
        return np.ascontiguousarray(w.transpose(0, 5, 3, 4, 1, 2)).reshape(x_shape)

    def graph_backward(self, g):  # linear in g (im2col); its adjoint is col2im, the forward
        twin = frozen(self)
        _, padded_shape, kernel, dilation, padding, stride, _ = self.meta
        size = tuple(s - 2 * p for s, p in zip(padded_shape[1:3], padding))
        return linear_backward(self, g, lambda u: twin.forward(u, size=size, kernel=kernel, dilation=dilation,
                                                               padding=padding, stride=stride))


def _pairs(kernel_size, dilation, padding, stride, op):
    return (normalize_tuple(kernel_size, 2, "kernel_size", op), normalize_tuple(dilation, 2, "dilation", op),
            normalize_tuple(padding, 2, "padding", op, minimum=0), normalize_tuple(stride, 2, "stride", op))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding patches of a (N, C, H, W) input as columns: (N, C * kh * kw, L) (PyTorch's unfold)."""
    x = as_op_input(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: the input must be 4-D (N, C, H, W), got shape {x.shape}")
    kernel, dilation, padding, stride = _pairs(kernel_size, dilation, padding, stride, "unfold")
    return Unfold.apply(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns of patches (N, C * kh * kw, L) summed back into a (N, C, H, W) image (PyTorch's fold)."""
    x = as_op_input(x)
    if x.ndim != 3:
        raise ValueError(f"fold: the input must be 3-D (N, C * kh * kw, L), got shape {x.shape}")
    kernel, dilation, padding, stride = _pairs(kernel_size, dilation, padding, stride, "fold")
    size = normalize_tuple(output_size, 2, "output_size", "fold")
    return Fold.apply(x, size=size, kernel=kernel, dilation=dilation, padding=padding, stride=stride)


class Rearrange(Function):
    """A reshape, a transpose and a reshape; backward runs the three inverses."""

    def forward(self, x, split=(), order=(), merged=()):
        self.meta = (x.shape, split, order)
        return x.reshape(split).transpose(order).reshape(merged)

    def backward(self, g):
        x_shape, split, order = self.meta
        inner = tuple(split[i] for i in order)
        return g.reshape(inner).transpose(np.argsort(order)).reshape(x_shape)

    def graph_backward(self, g):
        x_shape, split, order = self.meta
        inner = tuple(split[i] for i in order)
        return g.reshape(inner).transpose(tuple(int(i) for i in np.argsort(order))).reshape(x_shape)


def _blocks(x, block_size, data_format, op):
    x = as_op_input(x, floating=False)
    if x.ndim != 4:
        raise ValueError(f"{op}: the input must be 4-D, got shape {x.shape}")
    if not isinstance(block_size, (int, np.integer)) or block_size < 2:
        raise ValueError(f"{op}: block_size must be an int >= 2, got {block_size!r}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return x, int(block_size)


def depth_to_space(x, block_size, data_format="channels_last"):
    """Channels moved into b x b spatial blocks: (N, H, W, C b^2) -> (N, H b, W b, C)."""
    x, b = _blocks(x, block_size, data_format, "depth_to_space")
    if data_format == "channels_last":
        n, h, w, c = x.shape
        if c % (b * b):
            raise ValueError(f"depth_to_space: {c} channels are not divisible by block_size^2 = {b * b}")
        return Rearrange.apply(x, split=(n, h, w, b, b, c // (b * b)), order=(0, 1, 3, 2, 4, 5),
                               merged=(n, h * b, w * b, c // (b * b)))
    n, c, h, w = x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space: {c} channels are not divisible by block_size^2 = {b * b}")
    return Rearrange.apply(x, split=(n, c // (b * b), b, b, h, w), order=(0, 1, 4, 2, 5, 3),
                           merged=(n, c // (b * b), h * b, w * b))


def space_to_depth(x, block_size, data_format="channels_last"):
    """b x b spatial blocks moved into channels: (N, H b, W b, C) -> (N, H, W, C b^2)."""
    x, b = _blocks(x, block_size, data_format, "space_to_depth")
    spatial = x.shape[1:3] if data_format == "channels_last" else x.shape[2:4]
    if spatial[0] % b or spatial[1] % b:
        raise ValueError(f"space_to_depth: spatial size {tuple(spatial)} is not divisible by block_size {b}")
    if data_format == "channels_last":
        n, h, w, c = x.shape
        return Rearrange.apply(x, split=(n, h // b, b, w // b, b, c), order=(0, 1, 3, 2, 4, 5),
                               merged=(n, h // b, w // b, c * b * b))
    n, c, h, w = x.shape
    return Rearrange.apply(x, split=(n, c, h // b, b, w // b, b), order=(0, 1, 3, 5, 2, 4),
                           merged=(n, c * b * b, h // b, w // b))


# ------------------------------------------------------------------ the rest
class PSNR(Function):
    """20 log10(max_val) - 10 log10(mse), mse = mean((x1 - x2)^2); d/dx1 = -10 / ln 10 * 2 (x1 - x2) / (n mse)."""

    def forward(self, x1, x2, max_val=1.0):
        diff = x1 - x2
        mse = (diff * diff).mean()
        self.save_for_backward(diff, mse)
        return np.asarray(20 * np.log10(x1.dtype.type(max_val)) - 10 * np.log10(mse), dtype=x1.dtype)

    def backward(self, g):
        diff, mse = self.saved
        d = g * (-10 / np.log(10)) * 2 * diff / (diff.size * mse)
        return d.astype(diff.dtype), (-d).astype(diff.dtype)

    def graph_backward(self, g):
        def psnr_less_constant(x1, x2):  # -10 log10(mse); 20 log10(max_val) has no gradient
            diff = x1 - x2
            return log((diff * diff).mean()) * (-10 / np.log(10))

        return recomputed_backward(self, g, psnr_less_constant)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio of two images of equal shape, in dB."""
    a, b = as_op_input(x1), as_op_input(x2)
    if a.shape != b.shape:
        raise ValueError(f"psnr: input shapes {a.shape} and {b.shape} must match")
    max_val = float(getattr(max_val, "data", max_val))
    return PSNR.apply(a, _cast(b, a.dtype), max_val=max_val)


def polar(abs_, angle):
    """The complex number ``abs_ * (cos(angle) + i sin(angle))``. No gradient (complex output)."""
    r, theta = as_op_input(abs_), as_op_input(angle)
    out = r.data * np.cos(theta.data) + 1j * (r.data * np.sin(theta.data))
    dtype = "complex128" if np.dtype(result_type(r.dtype.name, theta.dtype.name)) == np.float64 else "complex64"
    return Tensor(out.astype(dtype), dtype=dtype)


__all__ = [
    "batch_normalization", "depth_to_space", "dot_product_attention", "fold", "layer_normalization", "moments",
    "multi_hot", "normalize", "one_hot", "polar", "psnr", "rms_normalization", "space_to_depth", "unfold",
]
