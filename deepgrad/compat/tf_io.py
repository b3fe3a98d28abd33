"""``tf.io`` and ``tf.image``'s decoders: read an image file and decode it to a ``uint8`` tensor of
shape ``(height, width, channels)``, as the input pipelines of Keras's image examples do
(``tf.io.read_file(path)`` then ``tf.io.decode_png(data, channels=1)``). Files are read as
bytes and decoded by Pillow (the ``io`` extra).
"""
from __future__ import annotations

import io as _io
from types import SimpleNamespace

import numpy as np

from ..autograd import Tensor

# TF's ``channels`` argument: 0 keeps the file's own channels; 1, 3 and 4 convert
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _pil_image():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("decoding image files needs Pillow: pip install deepgrad[io]") from e
    return Image


def _scalar(value, what: str):
    """A path or a file's bytes from a str, bytes, 0-d array or 0-d tensor of either."""
    raw = value.data if isinstance(value, Tensor) else value
    if isinstance(raw, np.ndarray):
        if raw.ndim != 0:
            raise ValueError(f"{what}: expected one value (a scalar), got an array of shape {raw.shape}")
        raw = raw.item()
    if isinstance(raw, np.generic):
        raw = raw.item()
    if not isinstance(raw, (str, bytes)):
        raise TypeError(f"{what}: expected a string or bytes, got {type(value).__name__}")
    return raw


def read_file(filename, name=None):
    """The whole file as bytes, held in a 0-d object array (TF's scalar ``tf.string``)."""
    path = _scalar(filename, "tf.io.read_file")
    with open(path.decode() if isinstance(path, bytes) else path, "rb") as f:
        return np.array(f.read(), dtype=object)


def _decode(contents, channels, what):
    data = _scalar(contents, what)
    if isinstance(data, str):
        data = data.encode("latin-1")
    channels = int(channels or 0)
    if channels not in (0, 1, 3, 4):
        raise ValueError(f"{what}: channels must be 0, 1, 3 or 4, got {channels}")
    image = _pil_image().open(_io.BytesIO(data))
    if channels:
        image = image.convert(_MODES[channels])
    elif image.mode not in ("L", "RGB", "RGBA"):
        # palette and other modes decode to their colours, as TF does (RGBA when transparent)
        image = image.convert("RGBA" if "transparency" in image.info or image.mode in ("LA", "PA") else "RGB")
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]  # a grey image keeps a channel axis
    return Tensor(np.ascontiguousarray(array), dtype=np.uint8)


def decode_png(contents, channels=0, dtype=np.uint8, name=None):
    if np.dtype(dtype) != np.uint8:
        raise NotImplementedError("tf.io.decode_png: only dtype=uint8 is supported")
    return _decode(contents, channels, "tf.io.decode_png")


def decode_jpeg(contents, channels=0, ratio=1, fancy_upscaling=True, try_recover_truncated=False,
                acceptable_fraction=1, dct_method="", name=None):
    if ratio != 1:
        raise NotImplementedError("tf.io.decode_jpeg: only ratio=1 is supported")
    return _decode(contents, channels, "tf.io.decode_jpeg")


def decode_image(contents, channels=None, dtype=np.uint8, name=None, expand_animations=True):
    """PNG, JPEG, BMP or GIF (its first frame) as ``(height, width, channels)``; a float ``dtype``
    scales to [0, 1], as ``tf.image.convert_image_dtype`` does."""
    image = _decode(contents, channels, "tf.io.decode_image")
    if np.dtype(dtype) == np.uint8:
        return image
    return Tensor(image.data.astype(dtype) / np.asarray(255, dtype), dtype=np.dtype(dtype))


io = SimpleNamespace(read_file=read_file, decode_png=decode_png, decode_jpeg=decode_jpeg,
                     decode_image=decode_image, decode_bmp=lambda contents, channels=0, name=None:
                     _decode(contents, channels, "tf.io.decode_bmp"))
