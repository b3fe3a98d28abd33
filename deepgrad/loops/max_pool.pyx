"""Max pooling over windows that tile the input, forward and backward (``deepgrad.ops.pool_compiled``).

Arrays are (batch, height, width, channels), C-contiguous; a window's cells are numbered
row-major, and ``argmax`` holds the number of the cell that gave each maximum, in the unsigned
integer type the caller chose for the pool's size.

The inner loops run over the channels, where the compiler vectorises them. The forward takes a
2x2 window in one pass, any other window's first two cells in one pass and each further cell in
one more. The backward multiplies g by a 1 or a 0 chosen per element, as NumPy's path multiplies
it by a boolean (g 1 is g): a choice between two constants vectorises, where one between g and
g 0 would leave a branch per element (a multiplication, which may raise a floating-point flag, is
not moved out of its branch).
"""
from cython cimport floating

ctypedef fused index_t:
    unsigned char
    unsigned short
    unsigned int


cdef inline floating maximum(floating m, floating v) noexcept nogil:
    # np.maximum(m, v): a NaN in m stays, v otherwise unless m is above it (a tie gives v)
    return v if (m == m and not m > v) else m


cdef inline void window_cell(const floating* cell, index_t index, Py_ssize_t c, floating* o,
                             index_t* a) noexcept nogil:
    # one more cell of a window into its running maximum o and index a
    cdef Py_ssize_t k
    cdef floating v, m
    for k in range(c):
        v, m = cell[k], o[k]
        a[k] = index if v > m else a[k]
        o[k] = maximum(m, v)


cdef inline void first_cells(const floating* first, const floating* second, Py_ssize_t c, floating* o,
                             index_t* a) noexcept nogil:
    # a window's first two cells (or its only one, twice) into o and a
    cdef Py_ssize_t k
    cdef floating v, m
    for k in range(c):
        m, v = first[k], second[k]
        a[k] = 1 if v > m else 0
        o[k] = maximum(m, v)


cdef inline void window_2x2(const floating* top, const floating* bottom, Py_ssize_t c, floating* o,
                            index_t* a) noexcept nogil:
    # a 2x2 window's four cells (top[0:c], top[c:2c], bottom[0:c], bottom[c:2c]) in one pass, the
    # index counted in the values' own type (a chain of choices the compiler vectorises)
    cdef Py_ssize_t k
    cdef floating m, v, index
    for k in range(c):
        m, v = top[k], top[c + k]
        index = 1 if v > m else 0
        m = maximum(m, v)
        v = bottom[k]
        index = 2 if v > m else index
        m = maximum(m, v)
        v = bottom[c + k]
        index = 3 if v > m else index
        o[k] = maximum(m, v)
        a[k] = <index_t>index


def forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, index_t[:, :, :, ::1] argmax,
            Py_ssize_t ph, Py_ssize_t pw):
    # x (N, H, W, C) with H >= Ho ph, W >= Wo pw; out, argmax (N, Ho, Wo, C): each window's maximum
    # and its cell, the first one row-major on a tie (the index moves only to a cell strictly above)
    cdef Py_ssize_t b, i, j, cell, c = out.shape[3]
    cdef const floating* second
    with nogil:
        for b in range(out.shape[0]):
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    if ph == 2 and pw == 2:
                        window_2x2(&x[b, 2 * i, 2 * j, 0], &x[b, 2 * i + 1, 2 * j, 0], c,
                                   &out[b, i, j, 0], &argmax[b, i, j, 0])
                        continue
                    if ph * pw == 1:
                        second = &x[b, i, j, 0]
                    else:
                        second = &x[b, i * ph + 1 // pw, j * pw + 1 % pw, 0]
                    first_cells(&x[b, i * ph, j * pw, 0], second, c, &out[b, i, j, 0], &argmax[b, i, j, 0])
                    for cell in range(2, ph * pw):
                        window_cell(&x[b, i * ph + cell // pw, j * pw + cell % pw, 0], <index_t>cell, c,
                                    &out[b, i, j, 0], &argmax[b, i, j, 0])


cdef Py_ssize_t cells_backward(const floating[:, :, :, ::1] g, const index_t[:, :, :, ::1] argmax,
                               const floating[:, :, :, ::1] out, floating[:, :, :, ::1] dx,
                               Py_ssize_t ph, Py_ssize_t pw, bint relu) noexcept nogil:
    # ``backward``'s writes, masked under relu; returns how many maxima are NaN (counted under relu)
    cdef Py_ssize_t b, i, j, k, di, dj, r, s, nans = 0, c = g.shape[3]
    cdef Py_ssize_t ho = g.shape[1], wo = g.shape[2], h = dx.shape[1], w = dx.shape[2]
    cdef floating zero = 0, one = 1
    cdef const floating* gr
    cdef const floating* orow
    cdef const index_t* ar
    cdef floating* d
    cdef index_t index
    for b in range(g.shape[0]):
        for i in range(ho):
            for di in range(ph):
                r = i * ph + di
                for j in range(wo):
                    gr, ar, orow = &g[b, i, j, 0], &argmax[b, i, j, 0], &out[b, i, j, 0]
                    if relu and di == 0:
                        for k in range(c):
                            nans += orow[k] != orow[k]
                    for dj in range(pw):
                        index = <index_t>(di * pw + dj)
                        d = &dx[b, r, j * pw + dj, 0]
                        if relu:  # the relu's mask first, then the window's
                            for k in range(c):
                                d[k] = gr[k] * (one if orow[k] > zero else zero)
                            for k in range(c):
                                d[k] = d[k] * (one if ar[k] == index else zero)
                        else:
                            for k in range(c):
                                d[k] = gr[k] * (one if ar[k] == index else zero)
                for s in range(wo * pw, w):
                    for k in range(c):
                        dx[b, r, s, k] = zero
        for r in range(ho * ph, h):
            for s in range(w):
                for k in range(c):
                    dx[b, r, s, k] = zero
    return nans


def backward(const floating[:, :, :, ::1] g, const index_t[:, :, :, ::1] argmax,
             const floating[:, :, :, ::1] out, floating[:, :, :, ::1] dx, Py_ssize_t ph, Py_ssize_t pw,
             bint relu, unsigned char[::1] nan_seen):
    # g, argmax, out (N, Ho, Wo, C); dx (N, H, W, C), every cell written: g where the cell held its
    # window's maximum, g 0 (a zero of g's sign) elsewhere, and 0 in what the windows leave over.
    # Under ``relu`` g is first multiplied by ``out > 0`` (1 or 0), unless some maximum of this
    # block is NaN: then nan_seen[0] = 1 and the block is made again unmasked (the convolution masks it)
    cdef Py_ssize_t nans
    with nogil:
        nans = cells_backward(g, argmax, out, dx, ph, pw, relu)
        if relu and nans:
            nan_seen[0] = 1
            cells_backward(g, argmax, out, dx, ph, pw, False)
