"""All-reduce, all-gather and broadcast of NumPy arrays and Tensors (Horovod's names), and
the fused gradient all-reduce that ``DistributedOptimizer`` and ``DataParallel`` share.

The gradient all-reduce (``GradientReducer``) writes the gradients of one dtype into flat
buffers (kept between steps) and reduces each with one MPI call: a model's dozens of small
gradients cost one message, not dozens. Buffers are buckets of at most ``BUCKET_BYTES``
(PyTorch DDP's 25 MB) of whole gradients, last layers first; in ``fit`` each bucket's
all-reduce starts during backward, as soon as its last gradient is complete.

Waiting. MPI's blocking waits spin on the CPU while a rank waits for a slower one. With a
core per rank that is the fastest wait, but with more ranks than free cores (a laptop, a
shared node) the spinning rank takes the core the rank it waits for needs. ``wait="yield"``
first waits for every rank to arrive, spinning ``SPIN_SECONDS`` and then sleeping between
tests, giving the core away; then it waits for the transfer with MPI's own wait. ``"spin"`` is
MPI's wait alone. The default is ``"spin"`` when the ranks on a machine are no more than its
cores (``default_wait``), else ``"yield"``; the environment variable ``DEEPGRAD_MPI_WAIT``
chooses otherwise.
"""
from __future__ import annotations

import operator
import os
import time

import numpy as np

from .. import runtime
from ..autograd import Tensor
from . import mpi as world

# Horovod's reduction ops
Average, Sum, Min, Max, Product = "average", "sum", "min", "max", "product"

BUCKET_BYTES = 25 << 20   # a bucket's bytes at most (PyTorch DDP's bucket_cap_mb=25)
SPIN_SECONDS = 1e-3       # with wait="yield": test this long before sleeping between tests
SLEEP_SECONDS = 20e-6


_data = operator.attrgetter("data")


def default_wait(comm) -> str:
    """``"spin"`` when every rank on this machine has a core of its own, else ``"yield"``.

    A rank bound to one core (``mpiexec -bind-to core``) sees one allowed core: the machine's
    count is then what the ranks share."""
    local = world._local_comm
    ranks_here = local.Get_size() if local is not None else comm.Get_size()
    cores = runtime.allowed_cores()
    if cores == 1:
        cores = os.cpu_count() or 1
    return "spin" if ranks_here <= cores else "yield"


def _mpi_op(op: str):
    MPI = world.mpi()
    table = {Average: MPI.SUM, Sum: MPI.SUM, Min: MPI.MIN, Max: MPI.MAX, Product: MPI.PROD}
    if op not in table:
        raise ValueError(f"allreduce: op must be one of {sorted(table)}, got {op!r}")
    return table[op]


def _as_array(value, what: str) -> tuple[np.ndarray, bool]:
    """``value`` as a C-contiguous array, and whether it was a Tensor (to give one back)."""
    if isinstance(value, Tensor):
        return np.ascontiguousarray(value.data), True
    array = np.ascontiguousarray(value)
    if array.dtype == object:
        raise TypeError(f"{what}: expected a NumPy array or a Tensor, got {type(value).__name__}")
    return array, False


def _like(array: np.ndarray, was_tensor: bool):
    return Tensor(array) if was_tensor else array


def allreduce(value, average=None, name=None, op=None):
    """The element-wise sum (or ``op``) of ``value`` over every rank; ``Average`` (the default,
    as in Horovod) divides the sum by the number of ranks. Shapes must agree across ranks."""
    if op is None:
        op = Sum if average is False else Average
    array, was_tensor = _as_array(value, "allreduce")
    comm = world.comm()
    out = np.empty_like(array)
    comm.Allreduce(array, out, op=_mpi_op(op))
    if op == Average:
        if out.dtype.kind in "iub":
            raise TypeError(f"allreduce: op=Average needs a floating-point array, got {out.dtype}; use op=Sum")
        out /= comm.Get_size()
    return _like(out, was_tensor)


