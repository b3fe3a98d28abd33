"""``smart_resize``: resize images to a size without distorting them (Keras's ``preprocessing.image.smart_resize``)."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from ..ops.image import resize


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """The largest centred crop of ``x`` with the aspect ratio of ``size``, resized to ``size``:
    for an (h, w) image and a (H, W) target the crop is min(h, ⌊w H / W⌋) by min(w, ⌊h W / H⌋).
    ``x`` is one image ``(height, width, channels)`` or a batch; a NumPy array in gives a NumPy
    array out."""
    if kwargs.pop("backend_module", None) is not None or kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {sorted(kwargs) or ['backend_module']}")
    if len(size) != 2:
        raise ValueError(f"smart_resize: size must be (height, width), got {size}")
    is_array = not isinstance(x, Tensor)
    img = np.asarray(x) if is_array else x
    if img.ndim not in (3, 4):
        raise ValueError(f"smart_resize: expected an image (height, width, channels) or a batch of them, got "
                         f"shape {tuple(img.shape)}")
    rows, cols = (-3, -2) if data_format == "channels_last" else (-2, -1)
    height, width = img.shape[rows], img.shape[cols]
    target_height, target_width = size
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    top, left = int(float(height - crop_height) / 2), int(float(width - crop_width) / 2)
    index = [slice(None)] * img.ndim
    index[rows], index[cols] = slice(top, top + crop_height), slice(left, left + crop_width)
    cropped = img[tuple(index)]
    out = resize(cropped if not is_array else Tensor(np.asarray(cropped, dtype="float32")
                                                     if cropped.dtype.kind != "f" else cropped),
                 size, interpolation=interpolation, data_format=data_format)
    return np.asarray(out.data) if is_array else out
