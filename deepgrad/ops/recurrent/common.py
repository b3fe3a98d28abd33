"""What the three fused recurrent ops share: argument checks, time-major layouts, masks, the
in-place sigmoid, the step-by-step loop that runs a reference cell over a sequence, the
choice of BLAS threads for the per-step GEMMs, the split of a large batch over two threads, and the
hand-off of a scan's off-chain work to a second thread."""
from __future__ import annotations

import collections
import os
import queue
import threading
import time
from contextlib import contextmanager

import numpy as np

from ... import runtime
from ...autograd import Tensor
from .. import blas
from ..math import where
from ..manipulation import stack


# --------------------------------------------------------------------------- the reference loop
def scan(cell, x, states: tuple, mask=None, go_backwards=False) -> tuple:
    """Keras's RNN loop over ``cell(x_t, *states) -> new_states`` (the output is ``new_states[0]``)
    from ordinary differentiable ops: ``(outputs (batch, time, units), *final_states)``.

    Where ``mask[b, t]`` is False the states carry over unchanged, so that step's output
    repeats the previous state.
    """
    steps = range(x.shape[1])
    outputs = []
    for t in (reversed(steps) if go_backwards else steps):
        new = cell(x[:, t], *states)
        if mask is not None:
            keep = np.asarray(mask, dtype=bool)[:, t:t + 1]
            new = tuple(where(keep, n, s) for n, s in zip(new, states))
        states = new
        outputs.append(states[0])
    return (stack(outputs, axis=1), *states)


# --------------------------------------------------------------------------- argument checks
def as_array(a) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _check(op: str, x, kernel, recurrent_kernel, bias, bias_shape, states):
    """Reject bad shapes with a message that names the op and both shapes."""
    if x.ndim != 3:
        raise ValueError(f"{op}: inputs must be (batch, time, features), got shape {x.shape}")
    batch, _, features = x.shape
    units = recurrent_kernel.shape[0]
    gates = bias_shape[-1] // units
    expected = {"kernel": (kernel.shape, (features, gates * units)),
                "recurrent_kernel": (recurrent_kernel.shape, (units, gates * units)),
                "bias": (bias.shape, bias_shape)}
    expected.update({name: (s.shape, (batch, units)) for name, s in states.items()})
    for name, (got, want) in expected.items():
        if tuple(got) != tuple(want):
            raise ValueError(f"{op}: {name} has shape {tuple(got)}, expected {want} for inputs of "
                             f"shape {x.shape} and {units} units")


def prepare(op: str, x, kernel, recurrent_kernel, bias, bias_shape, states: dict, mask):
    """Fill default bias and zero states, check every shape, and return the mask as a bool array."""
    xa = as_array(x)
    dtype = xa.dtype if xa.dtype.kind == "f" else np.dtype(np.float32)
    units = as_array(recurrent_kernel).shape[0]
    bias = np.zeros(bias_shape, dtype) if bias is None else bias
    states = {name: np.zeros((xa.shape[0], units), dtype) if s is None else s for name, s in states.items()}
    _check(op, xa, as_array(kernel), as_array(recurrent_kernel), as_array(bias), bias_shape,
           {name: as_array(s) for name, s in states.items()})
    if mask is not None:
        mask = as_array(mask).astype(bool)
        if mask.shape != xa.shape[:2]:
            raise ValueError(f"{op}: mask has shape {mask.shape}, expected (batch, time) = {xa.shape[:2]}")
    return bias, list(states.values()), mask


# --------------------------------------------------------------------------- layouts and masks
def time_major(x: np.ndarray, go_backwards: bool) -> np.ndarray:
    """(batch, time, ...) -> contiguous (time, batch, ...), time reversed if ``go_backwards``."""
    if go_backwards:
        x = x[:, ::-1]
    return np.ascontiguousarray(x.swapaxes(0, 1))


def batch_major(x: np.ndarray, go_backwards: bool) -> np.ndarray:
    """The inverse of ``time_major``."""
    x = x.swapaxes(0, 1)
    if go_backwards:
        x = x[:, ::-1]
    return np.ascontiguousarray(x)


def feature_major(x: np.ndarray, go_backwards: bool) -> np.ndarray:
    """(batch, time, features) -> a (time, features, batch) view, time reversed if ``go_backwards``."""
    return (x[:, ::-1] if go_backwards else x).transpose(1, 2, 0)


