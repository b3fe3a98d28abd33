"""Image preprocessing: read and write image files (Pillow), resize, crop, scale.

Images are channels-last arrays ``(height, width, channels)``, batches ``(n, h, w, c)``.
File reading and writing need Pillow (``pip install deepgrad[io]``); ``resize``,
``center_crop`` and ``normalize_image`` are plain NumPy.

A typical pipeline (load, resize, crop, add the batch axis, scale to [0, 1])::

    img = load_img("cat.jpg", target_size=(224, 224))
    x = normalize_image(img_to_array(img))[None]          # (1, 224, 224, 3) float32
"""
from __future__ import annotations

import io
import os

import numpy as np

from .. import backend
from .image_data_generator import ImageDataGenerator, NumpyArrayIterator, apply_affine_transform  # noqa: F401

_COLOR_MODES = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("reading and writing image files needs Pillow: pip install pillow "
                          "(or deepgrad[io])") from e
    return Image


def _resample(name: str):
    Image = _pil()
    methods = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "hamming": Image.Resampling.HAMMING,
               "box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
    if name not in methods:
        raise ValueError(f"interpolation must be one of {sorted(methods)}, got {name!r}")
    return methods[name]


def load_img(path, color_mode: str = "rgb", target_size: tuple | None = None,
             interpolation: str = "nearest", keep_aspect_ratio: bool = False):
    """Read an image file into a PIL image, as Keras's ``load_img``.

    ``color_mode`` is ``"rgb"``, ``"rgba"`` or ``"grayscale"``; ``target_size`` is
    ``(height, width)``; with ``keep_aspect_ratio=True`` the largest centred box of the target's
    aspect ratio is cropped before resizing, so nothing is stretched.
    """
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"load_img: color_mode must be one of {sorted(_COLOR_MODES)}, got {color_mode!r}")
    Image = _pil()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_img: no image file at {path!r}")
    try:
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
            img.load()
    except Exception as e:  # Pillow raises UnidentifiedImageError, OSError or SyntaxError
        raise ValueError(f"load_img: {path!r} is not a readable image file ({type(e).__name__}: {e})") from e
    mode = _COLOR_MODES[color_mode]
    if img.mode != mode and not (mode == "L" and img.mode in ("I;16", "I;16B", "I;16L", "I")):
        img = img.convert(mode)
    if target_size is not None:
        height, width = (int(s) for s in target_size)
        if keep_aspect_ratio:
            w, h = img.size
            crop_h, crop_w = min(h, w * height // width), min(w, h * width // height)
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            img = img.crop((left, top, left + crop_w, top + crop_h))
        if img.size != (width, height):
            img = img.resize((width, height), _resample(interpolation))
    return img


def img_to_array(img, data_format: str | None = None, dtype=None) -> np.ndarray:
    """A PIL image -> ``(h, w, c)`` array of floatx (a grayscale image gets ``c = 1``)."""
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format: str | None = None, scale: bool = True, dtype=None):
    """A ``(h, w, c)`` array -> PIL image; ``scale=True`` maps ``[min, max]`` to ``[0, 255]`` first."""
    Image = _pil()
    x = np.asarray(x, dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(f"array_to_img expects an image array of rank 3 (h, w, c), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x = x / peak
        x = x * 255
    channels = x.shape[2]
    # values are truncated to integers (not rounded), as Keras's astype("uint8") does
    if channels == 4:
        return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8), "RGBA")
    if channels == 3:
        return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8), "RGB")
    if channels == 1:
        if np.max(x) > 255:  # 16/32-bit grayscale
            return Image.fromarray(x[:, :, 0].astype(np.int32), "I")
        return Image.fromarray(np.clip(x[:, :, 0], 0, 255).astype(np.uint8), "L")
    raise ValueError(f"array_to_img: {channels} channels; only 1, 3 or 4 can be saved as an image")


def save_img(path, x, data_format: str | None = None, file_format: str | None = None,
             scale: bool = True, **kwargs) -> None:
    """Write an image array to a file (format from the extension unless ``file_format`` is given)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    ext = (file_format or os.path.splitext(os.fspath(path))[1].lstrip(".")).lower()
    if img.mode == "RGBA" and ext in ("jpg", "jpeg"):
        img = img.convert("RGB")  # JPEG has no alpha channel
    img.save(path, format=file_format, **kwargs)


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
