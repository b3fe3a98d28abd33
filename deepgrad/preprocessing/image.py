"""Image preprocessing: read and write image files (Pillow), resize, crop, scale.

Images are channels-last arrays ``(height, width, channels)``, batches ``(n, h, w, c)``.
File reading and writing need Pillow (``pip install deepgrad[io]``); ``resize``,
``center_crop`` and ``normalize_image`` are plain NumPy.

A typical pipeline (load, resize, crop, add the batch axis, scale to [0, 1])::

    img = load_img("cat.jpg", target_size=(224, 224))
    x = normalize_image(img_to_array(img))[None]          # (1, 224, 224, 3) float32
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .image_data_generator import (DirectoryIterator, ImageDataGenerator, NumpyArrayIterator,  # noqa: F401
                                   apply_affine_transform, apply_brightness_shift, apply_channel_shift)
from .image_io import _COLOR_MODES, _pil, _resample, array_to_img, img_to_array, load_img, save_img  # noqa: F401

# --------------------------------------------------------------------------- arrays
def _source_index(n_in: int, n_out: int, interpolation: str):
    """For each output pixel along one axis: two source indices and the weight of the second.

    Half-pixel centres (TensorFlow's and PyTorch's ``align_corners=False``):
    ``src = (dst + 0.5) * n_in / n_out - 0.5``.
    """
    scale = n_in / n_out
    dst = np.arange(n_out)
    if interpolation == "nearest":
        i0 = np.minimum(np.floor((dst + 0.5) * scale).astype(np.int64), n_in - 1)
        return i0, i0, np.zeros(n_out)
    src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def resize(array, size: tuple, interpolation: str = "bilinear") -> np.ndarray:
    """Resize ``(h, w)``, ``(h, w, c)`` or ``(n, h, w, c)`` images to ``size = (height, width)``.

    ``"bilinear"`` or ``"nearest"``, with half-pixel centres (as ``keras.ops.image.resize``
    without antialiasing). Float images keep their dtype; integer images are rounded back to
    theirs.
    """
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    x = np.asarray(array)
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"resize expects (h, w), (h, w, c) or (n, h, w, c), got shape {x.shape}")
    height, width = (int(s) for s in size)
    if height <= 0 or width <= 0:
        raise ValueError(f"resize: size must be positive, got {size}")
    batch = {2: x[None, :, :, None], 3: x[None], 4: x}[x.ndim]
    work = batch.astype(np.float64 if batch.dtype == np.float64 else np.float32)
    y0, y1, wy = _source_index(work.shape[1], height, interpolation)
    x0, x1, wx = _source_index(work.shape[2], width, interpolation)
    wy = wy.astype(work.dtype)[None, :, None, None]
    wx = wx.astype(work.dtype)[None, None, :, None]
    rows = work[:, y0] * (1 - wy) + work[:, y1] * wy          # interpolate along height
    out = rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx     # then along width
    if x.dtype.kind in "iub":
        info = np.iinfo(x.dtype) if x.dtype.kind != "b" else None
        out = np.rint(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
    out = out.astype(x.dtype)
    if x.ndim == 2:
        return out[0, :, :, 0]
    return out[0] if x.ndim == 3 else out


def center_crop(array, size: tuple) -> np.ndarray:
    """The centred ``size = (height, width)`` window of ``(h, w)``, ``(h, w, c)`` or ``(n, h, w, c)`` images."""
    x = np.asarray(array)
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"center_crop expects (h, w), (h, w, c) or (n, h, w, c), got shape {x.shape}")
    h_axis = 1 if x.ndim == 4 else 0
    in_h, in_w = x.shape[h_axis], x.shape[h_axis + 1]
    height, width = (int(s) for s in size)
    if not (0 < height <= in_h and 0 < width <= in_w):
        raise ValueError(f"center_crop: cannot cut {height}x{width} from an image of {in_h}x{in_w} "
                         f"(shape {x.shape}); resize it first")
    top, left = (in_h - height) // 2, (in_w - width) // 2
    index = [slice(None)] * x.ndim
    index[h_axis] = slice(top, top + height)
    index[h_axis + 1] = slice(left, left + width)
    return x[tuple(index)]


def normalize_image(array, mean=None, std=None, scale: float = 1.0 / 255.0) -> np.ndarray:
    """``(x * scale - mean) / std`` in floatx; by default just pixel values 0..255 -> 0..1.

    ``mean`` and ``std`` broadcast over the channel axis, e.g. per-channel ImageNet statistics.
    """
    x = np.asarray(array)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(backend.floatx())
    x = x.astype(dtype) * dtype.type(scale)
    if mean is not None:
        x = x - np.asarray(mean, dtype=dtype)
    if std is not None:
        std = np.asarray(std, dtype=dtype)
        if np.any(std == 0):
            raise ValueError("normalize_image: std must not contain zeros")
        x = x / std
    return x
from .smart_resize import smart_resize  # noqa: E402,F401 - Keras exposes it here