def masks(mask, go_backwards: bool, dtype, batch_last: bool = False):
    """A (batch, time) mask as time-major ``keep`` (float 0/1) and ``drop`` (bool), (T, B, 1)
    or, with ``batch_last``, (T, 1, B); ``(None, None)`` without a mask."""
    if mask is None:
        return None, None
    keep = time_major(np.asarray(mask, dtype=bool), go_backwards)
    keep = keep[:, None, :] if batch_last else keep[:, :, None]
    return keep.astype(dtype), ~keep


# --------------------------------------------------------------------------- in-place arithmetic
def sigmoid_of_negated(a: np.ndarray) -> None:
    """In place: ``a <- 1 / (1 + exp(a))``, the sigmoid of ``-a``.

    The fused ops fold the ``-1`` into private copies of their weights (scaling by a power of
    two is exact), so a gate costs one ``exp``, one add and one reciprocal; an ``exp`` that
    overflows gives inf and the gate 0, as it should (callers silence that warning).
    """
    np.exp(a, out=a)
    np.add(a, 1, out=a)
    np.reciprocal(a, out=a)


def sum_over_steps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_t a[t] @ b[t]^T`` for feature-major ``(time, m, batch)`` and ``(time, n, batch)``:
    a weight gradient, one GEMM per step (faster here than a stacked matmul and a sum)."""
    out = blas.dot(a[0], b[0].T)
    step = np.empty_like(out)
    for t in range(1, len(a)):
        blas.dot(a[t], b[t].T, out=step)
        np.add(out, step, out=out)
    return out


# --------------------------------------------------------------------------- BLAS threads per loop
# A time step's GEMMs are small (LSTM(64), batch 128: 2 MFLOP). On an idle machine OpenBLAS's
# second thread shortens them; on a busy one that thread waits for a core at every GEMM of the
# step (a 2 MFLOP GEMM measured 1.6 ms on two threads against 0.18 ms on one, at load average 18).
# So each loop times itself and picks, per op and direction, the thread count that ran faster
# lately. OpenBLAS's thread-local setting is used, so no other thread and no other call of the
# process is affected. Where OpenBLAS splits only the output among its threads, the count changes
# a GEMM's speed, not its result; but some of its builds take other kernels for one thread than
# for several (on an AMD Zen 3, NumPy's OpenBLAS 0.3.31 gives a 256x81 @ 81x128 product that
# differs in the last bits), and a choice by timing would then make a seeded run's numbers depend
# on the machine's load. So the threaded ways are offered only where a few probe products of the
# loops' sizes give one thread's bits (``_threads_keep_bits``).
_TRY_OTHER_EVERY = 8  # calls; how often the count not in favour is timed again
_SMOOTHING = 0.5      # weight of the newest timing in each count's running estimate
# A way whose trial took more than _HOPELESS times the best way's time lately gets a strike, and
# with k strikes only every 2**k-th of its turns is taken (k <= _MAX_STRIKES); a trial within
# _HOPELESS clears them. On a loaded machine OpenBLAS's two threads made a whole LSTM op take
# 40x longer than one thread (a GEMM waits for its second thread's core): tried every 16th
# call, such a way would cost more than all the other calls together.
_HOPELESS = 3.0
_MAX_STRIKES = 6


def _find_local_threads():
    """A setter for the thread-local thread count (``openblas_set_num_threads_local``, OpenBLAS
    0.3.27+) of every OpenBLAS mapped into the process (NumPy's, SciPy's): it takes one count
    for all or a tuple (one per library) and returns the tuple of counts it replaced; None when
    there is no such library."""
    setters = runtime.local_blas_setters()
    if not setters:
        return None

    def set_local(threads) -> tuple:
        counts = threads if isinstance(threads, tuple) else (threads,) * len(setters)
        return tuple(fn(n) for fn, n in zip(setters, counts))
    return set_local


_PROBE_PRODUCTS = ((256, 81, 128), (192, 81, 128), (256, 130, 64), (512, 257, 128))  # (m, k, n) of x @ w


def _threads_keep_bits(set_local) -> bool:
    """Whether OpenBLAS's default thread count gives one thread's bits on the probe products, in
    float32 and float64 (run once a process; a few milliseconds)."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for m, k, n in _PROBE_PRODUCTS:
            a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
            threaded = a @ b
            previous = set_local(1)
            try:
                alone = a @ b
            finally:
                set_local(previous)
            if not np.array_equal(threaded, alone):
                return False
    return True


