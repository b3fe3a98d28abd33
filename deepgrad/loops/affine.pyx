"""``affine_transform`` of a batch of float images, a pixel at a time (``deepgrad.ops.image_compiled``).

The images are (n, height, width, channels) views of any strides, in ``pixel`` (float32 or
float64); the transform's coefficients and the sampling positions are in ``coef``, their own
dtype, as in the NumPy path; a coefficient-dtype product is rounded to the images' dtype by a C
cast, as NumPy's ``astype`` rounds it. Indices are NumPy's integers: ``floor_mod`` is Python's
``%``, which C's ``%`` is not for a negative number.
"""
from libc.math cimport floor, floorf, rint, rintf

ctypedef fused pixel:
    float
    double

ctypedef fused coef:
    float
    double

cdef enum:  # fill modes (``image_compiled.MODES``)
    CONSTANT = 0
    NEAREST = 1
    WRAP = 2
    MIRROR = 3
    REFLECT = 4


cdef inline Py_ssize_t floor_mod(Py_ssize_t a, Py_ssize_t m) noexcept nogil:
    # Python's a % m for m > 0: in [0, m)
    cdef Py_ssize_t r = a % m
    return r + m if r < 0 else r


cdef inline Py_ssize_t mirror(Py_ssize_t index, Py_ssize_t size) noexcept nogil:
    # the triangle wave of ``image._mirror``: ... 2 1 0 1 2 ... size-1 size-2 ...
    cdef Py_ssize_t s = size - 1, r
    if s <= 0:
        return 0
    r = floor_mod(index + s, 2 * s) - s
    return -r if r < 0 else r


cdef inline Py_ssize_t folded(Py_ssize_t index, Py_ssize_t size, int mode) noexcept nogil:
    # ``image._fix_index`` for one index
    if 0 <= index < size:
        return index
    if mode <= NEAREST:  # constant (masked by the caller), nearest
        return 0 if index < 0 else size - 1
    # one fold past an edge, the case of nearly every index outside, without the integer
    # divisions below (each costs more than the rest of a pixel)
    cdef bint low = index < 0
    if mode == WRAP and -size <= index < 2 * size:
        return index + size if low else index - size
    if mode == MIRROR and size > 1 and -size < index < 2 * size - 1:
        return -index if low else 2 * (size - 1) - index
    if mode == REFLECT and -size <= index < 2 * size:
        return -index - 1 if low else 2 * size - 1 - index
    if mode == WRAP:
        return floor_mod(index, size)
    if mode == MIRROR:
        return mirror(index, size)
    # an odd number's mirror is at least 1: C's division of what is left is the floor
    return (mirror(2 * index + 1, 2 * size + 1) - 1) // 2


cdef inline Py_ssize_t clipped(Py_ssize_t index, Py_ssize_t size, int mode) noexcept nogil:
    # ``folded`` without its branches for an index inside, or any index under the first two modes
    cdef Py_ssize_t near = min(max(index, 0), size - 1)
    return near if near == index or mode <= NEAREST else folded(index, size, mode)


cdef inline coef floored(coef v) noexcept nogil:
    if coef is float:
        return floorf(v)
    else:
        return floor(v)


cdef inline coef rounded(coef v) noexcept nogil:
    # to the nearest integer, a half to the even one (np.rint)
    if coef is float:
        return rintf(v)
    else:
        return rint(v)


def affine(const pixel[:, :, :, :] x, const coef[:, ::1] t, pixel[:, :, :, ::1] out, int order, int mode,
           pixel fill, coef fill_t):
    # t: (1 or n, 8) coefficients a0 a1 a2 b0 b1 b2 c0 c1; output pixel (i, j) reads the images at
    # x = (a0 j + a1 i + a2) / k, y = (b0 j + b1 i + b2) / k, k = c0 j + c1 i + 1 (k = 1 unless some
    # c is not zero), its nearest pixel (order 0) or its four corners' bilinear sum (order 1);
    # ``fill`` (in the images' dtype) and ``fill_t`` (in the coefficients') stand for a pixel outside
    # under the constant mode
    cdef Py_ssize_t b, i, j, tb
    cdef bint projective = False
    cdef coef a0, a1, a2, b0, b1, b2, c0, c1, gx, gy, xs, ys, k, one = 1
    with nogil:
        for b in range(t.shape[0]):
            projective = projective or t[b, 6] != 0 or t[b, 7] != 0
        for b in range(x.shape[0]):
            tb = 0 if t.shape[0] == 1 else b
            a0, a1, a2, b0, b1, b2 = t[tb, 0], t[tb, 1], t[tb, 2], t[tb, 3], t[tb, 4], t[tb, 5]
            c0, c1 = t[tb, 6], t[tb, 7]
            for i in range(x.shape[1]):
                gy = <coef>i
                for j in range(x.shape[2]):
                    gx = <coef>j
                    xs = a0 * gx + a1 * gy + a2
                    ys = b0 * gx + b1 * gy + b2
                    if projective:
                        k = c0 * gx + c1 * gy + one
                        xs = xs / k
                        ys = ys / k
                    if order == 0:
                        nearest(x, b, ys, xs, mode, fill, &out[b, i, j, 0])
                    else:
                        bilinear(x, b, ys, xs, mode, fill, fill_t, &out[b, i, j, 0])


