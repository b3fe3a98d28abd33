"""``affine_transform`` of float images as one compiled loop (``deepgrad/loops/affine.pyx``; NumPy's
path without it).

The NumPy path (``image._image_sample``) builds every interpolation corner's indices, in-range
masks and weights as whole arrays, then gathers and sums them: about fifty passes over the
output's pixels, 3-4 ms for a batch of 128 MNIST images on one core, so that a RandomRotation and
a RandomZoom in front of seed 004's CNN cost a third of its training step. This loop computes
each output pixel's source position, its corners and their weights in registers and writes the
pixel once.

It does the NumPy path's arithmetic in its order and dtypes (the position from the transform's
coefficients in their dtype, the corner weights ``wy * wx`` rounded to the image's dtype, the
corners summed top-left first), so its results are the same numbers; a corner outside the image
under ``fill_mode="constant"`` adds its weight times ``fill_value`` instead of a pixel.

It is used when the extension is built (``runtime.compiled_loop``; ``DEEPGRAD_LOOPS=0`` turns it
off), for float32 and float64 images of any strides whose result needs no gradient (an
augmentation layer's input, or under ``no_grad``); the images' gradient path stays NumPy's.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

# fill modes as integer codes for the loop
MODES = {"constant": 0, "nearest": 1, "wrap": 2, "mirror": 3, "reflect": 4}

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None when the extension is missing or turned off


def kernel(name: str = "affine"):
    """The compiled loop (``"affine"``), looked up on first use; None without the extension or
    with ``DEEPGRAD_LOOPS=0`` (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("affine", name, loaded)


def affine(x: np.ndarray, t: np.ndarray, order: int, fill_mode: str, fill_value, channels_last: bool):
    """The transformed batch ``x`` (rank 4, float32 or float64) as an array, or None when the loop
    is not available (or takes no such dtype); ``t`` holds the (1 or n, 8) coefficients."""
    if x.dtype not in _FLOATS or t.dtype not in _FLOATS:  # (no float16 in C)
        return None
    loop = kernel()
    if loop is None:
        return None
    rows = x if channels_last else x.transpose(0, 2, 3, 1)
    out = np.empty(rows.shape, x.dtype)
    t = np.ascontiguousarray(t)
    value = fill_value if fill_mode == "constant" else 0

    def run(part):
        loop(rows[part], t if t.shape[0] == 1 else t[part], out[part], order, MODES[fill_mode],
             x.dtype.type(value), t.dtype.type(value))

    # a pixel costs the loop about 12 ns, some 30 element-wise passes' worth: the halves' threshold
    # is in such elements
    runtime.for_batch_halves(run, rows.shape[0], rows.size * 32)
    return out if channels_last else out.transpose(0, 3, 1, 2)
