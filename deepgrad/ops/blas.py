"""Matrix products on Intel MKL's CBLAS when the ``mkl`` package is installed on an Intel CPU,
else on NumPy's.

NumPy's wheels multiply on OpenBLAS. On the GEMM shapes of deepgrad's layers (a batch of 128
rows, inner lengths of 128-6272) MKL's single-thread ``sgemm`` runs them 1.1-1.5x as fast on
Intel AVX-512 machines, but 0.7-0.95x as fast as OpenBLAS on an AMD EPYC (Zen 4, AVX-512 too):
MKL takes its fastest kernels only on Intel's CPUs (benchmarks/RESULTS.md). So MKL is used by
default only where the CPU's vendor is ``GenuineIntel``. ``matmul(a, b, out=None)`` is ``np.matmul`` for two
matrices: float32 or float64 operands of one dtype, each with unit stride along one axis (C- or
F-contiguous, a transposed view, a block of rows or columns), go to ``cblas_?gemm`` with the
transpose flags that read them in place; anything else (another dtype, a stack, a vector,
strides cblas cannot express, an ``out`` that overlaps an operand) and any product below
``MIN_WORK`` multiply-adds (too small to pay for the foreign call) goes to ``np.matmul``.

MKL runs on its *sequential* threading layer, chosen before its first call: deepgrad splits
its large GEMMs over its own two threads (``halves``), and cffi releases the GIL during the
call, so each thread's half is one single-thread MKL call. MKL is loaded on the first product
(about 35 ms of CPU), not on import; it adds about 18 MB to a training process's peak RSS.

``DEEPGRAD_BLAS`` in the environment (read on first use) overrides the choice: ``numpy`` keeps
every product on NumPy, ``mkl`` uses MKL (when installed) whatever the CPU. ``engine()`` says
which one is in use ("mkl" or "numpy"), ``info()`` also why MKL is not and the CPU's vendor
(``python -c "from deepgrad.ops import blas; print(blas.info())"``).
"""
from __future__ import annotations

import os
import threading

import numpy as np

# Below this many multiply-adds (m*k*n) NumPy's call is the faster one: MKL's call costs about 3 us
# more (the checks here, the pointers, the foreign call), which a product of a few us does not win
# back. One thread, float32, us per call (benchmarks/blas_gemm.py): 128x128 @ 128x10 (164 K) 6.0 on
# NumPy, 9.0 on MKL; 128x128 @ 128x32 (524 K) 7.5 and 11.1; 128x128 @ 128x64 (1 M) 19.1 and 18.0.
MIN_WORK = 1 << 20

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_MKL_THREADING_SEQUENTIAL = 1
_MKL_INTERFACE_LP64 = 0

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

_state = {"engine": None, "reason": ""}  # engine() once resolved
_resolve_lock = threading.Lock()
_gemm = {}  # dtype -> MKL's cblas_?gemm (cffi), empty while NumPy multiplies


def _mkl_runtime_path():
    """The path of ``libmkl_rt`` of the installed ``mkl`` distribution, or None."""
    try:
        from importlib import metadata
        dist = metadata.distribution("mkl")
    except Exception:  # not installed (PackageNotFoundError), or no metadata to read
        return None
    names = ("libmkl_rt.so", "libmkl_rt.dylib", "mkl_rt")
    found = []
    for file in dist.files or ():
        name = file.name
        if name.startswith(names) and not name.endswith((".lib", ".a")):
            path = os.path.realpath(str(dist.locate_file(file)))
            if os.path.isfile(path):
                found.append(path)
    # the runtime library itself (libmkl_rt.so.N), not a link to it
    found.sort(key=lambda p: (not os.path.basename(p).startswith("libmkl_rt.so."), p))
    return found[0] if found else None


_CDEF = """
int MKL_Set_Threading_Layer(int code);
int MKL_Set_Interface_Layer(int code);
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const void *a, int lda,
                 const void *b, int ldb, float beta, void *c, int ldc);
void cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const void *a, int lda,
                 const void *b, int ldb, double beta, void *c, int ldc);
"""
_ffi = None  # cffi's FFI once MKL is loaded: its from_buffer and cast give the operands' pointers


