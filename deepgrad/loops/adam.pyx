"""Adam's update as one pass (``deepgrad.optimizers.compiled``)."""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


def adam(floating[::1] g, floating[::1] w, floating[::1] m, floating[::1] v, floating b1,
         floating one_minus_b1, floating b2, floating one_minus_b2, floating eps, floating alpha):
    # m_t = b1 m + (1 - b1) g;  v_t = b2 v + (1 - b2) g^2;  w_t = w - (m_t / (sqrt(v_t) + eps)) alpha
    cdef Py_ssize_t i
    cdef floating gi, mi, vi, root
    with nogil:
        for i in range(g.shape[0]):
            gi = g[i]
            mi = m[i] * b1 + gi * one_minus_b1
            vi = v[i] * b2 + (gi * gi) * one_minus_b2
            m[i] = mi
            v[i] = vi
            if floating is float:
                root = sqrtf(vi)
            else:
                root = sqrt(vi)
            w[i] = w[i] - (mi / (root + eps)) * alpha
