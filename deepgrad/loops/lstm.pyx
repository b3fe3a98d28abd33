"""The LSTM's per-step element-wise work and its derivative factors (``deepgrad.ops.recurrent.compiled``).

The gate blocks are rows of one array ``[c̃; i; f; o]`` (4 units, batch), feature-major, each
C-contiguous: a block's row ``u`` is row ``k * units + u``."""
from cython cimport floating


def lstm_cell(floating[:, ::1] g, floating[:, ::1] c_prev, floating[:, ::1] c, floating half):
    # on the gate block [c̃; tanh(a_i/2); tanh(a_f/2); tanh(a_o/2)], in place: σ = tanh(a/2) 1/2 + 1/2;
    # then c_t = f c_{t-1} + i c̃
    cdef Py_ssize_t units = c.shape[0], batch = c.shape[1], u, j
    cdef floating i, f
    cdef floating *cand
    cdef floating *ig
    cdef floating *fg
    cdef floating *og
    cdef floating *cp
    cdef floating *cc
    with nogil:
        for u in range(units):
            cand, ig, fg, og = &g[u, 0], &g[units + u, 0], &g[2 * units + u, 0], &g[3 * units + u, 0]
            cp, cc = &c_prev[u, 0], &c[u, 0]
            for j in range(batch):
                i = ig[j] * half + half
                f = fg[j] * half + half
                ig[j] = i
                fg[j] = f
                og[j] = og[j] * half + half
                cc[j] = f * cp[j] + i * cand[j]


def lstm_backward(floating[:, ::1] m, floating[:, ::1] dc_dh, floating[:, ::1] forget, floating[:, ::1] dh,
                  floating[:, ::1] dc, floating[:, ::1] da):
    # dc_t += dh_t dc_t/dh_t;  da_{c,i,f} = m_{c,i,f} dc_t;  da_o = m_o dh_t;  dc_{t-1} = dc_t f_t
    cdef Py_ssize_t units = dh.shape[0], batch = dh.shape[1], u, j
    cdef floating d
    with nogil:
        for u in range(units):
            for j in range(batch):
                d = dc[u, j] + dh[u, j] * dc_dh[u, j]
                da[u, j] = m[u, j] * d
                da[units + u, j] = m[units + u, j] * d
                da[2 * units + u, j] = m[2 * units + u, j] * d
                da[3 * units + u, j] = m[3 * units + u, j] * dh[u, j]
                dc[u, j] = d * forget[u, j]


def lstm_backward_in_place(floating[:, ::1] m, floating[:, ::1] dc_dh, floating[:, ::1] forget,
                           floating[:, ::1] dh, floating[:, ::1] dc):
    # as lstm_backward with da written over m: its own loop, as the compiler vectorises a loop only
    # behind a run-time check that its arrays do not overlap, which m passed as da would fail
    cdef Py_ssize_t units = dh.shape[0], batch = dh.shape[1], u, j
    cdef floating d
    with nogil:
        for u in range(units):
            for j in range(batch):
                d = dc[u, j] + dh[u, j] * dc_dh[u, j]
                m[u, j] = m[u, j] * d
                m[units + u, j] = m[units + u, j] * d
                m[2 * units + u, j] = m[2 * units + u, j] * d
                m[3 * units + u, j] = m[3 * units + u, j] * dh[u, j]
                dc[u, j] = d * forget[u, j]


def lstm_gate_factors(floating[:, :, ::1] g, floating[:, :, ::1] c_prev, floating[:, :, ::1] tanh_c,
                      floating[:, :, ::1] m, floating[:, :, ::1] d, floating one):
    # over a chunk of steps (step, row, sample): m = [(1 - c̃^2) i; (1 - σ_i) σ_i c̃;
    # (1 - σ_f) σ_f c_{t-1}; (1 - σ_o) σ_o tanh(c_t)] and d = (1 - tanh(c_t)^2) o, from the gates
    # g = [c̃; σ_i; σ_f; σ_o]
    cdef Py_ssize_t steps = d.shape[0], units = d.shape[1], batch = d.shape[2], s, u, j
    cdef floating cand, i, f, o, tc
    with nogil:
        for s in range(steps):
            for u in range(units):
                for j in range(batch):
                    cand = g[s, u, j]
                    i = g[s, units + u, j]
                    f = g[s, 2 * units + u, j]
                    o = g[s, 3 * units + u, j]
                    tc = tanh_c[s, u, j]
                    m[s, u, j] = (one - cand * cand) * i
                    m[s, units + u, j] = ((one - i) * i) * cand
                    m[s, 2 * units + u, j] = ((one - f) * f) * c_prev[s, u, j]
                    m[s, 3 * units + u, j] = ((one - o) * o) * tc
                    d[s, u, j] = (one - tc * tc) * o
