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
from .tf_data import StringArray
from .tf_tensor_array import InvalidArgumentError

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
        return _string(f.read())


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


def _encode(image, fmt: str, what: str, **save) -> np.ndarray:
    """A ``(height, width, channels)`` uint8 image as the bytes of a ``fmt`` file (a 0-d object
    array, TF's scalar ``tf.string``)."""
    array = np.asarray(image.data if isinstance(image, Tensor) else image)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4) or (fmt == "JPEG" and array.shape[-1] == 4):
        raise ValueError(f"{what}: expected an image of shape (height, width, channels) with "
                         f"{'1 or 3' if fmt == 'JPEG' else '1, 3 or 4'} channels, got {array.shape}")
    if array.dtype != np.uint8:
        raise TypeError(f"{what}: the image must be uint8, got {array.dtype}")
    buffer = _io.BytesIO()
    pixels = array[:, :, 0] if array.shape[-1] == 1 else array
    _pil_image().fromarray(np.ascontiguousarray(pixels)).save(buffer, format=fmt, **save)
    return _string(buffer.getvalue())


def _string(data: bytes):
    """Bytes as TF's scalar ``tf.string``: a 0-d array whose ``numpy()`` gives the bytes."""
    out = np.empty((), dtype=object)
    out[()] = data
    return out.view(StringArray)


def encode_jpeg(image, format="", quality=95, progressive=False, optimize_size=False, chroma_downsampling=True,
                density_unit="in", x_density=300, y_density=300, xmp_metadata="", name=None):
    """A uint8 image (1 or 3 channels) as JPEG bytes at ``quality`` (TF's default 95)."""
    return _encode(image, "JPEG", "tf.io.encode_jpeg", quality=int(quality), progressive=bool(progressive),
                   optimize=bool(optimize_size), subsampling=-1 if chroma_downsampling else 0)


def encode_png(image, compression=-1, name=None):
    """A uint8 image (1, 3 or 4 channels) as PNG bytes (``compression`` 0-9, -1 the default)."""
    return _encode(image, "PNG", "tf.io.encode_png", **({} if compression == -1 else {"compress_level": compression}))


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None) -> Tensor:
    """The bytes of a string reinterpreted as ``out_type`` numbers: a string gives a vector, a batch
    of strings (all of one length) a matrix; ``little_endian`` is the byte order of the data
    (``uint8``/``int8`` have none). ``fixed_length`` cuts or zero-pads every string to that many bytes."""
    raw = input_bytes.data if isinstance(input_bytes, Tensor) else input_bytes
    dtype = np.dtype(out_type).newbyteorder("<" if little_endian else ">")
    if dtype.kind not in "iufcb":
        raise TypeError(f"tf.io.decode_raw: out_type must be a numeric dtype, got {np.dtype(out_type)}")
    items = np.asarray(raw, dtype=object)
    flat = [v.encode("latin-1") if isinstance(v, str) else bytes(v) for v in items.reshape(-1)]
    if fixed_length is not None:
        n = int(fixed_length)
        flat = [v[:n].ljust(n, b"\0") for v in flat]
    for v in flat:
        if len(v) % dtype.itemsize:
            raise InvalidArgumentError(None, None, f"Input to DecodeRaw has length {len(v)} that is not a multiple "
                                                   f"of {dtype.itemsize}, the size of {np.dtype(out_type).name}")
    if len({len(v) for v in flat}) > 1:
        raise InvalidArgumentError(None, None, "DecodeRaw requires input strings to all be the same size, got "
                                               f"lengths {sorted({len(v) for v in flat})}")
    rows = [np.frombuffer(v, dtype=dtype) for v in flat]
    width = len(flat[0]) // dtype.itemsize if flat else 0
    out = (np.stack(rows) if rows else np.zeros((0, width), dtype)).astype(np.dtype(out_type))
    out = out.reshape(items.shape + (width,))
    return Tensor(out, dtype=out.dtype)


io = SimpleNamespace(read_file=read_file, decode_raw=decode_raw, decode_png=decode_png, decode_jpeg=decode_jpeg,
                     decode_image=decode_image, decode_bmp=lambda contents, channels=0, name=None:
                     _decode(contents, channels, "tf.io.decode_bmp"), encode_jpeg=encode_jpeg, encode_png=encode_png)