def _load_mkl():
    """MKL's runtime with its sequential layer selected and its GEMMs typed, or a reason why not.

    The calls go through cffi rather than ctypes: an array's pointer is one ``from_buffer``
    (0.3 us) rather than a ``__array_interface__`` dict (1.3 us), and the call itself converts
    its 14 arguments faster (together 6-7 us less per GEMM, the whole cost of a small one)."""
    global _ffi
    path = _mkl_runtime_path()
    if path is None:
        return "the mkl package is not installed"
    try:
        import cffi
    except ImportError:
        return "cffi is not installed (pip install cffi)"
    try:
        ffi = cffi.FFI()
        ffi.cdef(_CDEF)
        lib = ffi.dlopen(path)
        lib.MKL_Set_Interface_Layer(_MKL_INTERFACE_LP64)
        if lib.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL) != _MKL_THREADING_SEQUENTIAL:
            return "MKL's sequential threading layer could not be selected"
        _ffi = ffi
        _gemm[_F32] = lib.cblas_sgemm
        _gemm[_F64] = lib.cblas_dgemm
    except (OSError, AttributeError, cffi.CDefError) as err:
        _gemm.clear()
        return f"MKL's runtime did not load ({err})"
    return None


def cpu_vendor() -> str:
    """The CPU's vendor string (``GenuineIntel``, ``AuthenticAMD``, ...), or "" when unknown:
    from /proc/cpuinfo on Linux, else from ``platform.processor()`` (Windows ends it with the vendor)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    text = platform.processor() or ""
    for vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls"):
        if vendor in text:
            return vendor
    return ""


def _choice() -> str:
    """Why products stay on NumPy ("" when MKL is to be loaded): the environment, else the CPU."""
    switch = os.environ.get("DEEPGRAD_BLAS", "").strip().lower()
    if switch == "numpy":
        return "DEEPGRAD_BLAS=numpy"
    if switch == "mkl":
        return ""
    vendor = cpu_vendor()
    if vendor != "GenuineIntel":
        return (f"the CPU is not Intel's ({vendor or 'vendor unknown'}): OpenBLAS is the faster engine there "
                "(DEEPGRAD_BLAS=mkl uses MKL anyway)")
    return ""


def engine() -> str:
    """``"mkl"`` when products go to MKL, else ``"numpy"`` (resolved, and MKL loaded, on first use)."""
    if _state["engine"] is not None:
        return _state["engine"]
    with _resolve_lock:
        if _state["engine"] is not None:  # another thread resolved it meanwhile
            return _state["engine"]
        reason = _choice() or _load_mkl()
        if reason:
            _gemm.clear()
        _state["reason"] = reason or ""
        _state["engine"] = "numpy" if reason else "mkl"
    return _state["engine"]


def on_mkl() -> bool:
    """Whether products go to MKL (``engine() == "mkl"``, in fewer steps once resolved)."""
    if _state["engine"] is None:
        return engine() == "mkl"
    return bool(_gemm)


def info() -> dict:
    """The engine in use, why MKL is not (when it is not), the CPU's vendor and the size from which
    MKL takes a product."""
    name = engine()
    return {"engine": name, "reason": _state["reason"], "cpu_vendor": cpu_vendor(), "min_work": MIN_WORK}


def _layout(x, rows: int, cols: int, item: int):
    """(transpose flag, leading dimension) reading ``x`` (rows, cols) in place as row-major, or None."""
    if not x.flags.aligned:
        return None
    s0, s1 = x.strides
    if s1 == item and s0 % item == 0 and s0 >= item * cols:  # rows of unit stride (C order, a row block)
        return _NO_TRANS, s0 // item
    if s0 == item and s1 % item == 0 and s1 >= item * rows:  # columns of unit stride (a transposed view)
        return _TRANS, s1 // item
    if x.flags.c_contiguous:  # size-1 axes may carry any stride
        return _NO_TRANS, max(cols, 1)
    return None


def _pointer(x: np.ndarray):
    """``x``'s first element as a cffi pointer: its buffer when C-contiguous, else its address."""
    if x.flags.c_contiguous:
        return _ffi.from_buffer(x)  # read-only buffers too (require_writable is False by default)
    if x.flags.f_contiguous:
        return _ffi.from_buffer(x.T)
    return _ffi.cast("void *", x.__array_interface__["data"][0])


