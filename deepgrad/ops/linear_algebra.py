"""Tensor products (einsum, tensordot, inner, outer, kron, vdot, cross, cdist) and Keras's
``keras.ops.linalg``: factorisations, solves, inverses and norms, with their gradients.

Matrix functions act on the last two axes and broadcast over the leading (batch) axes.
Gradients follow the matrix-calculus identities written beside each backward; the
factorisations' ones are those PyTorch uses (valid where the factorisation is unique:
distinct eigenvalues / singular values, full rank).
"""
from __future__ import annotations

import string
from collections import Counter

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, unbroadcast
from ..autograd.higher_order import first_order_backward, recomputed_backward
from . import manipulation
from .product import _mm, matmul
from . import math as _math
from . import reduce as _reduce
from .dtypes import result_type as _keras_result_type
from .dtypes import to_array


def _result_type(*dtypes) -> str:
    # np.dtypes by name: np.dtype("float64") == "float" is True, which the string rules would misread
    return _keras_result_type(*[d.name if isinstance(d, np.dtype) else d for d in dtypes])


def _tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    a = to_array(x)
    return Tensor(a, dtype=a.dtype)


def _cast(t: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if t.dtype == dtype:
        return t
    if t.requires_grad and dtype.kind == "f":
        return manipulation.astype(t, dtype)
    return Tensor(t.data.astype(dtype), dtype=dtype)


def _mT(a):
    return np.swapaxes(a, -1, -2)


# ================================================================= products
def _einsum_terms(subscripts: str, shapes: list):
    """Explicit subscripts: ``...`` replaced by letters (right-aligned), the output spelled out."""
    s = subscripts.replace(" ", "")
    lhs, out = s.split("->") if "->" in s else (s, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands but {len(shapes)} were given")
    bad = set(s) - set(string.ascii_letters) - set(",.->")
    if bad:
        raise ValueError(f"einsum: invalid characters {sorted(bad)} in subscripts {subscripts!r}")
    free = [c for c in string.ascii_letters if c not in s]
    n_ell = max([len(sh) - (len(t) - 3) for t, sh in zip(terms, shapes) if "..." in t] or [0])
    ell = "".join(free[:n_ell])
    expanded = []
    for t, sh in zip(terms, shapes):
        if "..." in t:
            k = len(sh) - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:] if k > 0 else "")
        if len(t) != len(sh):
            raise ValueError(f"einsum: term {t!r} of {subscripts!r} does not match an operand of shape {tuple(sh)}")
        expanded.append(t)
    if out is None:
        counts = Counter("".join(expanded))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return expanded, out


# below this many multiply-adds a two-operand einsum stays in NumPy's own loops
EINSUM_GEMM_MIN = 1 << 15


def _einsum(terms: list, out: str, *arrays) -> np.ndarray:
    """``np.einsum`` of explicit ``terms -> out``; a large contraction of two floating-point
    operands as one batched GEMM (``product._mm``: BLAS, on deepgrad's threads) instead of
    NumPy's element loops (``"bqhd,bkhd->bhqk"`` at (32, 128, 4, 32): a GEMM per item)."""
    if len(arrays) == 2:
        planned = _einsum_gemm(terms, out, *arrays)
        if planned is not None:
            return planned
    return np.asarray(np.einsum(",".join(terms) + "->" + out, *arrays, optimize=len(arrays) > 2))


def _einsum_gemm(terms: list, out: str, a: np.ndarray, b: np.ndarray):
    """The contraction as transposes, one (batched) matrix product and a transpose; None where
    it does not apply (a repeated index, a size-1 broadcast, integer or half operands) or does
    not pay (small, or products with fewer than 8 summed terms or 4 rows or columns)."""
    ta, tb = terms
    if (a.dtype.kind != "f" or b.dtype.kind != "f" or a.dtype == np.float16 or b.dtype == np.float16
            or len(set(ta)) < len(ta) or len(set(tb)) < len(tb) or len(set(out)) < len(out)
            or not set(out) <= set(ta) | set(tb)):
        return None
    size = dict(zip(ta, a.shape))
    if any(size.get(c, n) != n for c, n in zip(tb, b.shape)):
        return None
    size.update(zip(tb, b.shape))
    if np.prod([size[c] for c in set(ta) | set(tb)], dtype=np.float64) < EINSUM_GEMM_MIN:
        return None
    a_sum = tuple(i for i, c in enumerate(ta) if c not in tb and c not in out)
    b_sum = tuple(i for i, c in enumerate(tb) if c not in ta and c not in out)
    if a_sum:
        a, ta = a.sum(axis=a_sum), "".join(c for i, c in enumerate(ta) if i not in a_sum)
    if b_sum:
        b, tb = b.sum(axis=b_sum), "".join(c for i, c in enumerate(tb) if i not in b_sum)
    batch = [c for c in out if c in ta and c in tb]
    left = [c for c in out if c in ta and c not in tb]
    right = [c for c in out if c in tb and c not in ta]
    inner = [c for c in ta if c in tb and c not in out]

    def n(letters):
        return int(np.prod([size[c] for c in letters], dtype=np.int64))

    if n(inner) < 8 or n(left) < 4 or n(right) < 4:   # outer products, row dots, thin products: loops win
        return None
    a3 = a.transpose([ta.index(c) for c in batch + left + inner]).reshape(n(batch), n(left), n(inner))
    b3 = b.transpose([tb.index(c) for c in batch + inner + right]).reshape(n(batch), n(inner), n(right))
    c3 = _mm(a3[0], b3[0])[None] if a3.shape[0] == 1 else _mm(a3, b3)
    order = batch + left + right
    result = c3.reshape([size[c] for c in order])
    return result.transpose([order.index(c) for c in out])