def allgather(value, name=None):
    """The arrays of every rank concatenated along axis 0 in rank order (their first
    dimensions may differ; the other dimensions must agree)."""
    array, was_tensor = _as_array(value, "allgather")
    if array.ndim == 0:
        array = array.reshape(1)
    comm = world.comm()
    shapes = comm.allgather((array.shape, array.dtype.str))
    tails = {(s[1:], d) for s, d in shapes}
    if len(tails) > 1:
        raise ValueError(f"allgather: the ranks' arrays disagree beyond axis 0: "
                         f"{[f'rank {r}: {s} {d}' for r, (s, d) in enumerate(shapes)]}")
    counts = [int(np.prod(s)) for s, _ in shapes]
    out = np.empty((sum(s[0] for s, _ in shapes),) + array.shape[1:], array.dtype)
    comm.Allgatherv(array, [out, counts])
    return _like(out, was_tensor)


def broadcast(value, root_rank: int = 0, name=None):
    """Rank ``root_rank``'s array on every rank (the others' shapes and dtypes must agree)."""
    array, was_tensor = _as_array(value, "broadcast")
    comm = world.comm()
    _check_root(root_rank, comm)
    out = array.copy()
    comm.Bcast(out, root=root_rank)
    return _like(out, was_tensor)


def broadcast_object(obj, root_rank: int = 0, name=None):
    """Rank ``root_rank``'s Python object (pickled by MPI between the ranks of one job)."""
    comm = world.comm()
    _check_root(root_rank, comm)
    return comm.bcast(obj, root=root_rank)


def allgather_object(obj, name=None) -> list:
    """Every rank's Python object, in rank order."""
    return world.comm().allgather(obj)


def _check_root(root_rank, comm) -> None:
    if not 0 <= int(root_rank) < comm.Get_size():
        raise ValueError(f"broadcast: root_rank must be in [0, {comm.Get_size()}), got {root_rank}")


# ----------------------------------------------------------------- the bucketed gradient all-reduce
class _Plan:
    """Where each gradient goes: buckets of one dtype, gradients in reverse parameter order
    (the order backward finishes them), each bucket at most ``bucket_bytes`` (one gradient
    larger than that is a bucket of its own), with its flat buffer and each gradient's view of
    it made once and kept between steps."""

    def __init__(self, metas: list, bucket_bytes: int):
        self.metas = metas                     # per gradient: (shape, dtype), or None (no gradient)
        self.where: list = [None] * len(metas)  # per gradient: (bucket, start, stop)
        self.buckets: list = []                # [(buffer, [gradient indices])], in the order they start
        open_buckets: dict = {}                # dtype -> [indices, bytes]
        for i in reversed(range(len(metas))):
            if metas[i] is None:
                continue
            shape, dtype = metas[i]
            nbytes = int(np.prod(shape)) * dtype.itemsize
            current = open_buckets.get(dtype)
            if current is not None and current[0] and current[1] + nbytes > bucket_bytes:
                self._close(current[0], dtype)
                current = None
            if current is None:
                current = open_buckets[dtype] = [[], 0]
            current[0].append(i)
            current[1] += nbytes
        for dtype, (indices, _) in open_buckets.items():
            self._close(indices, dtype)
        # made once: each gradient's view of its bucket, its bucket's number, each bucket's count
        self.views = [None if w is None else self.buckets[w[0]][0][w[1]:w[2]].reshape(metas[i][0])
                      for i, w in enumerate(self.where)]
        self.bucket_of = [-1 if w is None else w[0] for w in self.where]
        self.counts = [len(indices) for _, indices in self.buckets]
        self.nbytes = sum(buffer.nbytes for buffer, _ in self.buckets)
        self.absent = [i for i, w in enumerate(self.where) if w is None]

    def _close(self, indices: list, dtype) -> None:
        b, start = len(self.buckets), 0
        for i in indices:
            stop = start + int(np.prod(self.metas[i][0]))
            self.where[i] = (b, start, stop)
            start = stop
        self.buckets.append((np.empty(start, dtype), list(indices)))

    def view(self, i: int) -> np.ndarray:
        return self.views[i]


