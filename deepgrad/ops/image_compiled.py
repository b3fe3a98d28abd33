"""``affine_transform`` of float images as one compiled loop (numba; NumPy's path without it).

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

It is used by default when numba is installed (``runtime.numba_loop(..., default=True)``;
``DEEPGRAD_NUMBA=0`` turns it off), for float images whose result needs no gradient (an
augmentation layer's input, or under ``no_grad``); the images' gradient path stays NumPy's.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

# fill modes as integer codes for the loop
MODES = {"constant": 0, "nearest": 1, "wrap": 2, "mirror": 3, "reflect": 4}

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None without numba / turned off


def _affine_loop(x, t, out, order, mode, fill, fill_t, grid, cast):
    # x, out: (n, height, width, channels) views; t: (1 or n, 8) coefficients; ``grid`` is
    # 0, 1, 2, ... in the coefficients' dtype; ``fill`` is the fill value in the image's dtype,
    # ``fill_t`` in the coefficients'; ``cast`` a five-element array of the image's dtype, through
    # which a coefficient-dtype number is rounded to the image's as NumPy's astype rounds it

    def mirror(index, size):
        # the triangle wave of ``image._mirror``: ... 2 1 0 1 2 ... size-1 size-2 ...
        s = size - 1
        if s <= 0:
            return 0
        return abs((index + s) % (2 * s) - s)

    def inside(index, size, mode):
        # ``image._fix_index`` for one index (Python's % and // on integers, as NumPy's)
        if 0 <= index < size:
            return index
        if mode <= 1:  # constant (masked by the caller), nearest
            return 0 if index < 0 else size - 1
        # one fold past an edge, the case of nearly every index outside, without the integer
        # divisions below (each costs more than the rest of a pixel)
        low = index < 0
        if mode == 2 and -size <= index < 2 * size:
            return index + size if low else index - size
        if mode == 3 and size > 1 and -size < index < 2 * size - 1:
            return -index if low else 2 * (size - 1) - index
        if mode == 4 and -size <= index < 2 * size:
            return -index - 1 if low else 2 * size - 1 - index
        if mode == 2:
            return index % size
        if mode == 3:
            return mirror(index, size)
        return (mirror(2 * index + 1, 2 * size + 1) - 1) // 2

    def clipped(index, size, mode):
        # ``inside`` without its branches for an index inside, or any index under the first two modes
        near = min(max(index, 0), size - 1)
        return near if near == index or mode <= 1 else inside(index, size, mode)

    n, height, width, channels = x.shape
    projective = False
    for b in range(t.shape[0]):
        if t[b, 6] != 0 or t[b, 7] != 0:
            projective = True
    for b in range(n):
        tb = 0 if t.shape[0] == 1 else b
        a0, a1, a2 = t[tb, 0], t[tb, 1], t[tb, 2]
        b0, b1, b2 = t[tb, 3], t[tb, 4], t[tb, 5]
        c0, c1 = t[tb, 6], t[tb, 7]
        one = grid[1]
        for i in range(height):
            gy = grid[i]
            for j in range(width):
                gx = grid[j]
                xs = a0 * gx + a1 * gy + a2
                ys = b0 * gx + b1 * gy + b2
                if projective:
                    k = c0 * gx + c1 * gy + one
                    xs = xs / k
                    ys = ys / k
                if order == 0:
                    iy, ix = int(np.rint(ys)), int(np.rint(xs))
                    ok = (0 <= iy < height and 0 <= ix < width) or mode != 0
                    if ok:
                        ry, rx = inside(iy, height, mode), inside(ix, width, mode)
                        for c in range(channels):
                            out[b, i, j, c] = x[b, ry, rx, c]
                    else:
                        for c in range(channels):
                            out[b, i, j, c] = fill
                    continue
                fy, fx = np.floor(ys), np.floor(xs)
                uy, ux = ys - fy, xs - fx
                ly, lx = int(fy), int(fx)
                wy0, wx0 = one - uy, one - ux
                # the four corners, top-left first, as the NumPy path sums them; under the constant
                # mode a corner outside adds its weight times the fill value after the pixels
                extra = fill - fill
                if 0 <= ly and ly + 1 < height and 0 <= lx and lx + 1 < width:
                    # all four corners inside: the test that lets the compiler keep the
                    # index arithmetic of every other pixel off this path (8 -> 5 ns a pixel)
                    y0, y1, x0, x1 = ly, ly + 1, lx, lx + 1
                else:
                    y0, y1 = clipped(ly, height, mode), clipped(ly + 1, height, mode)
                    x0, x1 = clipped(lx, width, mode), clipped(lx + 1, width, mode)
                cast[0], cast[1], cast[2], cast[3] = wy0 * wx0, wy0 * ux, uy * wx0, uy * ux
                w00, w01, w10, w11 = cast[0], cast[1], cast[2], cast[3]
                if mode == 0:
                    in_y0, in_y1 = 0 <= ly < height, 0 <= ly + 1 < height
                    in_x0, in_x1 = 0 <= lx < width, 0 <= lx + 1 < width
                    if not (in_y0 and in_y1 and in_x0 and in_x1):
                        # a pixel at the border: the corners outside weigh zero
                        for inside_y, inside_x, w in ((in_y0, in_x0, wy0 * wx0), (in_y0, in_x1, wy0 * ux),
                                                      (in_y1, in_x0, uy * wx0), (in_y1, in_x1, uy * ux)):
                            if not (inside_y and inside_x):
                                cast[4] = w * fill_t
                                extra += cast[4]
                        zero = fill - fill
                        w00 = w00 if in_y0 and in_x0 else zero
                        w01 = w01 if in_y0 and in_x1 else zero
                        w10 = w10 if in_y1 and in_x0 else zero
                        w11 = w11 if in_y1 and in_x1 else zero
                if channels == 1:  # (the loop below, without its overhead)
                    value = x[b, y0, x0, 0] * w00 + x[b, y0, x1, 0] * w01
                    value = value + x[b, y1, x0, 0] * w10
                    out[b, i, j, 0] = (value + x[b, y1, x1, 0] * w11) + extra
                    continue
                for c in range(channels):
                    value = x[b, y0, x0, c] * w00 + x[b, y0, x1, c] * w01
                    value = value + x[b, y1, x0, c] * w10
                    out[b, i, j, c] = (value + x[b, y1, x1, c] * w11) + extra


def kernel(name: str = "affine"):
    """The compiled loop (``"affine"``), compiled on first use; None without numba or with
    ``DEEPGRAD_NUMBA=0``."""
    if name not in loaded:
        loaded[name] = runtime.numba_loop({"affine": _affine_loop}[name], default=True)
    return loaded[name]


def affine(x: np.ndarray, t: np.ndarray, order: int, fill_mode: str, fill_value, channels_last: bool):
    """The transformed batch ``x`` (rank 4, float32 or float64) as an array, or None when the loop
    is not available (or takes no such dtype); ``t`` holds the (1 or n, 8) coefficients."""
    if x.dtype not in _FLOATS or t.dtype not in _FLOATS:  # numba has no float16
        return None
    loop = kernel()
    if loop is None:
        return None
    rows = x if channels_last else x.transpose(0, 2, 3, 1)
    out = np.empty(rows.shape, x.dtype)
    t = np.ascontiguousarray(t)
    value = fill_value if fill_mode == "constant" else 0
    grid = np.arange(max(rows.shape[1], rows.shape[2], 2), dtype=t.dtype)

    def run(part):
        loop(rows[part], t if t.shape[0] == 1 else t[part], out[part], order, MODES[fill_mode],
             x.dtype.type(value), t.dtype.type(value), grid, np.empty(5, x.dtype))

    # a pixel costs the loop about 12 ns, some 30 element-wise passes' worth: the halves' threshold
    # is in such elements
    runtime.for_batch_halves(run, rows.shape[0], rows.size * 32)
    return out if channels_last else out.transpose(0, 3, 1, 2)
