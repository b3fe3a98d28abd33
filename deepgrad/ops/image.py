"""Image ops, named and called as ``keras.ops.image``.

Two differentiable primitives carry almost everything:

* ``AlongAxis`` applies a constant (out, in) matrix along one axis. Resizing, Gaussian
  blur, Sobel filters, SSIM's windows and ``scale_and_translate`` are all linear in the
  image and separable, so each is one such matrix per spatial axis:
  ``y = W_h x W_w^T``; the gradient is the transpose, ``dx = W_h^T dy W_w``.
* ``WeightedGather`` reads ``out[m] = sum_k w[k, m] * x.flat[idx[k, m]]``: the sampling
  ops (``map_coordinates``, ``affine_transform``, ``perspective_transform``,
  ``elastic_transform``) and ``extract_patches``. Its gradient scatters back,
  ``dx.flat[idx[k, m]] += w[k, m] * dy[m]`` (one ``np.bincount``).

Images are channels-last, ``(batch, height, width, channels)``, unless
``data_format="channels_first"``; a rank-3 input is a single image. Gradients flow to
the images only (not to coordinates, transforms or points).
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from ..autograd.higher_order import frozen, linear_backward
from . import elementwise as _elementwise
from . import image_compiled
from . import math as _math
from . import reduce as _reduce
from . import manipulation as _shape
from .dtypes import result_type, standardize_dtype, to_array

__all__ = [
    "affine_transform", "crop_images", "elastic_transform", "extract_patches",
    "extract_patches_3d", "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images",
    "perspective_transform", "resize", "rgb_to_grayscale", "rgb_to_hsv", "scale_and_translate",
    "sobel_edges", "ssim",
]


# ---------------------------------------------------------------- the two primitives

class AlongAxis(Function):
    """``y = W x`` along ``axis`` of ``x``, for a constant matrix ``W`` of shape (out, in)."""

    def forward(self, x, matrix=None, axis=0):
        self.save_for_backward(matrix)
        self.axis = axis
        return np.moveaxis(np.tensordot(x, matrix, axes=([axis], [1])), -1, axis)

    def backward(self, g):
        (matrix,) = self.saved
        # dx = W^T dy along the same axis
        return (np.moveaxis(np.tensordot(g, matrix, axes=([self.axis], [0])), -1, self.axis),)

    def graph_backward(self, g):  # linear in g; the adjoint is the forward, W u along the axis
        twin = frozen(self)
        return (linear_backward(self, g, lambda u: twin.forward(u, matrix=twin.saved[0], axis=twin.axis)),)


class WeightedGather(Function):
    """``out[m] = sum_k w[k, m] * x.flat[idx[k, m]]``; ``idx`` and ``w`` are constants."""

    def forward(self, x, idx=None, weights=None):
        self.save_for_backward(idx, weights)
        self.shape = x.shape
        return np.sum(weights * x.reshape(-1)[idx], axis=0)

    def backward(self, g):
        idx, weights = self.saved
        # dx.flat[idx[k, m]] += w[k, m] * g[m]
        flat = np.bincount(idx.reshape(-1), weights=(weights * g).reshape(-1),
                           minlength=int(np.prod(self.shape)))
        return (flat.astype(g.dtype, copy=False).reshape(self.shape),)

    def graph_backward(self, g):  # linear in g; the adjoint is the forward's weighted gather
        twin = frozen(self)
        return (linear_backward(self, g, lambda u: twin.forward(u, idx=twin.saved[0], weights=twin.saved[1])),)


class GatherPixels(Function):
    """``out[..., c] = sum_k w[k][..., None] * x2d[idx[k], c]`` for rows ``x2d`` (pixels, channels)
    of an image batch; ``idx[k]`` and ``w[k]`` (one per interpolation corner) are constants."""

    def forward(self, x2d, idx=None, weights=None):
        self.save_for_backward(idx, weights)
        self.rows = x2d.shape[0]
        out = None
        for index, weight in zip(idx, weights):  # the 1, 2 or 4 corners
            term = x2d[index] * weight[..., None] if weight is not None else x2d[index]
            out = term if out is None else out + term
        return out

    def backward(self, g):
        idx, weights = self.saved
        channels = g.shape[-1]
        grad = np.zeros((self.rows, channels), dtype=g.dtype)
        for index, weight in zip(idx, weights):
            gw = g * weight[..., None] if weight is not None else g
            flat, gw = index.reshape(-1), gw.reshape(-1, channels)
            for c in range(channels):  # dx2d[idx, c] += w g[..., c], one bincount per channel
                grad[:, c] += np.bincount(flat, weights=gw[:, c], minlength=self.rows).astype(g.dtype, copy=False)
        return (grad,)

    def graph_backward(self, g):  # linear in g; the adjoint is the forward's interpolation
        twin = frozen(self)
        return (linear_backward(self, g, lambda u: twin.forward(u, idx=twin.saved[0], weights=twin.saved[1])),)


def _along(x: Tensor, matrix: np.ndarray, axis: int) -> Tensor:
    return AlongAxis.apply(x, matrix=matrix.astype(x.dtype, copy=False), axis=axis % x.ndim)


# ---------------------------------------------------------------- shared helpers

def _tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    a = to_array(x)
    return Tensor(a, dtype=a.dtype)


def _data_format(data_format) -> str:
    data_format = backend.image_data_format() if data_format is None else str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format}")
    return data_format


def _check_rank(op: str, x, ranks=(3, 4), name="images") -> None:
    if x.ndim not in ranks:
        raise ValueError(
            f"{op}: invalid {name} rank: expected rank {ranks[0]} (single image) or rank "
            f"{ranks[1]} (batch of images). Received input with shape: {name}.shape={tuple(x.shape)}")


def _spatial_axes(ndim: int, data_format: str, n: int = 2) -> list:
    """The axes of height and width (and depth first when n == 3)."""
    last = -1 if data_format == "channels_first" else -2
    return [ndim + last - n + 1 + i for i in range(n)]


def _channel_axis(ndim: int, data_format: str, n: int = 2) -> int:
    return ndim - 1 if data_format == "channels_last" else ndim - 1 - n


def _compute_float(dtype) -> np.dtype:
    """Integer and bool images are computed in float32, floats in their own dtype."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _to_int(values: np.ndarray, dtype) -> np.ndarray:
    """Round and saturate a float result into an integer dtype."""
    info = np.iinfo(dtype)
    return np.clip(np.round(values), info.min, info.max).astype(dtype)


