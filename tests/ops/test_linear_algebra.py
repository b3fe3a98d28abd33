"""Products (einsum...) and keras.ops.linalg: values and dtypes against Keras, gradients
against PyTorch and float64 central differences."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import ops  # noqa: E402

K = keras.ops
rng = np.random.default_rng(0)


def T(a):
    return K.convert_to_tensor(a)


def same(out, ref, rtol=1e-5, atol=1e-5):
    """Values and dtype as Keras's. Keras's torch backend computes several float64 products and
    norms in float32; deepgrad keeps float64 (float64 end to end), so there only values are compared."""
    ref = K.convert_to_numpy(ref)
    out = out.data if isinstance(out, dg.Tensor) else np.asarray(out)
    if out.dtype == np.float64 and ref.dtype == np.float32:
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
    else:
        assert out.dtype == ref.dtype, f"dtype {out.dtype} != keras {ref.dtype}"
    assert out.shape == ref.shape, f"shape {out.shape} != keras {ref.shape}"
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


def spd(n, batch=(), seed=0):
    a = np.random.default_rng(seed).standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


# ================================================================= products
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 2)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij->ij", [(1, 4), (3, 4)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES)
def test_einsum_values_and_gradients(subscripts, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    same(ops.einsum(subscripts, *[a.astype(np.float32) for a in arrays]),
         K.einsum(subscripts, *[T(a.astype(np.float32)) for a in arrays]))
    compare_with_torch(lambda *a: ops.einsum(subscripts, *a), lambda *a: torch.einsum(subscripts, *a), arrays)
    check_gradients(lambda *a: ops.einsum(subscripts, *a), arrays)


# (int32 einsum gives int64 on Keras's torch backend, a torch artifact; deepgrad keeps int32)
@given(st.lists(st.sampled_from([1, 2, 3]), min_size=0, max_size=2), st.data())
def test_einsum_broadcast_batches_against_torch(batch, data):
    # each operand's batch axes: the full size or 1 (broadcast), possibly fewer leading axes
    ba = [data.draw(st.sampled_from([n, 1])) for n in batch][data.draw(st.integers(0, len(batch))):]
    bb = [data.draw(st.sampled_from([n, 1])) for n in batch]
    i, j, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    a, b = rng.standard_normal(tuple(ba) + (i, j)), rng.standard_normal(tuple(bb) + (j, k))
    compare_with_torch(lambda x, y: ops.einsum("...ij,...jk->...ik", x, y),
                       lambda x, y: torch.einsum("...ij,...jk->...ik", x, y), [a, b])


@pytest.mark.parametrize("dtypes", [("int8", "int8"), ("float16", "float16"), ("float32", "float32"),
                                    ("int64", "int64")])
def test_einsum_dtypes_as_keras(dtypes):
    a = (rng.standard_normal((3, 4)) * 3).astype(dtypes[0])
    b = (rng.standard_normal((4, 2)) * 3).astype(dtypes[1])
    same(ops.einsum("ij,jk->ik", a, b), K.einsum("ij,jk->ik", T(a), T(b)), rtol=1e-3, atol=1e-2)


def test_einsum_errors():
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum("ij,jk->ik", np.ones((2, 3)))
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum("ijk->i", np.ones((2, 3)))


@given(st.integers(0, 2), st.lists(st.integers(1, 3), min_size=3, max_size=3))
def test_tensordot_int_axes(n_axes, dims):
    a = rng.standard_normal((2,) + tuple(dims[:n_axes]) if n_axes else (2, 3))
    b = rng.standard_normal(tuple(dims[:n_axes]) + (4,) if n_axes else (3,))
    same(ops.tensordot(a, b, n_axes), K.tensordot(T(a), T(b), n_axes), 1e-10, 1e-10)
    compare_with_torch(lambda x, y: ops.tensordot(x, y, n_axes), lambda x, y: torch.tensordot(x, y, n_axes), [a, b])


def test_tensordot_axis_lists_and_dtypes():
    a, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 2, 3))
    same(ops.tensordot(a, b, ([0, 2], [2, 0])), K.tensordot(T(a), T(b), ([0, 2], [2, 0])), 1e-10, 1e-10)
    check_gradients(lambda x, y: ops.tensordot(x, y, ([0, -1], [-1, 0])), [a, b])
    ai, bi = np.arange(6, dtype=np.int8).reshape(2, 3), np.arange(6, dtype=np.int8).reshape(3, 2)
    same(ops.tensordot(ai, bi, 1), K.tensordot(T(ai), T(bi), 1))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(a, b, ([0], [0]))


@pytest.mark.parametrize("name,shapes", [
    ("inner", [(3, 4), (2, 4)]), ("inner", [(4,), (4,)]), ("inner", [(), (2, 3)]),
    ("outer", [(3,), (4,)]), ("outer", [(2, 2), (3,)]),
    ("kron", [(2, 3), (3, 2)]), ("kron", [(2,), (2, 3)]),
    ("vdot", [(5,), (5,)]),
    ("cross", [(4, 3), (4, 3)]), ("cross", [(4, 3), (3,)]), ("cross", [(2, 2), (2, 2)]),
    ("cross", [(2, 3), (2, 2)]),
    ("cdist", [(4, 3), (5, 3)]), ("cdist", [(2, 4, 3), (2, 5, 3)]),
])
def test_products_as_keras_and_torch(name, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    keras_can = name != "cross" or (shapes[0] == shapes[1] and shapes[0][-1] == 3)  # torch: 3-vectors, same shape
    for dt in ("float32", "float64") if keras_can else ():
        same(getattr(ops, name)(*[a.astype(dt) for a in arrays]), getattr(K, name)(*[T(a.astype(dt)) for a in arrays]))
    torch_fn = {"inner": torch.inner, "outer": lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)),
                "kron": torch.kron, "vdot": torch.vdot, "cdist": torch.cdist,
                "cross": lambda a, b: torch.from_numpy(np.cross(a.detach().numpy(), b.detach().numpy()))}[name]
    if name == "cross":  # torch's cross has no 2-vectors: checked by central differences
        np.testing.assert_allclose(ops.cross(*arrays).data, np.cross(*arrays), rtol=1e-12)
    else:
        compare_with_torch(getattr(ops, name), torch_fn, arrays)
    check_gradients(getattr(ops, name), arrays)


@pytest.mark.parametrize("name", ["inner", "outer", "kron", "cross"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "bool"])
def test_product_dtypes_as_keras(name, dtype):
    if name == "cross" and dtype == "bool":
        return
    a = (rng.standard_normal((2, 3)) * 3).astype(dtype)
    b = (rng.standard_normal((2, 3)) * 3).astype(dtype)
    same(getattr(ops, name)(a, b), getattr(K, name)(T(a), T(b)))


def test_cdist_dtypes_and_zero_distance():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    same(ops.cdist(a, a), K.cdist(T(a), T(a)))
    same(ops.cdist(a.astype(np.float64), a), K.cdist(T(a.astype(np.float64)), T(a)))
    x = dg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    ops.cdist(x, np.array([[1.0, 2.0]])).sum().backward()
    assert np.all(np.isfinite(x.grad)) and np.allclose(x.grad[0], 0)  # d|x - y| at x = y: 0, as torch
    with pytest.raises(ValueError, match="cdist"):
        ops.cdist(np.ones((2, 3)), np.ones((2, 4)))


def test_cross_errors_and_axes():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(ops.cross(a, b, axis=0).data, np.cross(a, b, axis=0))
    np.testing.assert_allclose(ops.cross(a, b, axisa=0, axisb=0, axisc=1).data, np.cross(a, b, axisa=0, axisb=0, axisc=1))
    with pytest.raises(ValueError, match="cross"):
        ops.cross(np.ones((2, 4)), np.ones((2, 4)))


# ================================================================= linalg: values
def test_linalg_namespace():
    for name in ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor",
                 "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]:
        assert getattr(dg.ops.linalg, name) is getattr(ops, name), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inv_det_cholesky_solve_as_keras(dtype):
    a = spd(4, (2,)).astype(dtype)
    b = rng.standard_normal((2, 4, 3)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    same(ops.inv(a), K.linalg.inv(T(a)), tol, tol)
    same(ops.det(a), K.linalg.det(T(a)), tol, tol)
    same(ops.cholesky(a), K.linalg.cholesky(T(a)), tol, tol)
    same(ops.cholesky(a, upper=True), K.linalg.cholesky(T(a), upper=True), tol, tol)
    same(ops.cholesky_inverse(ops.cholesky(a)), K.linalg.cholesky_inverse(K.linalg.cholesky(T(a))), tol, tol)
    same(ops.solve(a, b), K.linalg.solve(T(a), T(b)), tol, tol)
    same(ops.solve(a, b[..., 0]), K.linalg.solve(T(a), T(b[..., 0])), tol, tol)
    for lower in (True, False):
        same(ops.solve_triangular(a, b, lower=lower), K.linalg.solve_triangular(T(a), T(b), lower=lower), tol, tol)
    same(ops.pinv(b), K.linalg.pinv(T(b)), tol, tol)
    same(ops.matrix_rank(b), K.linalg.matrix_rank(T(b)))
    same(ops.lstsq(b[0], a[0, :, 0]), K.linalg.lstsq(T(b[0]), T(a[0, :, 0])), tol, tol)


def test_decompositions_reconstruct_and_match_keras_up_to_sign():
    a = rng.standard_normal((2, 5, 3))
    u, s, vh = ops.svd(a)
    ku, ks, kvh = K.linalg.svd(T(a))
    same(s, ks, 1e-10, 1e-10)
    assert u.shape == tuple(ku.shape) and vh.shape == tuple(kvh.shape)
    np.testing.assert_allclose((u.data[..., :3] * s.data[..., None, :]) @ vh.data, a, atol=1e-12)
    same(ops.svd(a, compute_uv=False), K.linalg.svd(T(a), compute_uv=False), 1e-10, 1e-10)
    q, r = ops.qr(a)
    kq, kr = K.linalg.qr(T(a))
    np.testing.assert_allclose(q.data @ r.data, a, atol=1e-12)
    np.testing.assert_allclose(np.abs(r.data), np.abs(K.convert_to_numpy(kr)), atol=1e-10)
    q, r = ops.qr(a, mode="complete")
    assert q.shape == (2, 5, 5) and r.shape == (2, 5, 3)
    m = spd(4, seed=3)
    w, v = ops.eigh(m)
    kw, kv = K.linalg.eigh(T(m))
    same(w, kw, 1e-10, 1e-10)
    np.testing.assert_allclose(np.abs(v.data), np.abs(K.convert_to_numpy(kv)), atol=1e-8)
    w, v = ops.eig(m.astype(np.float32))
    kw, kv = K.linalg.eig(T(m.astype(np.float32)))
    assert w.dtype == K.convert_to_numpy(kw).dtype == np.complex64
    np.testing.assert_allclose(np.sort(w.data.real), np.sort(K.convert_to_numpy(kw).real), rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (5, 3), (3, 5)])
def test_lu_factor_as_keras(shape):
    a = rng.standard_normal(shape).astype(np.float32)
    lu, piv = ops.lu_factor(a)
    klu, kpiv = K.linalg.lu_factor(T(a))
    same(lu, klu, 1e-4, 1e-4)
    same(piv, kpiv)


@pytest.mark.parametrize("ord,axis", [(None, None), (None, 1), (1, -1), (2, 0), (3, 1), (0.5, 1),
                                      (np.inf, 1), (-np.inf, 0), (0, 1), ("fro", None), ("nuc", None),
                                      (1, None), (-1, None), (2, None), (-2, None), (np.inf, None),
                                      (-np.inf, None), ("fro", (0, 1))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_as_keras(ord, axis, keepdims):
    x = rng.standard_normal((3, 4))
    same(ops.norm(x, ord=ord, axis=axis, keepdims=keepdims),
         K.linalg.norm(T(x), ord=ord, axis=axis, keepdims=keepdims), 1e-10, 1e-10)


def test_norm_dtypes_and_batches():
    xi = np.arange(12, dtype=np.int32).reshape(3, 4)
    same(ops.norm(xi), K.linalg.norm(T(xi)))
    x16 = np.ones((2, 3), np.float16)
    same(ops.norm(x16, axis=1), K.linalg.norm(T(x16), axis=1), 1e-3, 1e-3)
    x = rng.standard_normal((2, 3, 4))
    same(ops.norm(x, ord="nuc", axis=(1, 2)), K.linalg.norm(T(x), ord="nuc", axis=(1, 2)), 1e-10, 1e-10)
    same(ops.norm(x, ord=2, axis=(0, 2)), K.linalg.norm(T(x), ord=2, axis=(0, 2)), 1e-10, 1e-10)
    with pytest.raises(ValueError, match="norm"):
        ops.norm(x, ord="nuc", axis=1)


# ================================================================= linalg: gradients
def test_inv_det_gradients():
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    compare_with_torch(ops.inv, torch.linalg.inv, [a], rtol=1e-9, atol=1e-9)
    compare_with_torch(ops.det, torch.linalg.det, [a], rtol=1e-9, atol=1e-9)
    check_gradients(ops.inv, [a])
    check_gradients(ops.det, [a])
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])  # d det / dA = adj(A)^T = [[4, -2], [-2, 1]], nonzero
    t = dg.Tensor(singular, requires_grad=True)
    ops.det(t).backward()
    np.testing.assert_allclose(t.grad, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    check_gradients(ops.det, [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])])


def test_cholesky_gradients():
    a = spd(4, (2,))
    sym = lambda f: lambda x: f((x + x.mT) / 2)  # noqa: E731 - differentiate on symmetric inputs
    for upper in (False, True):
        compare_with_torch(lambda x: ops.cholesky((x + ops.swapaxes(x, -1, -2)) * 0.5, upper=upper),
                           sym(lambda x: torch.linalg.cholesky(x, upper=upper)), [a], rtol=1e-8, atol=1e-8)
    check_gradients(lambda x: ops.cholesky((x + ops.swapaxes(x, -1, -2)) * 0.5), [a])
    check_gradients(lambda x: ops.cholesky_inverse(ops.cholesky((x + ops.swapaxes(x, -1, -2)) * 0.5)), [a])


def test_solve_gradients():
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((2, 3, 2))
    compare_with_torch(ops.solve, torch.linalg.solve, [a, b], rtol=1e-9, atol=1e-9)
    compare_with_torch(ops.solve, torch.linalg.solve, [a, b[..., 0]], rtol=1e-9, atol=1e-9)
    compare_with_torch(ops.solve, torch.linalg.solve, [a, b[0]], rtol=1e-9, atol=1e-9)  # broadcast b
    check_gradients(ops.solve, [a, b])
    for lower in (True, False):
        compare_with_torch(lambda x, y: ops.solve_triangular(x, y, lower=lower),
                           lambda x, y: torch.linalg.solve_triangular(x, y, upper=not lower), [a, b],
                           rtol=1e-9, atol=1e-9)
        check_gradients(lambda x, y: ops.solve_triangular(x, y, lower=lower), [a, b])


@pytest.mark.parametrize("ord,axis", [(None, None), (None, 1), (1, 1), (3, 0), (np.inf, 1), ("fro", None),
                                      ("nuc", None), (2, None), (-2, None), (1, None), (np.inf, None)])
def test_norm_gradients(ord, axis):
    x = rng.standard_normal((3, 4))
    compare_with_torch(lambda t: ops.norm(t, ord=ord, axis=axis),
                       lambda t: torch.linalg.norm(t, ord=ord, dim=axis), [x], rtol=1e-8, atol=1e-8)
    check_gradients(lambda t: ops.norm(t, ord=ord, axis=axis), [x])


def test_norm_gradient_at_zero_is_zero():
    x = dg.Tensor(np.zeros(3), requires_grad=True)
    ops.norm(x).backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


def test_eigh_gradient():
    a = spd(4, (2,), seed=5)

    def loss_dg(x):  # sign-invariant in the eigenvectors: w and v v^T
        w, v = ops.eigh((x + ops.swapaxes(x, -1, -2)) * 0.5)
        return ops.einsum("...i,...ji,...ki->...jk", w, v, v) + ops.expand_dims(ops.einsum("...i,...ji->...j", w * w, v * v), -2)

    assert loss_dg(dg.Tensor(a)).shape == (2, 4, 4)
    compare_with_torch(loss_dg, _eigh_torch, [a], rtol=1e-8, atol=1e-8)
    check_gradients(loss_dg, [a])


def _eigh_torch(x):
    w, v = torch.linalg.eigh((x + x.mT) / 2)
    return torch.einsum("...i,...ji,...ki->...jk", w, v, v) + torch.einsum("...i,...ji->...j", w * w, v * v)[..., None, :]


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 4, 3)])
def test_svd_gradient(shape):
    a = rng.standard_normal(shape)

    def f_dg(x):  # sign-invariant: u diag(s^2) vh and s
        u, s, vh = ops.svd(x, full_matrices=False)
        return ops.einsum("...ik,...k,...kj->...ij", u, s * s, vh) + ops.expand_dims(ops.sum(s, axis=-1), -1)[..., None]

    def f_t(x):
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        return torch.einsum("...ik,...k,...kj->...ij", u, s * s, vh) + s.sum(-1)[..., None, None]

    compare_with_torch(f_dg, f_t, [a], rtol=1e-8, atol=1e-8)
    check_gradients(f_dg, [a])
    compare_with_torch(lambda x: ops.svd(x, compute_uv=False), lambda x: torch.linalg.svdvals(x), [a],
                       rtol=1e-9, atol=1e-9)


def test_qr_gradient():
    a = rng.standard_normal((2, 5, 3))

    def f_dg(x):  # q r is x, and (q diag(sign r)) is sign-free: use q q^T and r^T r
        q, r = ops.qr(x)
        return ops.einsum("...ik,...jk->...ij", q, q)[..., :3] + ops.einsum("...ki,...kj->...ij", r, r)[..., :1, :]

    def f_t(x):
        q, r = torch.linalg.qr(x)
        return torch.einsum("...ik,...jk->...ij", q, q)[..., :3] + torch.einsum("...ki,...kj->...ij", r, r)[..., :1, :]

    compare_with_torch(f_dg, f_t, [a], rtol=1e-8, atol=1e-8)
    check_gradients(lambda x: ops.qr(x)[0] + ops.qr(x)[1][..., :1, :] * 0.5, [a])


def test_pinv_gradient():
    a = rng.standard_normal((2, 4, 3))
    compare_with_torch(ops.pinv, torch.linalg.pinv, [a], rtol=1e-8, atol=1e-8)
    check_gradients(ops.pinv, [a[0].T])


def test_jvp_matches_keras():
    x = np.array([0.5, -1.0, 2.0])
    t = np.array([1.0, 0.5, -2.0])
    f_dg = lambda v: ops.sum(ops.exp(v) * v) * v  # noqa: E731
    f_k = lambda v: K.sum(K.exp(v) * v) * v  # noqa: E731
    val, tan = ops.jvp(f_dg, (x,), (t,))
    kval, ktan = K.linalg.jvp(f_k, (T(x),), (T(t),))
    same(val, kval, 1e-10, 1e-10)
    same(tan, ktan, 1e-10, 1e-10)
    val, tan, aux = ops.jvp(lambda v: (v * 2.0, "aux"), (x,), (t,), has_aux=True)
    np.testing.assert_allclose(tan.data, 2 * t)
    assert aux == "aux"


def test_linalg_errors():
    with pytest.raises(ValueError, match="inv"):
        ops.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="inv"):
        ops.inv(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="cholesky"):
        ops.cholesky(-np.eye(2))
    with pytest.raises(ValueError, match="solve"):
        ops.solve(np.eye(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="qr"):
        ops.qr(np.eye(2), mode="full")
    with pytest.raises(ValueError, match="det"):
        ops.det(np.ones(3))


BACKWARD_CASES = {
    "Einsum": (lambda a, b: ops.einsum("ij,jk->ik", a, b), [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))]),
    "Cdist": (ops.cdist, [rng.standard_normal((3, 2)), rng.standard_normal((4, 2))]),
    "Inv": (ops.inv, [rng.standard_normal((3, 3)) + 3 * np.eye(3)]),
    "Det": (ops.det, [rng.standard_normal((3, 3))]),
    "Cholesky": (ops.cholesky, [spd(3)]),
    "Solve": (ops.solve, [rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 2))]),
    "SolveTriangular": (ops.solve_triangular, [rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 2))]),
    "Eigh": (lambda a: ops.eigh(a)[0], [spd(3)]),
    "SVD": (lambda a: ops.svd(a, compute_uv=False), [rng.standard_normal((4, 3))]),
    "QR": (lambda a: ops.qr(a)[1], [rng.standard_normal((4, 3))]),
    "Pinv": (ops.pinv, [rng.standard_normal((4, 3))]),
    "Norm2": (ops.norm, [rng.standard_normal((4, 3))]),
}


def test_products_of_empty_arrays():
    a, b = np.ones((0, 3), np.float32), np.ones((3, 2), np.float32)
    same(ops.einsum("ij,jk->ik", a, b), K.einsum("ij,jk->ik", T(a), T(b)))
    same(ops.outer(a, b), K.outer(T(a), T(b)))
    same(ops.tensordot(b.T, a.T, 1), K.tensordot(T(b.T), T(a.T), 1))
    assert ops.cdist(np.ones((0, 3)), np.ones((2, 3))).shape == (0, 2)
    x = dg.Tensor(np.ones((0, 3)), requires_grad=True)
    ops.einsum("ij->j", x).sum().backward()
    assert x.grad.shape == (0, 3)


def test_slogdet_matches_torch_and_its_gradient():
    a = np.random.default_rng(5).standard_normal((2, 3, 3))
    sign, logabs = dg.slogdet(a)
    t = torch.tensor(a, requires_grad=True)
    t_sign, t_logabs = torch.linalg.slogdet(t)
    np.testing.assert_allclose(sign.data, t_sign.detach().numpy())
    np.testing.assert_allclose(logabs.data, t_logabs.detach().numpy(), rtol=1e-12)
    x = dg.Tensor(a, requires_grad=True)
    dg.slogdet(x)[1].sum().backward()
    t_logabs.sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 6)),
                                    ((4,), (2, 4, 3)), ((), (2, 3))])
def test_dot_follows_numpy(shapes):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    np.testing.assert_allclose(dg.dot(a, b).data, np.dot(a, b), rtol=1e-12)
    with pytest.raises(ValueError, match="dot"):
        dg.dot(np.ones((2, 3)), np.ones((4, 2)))


# large enough for the batched-GEMM plan (transposes, one matmul, a transpose)
EINSUM_GEMM_CASES = [
    ("bqhd,bkhd->bhqk", [(2, 32, 2, 8), (2, 32, 2, 8)]),
    ("bhqk,bkhd->bqhd", [(2, 2, 32, 32), (2, 32, 2, 8)]),
    ("abc,cd->abd", [(4, 16, 16), (16, 32)]),
    ("ijk,kl->il", [(16, 8, 16), (16, 32)]),          # j summed in the first operand alone
    ("abcd,cdef->fbea", [(4, 8, 4, 4), (4, 4, 8, 16)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_GEMM_CASES)
def test_large_einsums_run_as_gemms_and_match_torch(subscripts, shapes):
    from deepgrad.ops import linear_algebra
    arrays = [rng.standard_normal(s) for s in shapes]
    terms, out = linear_algebra._einsum_terms(subscripts, shapes)
    assert linear_algebra._einsum_gemm(terms, out, *arrays) is not None
    compare_with_torch(lambda *a: ops.einsum(subscripts, *a), lambda *a: torch.einsum(subscripts, *a), arrays)
    compare_with_torch(lambda *a: ops.einsum(subscripts, *a), lambda *a: torch.einsum(subscripts, *a),
                       [a.astype(np.float32) for a in arrays])
    check_gradients(lambda *a: ops.einsum(subscripts, *a), arrays)