class Einsum(Function):
    def forward(self, *arrays, terms=None, out=None):
        self.save_for_backward(*arrays)
        self.terms, self.out = terms, out
        sizes = {}
        for t, a in zip(terms, arrays):
            for c, n in zip(t, a.shape):
                if sizes.get(c, 1) != 1 and n not in (1, sizes[c]):
                    raise ValueError(f"einsum: index {c!r} has sizes {sizes[c]} and {n} in {','.join(terms)}->{out}")
                sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
        self.sizes = sizes
        return _einsum(terms, out, *arrays)

    def backward(self, g):
        # out = sum over the contracted indices of prod_j A_j  =>  dA_i = einsum(g, A_{j != i}) -> indices of A_i
        arrays, grads = self.saved, []
        for i, (term, a) in enumerate(zip(self.terms, arrays)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [self.terms[j] for j in range(len(arrays)) if j != i]
            other_arrays = [arrays[j] for j in range(len(arrays)) if j != i]
            unique = "".join(dict.fromkeys(term))
            reachable = set(self.out) | set("".join(others))
            present = "".join(c for c in unique if c in reachable)
            gi = _einsum([self.out] + others, present, g, *other_arrays)
            if len(present) < len(unique):  # indices summed in A_i alone: the gradient is constant along them
                gi = gi.reshape([self.sizes[c] if c in present else 1 for c in unique])
                gi = np.broadcast_to(gi, [self.sizes[c] for c in unique])
            if len(unique) < len(term):  # a repeated index (a diagonal): put the gradient back on it
                full = np.zeros([self.sizes[c] for c in term], g.dtype)
                idx = tuple(np.arange(self.sizes[c]).reshape([-1 if k == unique.index(c) else 1
                                                               for k in range(len(unique))]) for c in term)
                full[idx] = gi
                gi = full
            gi = unbroadcast(np.asarray(gi), a.shape) if gi.shape != a.shape else gi
            grads.append(np.ascontiguousarray(gi, dtype=a.dtype).reshape(a.shape))  # 0-d stays 0-d
        return tuple(grads)

    def graph_backward(self, g):
        """``backward``'s einsums as recorded ``Einsum`` ops (multilinear: every order closes)."""
        tensors, grads = self.inputs, []
        for i, (term, a) in enumerate(zip(self.terms, tensors)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [self.terms[j] for j in range(len(tensors)) if j != i]
            other_tensors = [tensors[j] for j in range(len(tensors)) if j != i]
            unique = "".join(dict.fromkeys(term))
            reachable = set(self.out) | set("".join(others))
            present = "".join(c for c in unique if c in reachable)
            gi = Einsum.apply(g, *other_tensors, terms=[self.out] + others, out=present)
            if len(present) < len(unique):
                gi = gi.reshape(tuple(self.sizes[c] if c in present else 1 for c in unique))
                gi = gi.broadcast_to(tuple(self.sizes[c] for c in unique))
            if len(unique) < len(term):  # a diagonal: scattered back by the adjoint of indexing
                idx = tuple(np.arange(self.sizes[c]).reshape([-1 if k == unique.index(c) else 1
                                                              for k in range(len(unique))]) for c in term)
                gi = manipulation.IndexAdd.apply(gi, index=idx, shape=tuple(self.sizes[c] for c in term))
            grads.append(unbroadcast(gi, a.shape) if gi.shape != a.shape else gi)
        return tuple(grads)


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation, as ``np.einsum`` (``...`` broadcasting, implicit output)."""
    ts = [_tensor(o) for o in operands]
    dtype = _result_type(*[t.dtype for t in ts])
    if all(t.dtype == np.int8 for t in ts):
        dtype = "int32"  # as Keras: int8 operands are summed in int32
    ts = [_cast(t, dtype) for t in ts]
    terms, out = _einsum_terms(subscripts, [t.shape for t in ts])
    return Einsum.apply(*ts, terms=terms, out=out)


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last ``axes`` of x1 with the first of x2;
    or a pair of axis lists)."""
    a, b = _tensor(x1), _tensor(x2)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {ax_a} and {ax_b} must have the same length")
    try:
        ax_a, ax_b = [x % a.ndim for x in ax_a], [x % b.ndim for x in ax_b]
    except ZeroDivisionError:
        raise ValueError(f"tensordot: axes {axes} out of range for scalar operands") from None
    if any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shapes {a.shape} and {b.shape} do not match on axes {ax_a} and {ax_b}")
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(ax_a, ax_b):
        tb[j] = ta[i]
    out = [c for k, c in enumerate(ta) if k not in ax_a] + [c for k, c in enumerate(tb) if k not in ax_b]
    return _product("".join(ta) + "," + "".join(tb) + "->" + "".join(out), a, b)


def _product(subscripts, a, b):
    dtype = _result_type(a.dtype, b.dtype)
    a, b = _cast(a, dtype), _cast(b, dtype)
    terms, out = _einsum_terms(subscripts, [a.shape, b.shape])
    return Einsum.apply(a, b, terms=terms, out=out)


def dot(x1, x2):
    """NumPy's ``dot``: a matrix product for 1-D and 2-D operands; for N-D ones the sum of
    products over the last axis of ``x1`` and the second-to-last of ``x2``; a scalar multiplies."""
    a, b = _tensor(x1), _tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _math.multiply(*[_cast(t, _result_type(a.dtype, b.dtype)) for t in (a, b)])
    if b.ndim <= 2 and a.ndim <= 2 or b.ndim == 1:
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(f"dot: shapes {a.shape} and {b.shape} are not aligned")
        return matmul(*[_cast(t, _result_type(a.dtype, b.dtype)) for t in (a, b)])
    return tensordot(a, b, ([-1], [-2]))


def inner(x1, x2):
    """Sum of products over the last axes (a scalar operand multiplies)."""
    a, b = _tensor(x1), _tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _math.multiply(*[_cast(t, _result_type(a.dtype, b.dtype)) for t in (a, b)])
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: last axes of shapes {a.shape} and {b.shape} differ")
    return tensordot(a, b, ([-1], [-1]))


def outer(x1, x2):
    """``x1.ravel()[:, None] * x2.ravel()[None, :]``."""
    a, b = _tensor(x1), _tensor(x2)
    return _product("i,j->ij", manipulation.reshape(a, (a.size,)), manipulation.reshape(b, (b.size,)))


def kron(x1, x2):
    """Kronecker product: block ``(i, j)`` of the result is ``x1[i, j] * x2``."""
    a, b = _tensor(x1), _tensor(x2)
    n = max(a.ndim, b.ndim)
    a = manipulation.reshape(a, (1,) * (n - a.ndim) + a.shape)
    b = manipulation.reshape(b, (1,) * (n - b.ndim) + b.shape)
    la, lb = string.ascii_letters[:n], string.ascii_letters[n:2 * n]
    prod = _product(f"{la},{lb}->" + "".join(p + q for p, q in zip(la, lb)), a, b)
    return manipulation.reshape(prod, tuple(p * q for p, q in zip(a.shape, b.shape)))


def vdot(x1, x2):
    """Dot product of the flattened operands (real data: no conjugation needed)."""
    a, b = _tensor(x1), _tensor(x2)
    if a.size != b.size:
        raise ValueError(f"vdot: operands of shapes {a.shape} and {b.shape} have different sizes")
    return _product("i,i->", manipulation.reshape(a, (a.size,)), manipulation.reshape(b, (b.size,)))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (2-vectors get a zero third component), as ``np.cross``:
    ``c = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _tensor(x1), _tensor(x2)
    dtype = _result_type(a.dtype, b.dtype)
    a, b = _cast(a, dtype), _cast(b, dtype)

    def components(t, ax, name):
        if t.ndim == 0 or t.shape[ax] not in (2, 3):
            raise ValueError(f"cross: {name} needs 2 or 3 components on axis {ax}, got shape {t.shape}")
        t = manipulation.transpose(t, [i for i in range(t.ndim) if i != ax % t.ndim] + [ax % t.ndim])
        parts = [manipulation.getitem(t, (Ellipsis, k)) for k in range(t.shape[-1])]
        return parts

    pa, pb = components(a, axisa, "x1"), components(b, axisb, "x2")
    if len(pa) == 2 and len(pb) == 2:
        return _math.subtract(_math.multiply(pa[0], pb[1]), _math.multiply(pa[1], pb[0]))
    zero = Tensor(np.zeros((), dtype), dtype=dtype)
    pa, pb = pa + [zero] * (3 - len(pa)), pb + [zero] * (3 - len(pb))
    c = [_math.subtract(_math.multiply(pa[(k + 1) % 3], pb[(k + 2) % 3]),
                        _math.multiply(pa[(k + 2) % 3], pb[(k + 1) % 3])) for k in range(3)]
    c = manipulation.stack(c, axis=-1)
    perm = list(range(c.ndim - 1))
    perm.insert(axisc % c.ndim, c.ndim - 1)  # the components to axisc
    return manipulation.transpose(c, perm)


class Cdist(Function):
    def forward(self, x, y):
        diff = x[..., :, None, :] - y[..., None, :, :]
        d = np.sqrt(np.einsum("...k,...k->...", diff, diff))
        self.save_for_backward(x, y, d)
        return d

    def backward(self, g):
        # d_pr = |x_p - y_r|  =>  dx_p = sum_r g_pr (x_p - y_r) / d_pr,  dy_r = -sum_p g_pr (x_p - y_r) / d_pr
        # (0 where d_pr = 0, the subgradient PyTorch takes)
        x, y, d = self.saved
        w = np.divide(g, d, out=np.zeros_like(d), where=d != 0)
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = unbroadcast(w.sum(-1)[..., None] * x - w @ y, x.shape)
        if self.needs_input_grad[1]:
            gy = unbroadcast(_mT(w).sum(-1)[..., None] * y - _mT(w) @ x, y.shape)
        return gx, gy

    def graph_backward(self, g):
        def distances(x, y):  # |x_p - y_r|, with the zero distances' subgradient 0 at every order
            diff = x.expand_dims(-2) - y.expand_dims(-3)
            d2 = (diff * diff).sum(axis=-1)
            zero = d2.data == 0
            return _math.where(zero, 0.0, _math.sqrt(_math.where(zero, 1.0, d2)))

        return recomputed_backward(self, g, distances)


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., P, M) and ``y`` (..., R, M): (..., P, R)."""
    a, b = _tensor(x), _tensor(y)
    dtype = _result_type(a.dtype, b.dtype, float)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"cdist: x and y need shapes (..., P, M) and (..., R, M), got {a.shape} and {b.shape}")
    return Cdist.apply(_cast(a, dtype), _cast(b, dtype))


# ================================================================= keras.ops.linalg
def _matrix(x, op: str, square: bool = True) -> Tensor:
    """``x`` as a float Tensor of at least 2 axes (integers become floatx), square if asked."""
    t = _tensor(x)
    if t.dtype.kind in "iub":
        t = _cast(t, backend.floatx())
    if t.dtype.kind == "c":
        raise TypeError(f"{op}: complex matrices are not supported")
    if t.ndim < 2:
        raise ValueError(f"{op}: expected a matrix (at least 2 axes), got shape {t.shape}")
    if square and t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{op}: expected square matrices, got shape {t.shape}")
    return t


def _work(a):
    """float16 is factorised in float32 (LAPACK has no half precision)."""
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _linalg_error(op: str):
    return ValueError(f"{op}: the matrix is singular or not positive definite")


class Inv(Function):
    def forward(self, a):
        try:
            inv = np.linalg.inv(_work(a)).astype(a.dtype)
        except np.linalg.LinAlgError:
            raise _linalg_error("inv") from None
        self.save_for_backward(inv)
        return inv

    def backward(self, g):
        # B = A^{-1}  =>  dA = -B^T g B^T
        (inv,) = self.saved
        return -_mT(inv) @ g @ _mT(inv)

    def graph_backward(self, g):
        inv_t = Inv.apply(self.inputs[0]).swapaxes(-1, -2)
        return -(inv_t @ g @ inv_t)


def inv(x):
    """The inverse of each square matrix."""
    return Inv.apply(_matrix(x, "inv"))


class Det(Function):
    def forward(self, a):
        det = np.asarray(np.linalg.det(_work(a))).astype(a.dtype)
        self.save_for_backward(a, det)
        return det

    def backward(self, g):
        # d det(A) / dA = det(A) A^{-T}; for a singular A the adjugate, from the SVD:
        # adj(A)^T = det(U) det(V) U diag(prod_{j != i} s_j) V^T
        a, det = self.saved
        u, s, vt = np.linalg.svd(_work(a))
        n = s.shape[-1]
        others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
        sign = np.linalg.det(u) * np.linalg.det(vt)
        cof = (u * (others * sign[..., None])[..., None, :]) @ vt
        return (g[..., None, None] * cof).astype(a.dtype)

    def graph_backward(self, g):
        a = self.inputs[0]
        if np.any(self.saved[1] == 0):  # the adjugate of a singular matrix: first order only
            return first_order_backward(self, g)
        # d det(A) = det(A) A^{-T}, both recorded
        return g.expand_dims(-1).expand_dims(-1) * Det.apply(a).expand_dims(-1).expand_dims(-1) * \
            Inv.apply(a).swapaxes(-1, -2)


def det(x):
    """The determinant of each square matrix (differentiable, also where it is singular)."""
    return Det.apply(_matrix(x, "det"))


class LogAbsDet(Function):
    def forward(self, a):
        sign, logabs = np.linalg.slogdet(_work(a))
        self.save_for_backward(a)
        return np.asarray(logabs).astype(a.dtype)

    def backward(self, g):
        # d log|det A| / dA = A^{-T}
        (a,) = self.saved
        return (g[..., None, None] * np.swapaxes(np.linalg.inv(_work(a)), -1, -2)).astype(a.dtype)

    def graph_backward(self, g):
        return inverse_transpose_times(g, self.inputs[0])


def slogdet(x):
    """``(sign, log|det x|)`` of each square matrix; the log is differentiable, the sign is not."""
    t = _matrix(x, "slogdet")
    sign = np.sign(np.linalg.det(_work(t.data))).astype(t.dtype)
    return Tensor(sign, dtype=sign.dtype), LogAbsDet.apply(t)


def inverse_transpose_times(g, a):
    """g A^{-T} per matrix (g one number per matrix), recorded: the gradient of log|det A|."""
    return g.expand_dims(-1).expand_dims(-1) * Inv.apply(a).swapaxes(-1, -2)


def _phi(x):
    """The lower triangle with the diagonal halved."""
    out = np.tril(x)
    idx = np.arange(x.shape[-1])
    out[..., idx, idx] *= 0.5
    return out


def _tri_solve(a, b):
    """``a^{-1} b`` for triangular ``a`` (a general solve: exact on the triangle it is given)."""
    return np.linalg.solve(a, b)


class Cholesky(Function):
    def forward(self, a, upper=False):
        try:
            l = np.linalg.cholesky(_work(a)).astype(a.dtype)
        except np.linalg.LinAlgError:
            raise _linalg_error("cholesky") from None
        self.upper = upper
        self.save_for_backward(l)
        return _mT(l).copy() if upper else l

    def backward(self, g):
        # A = L L^T  =>  dA = sym(L^{-T} Phi(L^T dL) L^{-1}), sym(X) = (X + X^T) / 2
        (l,) = self.saved
        gl = _mT(g) if self.upper else g
        p = _phi(_mT(l) @ gl)
        linv = np.linalg.inv(l)
        s = _mT(linv) @ p @ linv
        return 0.5 * (s + _mT(s))

    def graph_backward(self, g):
        l = Cholesky.apply(self.inputs[0])
        gl = g.swapaxes(-1, -2) if self.upper else g
        n = l.shape[-1]
        phi = np.tril(np.ones((n, n), l.dtype)) - 0.5 * np.eye(n, dtype=l.dtype)  # Phi as a mask
        linv = Inv.apply(l)
        s = linv.swapaxes(-1, -2) @ ((l.swapaxes(-1, -2) @ gl) * phi) @ linv
        return 0.5 * (s + s.swapaxes(-1, -2))


def cholesky(x, upper=False):
    """The Cholesky factor ``L`` (``A = L L^T``), or ``U = L^T`` with ``upper=True``."""
    return Cholesky.apply(_matrix(x, "cholesky"), upper=bool(upper))


def cholesky_inverse(x, upper=False):
    """``A^{-1}`` from the Cholesky factor of ``A`` (``L``, or ``U`` with ``upper=True``)."""
    f = _matrix(x, "cholesky_inverse")
    ft = manipulation.swapaxes(f, -1, -2)
    a = _matmul(ft, f) if upper else _matmul(f, ft)
    return inv(a)


_matmul = matmul

class Solve(Function):
    def forward(self, a, b, vector=False):
        self.vector = vector
        bb = b[..., None] if vector else b
        try:
            x = np.linalg.solve(_work(a), _work(bb)).astype(_result_type(a.dtype, b.dtype))
        except np.linalg.LinAlgError:
            raise _linalg_error("solve") from None
        except ValueError:
            raise ValueError(f"solve: shapes {a.shape} and {b.shape} do not fit") from None
        self.save_for_backward(a, x)
        return x[..., 0] if vector else x

    def backward(self, g):
        # X = A^{-1} B  =>  dB = A^{-T} g,  dA = -dB X^T
        a, x = self.saved
        g = g[..., None] if self.vector else g
        gb = np.linalg.solve(_mT(a), g)
        ga = unbroadcast(-gb @ _mT(x), a.shape) if self.needs_input_grad[0] else None
        if self.needs_input_grad[1]:
            gb = unbroadcast(gb[..., 0] if self.vector else gb, self.inputs[1].shape)
        else:
            gb = None
        return ga, gb

    def graph_backward(self, g):
        a, b = self.inputs
        x = Solve.apply(a, b, vector=self.vector)
        if self.vector:
            g, x = g.expand_dims(-1), x.expand_dims(-1)
        gb = Solve.apply(a.swapaxes(-1, -2), g)
        ga = unbroadcast(-(gb @ x.swapaxes(-1, -2)), a.shape) if self.needs_input_grad[0] else None
        if self.needs_input_grad[1]:
            gb = unbroadcast(gb.squeeze(-1) if self.vector else gb, b.shape)
        else:
            gb = None
        return ga, gb


def solve(a, b):
    """``x`` with ``a @ x = b``; ``b`` is a vector when it has one axis fewer than ``a``."""
    ta, tb = _matrix(a, "solve"), _tensor(b)
    dtype = _result_type(ta.dtype, tb.dtype)
    ta, tb = _cast(ta, dtype), _cast(tb, dtype)
    # as torch.linalg.solve: b is a (batch of) vector(s) when 1-D or shaped as a's leading axes
    vector = tb.ndim == 1 or (tb.ndim == ta.ndim - 1 and tb.shape == ta.shape[:-1])
    if tb.ndim < 1 or (tb.shape[-1] if vector else tb.shape[-2]) != ta.shape[-1]:
        raise ValueError(f"solve: a of shape {ta.shape} and b of shape {tb.shape} do not fit")
    return Solve.apply(ta, tb, vector=vector)


class SolveTriangular(Function):
    def forward(self, a, b, lower=False, vector=False):
        self.lower, self.vector = lower, vector
        t = np.tril(a) if lower else np.triu(a)
        bb = b[..., None] if vector else b
        try:
            x = _tri_solve(_work(t), _work(bb)).astype(_result_type(a.dtype, b.dtype))
        except np.linalg.LinAlgError:
            raise _linalg_error("solve_triangular") from None
        self.save_for_backward(t, x)
        return x[..., 0] if vector else x

    def backward(self, g):
        # X = T^{-1} B with T the triangle of A  =>  dB = T^{-T} g,  dA = triangle of (-dB X^T)
        t, x = self.saved
        g = g[..., None] if self.vector else g
        gb = _tri_solve(_mT(t), g)
        ga = None
        if self.needs_input_grad[0]:
            ga = -gb @ _mT(x)
            ga = unbroadcast(np.tril(ga) if self.lower else np.triu(ga), self.inputs[0].shape)
        gb = unbroadcast(gb[..., 0] if self.vector else gb, self.inputs[1].shape) if self.needs_input_grad[1] else None
        return ga, gb

    def graph_backward(self, g):
        a, b = self.inputs
        x = SolveTriangular.apply(a, b, lower=self.lower, vector=self.vector)
        if self.vector:
            g, x = g.expand_dims(-1), x.expand_dims(-1)
        # the transposed triangle of A is the other triangle of A^T
        gb = SolveTriangular.apply(a.swapaxes(-1, -2), g, lower=not self.lower)
        ga = None
        if self.needs_input_grad[0]:
            n = a.shape[-1]
            half = np.tril(np.ones((n, n), a.dtype)) if self.lower else np.triu(np.ones((n, n), a.dtype))
            ga = unbroadcast(-(gb @ x.swapaxes(-1, -2)) * half, a.shape)
        gb = unbroadcast(gb.squeeze(-1) if self.vector else gb, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def solve_triangular(a, b, lower=False):
    """``x`` with ``T @ x = b``, ``T`` the lower (``lower=True``) or upper triangle of ``a``."""
    ta, tb = _matrix(a, "solve_triangular"), _tensor(b)
    dtype = _result_type(ta.dtype, tb.dtype)
    ta, tb = _cast(ta, dtype), _cast(tb, dtype)
    vector = tb.ndim == ta.ndim - 1
    if tb.ndim < 1 or (tb.shape[-1] if vector else tb.shape[-2]) != ta.shape[-1]:
        raise ValueError(f"solve_triangular: a of shape {ta.shape} and b of shape {tb.shape} do not fit")
    return SolveTriangular.apply(ta, tb, lower=bool(lower), vector=vector)


class Eigh(Function):
    def forward(self, a):
        w, v = np.linalg.eigh(_work(a))
        w, v = w.astype(a.dtype), v.astype(a.dtype)
        self.save_for_backward(w, v)
        return w, v

    def backward(self, grads):
        # A = V diag(w) V^T  =>  dA = V (diag(dw) + skew(V^T dV) / 2 / E) V^T,  E_ij = w_j - w_i
        gw, gv = self.filled(grads)
        w, v = self.saved
        vgv = _mT(v) @ gv
        vgv = 0.5 * (vgv - _mT(vgv))
        e = w[..., None, :] - w[..., :, None]
        idx = np.arange(w.shape[-1])
        e[..., idx, idx] = 1.0
        inner = vgv / e
        inner[..., idx, idx] = gw
        return v @ inner @ _mT(v)

    def graph_backward(self, grads):
        gw, gv = grads
        w, v = Eigh.apply(self.inputs[0])
        n = w.shape[-1]
        eye = np.eye(n, dtype=bool)
        vgv = v.swapaxes(-1, -2) @ gv
        vgv = 0.5 * (vgv - vgv.swapaxes(-1, -2))
        gaps = _math.where(eye, 1.0, w.expand_dims(-2) - w.expand_dims(-1))  # E_ij = w_j - w_i, 1 on the diagonal
        inner = _math.where(eye, gw.expand_dims(-2), vgv / gaps)
        return v @ inner @ v.swapaxes(-1, -2)


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (uses the lower triangle)."""
    return Eigh.apply(_matrix(x, "eigh"))


def eig(x):
    """Eigenvalues and eigenvectors of general square matrices, complex (no gradient)."""
    a = to_array(_matrix(x, "eig"))
    w, v = np.linalg.eig(_work(a))
    ctype = np.complex128 if a.dtype == np.float64 else np.complex64
    return Tensor(w.astype(ctype), dtype=ctype), Tensor(v.astype(ctype), dtype=ctype)


class SVD(Function):
    def forward(self, a, full_matrices=True, compute_uv=True):
        self.compute_uv = compute_uv
        m, n = a.shape[-2:]
        k = min(m, n)
        u, s, vt = np.linalg.svd(_work(a), full_matrices=full_matrices)
        u, s, vt = u.astype(a.dtype), s.astype(a.dtype), vt.astype(a.dtype)
        self.save_for_backward(u[..., :, :k], s, vt[..., :k, :])
        self.full = (u.shape[-1], vt.shape[-2])
        return (u, s, vt) if compute_uv else s

    def backward(self, grads):
        # PyTorch's svd_backward (real case), for the reduced factors U (m, k), S, V^T (k, n):
        # dA = U [ (skew(U^T dU) S + S skew(V^T dV)) / E + diag(dS) ] V^T
        #      + (I - U U^T) dU S^{-1} V^T + U S^{-1} dV^T (I - V V^T),  E_ij = s_j^2 - s_i^2
        u, s, vt = self.saved
        if not self.compute_uv:
            return (u * grads[..., None, :]) @ vt
        gu, gs, gvt = self.filled(grads)
        k = s.shape[-1]
        gu, gvt = gu[..., :, :k], gvt[..., :k, :]  # the extra columns of full matrices do not depend on A here
        gv, v = _mT(gvt), _mT(vt)
        utgu = _mT(u) @ gu
        vtgv = vt @ gv
        skew_u, skew_v = utgu - _mT(utgu), vtgv - _mT(vtgv)
        s2 = s * s
        e = s2[..., None, :] - s2[..., :, None]
        idx = np.arange(k)
        e[..., idx, idx] = 1.0
        inner = (skew_u * s[..., None, :] + s[..., :, None] * skew_v) / e
        inner[..., idx, idx] += gs
        ga = u @ inner @ vt
        m, n = u.shape[-2], vt.shape[-1]
        if m > k:
            gus = gu / s[..., None, :]
            ga = ga + (gus - u @ (_mT(u) @ gus)) @ vt
        if n > k:
            gvs = gv / s[..., None, :]
            ga = ga + u @ _mT(gvs - v @ (vt @ gvs))
        return ga

    def graph_backward(self, grads):
        """``backward``'s formula on the reduced factors, recomputed as a recorded SVD."""
        u, s, vt = SVD.apply(self.inputs[0], full_matrices=False, compute_uv=True)
        if not self.compute_uv:
            return (u * grads.expand_dims(-2)) @ vt
        gu, gs, gvt = grads
        k = s.shape[-1]
        gu, gvt = gu[..., :, :k], gvt[..., :k, :]
        gv, v = gvt.swapaxes(-1, -2), vt.swapaxes(-1, -2)
        utgu, vtgv = u.swapaxes(-1, -2) @ gu, vt @ gv
        skew_u, skew_v = utgu - utgu.swapaxes(-1, -2), vtgv - vtgv.swapaxes(-1, -2)
        s2 = s * s
        eye = np.eye(k, dtype=bool)
        gaps = _math.where(eye, 1.0, s2.expand_dims(-2) - s2.expand_dims(-1))
        inner = (skew_u * s.expand_dims(-2) + s.expand_dims(-1) * skew_v) / gaps * (~eye) + gs.expand_dims(-2) * eye
        ga = u @ inner @ vt
        m, n = u.shape[-2], vt.shape[-1]
        if m > k:
            gus = gu / s.expand_dims(-2)
            ga = ga + (gus - u @ (u.swapaxes(-1, -2) @ gus)) @ vt
        if n > k:
            gvs = gv / s.expand_dims(-2)
            ga = ga + u @ (gvs - v @ (vt @ gvs)).swapaxes(-1, -2)
        return ga


def svd(x, full_matrices=True, compute_uv=True):
    """``(u, s, vh)`` with ``x = u diag(s) vh`` (or ``s`` alone with ``compute_uv=False``).

    Gradients reach ``x`` through ``s`` always, and through ``u`` and ``vh`` where the
    singular values are distinct and nonzero.
    """
    return SVD.apply(_matrix(x, "svd", square=False), full_matrices=bool(full_matrices),
                     compute_uv=bool(compute_uv))


class QR(Function):
    def forward(self, a, mode="reduced"):
        self.mode = mode
        q, r = np.linalg.qr(_work(a), mode=mode)
        q, r = q.astype(a.dtype), r.astype(a.dtype)
        self.save_for_backward(q, r)
        return q, r

    def backward(self, grads):
        # m >= n, reduced:  M = R dR^T - dQ^T Q,  dA = (dQ + Q copyltu(M)) R^{-T},
        # copyltu(M) = tril(M) + tril(M, -1)^T
        gq, gr = self.filled(grads)
        q, r = self.saved
        m, n = q.shape[-2], r.shape[-1]
        if m < n or q.shape[-1] != n:
            raise NotImplementedError("qr: the gradient is implemented for mode='reduced' with rows >= columns")
        mm = r @ _mT(gr) - _mT(gq) @ q
        c = np.tril(mm) + _mT(np.tril(mm, -1))
        b = gq + q @ c
        return _mT(np.linalg.solve(r, _mT(b)))

    def graph_backward(self, grads):
        gq, gr = grads
        q, r = QR.apply(self.inputs[0], mode=self.mode)
        m, n = q.shape[-2], r.shape[-1]
        if m < n or q.shape[-1] != n:
            raise NotImplementedError("qr: the gradient is implemented for mode='reduced' with rows >= columns")
        mm = r @ gr.swapaxes(-1, -2) - gq.swapaxes(-1, -2) @ q
        lower = np.tril(np.ones((n, n), q.dtype))
        strictly = np.tril(np.ones((n, n), q.dtype), -1)
        c = mm * lower + (mm * strictly).swapaxes(-1, -2)  # copyltu(M)
        b = gq + q @ c
        return Solve.apply(r, b.swapaxes(-1, -2)).swapaxes(-1, -2)


def qr(x, mode="reduced"):
    """``(q, r)`` with ``x = q r``; ``mode`` "reduced" or "complete" (differentiable for
    "reduced" with at least as many rows as columns)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}")
    return QR.apply(_matrix(x, "qr", square=False), mode=mode)


class Pinv(Function):
    def forward(self, a, rcond=None):
        p = (np.linalg.pinv(_work(a)) if rcond is None else np.linalg.pinv(_work(a), rcond=rcond)).astype(a.dtype)
        self.rcond = rcond
        self.save_for_backward(a, p)
        return p

    def backward(self, g):
        # Golub & Pereyra, for A of constant rank:
        # dA = -P^T g P^T + (I - A P)^T g^T P P^T ... written with P = A^+:
        # dA = -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)
        a, p = self.saved
        m, n = a.shape[-2:]
        pt = _mT(p)
        ga = -pt @ g @ pt
        ga = ga + (np.eye(m) - a @ p) @ _mT(g) @ p @ pt
        ga = ga + pt @ p @ _mT(g) @ (np.eye(n) - p @ a)
        return ga

    def graph_backward(self, g):
        a = self.inputs[0]
        p = Pinv.apply(a, rcond=self.rcond)
        m, n = a.shape[-2:]
        pt, gt = p.swapaxes(-1, -2), g.swapaxes(-1, -2)
        ga = -(pt @ g @ pt)
        ga = ga + (np.eye(m, dtype=a.dtype) - a @ p) @ gt @ p @ pt
        return ga + pt @ p @ gt @ (np.eye(n, dtype=a.dtype) - p @ a)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse (singular values below ``rcond`` times the largest are
    dropped; NumPy's default 1e-15 when None)."""
    return Pinv.apply(_matrix(x, "pinv", square=False), rcond=rcond)


def lstsq(a, b, rcond=None):
    """The least-squares solution ``x`` of ``a @ x = b`` for a 2-D ``a`` (no gradient)."""
    ta, tb = to_array(_matrix(a, "lstsq", square=False)), to_array(b)
    if ta.ndim != 2 or tb.ndim not in (1, 2) or tb.shape[0] != ta.shape[0]:
        raise ValueError(f"lstsq: a must be (M, N) and b (M,) or (M, K), got {ta.shape} and {np.shape(tb)}")
    dtype = _result_type(ta.dtype, tb.dtype)
    x = np.linalg.lstsq(_work(ta), _work(tb.astype(dtype)), rcond=rcond)[0].astype(dtype)
    return Tensor(x, dtype=x.dtype)


def lu_factor(x):
    """``(lu, pivots)``: ``L`` (unit diagonal, below) and ``U`` packed in one matrix, and the
    row swaps as 0-based int32 indices (row k was swapped with row pivots[k]), ``P A = L U``. Partial pivoting, one
    elimination step per column over the whole batch (no gradient)."""
    a = to_array(_matrix(x, "lu_factor", square=False))
    lu = _work(a).copy()
    m, n = lu.shape[-2:]
    batch = lu.shape[:-2]
    pivots = np.zeros(batch + (min(m, n),), np.int32)
    flat = lu.reshape((-1, m, n))
    rows = np.arange(flat.shape[0])
    for k in range(min(m, n)):
        p = k + np.argmax(np.abs(flat[:, k:, k]), axis=1)
        pivots.reshape(-1, min(m, n))[:, k] = p
        top, piv = flat[rows, k].copy(), flat[rows, p].copy()
        flat[rows, k], flat[rows, p] = piv, top
        d = flat[:, k, k]
        safe = np.where(d == 0, 1, d)
        flat[:, k + 1:, k] = np.where(d[:, None] == 0, 0, flat[:, k + 1:, k] / safe[:, None])
        flat[:, k + 1:, k + 1:] -= flat[:, k + 1:, k:k + 1] * flat[:, k:k + 1, k + 1:]
    lu = flat.reshape(lu.shape).astype(a.dtype)
    return Tensor(lu, dtype=lu.dtype), Tensor(pivots, dtype=pivots.dtype)


def matrix_rank(x, tol=None):
    """The number of singular values above ``tol`` (default: max(M, N) * eps * largest), int32."""
    a = to_array(_matrix(x, "matrix_rank", square=False))
    s = np.linalg.svd(_work(a), compute_uv=False)
    if tol is None:
        tol = s.max(axis=-1, keepdims=True) * max(a.shape[-2:]) * np.finfo(_work(a).dtype).eps
    else:
        tol = np.asarray(to_array(tol))[..., None]
    r = np.sum(s > tol, axis=-1).astype(np.int32)
    return Tensor(r, dtype=r.dtype)


class Norm2(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        n = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        self.save_for_backward(x, n)
        return n if keepdims else np.squeeze(n, axis=axis)

    def backward(self, g):
        # |x| = sqrt(sum x^2)  =>  dx = g x / |x|   (0 where |x| = 0, as PyTorch)
        x, n = self.saved
        if not self.keepdims:
            g = np.expand_dims(g, self.axis)
        return g * np.divide(x, n, out=np.zeros_like(x), where=n != 0)

    def graph_backward(self, g):
        x = self.inputs[0]
        n = Norm2.apply(x, axis=self.axis, keepdims=True)
        if not self.keepdims:
            g = g.reshape(n.shape)
        zero = n.data == 0
        return g * _math.where(zero, 0.0, x / _math.where(zero, 1.0, n))


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``np.linalg.norm``: vectors take ``ord`` in inf, -inf, 0 or
    any p; matrices (two axes) "fro", "nuc", inf, -inf, 1, -1, 2, -2. Differentiable except
    ord=0 (a count)."""
    t = _tensor(x)
    if t.dtype.kind in "iub":
        t = _cast(t, backend.floatx())
    if axis is None:
        axes = tuple(range(t.ndim))
        if ord is not None and t.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D input or an axis, got shape {t.shape}")
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    try:
        axes = tuple(int(a) % t.ndim for a in axes) if t.ndim else ()
    except ZeroDivisionError:
        axes = ()
    if len(set(axes)) != len(axes) or any(a >= max(t.ndim, 1) for a in axes):
        raise ValueError(f"norm: invalid axis {axis} for shape {t.shape}")
    if ord is None or (len(axes) == 2 and ord == "fro") or (len(axes) == 1 and ord == 2):
        return Norm2.apply(t, axis=axes if axes else None, keepdims=bool(keepdims))
    a = _math.abs(t)
    if len(axes) == 1:
        ax = axes[0]
        if ord in ("fro", "nuc"):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm; it needs two axes")
        if ord == np.inf:
            return _reduce.max(a, axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return _reduce.min(a, axis=ax, keepdims=keepdims)
        if ord == 0:
            c = np.sum(t.data != 0, axis=ax, keepdims=keepdims).astype(t.dtype)
            return Tensor(c, dtype=c.dtype)
        if ord == 1:
            return _reduce.sum(a, axis=ax, keepdims=keepdims)
        p = float(ord)
        return _math.power(_reduce.sum(_math.power(a, p), axis=ax, keepdims=keepdims), 1.0 / p)
    if len(axes) != 2:
        raise ValueError(f"norm: ord={ord!r} needs one or two axes, got axis={axis}")
    r, c = axes
    if ord in (1, -1, np.inf, -np.inf):
        inner_ax, outer_ax = (r, c) if ord in (1, -1) else (c, r)  # column sums for 1, row sums for inf
        sums = _reduce.sum(a, axis=inner_ax, keepdims=True)
        pick = _reduce.max if ord in (1, np.inf) else _reduce.min
        out = pick(sums, axis=outer_ax, keepdims=True)
    elif ord in (2, -2, "nuc"):
        rest = [i for i in range(t.ndim) if i not in axes]
        m = manipulation.transpose(t, rest + [r, c])
        s = svd(m, compute_uv=False)
        out = {2: _reduce.max, -2: _reduce.min, "nuc": _reduce.sum}[ord](s, axis=-1)
        for ax in sorted(axes):
            out = manipulation.expand_dims(out, ax)
    else:
        raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm")
    return out if keepdims else manipulation.squeeze(out, axis=axes)


def jvp(fun, primals, tangents, has_aux=False):
    """``(fun(*primals), J @ tangents)``, the Jacobian-vector product.

    deepgrad differentiates in reverse mode only, so row i of J t is <d out_i / d primals,
    tangents>: one vector-Jacobian product per output element, over one recorded graph.
    Exact, and fine for the small functions ``jvp`` serves; the cost grows with the output size.
    """
    from ..autograd import grad as _grad

    primals = [_tensor(p) for p in primals]
    tangents = [to_array(t) for t in tangents]
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    inputs = [Tensor(p.data, requires_grad=True, dtype=p.dtype) for p in primals]
    result = fun(*inputs)
    out, aux = (result if has_aux else (result, None))
    flat_out = out.data.reshape(-1)
    jt = np.zeros(flat_out.shape, out.dtype)
    if out.requires_grad:
        for i in range(flat_out.size):
            seed = np.zeros(flat_out.size, out.dtype)
            seed[i] = 1.0
            gs = _grad(out, inputs, grad_outputs=seed.reshape(out.shape), retain_graph=True)
            jt[i] = sum(float(np.sum(g * t)) for g, t in zip(gs, tangents) if g is not None)
    value = Tensor(out.data, dtype=out.dtype)
    tangent = Tensor(jt.reshape(out.shape), dtype=out.dtype)
    return (value, tangent, aux) if has_aux else (value, tangent)