# ---------------------------------------------------------------- colour

_GRAY = np.array([[0.2989, 0.587, 0.114]])


def rgb_to_grayscale(images, data_format=None):
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` (ITU-R 601); integer images are truncated back."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    _check_rank("rgb_to_grayscale", x)
    axis = _channel_axis(x.ndim, data_format)
    if x.shape[axis] not in (1, 3):
        raise ValueError("rgb_to_grayscale: invalid channel size: expected 3 (RGB) or 1 "
                         f"(Grayscale). Received input with shape: images.shape={tuple(x.shape)}")
    if x.shape[axis] == 1:
        return _elementwise.copy(x)
    if x.dtype.kind != "f":
        gray = np.tensordot(x.data.astype(np.float32), _GRAY[0].astype(np.float32), axes=([axis], [0]))
        return Tensor(np.expand_dims(gray, axis).astype(x.dtype), dtype=x.dtype)
    return _along(x, _GRAY, axis)


def _split_channels(op, x, data_format):
    _check_rank(op, x)
    if x.dtype.kind != "f":
        raise ValueError(f"{op}: invalid images dtype: expected float dtype. "
                         f"Received: images.dtype={standardize_dtype(x.dtype)}")
    axis = _channel_axis(x.ndim, data_format)
    if x.shape[axis] != 3:
        raise ValueError(f"{op}: expected 3 channels. Received: images.shape={tuple(x.shape)}")
    index = [slice(None)] * x.ndim
    planes = []
    for c in range(3):
        index[axis] = c
        planes.append(_shape.getitem(x, tuple(index)))
    return planes, axis


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to hue, saturation, value, each in [0, 1] (as dm_pix does)."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    (r, g, b), axis = _split_channels("rgb_to_hsv", x, data_format)
    eps = np.finfo(x.dtype).eps
    r, g, b = [_math.where(np.abs(p.data) < eps, 0.0, p) for p in (r, g, b)]
    value = _math.maximum(_math.maximum(r, g), b)
    minimum = _math.minimum(_math.minimum(r, g), b)
    range_ = value - minimum
    safe_value = _math.where(value.data > 0, value, 1.0)
    safe_range = _math.where(range_.data > 0, range_, 1.0)
    saturation = _math.where(value.data > 0, range_ / safe_value, 0.0)
    norm = 1.0 / (6.0 * safe_range)
    # hue = (g - b) / 6r' when max is red, 2/6 + (b - r) / 6r' green, 4/6 + (r - g) / 6r' blue
    hue = _math.where(value.data == g.data, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = _math.where(value.data == r.data, norm * (g - b), hue)
    hue = _math.where(range_.data > 0, hue, 0.0) + (hue.data < 0.0).astype(x.dtype)
    return _shape.stack([hue, saturation, value], axis=axis)


def hsv_to_rgb(images, data_format=None):
    """Hue, saturation, value in [0, 1] to RGB (as dm_pix does)."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    (hue, saturation, value), axis = _split_channels("hsv_to_rgb", x, data_format)
    # dh = 6 (h mod 1); d_c = clip(piecewise-linear ramps of dh)
    dh = (hue - np.floor(hue.data)) * 6.0
    dr = _math.clip(_math.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = _math.clip(2.0 - _math.abs(dh - 2.0), 0.0, 1.0)
    db = _math.clip(2.0 - _math.abs(dh - 4.0), 0.0, 1.0)
    one_minus_s = 1.0 - saturation
    planes = [value * (one_minus_s + saturation * d) for d in (dr, dg, db)]
    return _shape.stack(planes, axis=axis)


# ---------------------------------------------------------------- resampling matrices

def _cubic(x, a):
    """Keys' cubic convolution kernel with parameter ``a`` (PyTorch: -0.75, PIL/JAX: -0.5)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _triangle(x):
    return np.maximum(0.0, 1.0 - np.abs(x))


def _lanczos(radius):
    def kernel(x):
        x = np.abs(x)
        # sinc(x) sinc(x / r) = r sin(pi x) sin(pi x / r) / (pi x)^2, 1 at x = 0
        safe = np.where(x > 1e-3, x, 1.0)
        y = radius * np.sin(np.pi * safe) * np.sin(np.pi * safe / radius) / (np.pi ** 2 * safe ** 2)
        return np.where(x > radius, 0.0, np.where(x > 1e-3, y, 1.0))
    return kernel


def _box(x):
    # PIL's box: 1 on (-1/2, 1/2]; x is signed here
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)


def _torch_weights(n_in: int, n_out: int, mode: str, dtype=np.float32) -> np.ndarray:
    """(out, in) matrix of ``F.interpolate(mode, align_corners=False)`` without antialias.

    PyTorch computes source positions in the image's precision (float32 for float32):
    ``src = (i + 1/2) * in/out - 1/2``.
    """
    f = np.dtype(dtype).type
    scale = np.float32(n_in / n_out) if mode == "nearest" else f(n_in / n_out)
    i = np.arange(n_out, dtype=np.float32 if mode == "nearest" else dtype)
    rows = np.arange(n_out)[:, None]
    w = np.zeros((n_out, n_in))
    if mode == "nearest":  # torch's 'nearest-exact': floor((i + 1/2) * scale)
        src = np.minimum(np.floor((i + np.float32(0.5)) * scale).astype(np.int64), n_in - 1)
        w[np.arange(n_out), src] = 1.0
        return w
    src = (i + f(0.5)) * scale - f(0.5)
    if mode == "bilinear":
        src = np.maximum(src, f(0.0))
        lo = src.astype(np.int64)
        frac = (src - lo.astype(dtype)).astype(np.float64)
        hi = np.minimum(lo + 1, n_in - 1)
        np.add.at(w, (np.arange(n_out), lo), 1.0 - frac)
        np.add.at(w, (np.arange(n_out), hi), frac)
        return w
    # bicubic, a = -0.75, taps i0-1 .. i0+2 with indices clamped to the image
    lo = np.floor(src).astype(np.int64)
    t = (src - lo.astype(dtype)).astype(np.float64)[:, None]
    taps = lo[:, None] + np.arange(-1, 3)
    weights = _cubic(t - np.arange(-1, 3), -0.75)
    np.add.at(w, (np.broadcast_to(rows, taps.shape), np.clip(taps, 0, n_in - 1)), weights)
    return w


def _pil_weights(n_in: int, n_out: int, kernel, support: float) -> np.ndarray:
    """(out, in) matrix of PIL's resampling, which PyTorch's ``antialias=True`` follows.

    ``w[i, j] = k((j + 1/2 - c_i) / s)`` with centre ``c_i = (i + 1/2) in/out``, the kernel
    widened by ``s = max(in/out, 1)`` when shrinking, each row normalised to sum 1.
    """
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    x = (np.arange(n_in)[None, :] + 0.5 - centre[:, None]) / stretch
    w = np.where(np.abs(x) < support, kernel(x), 0.0)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total != 0, total, 1.0)


def _jax_weights(n_in: int, n_out: int, scale, translation, kernel, antialias: bool) -> np.ndarray:
    """(out, in) matrix of JAX's ``scale_and_translate``.

    Output pixel ``i`` samples input position ``f_i = (i + 1/2 - t) / s - 1/2``;
    ``w[i, j] = k((j - f_i) / s_k)``, ``s_k = max(1/s, 1)`` with antialias, else 1; rows are
    normalised, and rows whose ``f_i`` falls outside ``[-1/2, in - 1/2]`` are zero.
    """
    scale, translation = float(scale), float(translation)
    kernel_scale = max(1.0 / scale, 1.0) if antialias else 1.0
    sample = (np.arange(n_out) + 0.5 - translation) / scale - 0.5
    w = kernel((np.arange(n_in)[None, :] - sample[:, None]) / kernel_scale)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(np.abs(total) > 1000.0 * np.finfo(np.float32).eps,
                 w / np.where(total != 0, total, 1.0), 0.0)
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return np.where(inside[:, None], w, 0.0)


_JAX_KERNELS = {"linear": _triangle, "cubic": lambda x: _cubic(x, -0.5),
                "lanczos3": _lanczos(3.0), "lanczos5": _lanczos(5.0)}


def _resize_weights(n_in, n_out, interpolation, antialias, dtype):
    if interpolation in ("lanczos3", "lanczos5"):
        return _jax_weights(n_in, n_out, n_out / n_in, 0.0, _JAX_KERNELS[interpolation], antialias)
    if interpolation == "area":
        return _jax_weights(n_in, n_out, n_out / n_in, 0.0, _box, True)
    if antialias and interpolation == "bilinear":
        return _pil_weights(n_in, n_out, _triangle, 1.0)
    if antialias and interpolation == "bicubic":
        return _pil_weights(n_in, n_out, lambda x: _cubic(x, -0.5), 2.0)
    return _torch_weights(n_in, n_out, interpolation, dtype)


# ---------------------------------------------------------------- resize

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area")


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize to ``size = (height, width)``.

    ``bilinear``/``bicubic``/``nearest`` give PyTorch's ``F.interpolate`` values
    (half-pixel centres, bicubic a = -0.75, nearest = 'nearest-exact'); with
    ``antialias=True`` bilinear and bicubic use the widened PIL filters when shrinking.
    ``lanczos3``/``lanczos5``/``area`` follow JAX's ``scale_and_translate`` (``area`` is a
    box filter, always widened when shrinking). Integer images are computed in float32,
    then rounded and saturated back to their dtype.
    """
    data_format = _data_format(data_format)
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError(f"resize: invalid value for argument `interpolation`. Expected one of "
                         f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError("resize: invalid value for argument `fill_mode`. Only 'constant' is "
                         f"supported. Received: fill_mode={fill_mode}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("resize: only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be True.")
    if len(size) != 2:
        raise ValueError(f"resize: expected `size` to be a tuple of 2 integers. Received: size={size}")
    target_h, target_w = int(size[0]), int(size[1])
    if target_h <= 0 or target_w <= 0:
        raise ValueError(f"resize: `size` must have positive height and width. Received: size={size}")
    x = _tensor(images)
    _check_rank("resize", x)
    out_dtype = x.dtype
    if x.dtype not in (np.float32, np.float64):
        x = _shape.astype(x, "float32")
    h_axis, w_axis = _spatial_axes(x.ndim, data_format)
    height, width = x.shape[h_axis], x.shape[w_axis]

    if crop_to_aspect_ratio:
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
        index = [slice(None)] * x.ndim
        index[h_axis], index[w_axis] = slice(top, top + crop_h), slice(left, left + crop_w)
        x = _shape.getitem(x, tuple(index))
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(float(width * target_h) / target_w))
        pad_w = max(width, int(float(height * target_w) / target_h))
        # the image is centred with the same margin on both sides (Keras's layout)
        top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        widths = [(0, 0)] * x.ndim
        widths[h_axis], widths[w_axis] = (top, top), (left, left)
        if top or left:
            x = _shape.pad(x, widths, constant_values=fill_value)

    if interpolation == "nearest":
        antialias = False
    for axis, n_out in ((h_axis, target_h), (w_axis, target_w)):
        x = _along(x, _resize_weights(x.shape[axis], n_out, interpolation, antialias, x.dtype), axis)
    if np.dtype(out_dtype).kind in "iub":
        return Tensor(_to_int(x.data, out_dtype), dtype=out_dtype)
    if x.dtype != out_dtype:
        x = _shape.astype(x, out_dtype)
    return x


SCALE_AND_TRANSLATE_METHODS = {"linear": "linear", "bilinear": "linear", "trilinear": "linear",
                               "cubic": "cubic", "bicubic": "cubic", "tricubic": "cubic",
                               "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """JAX's ``scale_and_translate``: each axis in ``spatial_dims`` is resampled at
    ``(i + 1/2 - translation) / scale - 1/2``. Integer inputs are rounded and clipped to
    their own range."""
    if method not in SCALE_AND_TRANSLATE_METHODS:
        raise ValueError("scale_and_translate: invalid value for argument `method`. Expected one "
                         f"of {sorted(SCALE_AND_TRANSLATE_METHODS)}. Received: method={method}")
    kernel = _JAX_KERNELS[SCALE_AND_TRANSLATE_METHODS[method]]
    x = _tensor(images)
    spatial_dims = list(spatial_dims)
    scale = np.asarray(to_array(scale), dtype=np.float64).reshape(-1)
    translation = np.asarray(to_array(translation), dtype=np.float64).reshape(-1)
    if len(output_shape) != x.ndim:
        raise ValueError(f"scale_and_translate: output_shape {tuple(output_shape)} must have one "
                         f"entry per axis of images {tuple(x.shape)}")
    if len(scale) != len(spatial_dims) or len(translation) != len(spatial_dims):
        raise ValueError(f"scale_and_translate: scale ({len(scale)}) and translation "
                         f"({len(translation)}) need one value per spatial dim ({len(spatial_dims)})")
    is_int = x.dtype.kind in "iub"
    y = _shape.astype(x, "float32") if is_int else x
    for i, d in enumerate(spatial_dims):
        d = d % x.ndim
        w = _jax_weights(x.shape[d], int(output_shape[d]), scale[i], translation[i], kernel, antialias)
        y = _along(y, w, d)
    if is_int:
        lo, hi = (x.data.min(), x.data.max()) if x.size else (0, 0)
        return Tensor(np.clip(np.round(y.data), lo, hi).astype(x.dtype), dtype=x.dtype)
    return y


# ---------------------------------------------------------------- sampling at coordinates

FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_ORDERS = {"nearest": 0, "bilinear": 1}


def _mirror(index, size):
    # triangle wave of period 2(size - 1): ... 2 1 0 1 2 ... size-1 size-2 ...
    s = size - 1
    return np.abs((index + s) % (2 * s) - s) if s > 0 else np.zeros_like(index)


def _fix_index(index, size, fill_mode):
    """Map indices outside [0, size) back inside, as each fill mode extends the input."""
    if index.size > 64:
        lo, hi = int(index.min()), int(index.max())
        if lo >= 0 and hi < size:
            return index
        if hi - lo < index.size // 8:
            # a gather from the mapped range [lo, hi] is cheaper than the arithmetic on every index
            return _fix_index(np.arange(lo, hi + 1), size, fill_mode)[index - lo]
    if fill_mode in ("constant", "nearest"):
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "mirror":
        return _mirror(index, size)
    # reflect: the edge pixel repeated, (d c b a | a b c d | d c b a)
    return (_mirror(2 * index + 1, 2 * size + 1) - 1) // 2


def _nodes(coordinate, order):
    """The (index, weight) pairs that interpolate along one axis."""
    if coordinate.dtype.kind in "iub":
        return [(coordinate.astype(np.int64), None)]
    if order == 0:
        return [(np.round(coordinate).astype(np.int64), None)]
    lower = np.floor(coordinate)
    upper = coordinate - lower
    lower = lower.astype(np.int64)
    return [(lower, 1 - upper), (lower + 1, upper)]


def _sample(op, x: Tensor, coordinates, order, fill_mode, fill_value, weight_dtype):
    """``x`` read at ``coordinates`` (one array per axis of ``x``) with interpolation order 0
    or 1: ``out = sum over corners of prod_d w_d * x[i_1, ..., i_n]``, corners outside the
    input replaced by ``fill_value`` when ``fill_mode="constant"``."""
    if fill_mode not in FILL_MODES:
        raise ValueError(f"{op}: invalid value for argument `fill_mode`. Expected one of "
                         f"{FILL_MODES}. Received: fill_mode={fill_mode}")
    if order not in (0, 1):
        raise NotImplementedError(f"{op}: only interpolation orders 0 and 1 are supported. "
                                  f"Received: order={order}")
    if x.dtype.kind != "f" and isinstance(fill_value, float):
        fill_value = int(fill_value)  # as Keras: an integer image is filled with an integer
    coordinates = np.broadcast_arrays(*coordinates)
    out_shape = coordinates[0].shape
    strides = np.cumprod((x.shape[1:] + (1,))[::-1])[::-1]
    per_axis = []
    for coordinate, size, stride in zip(coordinates, x.shape, strides):
        per_axis.append([(_fix_index(i, size, fill_mode) * stride,
                          (i >= 0) & (i < size) if fill_mode == "constant" else None, w)
                         for i, w in _nodes(coordinate, order)])
    compute = np.dtype(x.dtype) if x.dtype.kind == "f" else np.dtype(weight_dtype)
    indices, weights, fill = [], [], np.zeros(out_shape, compute)
    for corner in itertools.product(*per_axis):
        index = sum(c[0] for c in corner)
        weight = np.ones(out_shape, weight_dtype)
        for _, _, w in corner:
            if w is not None:
                weight = weight * w
        valid = [c[1] for c in corner if c[1] is not None]
        if valid:
            valid = np.logical_and.reduce(valid)
            fill += np.where(valid, 0, weight * fill_value).astype(compute)
            weight = np.where(valid, weight, 0)
        indices.append(np.broadcast_to(index, out_shape))
        weights.append(weight.astype(compute))
    idx, w = np.stack(indices), np.stack(weights)
    if x.dtype.kind != "f":
        values = np.sum(w * x.data.reshape(-1)[idx], axis=0) + fill
        return Tensor(np.round(values).astype(x.dtype), dtype=x.dtype)
    out = WeightedGather.apply(x, idx=idx, weights=w)
    if fill_mode == "constant" and np.any(fill):
        out = out + Tensor(fill, dtype=fill.dtype)
    return out


def _float_dtype(*arrays) -> np.dtype:
    kinds = [np.dtype(a.dtype) for a in arrays if np.dtype(a.dtype).kind == "f"]
    return np.result_type(*kinds) if kinds else np.dtype(np.float32)


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """``inputs`` read at ``coordinates`` (``coordinates[d]`` indexes axis ``d``) with
    nearest (``order=0``) or linear (``order=1``) interpolation, as
    ``scipy.ndimage.map_coordinates`` with ``fill_mode`` extending the borders."""
    x = _tensor(inputs)
    coords = [to_array(c) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError("map_coordinates: first dim of `coordinates` must be the same as the rank "
                         f"of `inputs`. Received inputs with shape: {tuple(x.shape)} and coordinate "
                         f"leading dim of {len(coords)}")
    if coords[0].ndim < 1:
        raise ValueError("map_coordinates: invalid coordinates rank: expected at least rank 2. "
                         f"Received input with shape: {(len(coords),) + coords[0].shape}")
    return _sample("map_coordinates", x, coords, order, fill_mode, fill_value, _float_dtype(*coords))


def _image_sample(op, x, data_format, y_in, x_in, order, fill_mode, fill_value):
    """Sample a batch ``x`` (rank 4) at per-image source positions ``y_in, x_in`` of shape
    (batch, height', width'), every channel at the same positions."""
    if x.dtype.kind != "f" or fill_mode not in FILL_MODES or order not in (0, 1):
        return _generic_image_sample(op, x, data_format, y_in, x_in, order, fill_mode, fill_value)
    # float images: the corner indices are built once per pixel (not per channel) and rows of
    # (pixels, channels) gathered, so the work does not grow with the channels
    n = x.shape[0]
    channels_last = data_format == "channels_last"
    height, width = (x.shape[1], x.shape[2]) if channels_last else (x.shape[2], x.shape[3])
    dtype = np.dtype(x.dtype)
    rows = x if channels_last else _shape.transpose(x, (0, 2, 3, 1))
    rows = _shape.reshape(rows, (n * height * width, rows.shape[3]))
    offset = (np.arange(n) * (height * width)).reshape(n, 1, 1)
    ys, xs = _axis_nodes(y_in, height, order, fill_mode), _axis_nodes(x_in, width, order, fill_mode)
    indices, weights, fill = [], [], None
    for iy, vy, wy in ys:
        row = offset + iy * width
        for ix, vx, wx in xs:
            weight = wy * wx if wy is not None and wx is not None else (wy if wy is not None else wx)
            valid = vy if vx is None else (vx if vy is None else vy & vx)
            if valid is not None:
                term = (np.where(valid, 0, 1.0 if weight is None else weight) * fill_value).astype(dtype)
                fill = term if fill is None else fill + term
                weight = np.where(valid, 1.0 if weight is None else weight, 0)
            indices.append(row + ix)
            weights.append(None if weight is None else weight.astype(dtype, copy=False))
    out = GatherPixels.apply(rows, idx=indices, weights=weights)
    if fill is not None and np.any(fill):
        out = out + Tensor(fill[..., None], dtype=dtype)
    return out if channels_last else _shape.transpose(out, (0, 3, 1, 2))


def _axis_nodes(coordinate, size, order, fill_mode):
    """(index inside [0, size), in-range mask or None, weight or None) per interpolation node
    along one axis; out-of-range indices are mapped once, through a table over their span."""
    if order == 0:
        nodes = [(np.round(coordinate), None)]
    else:
        lower = np.floor(coordinate)
        upper = coordinate - lower
        nodes = [(lower, 1 - upper), (lower + 1, upper)]
    lo, hi = int(nodes[0][0].min()), int(nodes[-1][0].max())
    if lo >= 0 and hi < size:
        return [(i.astype(np.intp), None, w) for i, w in nodes]
    table = _fix_index(np.arange(lo, hi + 1), size, fill_mode)
    constant = fill_mode == "constant"
    # the table is indexed by i - lo; taken in float, then cast once
    return [(np.take(table, (i - lo).astype(np.intp)), ((i >= 0) & (i < size)) if constant else None, w)
            for i, w in nodes]


def _generic_image_sample(op, x, data_format, y_in, x_in, order, fill_mode, fill_value):
    n = x.shape[0]
    b = np.arange(n).reshape(n, 1, 1, 1)
    if data_format == "channels_last":
        channels = np.arange(x.shape[3]).reshape(1, 1, 1, -1)
        coords = [b, y_in[..., None], x_in[..., None], channels]
    else:
        channels = np.arange(x.shape[1]).reshape(1, -1, 1, 1)
        coords = [b, channels, y_in[:, None], x_in[:, None]]
    return _sample(op, x, coords, order, fill_mode, fill_value, y_in.dtype)


def _batched(op, images):
    x = _tensor(images)
    _check_rank(op, x)
    return (_shape.expand_dims(x, 0), True) if x.ndim == 3 else (x, False)


def _check_interpolation(op, interpolation):
    if interpolation not in _ORDERS:
        raise ValueError(f"{op}: invalid value for argument `interpolation`. Expected one of "
                         f"{set(_ORDERS)}. Received: interpolation={interpolation}")


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Output pixel (x, y) reads the input at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
    ``k = c0 x + c1 y + 1``, for ``transform = [a0, a1, a2, b0, b1, b2, c0, c1]`` (one row
    per image, or one for all)."""
    data_format = _data_format(data_format)
    _check_interpolation("affine_transform", interpolation)
    if fill_mode not in FILL_MODES:
        raise ValueError("affine_transform: invalid value for argument `fill_mode`. Expected one "
                         f"of {FILL_MODES}. Received: fill_mode={fill_mode}")
    x, squeeze = _batched("affine_transform", images)
    t = to_array(transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError("affine_transform: invalid transform shape: expected (8,) (single "
                         f"transform) or (batch, 8). Received: transform.shape={t.shape}")
    t = t.reshape(-1, 8)
    if t.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"affine_transform: {t.shape[0]} transforms for a batch of {x.shape[0]} images")
    t = t.astype(_float_dtype(t))
    if x.dtype.kind == "f" and not (x.requires_grad and is_grad_enabled()):
        out = image_compiled.affine(x.data, t, _ORDERS[interpolation], fill_mode, fill_value,
                                    data_format == "channels_last")
        if out is not None:
            out = Tensor(out, dtype=out.dtype)
            return _shape.squeeze(out, 0) if squeeze else out
    h_axis, w_axis = _spatial_axes(4, data_format)
    gy, gx = np.meshgrid(np.arange(x.shape[h_axis], dtype=t.dtype),
                         np.arange(x.shape[w_axis], dtype=t.dtype), indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = [t[:, i, None, None] for i in range(8)]
    x_in = a0 * gx + a1 * gy + a2
    y_in = b0 * gx + b1 * gy + b2
    if np.any(t[:, 6:]):  # a projective transform: divide by k = c0 x + c1 y + 1
        k = c0 * gx + c1 * gy + 1
        x_in, y_in = x_in / k, y_in / k
    n = x.shape[0]
    x_in, y_in = np.broadcast_to(x_in, (n,) + gx.shape), np.broadcast_to(y_in, (n,) + gx.shape)
    out = _image_sample("affine_transform", x, data_format, y_in, x_in, _ORDERS[interpolation],
                        fill_mode, fill_value)
    return _shape.squeeze(out, 0) if squeeze else out


def _homography(start, end, dtype):
    """The 8 coefficients mapping ``end`` points to ``start`` points:
    ``start = ((a0 x + a1 y + a2) / k, (a3 x + a4 y + a5) / k)``, ``k = a6 x + a7 y + 1``."""
    ex, ey = end[..., 0], end[..., 1]
    sx, sy = start[..., 0], start[..., 1]
    zero, one = np.zeros_like(ex), np.ones_like(ex)
    rows_x = np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    matrix = np.stack([rows_x, rows_y], axis=2).reshape(start.shape[0], 8, 8)
    target = np.stack([sx, sy], axis=-1).reshape(start.shape[0], 8, 1)
    return np.linalg.solve(matrix.astype(dtype), target.astype(dtype))[..., 0]


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Warp so that the four ``start_points`` (x, y) land on the four ``end_points``:
    each output pixel reads the input through the homography from end to start points."""
    data_format = _data_format(data_format)
    _check_interpolation("perspective_transform", interpolation)
    x, squeeze = _batched("perspective_transform", images)
    dtype = np.dtype(x.dtype)
    start, end = to_array(start_points).astype(dtype), to_array(end_points).astype(dtype)
    for name, p in (("start_points", start), ("end_points", end)):
        if p.shape[-2:] != (4, 2) or p.ndim not in (2, 3):
            raise ValueError(f"perspective_transform: invalid {name} shape: expected (4, 2) for a "
                             f"single image or (N, 4, 2) for a batch. Received shape: {p.shape}")
    if start.shape != end.shape:
        raise ValueError("perspective_transform: start_points and end_points must have the same "
                         f"shape. Received start_points.shape={start.shape}, end_points.shape={end.shape}")
    start, end = start.reshape(-1, 4, 2), end.reshape(-1, 4, 2)
    compute = _compute_float(dtype)
    coeffs = _homography(start.astype(compute), end.astype(compute), compute)
    if coeffs.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"perspective_transform: {coeffs.shape[0]} point sets for a batch of "
                         f"{x.shape[0]} images")
    h_axis, w_axis = _spatial_axes(4, data_format)
    gy, gx = np.meshgrid(np.arange(x.shape[h_axis], dtype=compute),
                         np.arange(x.shape[w_axis], dtype=compute), indexing="ij")
    a = [coeffs[:, i, None, None] for i in range(8)]
    k = a[6] * gx + a[7] * gy + 1.0
    x_in = np.broadcast_to((a[0] * gx + a[1] * gy + a[2]) / k, (x.shape[0],) + gx.shape)
    y_in = np.broadcast_to((a[3] * gx + a[4] * gy + a[5]) / k, (x.shape[0],) + gx.shape)
    out = _image_sample("perspective_transform", x, data_format, y_in, x_in,
                        _ORDERS[interpolation], "constant", fill_value)
    return _shape.squeeze(out, 0) if squeeze else out


# ---------------------------------------------------------------- filters

def _conv_matrix(n_in: int, kernel: np.ndarray, pad: int) -> np.ndarray:
    """(out, in) matrix of a 1-D cross-correlation with zero padding ``pad`` on both sides:
    ``y[i] = sum_t k[t] x[i + t - pad]``."""
    n_out = n_in + 2 * pad - len(kernel) + 1
    j = np.arange(n_out)[:, None] + np.arange(len(kernel)) - pad
    w = np.zeros((max(n_out, 0), n_in))
    inside = (j >= 0) & (j < n_in)
    rows = np.broadcast_to(np.arange(n_out)[:, None], j.shape)
    np.add.at(w, (rows[inside], j[inside]), np.broadcast_to(kernel, j.shape)[inside])
    return w


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    t = np.arange(size) - (size - 1) / 2
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _pair(value, name, op):
    if np.ndim(value) == 0:
        return (value, value)
    value = tuple(np.asarray(value).reshape(-1).tolist())
    if len(value) != 2:
        raise ValueError(f"{op}: `{name}` must be a number or a pair. Received: {name}={value}")
    return value


def _blur(x: Tensor, axes, kernel_size, sigma) -> Tensor:
    """Separable Gaussian: ``kernel_size[1], sigma[1]`` along height, ``[0]`` along width
    (Keras's order), zero padding ``k // 2``."""
    (kw, kh), (sw, sh) = kernel_size, sigma
    x = _along(x, _conv_matrix(x.shape[axes[0]], _gaussian_1d(kh, sh), kh // 2), axes[0])
    return _along(x, _conv_matrix(x.shape[axes[1]], _gaussian_1d(kw, sw), kw // 2), axes[1])


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur each channel with a normalised Gaussian, zero padding, same size for odd kernels."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    _check_rank("gaussian_blur", x)
    kernel_size = tuple(int(k) for k in _pair(kernel_size, "kernel_size", "gaussian_blur"))
    sigma = tuple(float(s) for s in _pair(sigma, "sigma", "gaussian_blur"))
    if min(kernel_size) < 1 or min(sigma) <= 0:
        raise ValueError("gaussian_blur: kernel_size and sigma must be positive. "
                         f"Received: kernel_size={kernel_size}, sigma={sigma}")
    if x.dtype.kind != "f":
        x = _shape.astype(x, _compute_float(x.dtype))
    return _blur(x, _spatial_axes(x.ndim, data_format), kernel_size, sigma)


def sobel_edges(images, data_format=None):
    """Sobel gradients of each channel, zero padding, stacked on a new last axis as
    ``(d/dy, d/dx)``: ``[1 2 1]^T [-1 0 1]`` along width, its transpose along height.
    Integer images are computed in float32."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    _check_rank("sobel_edges", x)
    if x.dtype.kind != "f":
        x = _shape.astype(x, _compute_float(x.dtype))
    h_axis, w_axis = _spatial_axes(x.ndim, data_format)
    smooth, diff = np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    sh, dh = (_conv_matrix(x.shape[h_axis], k, 1) for k in (smooth, diff))
    sw, dw = (_conv_matrix(x.shape[w_axis], k, 1) for k in (smooth, diff))
    edges_y = _along(_along(x, dh, h_axis), sw, w_axis)
    edges_x = _along(_along(x, sh, h_axis), dw, w_axis)
    return _shape.stack([edges_y, edges_x], axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """Mean structural similarity over a Gaussian window (valid positions only):
    ``(2 mu1 mu2 + c1)(2 s12 + c2) / ((mu1^2 + mu2^2 + c1)(s1^2 + s2^2 + c2))``,
    ``c_i = (k_i max_val)^2``, averaged over positions and channels. One value per image."""
    data_format = _data_format(data_format)
    a, b = _tensor(image1), _tensor(image2)
    _check_rank("ssim", a, name="image1")
    _check_rank("ssim", b, name="image2")
    if a.shape != b.shape:
        raise ValueError(f"ssim: image1 and image2 must have the same shape. Received: "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    original = a.dtype
    compute = np.dtype(result_type(a.dtype, float))
    a, b = _shape.astype(a, compute), _shape.astype(b, compute)
    axes = _spatial_axes(a.ndim, data_format)
    if min(a.shape[axes[0]], a.shape[axes[1]]) < filter_size:
        raise ValueError(f"ssim: images of shape {tuple(a.shape)} are smaller than "
                         f"filter_size={filter_size}")
    kernel = _gaussian_1d(filter_size, filter_sigma)
    mats = [_conv_matrix(a.shape[ax], kernel, 0) for ax in axes]

    def window(t):
        return _along(_along(t, mats[0], axes[0]), mats[1], axes[1])

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = window(a), window(b)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = window(a * a) - mu1_sq
    s2 = window(b * b) - mu2_sq
    s12 = window(a * b) - mu12
    ssim_map = (2.0 * mu12 + c1) * (2.0 * s12 + c2) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    rank = a.ndim
    value = _reduce.mean(ssim_map, axis=tuple(range(rank - 3, rank)))
    return _shape.astype(value, original) if value.dtype != original else value


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect",
                      fill_value=0.0, seed=None, data_format=None):
    """Displace every pixel by ``alpha`` times a Gaussian-blurred (``sigma``) field of
    ``sigma``-scaled standard normal noise, one field per image shared by its channels.

    The noise comes from ``np.random.default_rng(seed)`` for an int seed, else from
    ``deepgrad.backend.rng()``."""
    data_format = _data_format(data_format)
    _check_interpolation("elastic_transform", interpolation)
    if fill_mode not in FILL_MODES:
        raise ValueError("elastic_transform: invalid value for argument `fill_mode`. Expected one "
                         f"of {FILL_MODES}. Received: fill_mode={fill_mode}")
    x, squeeze = _batched("elastic_transform", images)
    h_axis, w_axis = _spatial_axes(4, data_format)
    shape = (x.shape[0], x.shape[h_axis], x.shape[w_axis])
    generator = np.random.default_rng(seed) if seed is not None else backend.rng()
    dtype = _compute_float(x.dtype)
    noise_x = generator.standard_normal(shape).astype(dtype)
    noise_y = generator.standard_normal(shape).astype(dtype)
    out = _elastic(x, noise_x, noise_y, alpha, sigma, interpolation, fill_mode, fill_value, data_format)
    return _shape.squeeze(out, 0) if squeeze else out


def _elastic(x, noise_x, noise_y, alpha, sigma, interpolation, fill_mode, fill_value, data_format):
    """``elastic_transform`` of a batch with given standard normal fields (batch, h, w)."""
    alpha, sigma = float(alpha), float(sigma)
    size = int(6 * sigma) | 1  # odd kernel covering +-3 sigma
    dtype = noise_x.dtype
    fields = []
    for noise in (noise_x, noise_y):
        field = Tensor(noise * dtype.type(sigma), dtype=dtype)
        fields.append(_blur(field, (1, 2), (size, size), (sigma, sigma)).data)
    gy, gx = np.meshgrid(np.arange(noise_x.shape[1]), np.arange(noise_x.shape[2]), indexing="ij")
    x_in = gx + dtype.type(alpha) * fields[0]
    y_in = gy + dtype.type(alpha) * fields[1]
    return _image_sample("elastic_transform", x, data_format, y_in, x_in, _ORDERS[interpolation],
                         fill_mode, fill_value)


# ---------------------------------------------------------------- patches, crops, pads

def _tuple(value, n, name, op):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{op}: `{name}` must be an int or a tuple of {n}. Received: {name}={value}")
    return value


def _patches(op, x, size, strides, dilation_rate, padding, data_format, n):
    """Patches of ``n`` spatial axes as a gather: output position ``o`` and kernel tap ``t``
    read input ``o * stride + t * dilation - pad_before`` (zero where that is outside);
    the feature axis is ordered (taps..., channel), as a convolution with an identity
    kernel gives."""
    data_format = _data_format(data_format)
    size = _tuple(size, n, "size", op)
    strides = size if not strides else _tuple(strides, n, "strides", op)
    dilation = _tuple(dilation_rate, n, "dilation_rate", op)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same'. Received: padding={padding}")
    batched = x.ndim == n + 2
    if not batched:
        x = _shape.expand_dims(x, 0)
    spatial = _spatial_axes(n + 2, data_format, n)
    channel = _channel_axis(n + 2, data_format, n)
    strides_flat = np.cumprod((x.shape[1:] + (1,))[::-1])[::-1]
    positions, valids, out_sizes = [], [], []
    for axis, k, s, d in zip(spatial, size, strides, dilation):
        length, span = x.shape[axis], d * (k - 1) + 1
        if padding == "valid":
            n_out, before = (length - span) // s + 1, 0
        else:
            n_out = -(-length // s)
            before = max((n_out - 1) * s + span - length, 0) // 2
        if n_out <= 0:
            raise ValueError(f"{op}: patch size {size} (dilation {dilation}) is larger than the "
                             f"input of shape {tuple(x.shape)}")
        pos = np.arange(n_out)[:, None] * s + np.arange(k)[None, :] * d - before
        positions.append(pos)
        valids.append((pos >= 0) & (pos < length))
        out_sizes.append(n_out)
    # broadcast to (batch, out_1..out_n, tap_1..tap_n, channel)
    m = 2 * n + 2
    index = np.arange(x.shape[0]).reshape((-1,) + (1,) * (m - 1)) * strides_flat[0]
    valid = np.ones((1,) * m, bool)
    for i, (axis, pos, ok) in enumerate(zip(spatial, positions, valids)):
        shape = [1] * m
        shape[1 + i], shape[1 + n + i] = pos.shape
        index = index + np.clip(pos, 0, x.shape[axis] - 1).reshape(shape) * strides_flat[axis]
        valid = valid & ok.reshape(shape)
    channels = x.shape[channel]
    index = index + (np.arange(channels) * strides_flat[channel]).reshape((1,) * (m - 1) + (-1,))
    full = (x.shape[0],) + tuple(out_sizes) + tuple(size) + (channels,)
    index = np.broadcast_to(index, full)
    weights = np.broadcast_to(valid, full).astype(_compute_float(x.dtype))
    features = int(np.prod(size)) * channels
    if x.dtype.kind != "f":
        out = Tensor((x.data.reshape(-1)[index] * valid).astype(x.dtype), dtype=x.dtype)
    else:
        out = WeightedGather.apply(x, idx=index[None], weights=weights[None])
    out = _shape.reshape(out, (x.shape[0],) + tuple(out_sizes) + (features,))
    if data_format == "channels_first":
        out = _shape.transpose(out, (0, n + 1) + tuple(range(1, n + 1)))
    return out if batched else _shape.squeeze(out, 0)


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of ``size`` (an int, (height, width), or (depth, height, width) for volumes)
    flattened onto the channel axis: ``(batch, rows, cols, ph * pw * channels)``."""
    if not isinstance(size, (int, np.integer)):
        if not isinstance(size, (tuple, list)):
            raise TypeError("extract_patches: invalid `size` argument. Expected an int or a tuple. "
                            f"Received: size={size} of type {type(size).__name__}")
        if len(size) not in (2, 3):
            raise ValueError("extract_patches: invalid `size` argument. Expected a tuple of length 2 "
                             f"or 3. Received: size={size} with length {len(size)}")
        if len(size) == 3:
            return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    x = _tensor(images)
    _check_rank("extract_patches", x)
    return _patches("extract_patches", x, size, strides, dilation_rate, padding, data_format, 2)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """3-D patches of volumes ``(batch, depth, height, width, channels)``:
    ``(batch, d', h', w', pd * ph * pw * channels)``."""
    x = _tensor(volumes)
    _check_rank("extract_patches_3d", x, ranks=(4, 5), name="volumes")
    return _patches("extract_patches_3d", x, size, strides, dilation_rate, padding, data_format, 3)


def _resolve(op, names, values):
    """Check that exactly two of (before, after, target) are given and none is negative."""
    if [v is None for v in values].count(True) != 1:
        raise ValueError(f"{op}: must specify exactly two of {', '.join(names)}. Received: " +
                         ", ".join(f"{n}={v}" for n, v in zip(names, values)))
    for n, v in zip(names, values):
        if v is not None and v < 0:
            raise ValueError(f"{op}: {n} must be >= 0. Received: {n}={v}")
    return values


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad the height and width; exactly two of (top, bottom, target_height) and of
    (left, right, target_width) are given."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    _check_rank("pad_images", x)
    h_axis, w_axis = _spatial_axes(x.ndim, data_format)
    top, bottom, th = _resolve("pad_images", ("top_padding", "bottom_padding", "target_height"),
                               (top_padding, bottom_padding, target_height))
    left, right, tw = _resolve("pad_images", ("left_padding", "right_padding", "target_width"),
                               (left_padding, right_padding, target_width))
    top = th - bottom - x.shape[h_axis] if top is None else top
    bottom = th - top - x.shape[h_axis] if bottom is None else bottom
    left = tw - right - x.shape[w_axis] if left is None else left
    right = tw - left - x.shape[w_axis] if right is None else right
    for name, v in (("top_padding", top), ("left_padding", left), ("right_padding", right),
                    ("bottom_padding", bottom)):
        if v < 0:
            raise ValueError(f"pad_images: {name} must be >= 0 (the target is smaller than images "
                             f"of shape {tuple(x.shape)}). Received: {name}={v}")
    widths = [(0, 0)] * x.ndim
    widths[h_axis], widths[w_axis] = (top, bottom), (left, right)
    return _shape.pad(x, widths)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """Crop the height and width; exactly two of (top, bottom, target_height) and of
    (left, right, target_width) are given."""
    data_format = _data_format(data_format)
    x = _tensor(images)
    _check_rank("crop_images", x)
    h_axis, w_axis = _spatial_axes(x.ndim, data_format)
    height, width = x.shape[h_axis], x.shape[w_axis]
    top, bottom, th = _resolve("crop_images", ("top_cropping", "bottom_cropping", "target_height"),
                               (top_cropping, bottom_cropping, target_height))
    left, right, tw = _resolve("crop_images", ("left_cropping", "right_cropping", "target_width"),
                               (left_cropping, right_cropping, target_width))
    top = height - th - bottom if top is None else top
    th = height - bottom - top if th is None else th
    left = width - tw - right if left is None else left
    tw = width - right - left if tw is None else tw
    for name, v in (("top_cropping", top), ("target_height", th), ("left_cropping", left),
                    ("target_width", tw)):
        if v < 0:
            raise ValueError(f"crop_images: {name} must be >= 0 (images of shape "
                             f"{tuple(x.shape)}). Received: {name}={v}")
    if top + th > height or left + tw > width:
        raise ValueError(f"crop_images: the crop ({top}+{th}, {left}+{tw}) exceeds images of shape "
                         f"{tuple(x.shape)}")
    index = [slice(None)] * x.ndim
    index[h_axis], index[w_axis] = slice(top, top + th), slice(left, left + tw)
    return _shape.getitem(x, tuple(index))