class BlasThreads:
    """Chooses 1 or the default number of BLAS threads for one loop of small GEMMs by timing,
    or (when ``ways`` has ``PIPELINED``) one BLAS thread here and a second thread of the caller's.

    ``with chooser.loop() as way: ...`` runs the block with the way currently in favour and
    times it (seconds per call, smoothed); every ``_TRY_OTHER_EVERY`` calls it runs another
    way once, so the choice follows the machine's load, less and less often for a way that was
    hopelessly slow at its last trials (``_HOPELESS``). Without OpenBLAS's thread-local setting
    it does nothing (the way is 0). Where OpenBLAS's threads change a product's bits, only the
    ways with one BLAS thread on the chain are offered (1 and ``PIPELINED``).
    """
    _set_local = None
    _searched = False
    _threaded_ways = True  # False where OpenBLAS's threads change a product's bits

    def __init__(self, ways: tuple = (0, 1)):
        cls = BlasThreads
        if not cls._searched:
            cls._set_local, cls._searched = _find_local_threads(), True
            cls._threaded_ways = cls._set_local is None or _threads_keep_bits(cls._set_local)
        if not cls._threaded_ways:
            ways = tuple(way for way in ways if way not in (0, SPARE)) or (1,)
        self.ways = ways   # 0 (OpenBLAS's default), 1 (one thread), PIPELINED (one here, one in a second thread)
        self.seconds = {}  # way -> smoothed seconds per call
        self.strikes = {}  # way -> trials in a row that were hopelessly slow
        self.calls = 0

    def choice(self) -> int:
        for way in self.ways:  # each way once, in order, then the fastest lately
            if way not in self.seconds:
                return way
        best = min(self.seconds, key=self.seconds.get)
        if self.calls % _TRY_OTHER_EVERY:
            return best
        others = [way for way in self.ways if way != best]  # every 8th call one of the others, in turn
        if not others:
            return best
        turn = self.calls // _TRY_OTHER_EVERY
        way = others[turn % len(others)]
        if (turn // len(others)) % (1 << self.strikes.get(way, 0)):
            return best  # a hopeless way's turn, skipped
        return way

    @contextmanager
    def loop(self):
        cls = BlasThreads
        if cls._set_local is None:  # (nor a second thread: two callers would queue for one thread pool)
            yield 0
            return
        threads = self.choice()
        trial = len(self.seconds) == len(self.ways) and threads != min(self.seconds, key=self.seconds.get)
        previous = cls._set_local(1) if threads else None  # 0: leave OpenBLAS's own count
        start = time.perf_counter()
        try:
            yield threads
        finally:
            seconds = time.perf_counter() - start
            if previous is not None:
                cls._set_local(previous)
            self.calls += 1
            if trial:
                best = min(self.seconds.values())
                if seconds > _HOPELESS * best:
                    self.strikes[threads] = min(self.strikes.get(threads, 0) + 1, _MAX_STRIKES)
                else:
                    self.strikes.pop(threads, None)
            old = self.seconds.get(threads)
            self.seconds[threads] = seconds if old is None else old + _SMOOTHING * (seconds - old)


_choosers: dict = {}


def blas_threads(*key, ways: tuple = (0, 1)) -> BlasThreads:
    """The thread chooser of one loop (an op, a direction and the shapes it runs on)."""
    chooser = _choosers.get((key, ways))
    if chooser is None:
        chooser = _choosers[key, ways] = BlasThreads(ways)
    return chooser


# --------------------------------------------------------------------------- the batch in two threads
# A scan is independent per sample, so each half of a large batch can run the whole scan (or
# the whole backward scan) in its own thread, each in its own contiguous buffers: NumPy releases
# the GIL inside its loops and BLAS calls, and each half's GEMMs run on one BLAS thread (two
# callers would otherwise queue for OpenBLAS's one thread pool). Every pass costs about a
# microsecond of Python, holding the GIL, whatever its size; the halves pay only when each
# half's work per step is well above that. The split falls at a multiple of 16 samples, the
# row blocking of OpenBLAS's GEMM kernels, so that each sample's columns of every GEMM and pass
# see the same arithmetic as in one call over the batch whenever OpenBLAS takes the same kernel
# for the half as for the whole (it has others for small products): outputs and input and state
# gradients are then the same bit for bit (LSTM(64) at batch 128 is), else within float
# rounding. The weight gradients, sums over the batch, add the two halves' sums.
SPLIT_MIN_BATCH = 32      # samples: small batches (RL's 1-8) stay on the plain path
# gate elements per step (gates x units x batch). Measured on two free cores (train_on_batch,
# T = 50): LSTM(64) at batch 128 (32,768) is 9% slower split, GRU(64) at batch 128 (24,576) 26%
# slower (each half's Python and GIL hand-offs outweigh half the GEMM and pass work); LSTM(64)
# at batch 512 and LSTM(256) at batch 128 (131,072) are 1.55x and 1.81x faster split, GRU(64) at
# batch 512 (98,304) 1.16x
SPLIT_MIN_STEP = 1 << 16
SPLIT_MULTIPLE = 16       # samples in the first part: a multiple of this


def splits(batch: int, step_elements: int) -> bool:
    """Whether a scan over ``batch`` samples with ``step_elements`` gate elements per step runs
    as two halves in two threads."""
    return batch >= SPLIT_MIN_BATCH and step_elements >= SPLIT_MIN_STEP and runtime.two_threads()


def over_batch(fn, batch: int, split: bool, *key, pipeline: bool = False) -> list:
    """``[fn(part), ...]``: with ``split`` over the two halves of the batch in two threads, each
    on one BLAS thread; otherwise ``[fn(slice(None))]`` with the BLAS thread count that
    ``blas_threads(*key)`` chooses. With ``pipeline`` (a scan whose ``fn(part, side)`` can hand
    off-path chunks to a ``SideWork``) the chooser may also pick the ``PIPELINED`` way (and
    ``SPARE`` when ``PIPELINE_WAYS`` has it), in which ``fn`` gets a threaded ``SideWork``; ``fn``
    gets an inline one otherwise."""
    if not split:
        pipeline = pipeline and runtime.two_threads()
        with blas_threads(*key, ways=PIPELINE_WAYS if pipeline else (0, 1)).loop() as way:
            if not pipeline:
                return [fn(slice(None))]
            with SideWork(threaded=way in (PIPELINED, SPARE), spare=way == SPARE) as side:
                return [fn(slice(None), side)]
    results = {}

    def run(part):
        with runtime.one_blas_thread():
            results[part.start] = fn(part, SideWork(threaded=False)) if pipeline else fn(part)

    runtime.for_both_halves(run, batch, SPLIT_MULTIPLE)
    return [results[start] for start in sorted(results)]


# --------------------------------------------------------------------------- off-path work in a second thread
# A scan's steps are sequential, but part of each step's work is not on that chain: the LSTM's
# derivative factors in the forward loop, its weight gradients ``sum_t da_t [h_{t-1}; x_t; 1]^T``
# in the backward loop. The PIPELINED way hands that work, a chunk of steps at a time, to one
# second thread while this one goes on along the chain, each on one BLAS thread. The chunks are
# the same whichever thread computes them, so the result is the same bit for bit either way.
PIPELINED = 2             # the way of ``BlasThreads`` that runs a scan with a SideWork thread
# PIPELINED, and the chain's GEMMs on OpenBLAS's own threads whenever the SideWork thread has no
# chunk (the second core is then idle: most of an LSTM forward, a third of its backward)
SPARE = 3
# the ways a scan with off-path work may be run. SPARE is left out until measured on two free
# cores (benchmarks/lstm_profile.py --threads 2 --part ways): on a loaded machine its GEMMs wait
# for OpenBLAS's second thread as way 0's do, and it ran 2.6x slower than PIPELINED
PIPELINE_WAYS = (0, 1, PIPELINED)
CHUNK = 5                 # steps per chunk of off-path work

# The second thread: one daemon thread for the process, woken by a token per queued call. A
# hand-off is a deque append and a SimpleQueue put (both in C): a ThreadPoolExecutor's submit
# (a Future, a work item, two locks and a semaphore per call) and its cancel / result at the end
# cost the calling thread about 18 us per chunk, 0.4 ms of each LSTM training step.
_side_queue = None


def _side_worker(wake) -> None:
    while True:
        side = wake.get()
        try:
            task = side.tasks.popleft()  # the first queued call; the caller takes them back from the last
        except IndexError:  # taken back (or cancelled) before this thread came to it
            continue
        try:
            side._run(task)
        except BaseException as error:  # noqa: BLE001 (raised again in the calling thread, on exit)
            if side.error is None:
                side.error = error
        finally:
            side.done_there += 1
            if side.waiting and side.submitted == side.done_there + side.done_here:
                side.finished.release()


def _side_wake():
    """The second thread's wake-up queue, the thread started on first use (and again in a forked
    child, which has no such thread)."""
    global _side_queue
    if _side_queue is None:
        _side_queue = queue.SimpleQueue()
        threading.Thread(target=_side_worker, args=(_side_queue,), name="deepgrad-scan", daemon=True).start()
    return _side_queue


def _drop_side_thread() -> None:
    global _side_queue
    _side_queue = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_side_thread)


