"""Depthwise convolution of one and two spatial axes, a block of samples a call
(``deepgrad.ops.depthwise_compiled``, which describes the loops and prepares their arrays).

Arrays are channels last and C-contiguous; a single spatial axis comes as a height of 1. With the
geometry: strides sh, sw, dilations dh, dw, the padding before the first row and column pt, pl,
and r = p sh - pt + i dh, s = q sw - pl + j dw (taps with r, s outside the input left out):

    out[n, p, q, c] = b[c] + sum_{i,j} x[n, r, s, c] K[i, j, c]
    dK[i, j, c] = sum_{n,p,q} x[n, r, s, c] dY[n, p, q, c]      db[c] = sum_{n,p,q} dY[n, p, q, c]
    dx[n, r, s, c] += dY[n, p, q, c] K[i, j, c]                  (for every p, q, i, j)

Each sum is made in memory, term after term in the order of the taps, with no fused multiply-add:
every inner loop runs over a contiguous run (a position's channels, or at a width stride of 1 a
part of the output's row) and the compiler vectorises it across that run, not across the terms.
"""
from cython cimport floating


# ------------------------------------------------------------------ the inner loops over a run
cdef inline void _zero(floating* dst, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(size):
        dst[t] = 0


cdef inline void _add(floating* dst, const floating* a, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(size):
        dst[t] += a[t]


cdef inline void _multiply_add(floating* dst, const floating* a, const floating* b, Py_ssize_t size) noexcept nogil:
    """dst += a b, element by element."""
    cdef Py_ssize_t t
    for t in range(size):
        dst[t] += a[t] * b[t]


cdef inline void _relu(floating* dst, Py_ssize_t size) noexcept nogil:
    """max(dst, 0) in place; a NaN stays, as under ``np.maximum``."""
    cdef Py_ssize_t t
    for t in range(size):
        dst[t] = 0 if dst[t] < 0 else dst[t]


cdef inline const floating* _masked(const floating* g, const floating* y, floating* buffer, Py_ssize_t size,
                                    bint relu) noexcept nogil:
    """dY's run ``g`` through the ReLU's derivative [y > 0] (into ``buffer``) when ``relu``, else ``g``."""
    cdef Py_ssize_t t
    if not relu:
        return g
    for t in range(size):
        buffer[t] = g[t] if y[t] > 0 else 0
    return buffer


cdef inline bint _outside(Py_ssize_t index, Py_ssize_t size) noexcept nogil:
    return index < 0 or index >= size


# ------------------------------------------------------------- by positions: runs of channels
def forward(const floating[:, :, :, ::1] x, const floating[:, :, ::1] kernel, const floating[::1] bias,
            floating[:, :, :, ::1] out, Py_ssize_t first, Py_ssize_t last, Py_ssize_t sh, Py_ssize_t sw,
            Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl, bint has_bias, bint relu):
    """out[first:last] from x (N, H, W, C), kernel (KH, KW, C), bias (C,): a position's channels at a time."""
    cdef Py_ssize_t h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t kh = kernel.shape[0], kw = kernel.shape[1], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t n, p, q, i, j, r, s
    cdef floating* row
    with nogil:
        for n in range(first, last):
            for p in range(oh):
                for q in range(ow):
                    row = &out[n, p, q, 0]
                    _zero(row, c)
                    for i in range(kh):
                        r = p * sh - pt + i * dh
                        if _outside(r, h):
                            continue
                        for j in range(kw):
                            s = q * sw - pl + j * dw
                            if not _outside(s, w):
                                _multiply_add(row, &x[n, r, s, 0], &kernel[i, j, 0], c)
                    if has_bias:
                        _add(row, &bias[0], c)
                    if relu:
                        _relu(row, c)


def backward(const floating[:, :, :, ::1] g, const floating[:, :, :, ::1] y, const floating[:, :, :, ::1] x,
             const floating[:, :, ::1] kernel, floating[:, :, :, ::1] dx, floating[:, :, ::1] dk,
             floating[::1] db, floating[::1] buffer, Py_ssize_t first, Py_ssize_t last, Py_ssize_t h,
             Py_ssize_t w, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt,
             Py_ssize_t pl, bint relu, bint need_x, bint need_k, bint need_b):
    """The block's gradients from dY ``g`` (N, OH, OW, C) (masked by y > 0 under ``relu``):
    dx[first:last] (N, H, W, C), and this block's sums dk (KH, KW, C) and db (C,), each zeroed
    here and made only when needed (x and dx are stand-ins otherwise: (h, w) is the input's
    spatial shape); ``buffer`` (C,) holds a masked run."""
    cdef Py_ssize_t c = g.shape[3], kh = kernel.shape[0], kw = kernel.shape[1], oh = g.shape[1], ow = g.shape[2]
    cdef Py_ssize_t n, p, q, i, j, r, s
    cdef const floating* grow
    with nogil:
        if need_k:
            _zero(&dk[0, 0, 0], dk.shape[0] * dk.shape[1] * dk.shape[2])
        if need_b:
            _zero(&db[0], db.shape[0])
        for n in range(first, last):
            if need_x:
                _zero(&dx[n, 0, 0, 0], dx.shape[1] * dx.shape[2] * dx.shape[3])
            for p in range(oh):
                for q in range(ow):
                    grow = _masked(&g[n, p, q, 0], &y[n, p, q, 0], &buffer[0], c, relu)
                    if need_b:
                        _add(&db[0], grow, c)
                    for i in range(kh):
                        r = p * sh - pt + i * dh
                        if _outside(r, h):
                            continue
                        for j in range(kw):
                            s = q * sw - pl + j * dw
                            if _outside(s, w):
                                continue
                            if need_k:
                                _multiply_add(&dk[i, j, 0], &x[n, r, s, 0], grow, c)
                            if need_x:
                                _multiply_add(&dx[n, r, s, 0], grow, &kernel[i, j, 0], c)


# --------------------------------------------------- at a width stride of 1: runs of whole rows
# x, dx (N, H, W*C), out, g, y (N, OH, OW*C), the kernel and the sums tiled along the output's
# width (KH, KW, OW*C), the bias's (OW*C,). Tap (i, j) reads the input row r from column
# q + j dw - pl: over the output's columns [q0, q1) that keep it inside, one run of (q1 - q0) C.

cdef inline bint _columns(Py_ssize_t off, Py_ssize_t ow, Py_ssize_t w, Py_ssize_t* q0, Py_ssize_t* q1) noexcept nogil:
    """The output's columns [q0, q1) whose column q + off is inside the input's width; False if none."""
    q0[0] = -off if off < 0 else 0
    q1[0] = w - off if w - off < ow else ow
    return q1[0] > q0[0]


def forward_rows(const floating[:, :, ::1] x, const floating[:, :, ::1] kt, const floating[::1] bias,
                 floating[:, :, ::1] out, Py_ssize_t first, Py_ssize_t last, Py_ssize_t c, Py_ssize_t sh,
                 Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl, bint has_bias, bint relu):
    """out[first:last] (N, OH, OW*C) from x (N, H, W*C) of C channels, the tiled kernel and bias."""
    if c <= 0:
        return
    cdef Py_ssize_t h = x.shape[1], w = x.shape[2] // c, kh = kt.shape[0], kw = kt.shape[1]
    cdef Py_ssize_t oh = out.shape[1], owc = out.shape[2], ow = owc // c
    cdef Py_ssize_t n, p, i, j, r, off, q0, q1
    cdef floating* orow
    cdef const floating* xrow
    with nogil:
        for n in range(first, last):
            for p in range(oh):
                orow = &out[n, p, 0]
                _zero(orow, owc)
                for i in range(kh):
                    r = p * sh - pt + i * dh
                    if _outside(r, h):
                        continue
                    xrow = &x[n, r, 0]
                    for j in range(kw):
                        off = j * dw - pl
                        if _columns(off, ow, w, &q0, &q1):
                            _multiply_add(orow + q0 * c, xrow + (q0 + off) * c, &kt[i, j, 0] + q0 * c,
                                          (q1 - q0) * c)
                if has_bias:
                    _add(orow, &bias[0], owc)
                if relu:
                    _relu(orow, owc)


def backward_rows(const floating[:, :, ::1] g, const floating[:, :, ::1] y, const floating[:, :, ::1] x,
                  const floating[:, :, ::1] kt, floating[:, :, ::1] dx, floating[:, :, ::1] dkt,
                  floating[::1] dbt, floating[::1] buffer, Py_ssize_t first, Py_ssize_t last, Py_ssize_t c,
                  Py_ssize_t h, Py_ssize_t w, Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt,
                  Py_ssize_t pl, bint relu, bint need_x, bint need_k, bint need_b):
    """``backward`` by rows: dx[first:last] (N, H, W*C) and this block's sums tiled along the width,
    dkt (KH, KW, OW*C) and dbt (OW*C,); ``buffer`` (OW*C,) holds a masked row."""
    if c <= 0:
        return
    cdef Py_ssize_t kh = kt.shape[0], kw = kt.shape[1], oh = g.shape[1], owc = g.shape[2], ow = owc // c
    cdef Py_ssize_t n, p, i, j, r, off, q0, q1
    cdef const floating* grow
    with nogil:
        if need_k:
            _zero(&dkt[0, 0, 0], dkt.shape[0] * dkt.shape[1] * dkt.shape[2])
        if need_b:
            _zero(&dbt[0], dbt.shape[0])
        for n in range(first, last):
            if need_x:
                _zero(&dx[n, 0, 0], dx.shape[1] * dx.shape[2])
            for p in range(oh):
                grow = _masked(&g[n, p, 0], &y[n, p, 0], &buffer[0], owc, relu)
                if need_b:
                    _add(&dbt[0], grow, owc)
                for i in range(kh):
                    r = p * sh - pt + i * dh
                    if _outside(r, h):
                        continue
                    for j in range(kw):
                        off = j * dw - pl
                        if not _columns(off, ow, w, &q0, &q1):
                            continue
                        if need_k:
                            _multiply_add(&dkt[i, j, 0] + q0 * c, &x[n, r, 0] + (q0 + off) * c, grow + q0 * c,
                                          (q1 - q0) * c)
                        if need_x:
                            _multiply_add(&dx[n, r, 0] + (q0 + off) * c, grow + q0 * c, &kt[i, j, 0] + q0 * c,
                                          (q1 - q0) * c)
