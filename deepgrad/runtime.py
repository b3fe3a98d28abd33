"""Floor 1, beside ``backend``: how the process runs, not what it computes.

Process tuning that applications opt into (``keep_freed_memory`` for glibc's allocator,
``short_blas_spin`` for OpenBLAS's idle threads; importing deepgrad calls neither) and the
one worker thread that splits large element-wise passes in two (``for_batch_halves``; off on
one core or when OMP_NUM_THREADS or OPENBLAS_NUM_THREADS is 1).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import sys
import threading
from contextlib import contextmanager
from queue import SimpleQueue
from threading import Lock, get_ident
from time import monotonic

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Serve large blocks from the heap and keep freed ones (up to ``limit`` bytes) for reuse.

    glibc maps blocks above M_MMAP_THRESHOLD with mmap and unmaps them on free, and trims the
    heap top above M_TRIM_THRESHOLD; a training step that allocates the same large temporaries
    every time then pays for fresh zeroed pages again and again (30-40% of a CNN step). This
    changes the whole process's allocator, so it is for applications to call (the
    ``deepgrad`` command and the benchmarks do); importing deepgrad never does. Returns False
    where the C library has no ``mallopt`` (not glibc).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, limit)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, limit))
    except (OSError, AttributeError, TypeError):
        return False


def _openblas_paths() -> list:
    """The files of the OpenBLAS libraries mapped into this process (Linux; else none)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return []


def _openblas_libraries() -> list:
    """The OpenBLAS libraries mapped into this process, as ctypes handles."""
    libs = []
    for path in _openblas_paths():
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _loaded_openblas() -> list:
    """The pthreads builds of OpenBLAS mapped into this process (Linux), as ctypes handles."""
    found = []
    for lib in _openblas_libraries():
        parallel = next((getattr(lib, n) for n in ("openblas_get_parallel", "openblas_get_parallel64_",
                                                   "scipy_openblas_get_parallel64_", "scipy_openblas_get_parallel")
                         if hasattr(lib, n)), None)
        needed = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")
        if parallel is not None and parallel() == 1 and all(hasattr(lib, n) for n in needed):
            found.append(lib)
    return found


def short_blas_spin(exponent: int = 20) -> bool:
    """Let OpenBLAS's idle threads sleep after about 2**exponent CPU cycles instead of 2**28.

    After each GEMM, OpenBLAS's worker threads spin (calling sched_yield) for about 0.1 s
    before they sleep; the element-wise passes of a training step that follow then share the
    cores with them. 2**20 cycles (well under a millisecond) keeps the threads warm between
    the GEMMs of one step and cut a CNN step by about a fifth on two cores. This sets
    ``OPENBLAS_THREAD_TIMEOUT`` unless the environment already does, and restarts OpenBLAS's
    thread pool so that it takes effect: call it once at the start of an application, before
    any other thread uses BLAS. Importing deepgrad never calls it. Returns False when no
    pthreads OpenBLAS is loaded (another BLAS, or not Linux).
    """
    libs = _loaded_openblas()
    if not libs:
        return False
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(int(exponent)))
    for lib in libs:
        lib.openblas_read_env()
        lib.blas_thread_shutdown_()
        lib.blas_thread_init()
    return True


# ----------------------------------------------------------------- two threads over one axis
# NumPy runs an element-wise op on one core while BLAS uses them all. Element-wise passes that
# are independent along an axis (the samples of a batch in convolution and pooling, the rows of
# a batch normalisation or an activation, the entries of a weight in an optimizer update) run
# over the two halves in two threads (NumPy releases the GIL inside its loops): the same
# arithmetic, so the same result, bit for bit.
#
# One thread only, the plain path, when the process may run on one core (``taskset -c 0``, a
# container's cpuset) or when ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS`` is 1: whoever
# sets either to 1 asks for one thread of computation (PyTorch sizes its intra-op pool by
# OMP_NUM_THREADS alike), and a one-thread comparison should compare one thread with one.
# Both are read at each call, so a process may change them while it runs.
def compiled_loop(module: str, name: str, cache: dict | None = None):
    """The compiled loop ``name`` of ``deepgrad.loops.<module>``, or None when that extension was
    not built (no C compiler at install: ``deepgrad.loops``) or ``DEEPGRAD_LOOPS=0`` is in the
    environment; the caller then runs the loop's NumPy passes, which give the same bits. With
    ``cache`` (a calling module's dict, name -> loop or None) it is looked up once."""
    if cache is not None and name in cache:
        return cache[name]
    loop = None
    if os.environ.get("DEEPGRAD_LOOPS", "").strip() != "0":
        try:
            loop = getattr(importlib.import_module(f"deepgrad.loops.{module}"), name)
        except ImportError:
            pass
    if cache is not None:
        cache[name] = loop
    return loop


