"""ops/blas.py: the MKL GEMM path against NumPy's matmul, for every layout cblas reads in place
(C order, F order, transposed views, blocks of rows and columns), odd shapes, float32 and float64,
``out`` arrays, and the fall-backs (other dtypes, stacks, vectors, overlapping ``out``).

The MKL cases are skipped where the ``mkl`` package is not installed; the fall-back cases run on
either engine. ``MIN_WORK`` is set to 1 so that the small shapes of these tests reach MKL.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from deepgrad.ops import blas



@pytest.fixture
def on_mkl(monkeypatch):
    """MKL as the engine for the test, whatever the CPU's vendor chose (skipped without the package)."""
    if blas.engine() != "mkl":
        monkeypatch.setattr(blas, "_gemm", {})
        reason = blas._load_mkl()
        if reason:
            pytest.skip(f"MKL not available: {reason}")
        monkeypatch.setattr(blas, "_state", {"engine": "mkl", "reason": ""})


mkl = pytest.mark.usefixtures("on_mkl")

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture
def every_size(monkeypatch):
    monkeypatch.setattr(blas, "MIN_WORK", 1)


def _close(got, want, dtype):
    """Within the dtype's rounding relative to the magnitude of the products."""
    scale = np.abs(want).max() + 1
    np.testing.assert_allclose(got, want, rtol=0, atol=RTOL[dtype] * scale * 4)


def _operand(rng, rows, cols, dtype, layout):
    """A (rows, cols) matrix of ``layout``: its values, whatever the memory layout."""
    if layout == "c":
        return rng.standard_normal((rows, cols)).astype(dtype)
    if layout == "f":
        return np.asfortranarray(rng.standard_normal((rows, cols)).astype(dtype))
    if layout == "t":  # the transpose of a C-contiguous array (F order, a view)
        return rng.standard_normal((cols, rows)).astype(dtype).T
    if layout == "row_block":  # columns of a wider C array: rows of unit stride, leading dim > cols
        return rng.standard_normal((rows, cols + 5)).astype(dtype)[:, 2:2 + cols]
    if layout == "col_block":  # the transpose of such a block
        return rng.standard_normal((cols, rows + 3)).astype(dtype)[:, 1:1 + rows].T
    raise ValueError(layout)


LAYOUTS = ["c", "f", "t", "row_block", "col_block"]
SHAPES = [(1, 1, 1), (3, 5, 7), (17, 1, 9), (1, 33, 1), (64, 31, 1), (5, 128, 130), (129, 65, 31)]


@mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout_a", LAYOUTS)
@pytest.mark.parametrize("layout_b", LAYOUTS)
def test_layouts_match_numpy(every_size, dtype, layout_a, layout_b):
    rng = np.random.default_rng(len(layout_a) * 10 + len(layout_b))
    for m, k, n in SHAPES:
        a = _operand(rng, m, k, dtype, layout_a)
        b = _operand(rng, k, n, dtype, layout_b)
        got = blas.matmul(a, b)
        assert got.dtype == dtype and got.shape == (m, n)
        _close(got, np.matmul(a, b), dtype)


@mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_arrays(every_size, dtype):
    rng = np.random.default_rng(1)
    a = _operand(rng, 37, 19, dtype, "t")
    b = _operand(rng, 19, 23, dtype, "c")
    want = np.matmul(a, b)
    out = np.full((37, 23), np.nan, dtype)
    assert blas.matmul(a, b, out=out) is out
    _close(out, want, dtype)
    # a block of rows of a wider output (leading dimension 30), the columns around it untouched
    wide = np.full((37, 30), 7.0, dtype)
    assert blas.matmul(a, b, out=wide[:, 4:27]).base is wide
    _close(wide[:, 4:27], want, dtype)
    assert (wide[:, :4] == 7).all() and (wide[:, 27:] == 7).all()
    # an F-order out (not a row-major block): NumPy writes it
    fout = np.asfortranarray(np.zeros((37, 23), dtype))
    _close(blas.matmul(a, b, out=fout), want, dtype)
    _close(fout, want, dtype)
    # np.dot's form
    dout = np.empty((37, 23), dtype)
    blas.dot(a, b, out=dout)
    _close(dout, want, dtype)


@mkl
def test_the_product_really_is_mkls(every_size, monkeypatch):
    """With the MKL routine replaced by a recorder, the call reaches it with the flags and leading
    dimensions that read the operands in place (so the MKL tests above test MKL)."""
    calls = []
    real = blas._gemm[np.dtype(np.float32)]
    monkeypatch.setitem(blas._gemm, np.dtype(np.float32), lambda *args: calls.append(args[:6]) or real(*args))
    a = np.ones((6, 4), np.float32)
    b = np.ones((5, 4), np.float32).T
    got = blas.matmul(a[:, :3], b[:3])
    assert calls == [(101, 111, 112, 6, 5, 3)]
    np.testing.assert_array_equal(got, np.full((6, 5), 3, np.float32))
    calls.clear()
    blas.matmul(a, b[:, :2].copy(), out=np.empty((6, 2), np.float32))
    assert calls[0][:3] == (101, 111, 111)