def _mkl_product(a: np.ndarray, b: np.ndarray, out):
    """``a @ b`` on MKL (into ``out`` if given), or None when MKL does not take it.

    The common operands (C order, or the transpose of C order) and outputs (C order) take the
    first branches: this runs in every training step, so its Python is kept short (a budget in
    tests/test_call_overhead.py counts it)."""
    dtype = a.dtype
    fn = _gemm.get(dtype)
    if fn is None or b.dtype is not dtype or a.ndim != 2 or b.ndim != 2:
        if _state["engine"] is None and engine() == "mkl":
            return _mkl_product(a, b, out)
        return None
    m, k = a.shape
    n = b.shape[1]
    if m * k * n < MIN_WORK or b.shape[0] != k:
        return None
    item = dtype.itemsize
    frombuf = _ffi.from_buffer
    sa = a.strides
    if sa[1] == item and sa[0] == item * k:  # C order
        ta, lda, pa = _NO_TRANS, k, frombuf(a)
    elif sa[0] == item and sa[1] == item * m:  # the transpose of C order
        ta, lda, pa = _TRANS, m, frombuf(a.T)
    else:
        la = _layout(a, m, k, item)
        if la is None:
            return None
        ta, lda, pa = la[0], la[1], _pointer(a)
    sb = b.strides
    if sb[1] == item and sb[0] == item * n:
        tb, ldb, pb = _NO_TRANS, n, frombuf(b)
    elif sb[0] == item and sb[1] == item * k:
        tb, ldb, pb = _TRANS, k, frombuf(b.T)
    else:
        lb = _layout(b, k, n, item)
        if lb is None:
            return None
        tb, ldb, pb = lb[0], lb[1], _pointer(b)
    if out is None:
        out = np.empty((m, n), dtype)
        ldc, pc = n, frombuf(out)
    else:
        so = out.strides
        if (out.dtype is not dtype or out.shape != (m, n) or so[1] != item or so[0] % item or so[0] < item * n
                or not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
            return None
        ldc, pc = so[0] // item, _pointer(out)
    fn(_ROW_MAJOR, ta, tb, m, n, k, 1.0, pa, lda, pb, ldb, 0.0, pc, ldc)
    return out


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, on MKL for two float32/float64 matrices of at least MIN_WORK
    multiply-adds that cblas can read in place."""
    res = _mkl_product(a, b, out)
    if res is None:
        return np.matmul(a, b, out=out)
    return res


def dot(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``np.dot(a, b, out=out)``, on MKL as ``matmul`` is (NumPy's ``dot`` where MKL does not take
    the product: it, unlike ``np.matmul``, has no slow path for an axis of length 1)."""
    res = _mkl_product(a, b, out)
    if res is None:
        return np.dot(a, b) if out is None else np.dot(a, b, out=out)
    return res


def batched_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` of two stacks of matrices of the same stack shape (no
    broadcasting): one ``matmul`` per matrix on MKL, else NumPy's call."""
    if (engine() != "mkl" or a.ndim < 3 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]
            or a.dtype is not b.dtype or a.dtype not in _gemm
            or a.shape[-2] * a.shape[-1] * b.shape[-1] < MIN_WORK):
        return np.matmul(a, b, out=out)
    shape = a.shape[:-2] + (a.shape[-2], b.shape[-1])
    if out is None:
        out = np.empty(shape, a.dtype)
    elif out.shape != shape or out.dtype is not a.dtype:
        return np.matmul(a, b, out=out)
    for index in np.ndindex(*a.shape[:-2]):
        if _mkl_product(a[index], b[index], out[index]) is None:
            np.matmul(a[index], b[index], out=out[index])
    return out

