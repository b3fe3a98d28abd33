"""Image files in and out (Pillow): ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``."""
from __future__ import annotations

import io
import os

import numpy as np

from .. import backend

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