@pytest.mark.parametrize("case", ["int", "mixed", "float16", "stack", "vector", "overlap", "broadcast", "small"])
def test_fall_backs_are_numpys(case):
    """Whatever MKL does not take is NumPy's matmul, with NumPy's result and dtype."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((8, 6)).astype(np.float32)
    b = rng.standard_normal((6, 4)).astype(np.float32)
    out = None
    if case == "int":
        a, b = np.arange(48).reshape(8, 6), np.arange(24).reshape(6, 4)
    elif case == "mixed":
        b = b.astype(np.float64)
    elif case == "float16":
        a, b = a.astype(np.float16), b.astype(np.float16)
    elif case == "stack":
        a, b = np.stack([a, a + 1]), np.stack([b, b * 2])
    elif case == "vector":
        b = b[:, 0]
    elif case == "overlap":  # out is the memory of a: NumPy's matmul copies first
        a = rng.standard_normal((6, 6)).astype(np.float32)
        b = rng.standard_normal((6, 6)).astype(np.float32)
        want = np.matmul(a, b)
        blas.matmul(a, b, out=a)
        _close(a, want, np.float32)
        return
    elif case == "broadcast":  # a zero stride: no leading dimension expresses it
        a = np.broadcast_to(a[:1], a.shape)
    want = np.matmul(a, b)
    got = blas.matmul(a, b, out=out)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_shape_mismatch_is_numpys_error():
    with pytest.raises(ValueError):
        blas.matmul(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))


@mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_matmul(every_size, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 7, 5)).astype(dtype)
    b = rng.standard_normal((2, 3, 6, 5)).astype(dtype).swapaxes(-1, -2)
    _close(blas.batched_matmul(a, b), np.matmul(a, b), dtype)
    out = np.empty((2, 7, 3, 6), dtype)  # a (B, T, N, .) array written through its (B, N, T, .) view
    blas.batched_matmul(a, b, out=np.swapaxes(out, 1, 2))
    _close(np.swapaxes(out, 1, 2), np.matmul(a, b), dtype)


def test_numpy_switch_in_a_fresh_process():
    """DEEPGRAD_BLAS=numpy keeps every product on NumPy, and says so."""
    code = "from deepgrad.ops import blas; import numpy as np; blas.matmul(np.ones((2, 2)), np.ones((2, 2))); print(blas.info())"
    env = dict(os.environ, DEEPGRAD_BLAS="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "'engine': 'numpy'" in out and "DEEPGRAD_BLAS=numpy" in out


@mkl
def test_layers_gradients_on_mkl(every_size):
    """A Dense layer's and a Conv2D's gradients on the MKL path, by float64 central differences."""
    import deepgrad as dg
    from deepgrad.ops.nn import linear

    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 7))
    w = rng.standard_normal((7, 3))
    bias = rng.standard_normal(3)
    wt = dg.Tensor(w, requires_grad=True)
    xt = dg.Tensor(x, requires_grad=True)
    (linear(xt, wt, dg.Tensor(bias)) ** 2).sum().backward()

    def loss(xv, wv):
        return float(((xv @ wv + bias) ** 2).sum())

    eps = 1e-6
    for arr, grad, which in ((x, xt.grad, 0), (w, wt.grad, 1)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += eps
            minus[idx] -= eps
            args_p = (plus, w) if which == 0 else (x, plus)
            args_m = (minus, w) if which == 0 else (x, minus)
            num[idx] = (loss(*args_p) - loss(*args_m)) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("vendor, switch, engine", [
    ("GenuineIntel", "", "mkl"), ("AuthenticAMD", "", "numpy"), ("", "", "numpy"),
    ("AuthenticAMD", "mkl", "mkl"), ("GenuineIntel", "numpy", "numpy"), ("GenuineIntel", " MKL ", "mkl")])
def test_the_engine_follows_the_cpu_vendor_and_the_environment(monkeypatch, vendor, switch, engine):
    """MKL by default only on Intel's CPUs; DEEPGRAD_BLAS=mkl or =numpy decides on any CPU."""
    monkeypatch.setattr(blas, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(blas, "_load_mkl", lambda: None)  # as if MKL loaded: only the choice is tested
    monkeypatch.setattr(blas, "_state", {"engine": None, "reason": ""})
    monkeypatch.setattr(blas, "_gemm", {})
    monkeypatch.setenv("DEEPGRAD_BLAS", switch)
    assert blas.engine() == engine
    reason = blas.info()["reason"]
    assert (reason == "") == (engine == "mkl")
    if engine == "numpy":
        assert ("DEEPGRAD_BLAS=numpy" if switch else "not Intel's") in reason


def test_cpu_vendor_is_cpuinfos():
    """The vendor_id line of /proc/cpuinfo, where there is one (an x86 Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith("vendor_id")]
    except OSError:
        lines = []
    if not lines:
        pytest.skip("no vendor_id in /proc/cpuinfo")
    assert blas.cpu_vendor() == lines[0].split(":", 1)[1].strip() != ""


def test_without_the_package_numpy_multiplies(monkeypatch):
    """No mkl distribution: the engine is NumPy's, says why, and products are NumPy's."""
    monkeypatch.setattr(blas, "_mkl_runtime_path", lambda: None)
    monkeypatch.setattr(blas, "_state", {"engine": None, "reason": ""})
    monkeypatch.setattr(blas, "_gemm", {})
    monkeypatch.setenv("DEEPGRAD_BLAS", "mkl")  # on any CPU
    assert blas.engine() == "numpy" and "not installed" in blas.info()["reason"]
    a = np.arange(2 ** 12, dtype=np.float32).reshape(64, 64) / 4096
    np.testing.assert_array_equal(blas.matmul(a, a), np.matmul(a, a))