_PARALLEL_MIN_SIZE = 1 << 18  # elements; below this a thread hand-off (tens of us) costs more
_ONE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_TAKE_BACK_UNSTARTED = True  # run an unstarted second half here (measurements turn it off to see the split)
# The worker thread: one persistent daemon thread fed through a SimpleQueue, started on first use.
# A hand-off is one put and, when the worker ran the half, one acquire of a lock it releases: about
# a third of the Python (and of the CPU time) of a ThreadPoolExecutor's submit, future and result.
_put = None           # the worker's queue's put, None until it is started (and in a forked child)
_worker_ident = None  # the worker's thread id: a split inside the worker runs both parts there
_start_lock = threading.Lock()


def _serve(tasks) -> None:
    """The worker's loop: each task is ``(fn, arg, claim, done, errors)``; it runs ``fn(arg)`` if it
    can take ``claim`` (the caller has not taken the part back), keeps an error in ``errors`` and
    releases ``done``."""
    get = tasks.get
    while True:
        fn, arg, claim, done, errors = get()
        if claim.acquire(False):
            try:
                fn(arg)
            except BaseException as err:  # the caller raises it
                errors.append(err)
            done.release()
        del fn, arg, claim, done, errors  # hold no reference to the caller's arrays while idle


def _start_worker():
    """The worker's queue's put, the worker started if it is not."""
    global _put, _worker_ident
    with _start_lock:
        if _put is None:
            tasks = SimpleQueue()
            thread = threading.Thread(target=_serve, args=(tasks,), name="deepgrad-halves", daemon=True)
            thread.start()
            _worker_ident = thread.ident
            _put = tasks.put
    return _put


def _forget_worker() -> None:
    global _put, _worker_ident, _start_lock
    _put = _worker_ident = None  # a forked child has no worker thread: start one on first use
    _start_lock = threading.Lock()  # the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def _occupy_worker(fn) -> None:
    """Queue ``fn()`` to run in the worker thread (tests and measurements: a busy worker)."""
    done = threading.Lock()
    done.acquire()
    (_put or _start_worker())((lambda _: fn(), None, threading.Lock(), done, []))


_share = 0  # cores this process may use when it shares the machine with others (share_cores); 0: all


