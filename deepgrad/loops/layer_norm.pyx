"""Layer normalisation's forward and backward, a row at a time (``deepgrad.ops.normalization_compiled``).

A row's sums are taken in ``LANES`` partial sums over its first ``n - n % LANES`` elements
(element j in lane j % LANES), the lanes added pairwise in a fixed order, then the rest of the
row added in order: the compiler keeps the lanes in vector registers without fast-math, so a row
costs a fraction of a sum in order, and the result depends neither on the machine nor on the
thread. Every other operation is NumPy's, in NumPy's order and dtype.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf

cdef enum:
    LANES = 16


cdef inline floating combined(floating* acc) noexcept nogil:
    # the lanes added pairwise: lane l + 8 into lane l, then l + 4, l + 2, l + 1
    cdef Py_ssize_t l
    for l in range(8):
        acc[l] = acc[l] + acc[l + 8]
    for l in range(4):
        acc[l] = acc[l] + acc[l + 4]
    for l in range(2):
        acc[l] = acc[l] + acc[l + 2]
    return acc[0] + acc[1]


cdef inline floating row_sum(const floating* a, Py_ssize_t n) noexcept nogil:
    # the sum of a[0:n]: in lanes, then the rest
    cdef floating acc[LANES]
    cdef floating rest = 0
    cdef Py_ssize_t j, l, block, full = n - n % LANES
    for l in range(LANES):
        acc[l] = 0
    for block in range(n // LANES):
        j = block * LANES
        for l in range(LANES):
            acc[l] = acc[l] + a[j + l]
    for j in range(full, n):
        rest = rest + a[j]
    return combined(acc) + rest


cdef inline floating row_dot(const floating* a, const floating* b, Py_ssize_t n) noexcept nogil:
    # the sum of a[j] b[j] over j < n (each product rounded before it is added): in lanes, then the rest;
    # row_sum's loop with the products inline (a shared loop taking a function would not vectorise)
    cdef floating acc[LANES]
    cdef floating rest = 0
    cdef Py_ssize_t j, l, block, full = n - n % LANES
    for l in range(LANES):
        acc[l] = 0
    for block in range(n // LANES):
        j = block * LANES
        for l in range(LANES):
            acc[l] = acc[l] + a[j + l] * b[j + l]
    for j in range(full, n):
        rest = rest + a[j] * b[j]
    return combined(acc) + rest


cdef inline floating root(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)
    else:
        return sqrt(v)


def forward(const floating[:, ::1] x, const floating[::1] gamma, const floating[::1] beta,
            floating[:, ::1] out, floating[:, ::1] xhat, floating[::1] inv_std, floating epsilon):
    # x, out, xhat: (rows, features); gamma, beta: (features,) (ones and negative zeros stand for
    # no gamma or beta: h 1 and h + -0 are h, every bit); inv_std: (rows,)
    # mean = sum(x) / F;  xhat = (x - mean) inv,  inv = 1 / sqrt(sum(xhat^2) / F + eps);  out = xhat gamma + beta
    cdef Py_ssize_t i, j, features = x.shape[1]
    cdef floating inv_f = <floating>(1.0 / features), one = 1, mean, inv, h
    cdef const floating* row
    cdef floating* c
    cdef floating* o
    with nogil:
        for i in range(x.shape[0]):
            row, c, o = &x[i, 0], &xhat[i, 0], &out[i, 0]
            mean = row_sum(row, features) * inv_f
            for j in range(features):
                c[j] = row[j] - mean
            inv = one / root(row_dot(c, c, features) * inv_f + epsilon)
            inv_std[i] = inv
            for j in range(features):
                h = c[j] * inv
                c[j] = h
                o[j] = h * gamma[j] + beta[j]


def backward(const floating[:, ::1] g, const floating[:, ::1] xhat, const floating[::1] inv_std,
             const floating[::1] gamma, floating[:, ::1] dx, double[::1] dgamma, double[::1] dbeta,
             bint want_dx):
    # g, xhat, dx: (rows, features) (dx unused unless want_dx); inv_std: (rows,); gamma: (features,)
    # (ones for no gamma); dgamma, dbeta: (features,) float64 column sums of g xhat and g, added to.
    # dxhat = g gamma (in dx until its row's sums are known);  dx = (dxhat inv - xhat m2) - m1,
    # m1 = sum(dxhat) inv / F,  m2 = sum(dxhat xhat) inv / F
    cdef Py_ssize_t i, j, features = g.shape[1]
    cdef floating inv_f = <floating>(1.0 / features), inv, scale, m1, m2, gj
    cdef const floating* grow
    cdef const floating* h
    cdef floating* d
    with nogil:
        for i in range(g.shape[0]):
            grow, h = &g[i, 0], &xhat[i, 0]
            for j in range(features):
                gj = grow[j]
                dgamma[j] += gj * h[j]
                dbeta[j] += gj
            if not want_dx:
                continue
            d = &dx[i, 0]
            for j in range(features):
                d[j] = grow[j] * gamma[j]
            inv = inv_std[i]
            scale = inv * inv_f
            m1 = row_sum(d, features) * scale
            m2 = row_dot(d, h, features) * scale
            for j in range(features):
                d[j] = (d[j] * inv - h[j] * m2) - m1