class _Step:
    """One step's progress: which gradients are in, how many each bucket still misses, which
    ones backward wrote into their views (still to be scaled), the requests of the buckets
    started (and of the arrival barrier)."""
    __slots__ = ("plan", "scale", "index", "missing", "given", "raw", "requests", "barrier")

    def __init__(self, plan: _Plan, scale: float, index: dict, given: list):
        self.plan, self.scale, self.index, self.given = plan, scale, index, given
        self.missing = plan.counts.copy()
        self.raw: list = []
        self.requests: list = []
        self.barrier = None


class GradientReducer:
    """sum_r s_r g_r over the ranks for a list of gradients, bucket by bucket.

    ``s_r`` is this rank's ``scale``: 1 / size by default (Horovod's average). ``DataParallel``
    passes (this rank's samples) / (samples in the global batch), so that ranks with unequal
    shards of a last batch still give the gradient of the whole batch's mean loss.

    Gradients as views of the buckets (PyTorch DDP's ``gradient_as_bucket_view``): ``start``
    makes the step's plan and gives, as ``out``, each gradient's view of its bucket; the
    trainer passes them to ``grad(out=)``, so backward computes each gradient into its view
    (Dense's GEMM writes there) and leaves the buckets packed: no copy. A gradient handed over
    that *is* its view is taken as it stands, and its bucket is multiplied by s_r in place, one
    pass over the buffer, just before the bucket's all-reduce; any other array is written, times
    s_r, into its view (the multiply rides on that copy). Either way each element is s_r times
    the same sum, so the results are the same bit for bit.

    Overlapped with backward: when the step has several buckets, the trainer also passes
    ``ready`` to ``grad`` as its ``on_final`` hook, called with each gradient the moment it is
    complete, and a bucket's non-blocking all-reduce starts as soon as its last gradient is in
    (buckets start in plan order, the same on every rank, as MPI's collectives must).
    ``finish`` (or ``reduce`` with the same gradients, which an optimiser's ``apply`` calls)
    waits for them; the results are views of the buffers, so the optimiser reads the reduced
    buffer with no copy back. ``reduce`` alone does all of it at once.

    One bucket (every model under ``bucket_bytes``): its last gradient comes at the end of
    backward, so there is nothing to overlap and no hook is needed; ``finish`` scales it and
    reduces it with one blocking in-place ``Allreduce``, MPI's own fastest path for the bytes,
    with no request to poll (after the yielding arrival barrier with ``wait="yield"``).
    """

    def __init__(self, comm, bucket_bytes: int = BUCKET_BYTES, wait: str | None = None):
        self.comm = comm
        # the buckets' all-reduces and the arrival barrier run on a communicator of their own: a
        # collective the program calls on ``comm`` meanwhile (a rank may finish a non-blocking
        # all-reduce before another) then never meets one of them half done (MPI_Comm_dup is
        # collective: every rank makes its reducers in the same order)
        self._comm = comm.Dup() if comm.Get_size() > 1 else comm
        self.bucket_bytes = int(bucket_bytes)
        if self.bucket_bytes < 1:
            raise ValueError(f"GradientReducer: bucket_bytes must be >= 1, got {bucket_bytes!r}")
        if wait is None:
            wait = os.environ.get("DEEPGRAD_MPI_WAIT") or default_wait(comm)
        if wait not in ("yield", "spin"):
            raise ValueError(f"GradientReducer: wait must be 'yield' or 'spin', got {wait!r}")
        self.wait = wait
        self._size = comm.Get_size()
        self._yield = wait == "yield" and self._size > 1
        MPI = world.mpi()
        self._MPI, self._SUM, self._IN_PLACE = MPI, MPI.SUM, MPI.IN_PLACE
        self._default_scale = 1.0 / self._size
        # the scale of the next ``reduce`` alone (then back to None), when its call gives none and
        # no step was started with one: ``DataParallel`` sets this rank's share of the global batch
        # here before a ``DistributedOptimizer``'s ``apply`` reduces
        self.next_scale = None
        self._plans: dict = {}
        # the variables of the last ``start`` (kept, so their ids stay theirs), their arrays, and
        # the plan and {id(variable): index} made for them: the same model's next step skips both
        self._last = None
        self._step = None            # the step start() began (a _Step)
        self.bytes_per_step = 0
        self.buckets_started_in_backward = 0   # of the last step: buckets whose all-reduce overlapped backward

    def _plan(self, metas: list) -> _Plan:
        key = tuple(metas)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 8:   # a model whose variables change: keep few plans and their buffers
                self._plans.clear()
            plan = self._plans[key] = _Plan(metas, self.bucket_bytes)
        return plan

    # -------------------------------------------------------- overlapped with backward
    def start(self, variables, scale: float | None = None):
        """Begin a step for the gradients of ``variables``; returns the ``on_final`` hook."""
        if self._step is not None:
            self._drain()
        last = self._last
        arrays = list(map(_data, variables))
        if (last is not None and len(last[0]) == len(variables) and all(map(operator.is_, last[0], variables))
                and all(map(operator.is_, last[1], arrays))):
            plan, index = last[2], last[3]   # the same variables holding the same arrays: the same plan
        else:
            plan = self._plan([(a.shape, a.dtype) for a in arrays])
            index = {id(v): i for i, v in enumerate(variables)}
            self._last = (list(variables), arrays, plan, index)
        self._step = _Step(plan, self._scale(scale), index, [False] * len(arrays))
        self.buckets_started_in_backward = 0
        return self.ready

    @property
    def out(self) -> list:
        """The started step's gradient arrays, one view of a bucket per variable, for
        ``grad(out=)``: backward then writes every gradient where the all-reduce reads it."""
        return self._started().plan.views

    @property
    def overlaps(self) -> bool:
        """Whether the started step has several buckets, whose all-reduces ``ready`` starts during
        backward (with one, the hook has nothing to start: ``finish`` does it all)."""
        return len(self._started().plan.counts) > 1

    def _started(self) -> _Step:
        if self._step is None:
            raise RuntimeError("GradientReducer: no step is started; call start(variables) first")
        return self._step

    def ready(self, variable, grad) -> None:
        """``variable``'s gradient is complete: into its bucket; start the buckets now full."""
        step = self._step
        if step is None:
            return
        i = step.index.get(id(variable))
        if i is None or step.given[i]:
            return
        b = self._put(step, i, grad)
        plan = step.plan
        if len(plan.counts) == 1:   # one bucket: reduced in finish, once backward has ended
            return
        if step.missing[b] == 0 and self._start_full(step):
            self.buckets_started_in_backward = len(step.requests)
        elif step.requests:
            step.requests[-1].Test()   # MPICH advances a started all-reduce only inside MPI calls

    def finish(self, grads: list) -> list:
        """Put the gradients that did not come through ``ready``, start the remaining buckets,
        wait for all; the reduced gradients, as views of the buffers (None stays None)."""
        step, self._step = self._step, None
        plan, views = step.plan, step.plan.views
        if len(grads) == len(views) and not any(step.given) and all(map(operator.is_, grads, views)):
            # backward wrote every gradient into its view (grad(out=)), and no hook was called
            step.raw, step.missing = range(len(views)), [0] * len(plan.counts)
            reduced = list(views)
        else:
            self._gather(step, grads)
            reduced = [None if g is None else views[i] for i, g in enumerate(grads)]
        if len(plan.counts) == 1 and self._size > 1:
            self._scale_raw(step, 0)
            if self._yield:
                _wait_yielding(self._comm.Ibarrier())
            self._comm.Allreduce(self._IN_PLACE, plan.buckets[0][0], op=self._SUM)
        else:
            self._start_full(step)
            self._wait(step)
        self.bytes_per_step = plan.nbytes
        return reduced

    def _gather(self, step: _Step, grads: list) -> None:
        """Put the gradients the hook was not given; zeros for those with none on this rank."""
        plan, given, views = step.plan, step.given, step.plan.views
        for i, g in enumerate(grads):
            if g is not None and not given[i]:
                self._put(step, i, g.data if isinstance(g, Tensor) else np.asarray(g))
        if not all(given):
            for i, was in enumerate(given):   # no gradient on this rank: it adds zeros
                if not was and views[i] is not None:
                    views[i][...] = 0
                    given[i] = True
                    step.missing[plan.bucket_of[i]] -= 1

    def _put(self, step: _Step, i: int, grad) -> int:
        """Gradient ``i`` into its place: as it stands when backward wrote it there (scaled with its
        bucket), else s_r g_r; its bucket's number."""
        out = step.plan.views[i]
        if grad is out:
            step.raw.append(i)
        else:
            if grad.shape != out.shape:
                raise ValueError(f"GradientReducer: gradient {i} has shape {grad.shape}, its variable {out.shape}")
            np.multiply(grad, step.scale, out=out, casting="unsafe")   # s_r g_r straight into the buffer
        step.given[i] = True
        b = step.plan.bucket_of[i]
        step.missing[b] -= 1
        return b

    def _scale_raw(self, step: _Step, b: int) -> None:
        """s_r times the gradients of bucket ``b`` that backward wrote into their views: the whole
        buffer in one pass when they are all of its gradients."""
        plan, scale, raw = step.plan, step.scale, step.raw
        if len(plan.counts) > 1:
            raw = [i for i in raw if plan.bucket_of[i] == b]
        if not raw or scale == 1.0:
            return
        if len(raw) == plan.counts[b]:
            np.multiply(plan.buckets[b][0], scale, out=plan.buckets[b][0])
        else:
            for i in raw:
                np.multiply(plan.views[i], scale, out=plan.views[i])

    def _start_full(self, step: _Step) -> bool:
        """Start every bucket, in plan order, whose gradients are all in; whether any started.
        With ``wait="yield"``, the arrival barrier starts right after the last bucket."""
        buckets, missing, requests = step.plan.buckets, step.missing, step.requests
        started = False
        while len(requests) < len(buckets) and missing[len(requests)] == 0:
            self._scale_raw(step, len(requests))
            requests.append(self._comm.Iallreduce(self._IN_PLACE, buckets[len(requests)][0], op=self._SUM))
            started = True
        if started and self._yield and len(requests) == len(buckets):
            step.barrier = self._comm.Ibarrier()
        return started

    def _wait(self, step: _Step) -> None:
        """wait="spin": MPI's own wait. wait="yield": first wait, sleeping between tests, until
        every rank has finished its backward (a barrier started after every bucket has started,
        the same order on every rank), then MPI's wait: once all ranks are in, the
        transfer itself needs the progress that only MPI calls give (sleeping between tests
        slowed a 2.8 MB all-reduce 1.9x), and no rank has a reason to give its core away."""
        if step.barrier is not None:
            _wait_yielding(step.barrier)
        self._MPI.Request.Waitall(step.requests)

    def _drain(self) -> None:
        """A step started and never finished (its gradients never applied): complete its
        all-reduce (every rank takes part), discarding the result."""
        if self._step is not None:
            self.finish([None] * len(self._step.given))

    def _scale(self, scale) -> float:
        return self._default_scale if scale is None else float(scale)

    def _matches(self, grads: list) -> bool:
        metas = self._step.plan.metas
        if len(grads) != len(metas):
            return False
        if all(map(operator.is_, grads, self._step.plan.views)):   # the step's own views
            return True
        for g, meta in zip(grads, metas):
            if g is not None and (g.shape if isinstance(g, (np.ndarray, Tensor)) else np.shape(g)) != meta[0]:
                return False
        return True

    # -------------------------------------------------------- all at once
    def reduce(self, grads: list, scale: float | None = None) -> list:
        """The reduced ``grads``: those of the step ``start`` began (then only the wait is
        left), else a whole all-reduce now."""
        given, self.next_scale = self.next_scale, None
        if self._step is not None and self._matches(grads):
            return self.finish(grads)
        self._drain()
        arrays = [None if g is None else (g.data if isinstance(g, Tensor) else np.asarray(g)) for g in grads]
        plan = self._plan([None if a is None else (a.shape, a.dtype) for a in arrays])
        self._step = _Step(plan, self._scale(given if scale is None else scale), {}, [a is None for a in arrays])
        return self.finish(arrays)


def _wait_yielding(request) -> None:
    """Test until done: spin for ``SPIN_SECONDS``, then sleep between tests (the core goes to
    whoever needs it, the rank this one waits for included)."""
    if request.Test():
        return
    deadline = time.perf_counter() + SPIN_SECONDS
    while not request.Test():
        if time.perf_counter() > deadline:
            time.sleep(SLEEP_SECONDS)
