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
from ..autograd import Function, Tensor
from . import elementwise as _elementwise
from . import math as _math
from . import reduce as _reduce
from . import shape as _shape
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


def _along(x: Tensor, matrix: np.ndarray, axis: int) -> Tensor:
    return AlongAxis.apply(x, matrix=matrix.astype(x.dtype, copy=False), axis=axis % x.ndim)


# ---------------------------------------------------------------- shared helpers

def _tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    a = to_array(x)
    return Tensor(a, dtype=a.dtype)


def _data_format(data_format) -> str:
    data_format = "channels_last" if data_format is None else str(data_format).lower()
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


def _channel_axis(ndim: int, data_format: str) -> int:
    return ndim - 1 if data_format == "channels_last" else ndim - 3


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


def _torch_weights(n_in: int, n_out: int, mode: str) -> np.ndarray:
    """(out, in) matrix of ``F.interpolate(mode, align_corners=False)`` without antialias.

    PyTorch computes source positions in float32: ``src = (i + 1/2) * in/out - 1/2``.
    """
    scale = np.float32(n_in / n_out)
    i = np.arange(n_out, dtype=np.float32)
    rows = np.arange(n_out)[:, None]
    w = np.zeros((n_out, n_in))
    if mode == "nearest":  # torch's 'nearest-exact': floor((i + 1/2) * scale)
        src = np.minimum(np.floor((i + np.float32(0.5)) * scale).astype(np.int64), n_in - 1)
        w[np.arange(n_out), src] = 1.0
        return w
    src = (i + np.float32(0.5)) * scale - np.float32(0.5)
    if mode == "bilinear":
        src = np.maximum(src, np.float32(0.0))
        lo = src.astype(np.int64)
        frac = (src - lo.astype(np.float32)).astype(np.float64)
        hi = np.minimum(lo + 1, n_in - 1)
        np.add.at(w, (np.arange(n_out), lo), 1.0 - frac)
        np.add.at(w, (np.arange(n_out), hi), frac)
        return w
    # bicubic, a = -0.75, taps i0-1 .. i0+2 with indices clamped to the image
    lo = np.floor(src).astype(np.int64)
    t = (src - lo.astype(np.float32)).astype(np.float64)[:, None]
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


def _resize_weights(n_in, n_out, interpolation, antialias):
    if interpolation in ("lanczos3", "lanczos5"):
        return _jax_weights(n_in, n_out, n_out / n_in, 0.0, _JAX_KERNELS[interpolation], antialias)
    if interpolation == "area":
        return _jax_weights(n_in, n_out, n_out / n_in, 0.0, _box, True)
    if antialias and interpolation == "bilinear":
        return _pil_weights(n_in, n_out, _triangle, 1.0)
    if antialias and interpolation == "bicubic":
        return _pil_weights(n_in, n_out, lambda x: _cubic(x, -0.5), 2.0)
    return _torch_weights(n_in, n_out, interpolation)


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
        x = _along(x, _resize_weights(x.shape[axis], n_out, interpolation, antialias), axis)
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