cdef inline void nearest(const pixel[:, :, :, :] x, Py_ssize_t b, coef ys, coef xs, int mode, pixel fill,
                         pixel* o) noexcept nogil:
    # the pixel nearest to (ys, xs) into o[0:channels]; the fill value for one outside under the constant mode
    cdef Py_ssize_t c, iy = <Py_ssize_t>rounded(ys), ix = <Py_ssize_t>rounded(xs)
    cdef Py_ssize_t height = x.shape[1], width = x.shape[2]
    if mode == CONSTANT and not (0 <= iy < height and 0 <= ix < width):
        for c in range(x.shape[3]):
            o[c] = fill
        return
    iy, ix = clipped(iy, height, mode), clipped(ix, width, mode)
    for c in range(x.shape[3]):
        o[c] = x[b, iy, ix, c]


cdef inline void bilinear(const pixel[:, :, :, :] x, Py_ssize_t b, coef ys, coef xs, int mode, pixel fill,
                          coef fill_t, pixel* o) noexcept nogil:
    # the four corners around (ys, xs), weighted, into o[0:channels]: ((top-left + top-right) +
    # bottom-left) + bottom-right, as the NumPy path sums them, then under the constant mode the
    # corners outside, each its weight times the fill value, added after the pixels
    cdef Py_ssize_t c, height = x.shape[1], width = x.shape[2]
    cdef coef fy = floored(ys), fx = floored(xs), one = 1
    cdef coef uy = ys - fy, ux = xs - fx
    cdef coef wy0 = one - uy, wx0 = one - ux
    cdef Py_ssize_t ly = <Py_ssize_t>fy, lx = <Py_ssize_t>fx, y0, y1, x0, x1
    cdef pixel w00 = <pixel>(wy0 * wx0), w01 = <pixel>(wy0 * ux), w10 = <pixel>(uy * wx0)
    cdef pixel w11 = <pixel>(uy * ux), extra = fill - fill, value
    cdef bint in_y0, in_y1, in_x0, in_x1
    if 0 <= ly and ly + 1 < height and 0 <= lx and lx + 1 < width:
        # all four corners inside: the test that keeps the index arithmetic of every other
        # pixel off this path
        y0, y1, x0, x1 = ly, ly + 1, lx, lx + 1
    else:
        y0, y1 = clipped(ly, height, mode), clipped(ly + 1, height, mode)
        x0, x1 = clipped(lx, width, mode), clipped(lx + 1, width, mode)
        if mode == CONSTANT:  # a pixel at the border: the corners outside weigh zero
            in_y0, in_y1 = 0 <= ly < height, 0 <= ly + 1 < height
            in_x0, in_x1 = 0 <= lx < width, 0 <= lx + 1 < width
            if not (in_y0 and in_x0):
                extra = extra + <pixel>(wy0 * wx0 * fill_t)
                w00 = fill - fill
            if not (in_y0 and in_x1):
                extra = extra + <pixel>(wy0 * ux * fill_t)
                w01 = fill - fill
            if not (in_y1 and in_x0):
                extra = extra + <pixel>(uy * wx0 * fill_t)
                w10 = fill - fill
            if not (in_y1 and in_x1):
                extra = extra + <pixel>(uy * ux * fill_t)
                w11 = fill - fill
    for c in range(x.shape[3]):
        value = x[b, y0, x0, c] * w00 + x[b, y0, x1, c] * w01
        value = value + x[b, y1, x0, c] * w10
        o[c] = (value + x[b, y1, x1, c] * w11) + extra