def allowed_cores() -> int:
    """The cores the operating system lets this process run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# allowed_cores() as last read, and when: a training step asks two_threads() several times, and
# the system call costs about 0.5 us; an affinity changed while the process runs (taskset -p) is
# seen within a second
_affinity = [0, -2.0]  # [cores, monotonic seconds]


def _cores() -> int:
    now = monotonic()
    if now - _affinity[1] > 1.0:
        _affinity[:] = [allowed_cores(), now]
    n = _affinity[0]
    return min(n, _share) if _share else n


def share_cores(processes: int) -> int:
    """This process is one of ``processes`` on this machine that share its cores (the ranks of
    a data-parallel job on one machine): from now on it uses its share, ``cores // processes``
    (at least one), for the second thread of ``for_batch_halves`` and for OpenBLAS's threads,
    as ``torchrun`` limits each of its processes' threads. Without this, N ranks each start
    two threads of passes and a BLAS pool the size of the machine, N times more threads than
    cores. An ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS`` the user set is kept. Returns the
    share; ``share_cores(1)`` gives the process every core again."""
    global _share
    processes = max(1, int(processes))
    share = allowed_cores() // processes or 1
    if processes == 1 and not _share:
        return share  # nothing was shared: leave OpenBLAS as it is
    _share = 0 if processes == 1 else share
    if not any(os.environ.get(name, "").strip() for name in _ONE_THREAD_VARIABLES):
        for set_threads in _blas_thread_setters():
            set_threads(share)
    return share


def _blas_thread_setters() -> list:
    """``openblas_set_num_threads`` (under NumPy's symbol prefix too) of every OpenBLAS mapped
    into the process."""
    setters = []
    for lib in _openblas_libraries():
        for name in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads"):
            if hasattr(lib, name):
                fn = getattr(lib, name)
                fn.argtypes, fn.restype = [ctypes.c_int], None
                setters.append(fn)
                break
    return setters



# os.environ's own dict (CPython's ``_data``, keys as os.environ encodes them), read directly: two
# ``os.environ.get`` cost about 3 us and 130 bytecodes, two dict lookups 0.1 us. The answer for each
# pair of raw values is kept (``_asked``), so a changed variable is seen at the next call.
_environ = getattr(os.environ, "_data", None)
try:
    _ENV_KEYS = tuple(os.environ.encodekey(name) for name in _ONE_THREAD_VARIABLES)
except AttributeError:  # another implementation of os.environ: read it as a mapping
    _environ = None
_asked = {}


def _one_thread_asked() -> bool:
    """True when OMP_NUM_THREADS or OPENBLAS_NUM_THREADS is set to 1."""
    if _environ is None:
        return _read_one_thread_asked()
    key = (_environ.get(_ENV_KEYS[0]), _environ.get(_ENV_KEYS[1]))
    asked = _asked.get(key)
    if asked is None:
        if len(_asked) > 64:
            _asked.clear()
        asked = _asked[key] = _read_one_thread_asked()
    return asked


def _read_one_thread_asked() -> bool:
    for name in _ONE_THREAD_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and value.split(",")[0].strip() == "1":  # OpenMP also accepts a list per nesting level
            return True
    return False


def two_threads() -> bool:
    """Whether ``for_batch_halves`` may split its work: two or more cores, and no one-thread request."""
    return _cores() >= 2 and not _one_thread_asked()


def for_batch_halves(fn, length: int, size: int) -> None:
    """``fn(slice)`` over an axis of ``length``: both halves at once in two threads when the
    work (``size`` elements in all) is large enough to pay for the hand-off.

    The second half goes to a worker thread; if that thread has not started it by the time
    this one has finished the first half (a busy machine, a core taken by another process),
    this thread runs it too. ``fn`` must not depend on thread-local state (the grad mode, the
    workspace pool's rules): allocate before, fill in ``fn``."""
    if length < 2 or size < _PARALLEL_MIN_SIZE or not two_threads():
        fn(slice(None))
        return
    _in_two_threads(fn, slice(0, length // 2), slice(length // 2, None), _TAKE_BACK_UNSTARTED)


def _in_two_threads(fn, first, second, take_back: bool) -> None:
    """``fn(first)`` here and ``fn(second)`` in the worker thread; with ``take_back``, a second
    part the worker has not started when the first is done runs here. An error in either waits
    for the other part: no thread may still be writing when it propagates. Called in the worker
    (a split inside a part), both parts run there, one after the other."""
    if get_ident() == _worker_ident:
        fn(first)
        fn(second)
        return
    claim, done, errors = Lock(), Lock(), []
    done.acquire()
    (_put or _start_worker())((fn, second, claim, done, errors))
    try:
        fn(first)
    except BaseException:
        if not claim.acquire(False):  # the worker has the second part: wait for it
            done.acquire()
        raise
    if take_back and claim.acquire(False):  # never started: no waiting for a thread that has no core
        fn(second)
        return
    done.acquire()
    if errors:
        raise errors[0]


def for_items_shared(fn, count: int, size: int, one_blas: bool = False) -> None:
    """``fn(i, mine)`` for every i in ``range(count)``, the items taken one after the other by this
    thread and the worker thread from one shared counter (``mine``: a dict of the calling thread,
    the same for all its items of this call, for buffers it makes once): a thread that is late to
    start, or slower, takes fewer items, where ``for_batch_halves`` waits for its half. ``fn``
    must not depend on which thread runs an item nor on the order of the items (each writes its
    own results). One thread, as ``for_batch_halves``, when the work (``size`` elements) is small
    or two threads are not allowed; with ``one_blas``, the two threads' items run on one BLAS
    thread each (``one_blas_thread``: their GEMMs)."""
    if count < 2 or size < _PARALLEL_MIN_SIZE or not two_threads():
        mine = {}
        for i in range(count):
            fn(i, mine)
        return
    taken = iter(range(count))
    lock = threading.Lock()
    failed = []   # an error in one thread: the other takes no more items

    def items():
        mine = {}
        while not failed:
            with lock:
                i = next(taken, None)
            if i is None:
                return
            try:
                fn(i, mine)
            except BaseException:
                failed.append(True)
                raise

    def run(_):
        if one_blas:
            with one_blas_thread():
                items()
        else:
            items()

    _in_two_threads(run, None, None, take_back=True)


def for_both_halves(fn, length: int, multiple: int = 1) -> None:
    """``fn(slice)`` over the two parts of an axis in two threads, split at the multiple of
    ``multiple`` nearest the middle (once over all of it when no such split leaves two parts),
    whatever the size: for callers that judge the work worth the hand-off themselves (with
    ``two_threads``). A recurrent scan over half a batch is thousands of small passes, far more
    work per element than the single passes ``for_batch_halves`` sizes. (A split at a multiple
    of the GEMM kernels' row blocking keeps every row's arithmetic as in one call over all.)"""
    half = int(round(length / 2 / multiple)) * multiple
    if not 0 < half < length:
        fn(slice(None))
        return
    # no take-back: each half's scan holds its own BLAS setting and buffers for its thread
    _in_two_threads(fn, slice(0, half), slice(half, None), take_back=False)


_local_blas_setters = None  # openblas_set_num_threads_local of each OpenBLAS mapped in, once found


def local_blas_setters() -> list:
    """``openblas_set_num_threads_local`` (OpenBLAS 0.3.27+) of every OpenBLAS mapped into the
    process (NumPy's, SciPy's), found once; empty without such a library. Each returns the
    count it replaces. In OpenBLAS's pthreads builds (NumPy's and SciPy's wheels) the count it
    sets is the process's, not the calling thread's (see ``one_blas_thread``)."""
    global _local_blas_setters
    if _local_blas_setters is None:
        setters = []
        for lib in _openblas_libraries():
            if hasattr(lib, "openblas_set_num_threads_local"):
                fn = lib.openblas_set_num_threads_local
                fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                setters.append(fn)
        _local_blas_setters = setters
    return _local_blas_setters


# one_blas_thread's threads inside at once, and the counts the first of them replaced
_one_blas_lock = threading.Lock()
_one_blas_users = [0]
_one_blas_previous: list = []


@contextmanager
def one_blas_thread():
    """OpenBLAS on one thread for the duration: for each of two threads that run their own
    halves of the work (their GEMMs would otherwise queue for the one OpenBLAS thread pool).
    Where OpenBLAS splits only the output among its threads the count changes a GEMM's speed,
    not its result; some of its kernels (AVX2, float32) sum differently on one thread, so callers
    that would choose the count by timing check that first (``ops.recurrent.common``).

    ``openblas_set_num_threads_local`` sets the process's count in OpenBLAS's pthreads builds
    (measured with NumPy's 0.3.31: a count set in one thread holds in every other) and returns
    the process's count. So the count is set when the first thread comes in and put back when
    the last one leaves: with each thread restoring what its own call returned, a second thread
    that came in after the first saw 1, restored 1 last, and left every later GEMM of the process
    (the convolutions' backward) on one BLAS thread. Does nothing without the setter."""
    setters = local_blas_setters()
    if not setters:
        yield
        return
    with _one_blas_lock:
        if _one_blas_users[0] == 0:
            _one_blas_previous[:] = [fn(1) for fn in setters]
        _one_blas_users[0] += 1
    try:
        yield
    finally:
        with _one_blas_lock:
            _one_blas_users[0] -= 1
            if _one_blas_users[0] == 0:
                for fn, n in zip(setters, _one_blas_previous):
                    fn(n)