class SideWork:
    """``side(fn, *args)`` runs ``fn(*args)`` here (``threaded=False``) or queues it for a second
    thread; leaving ``with side:`` runs the queued calls that thread has not started here, from the
    last one back (the thread takes them from the first on), and waits for the rest. The calls must
    write disjoint arrays and read only what is complete when they are queued. On an error in the
    block every queued call is cancelled or waited for before the error propagates: no thread is
    still writing then. An error in a call on the second thread is raised here on leaving."""

    def __init__(self, threaded: bool, spare: bool = False):
        self.threaded = threaded
        self.spare = spare and threaded  # lend the idle second core to the chain's GEMMs (SPARE)
        self.tasks = collections.deque()  # queued calls not started: the thread pops the first, we the last
        self.errstate = np.geterr()  # NumPy's error state is per thread: the caller's applies
        # calls queued (by the calling thread only) and done (by the second thread, or here when
        # taken back): each counter has one writer, so no update is lost between the threads
        self.submitted = self.done_there = self.done_here = 0
        self.error = None
        self.waiting = False
        self.finished = None  # a lock held until the second thread finishes the last call, when waited for
        self.chain_threads = 1  # the calling thread's BLAS threads: 1, or 0 for OpenBLAS's own count

    def chain_gemm(self) -> None:
        """Before a GEMM on the chain: with ``spare``, OpenBLAS's own thread count for it when the
        second thread has nothing queued or running, else one thread. Only this thread queues
        work, so an idle second thread stays idle until the GEMM is done. (The thread count never
        changes a GEMM's result.)"""
        if not self.spare:
            return
        threads = 0 if self.submitted == self.done_there + self.done_here else 1
        if threads != self.chain_threads:
            BlasThreads._set_local(threads)
            self.chain_threads = threads

    def __call__(self, fn, *args) -> None:
        if not self.threaded:
            fn(*args)
            return
        self.tasks.append([fn, args])  # emptied once run: nothing here keeps an array alive
        self.submitted += 1
        _side_wake().put(self)

    def _run(self, task) -> None:
        try:
            with runtime.one_blas_thread(), np.errstate(**self.errstate):
                task[0](*task[1])
        finally:
            task.clear()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if not self.threaded:
            return
        if kind is not None:
            self._cancel()
            return
        tasks = self.tasks
        try:
            while tasks:  # take back the calls not started, from the last
                try:
                    fn, args = tasks.pop()
                except IndexError:  # the second thread took the last one meanwhile
                    break
                try:
                    fn(*args)
                finally:
                    self.done_here += 1
        except BaseException:
            self._cancel()
            raise
        self._wait()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _cancel(self) -> None:
        """Drop the calls the second thread has not started and wait for the one it runs."""
        while True:
            try:
                self.tasks.pop()
            except IndexError:
                break
            self.done_here += 1
        self._wait()

    def _wait(self) -> None:
        """Until the second thread has finished every call it started."""
        if self.submitted == self.done_there + self.done_here:
            return
        self.finished = threading.Lock()
        self.finished.acquire()
        self.waiting = True  # from here the second thread releases ``finished`` after the last call
        if self.submitted != self.done_there + self.done_here:
            self.finished.acquire()
