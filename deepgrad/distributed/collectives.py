"""All-reduce, all-gather and broadcast of NumPy arrays and Tensors (Horovod's names), and
the fused gradient all-reduce that ``DistributedOptimizer`` and ``DataParallel`` share.

The fused all-reduce copies the gradients of one dtype into one flat buffer (kept between
steps) and reduces it with a single MPI call: a model's dozens of small gradients then cost
one message, not dozens. A model larger than ``BUCKET_BYTES`` per dtype is cut into buckets
of whole gradients, last layers first (the order backward produces them), each reduced as
soon as its copy is made, so the extra memory is one bucket per dtype, not a second copy of
the model.

Waiting. MPI's blocking calls spin on the CPU while a rank waits for a slower one. With a
core per rank that is the fastest wait, but with more ranks than free cores (a laptop, a
shared node) the spinning rank takes the core the rank it waits for needs. ``wait="yield"``
starts a non-blocking all-reduce and, after spinning ``SPIN_SECONDS``, sleeps between tests,
giving the core away; ``"spin"`` is the blocking call. A wait shorter than the spin (ranks
in step, a core each) costs the same either way, so "yield" is the default; the environment
variable ``DEEPGRAD_MPI_WAIT`` overrides it. (On a loaded 2-core machine "yield" gave 1.2-1.6x
the throughput of "spin" with 2 and 4 ranks of the MLP.)
"""
from __future__ import annotations

import os
import time

import numpy as np

from ..autograd import Tensor
from . import mpi as world

# Horovod's reduction ops
Average, Sum, Min, Max, Product = "average", "sum", "min", "max", "product"

BUCKET_BYTES = 16 << 20   # one fused message at most; larger models are split into buckets
SPIN_SECONDS = 1e-3       # with wait="yield": test this long before sleeping between tests
SLEEP_SECONDS = 20e-6


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


# ----------------------------------------------------------------- the fused gradient all-reduce
class GradientReducer:
    """sum_r s_r g_r over the ranks for a list of gradients, in one fused message per bucket.

    ``s_r`` is this rank's ``scale``: 1 / size by default (Horovod's average). ``DataParallel``
    passes (this rank's samples) / (samples in the global batch), so that ranks with unequal
    shards of a last batch still give the gradient of the whole batch's mean loss. The scale
    is applied while the gradients are copied into the buffer, so the reduced buffer is the
    result: one pass over the gradients, one message, and views of the buffer back.
    """

    def __init__(self, comm, bucket_bytes: int = BUCKET_BYTES, wait: str | None = None):
        self.comm = comm
        self.bucket_bytes = int(bucket_bytes)
        if wait is None:
            wait = os.environ.get("DEEPGRAD_MPI_WAIT") or "yield"
        if wait not in ("yield", "spin"):
            raise ValueError(f"GradientReducer: wait must be 'yield' or 'spin', got {wait!r}")
        self.wait = wait
        self._buffers: dict = {}   # (dtype, bucket index) -> flat buffer, reused between steps
        self.bytes_per_step = 0

    def _buckets(self, grads: list) -> list:
        """[(dtype, [indices])]: gradients of one dtype, last first, cut at ``bucket_bytes``."""
        by_dtype: dict = {}
        for i in reversed(range(len(grads))):
            if grads[i] is not None:
                by_dtype.setdefault(grads[i].dtype, []).append(i)
        buckets = []
        for dtype, indices in by_dtype.items():
            current, nbytes = [], 0
            for i in indices:
                if current and nbytes + grads[i].nbytes > self.bucket_bytes:
                    buckets.append((dtype, current))
                    current, nbytes = [], 0
                current.append(i)
                nbytes += grads[i].nbytes
            buckets.append((dtype, current))
        return buckets

    def reduce(self, grads: list, scale: float | None = None) -> list:
        MPI = world.mpi()
        if scale is None:
            scale = 1.0 / self.comm.Get_size()
        arrays = [None if g is None else (g.data if isinstance(g, Tensor) else np.asarray(g)) for g in grads]
        out = list(grads)
        self.bytes_per_step = 0
        for b, (dtype, indices) in enumerate(self._buckets(arrays)):
            size = sum(arrays[i].size for i in indices)
            key = (np.dtype(dtype).str, b)
            buffer = self._buffers.get(key)
            if buffer is None or buffer.size != size:
                buffer = self._buffers[key] = np.empty(size, dtype)
            start = 0
            for i in indices:  # s_r g_r straight into the buffer
                n = arrays[i].size
                np.multiply(arrays[i].reshape(-1), scale, out=buffer[start:start + n], casting="unsafe")
                out[i] = buffer[start:start + n].reshape(arrays[i].shape)
                start += n
            if self.wait == "spin":
                self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            else:
                _wait_yielding(self.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM))
            self.bytes_per_step += buffer.nbytes
        return out


def _wait_yielding(request) -> None:
    """Test until done: spin for ``SPIN_SECONDS``, then sleep between tests (the core goes to
    whoever needs it, the rank this one waits for included)."""
    deadline = time.perf_counter() + SPIN_SECONDS
    while not request.Test():
        if time.perf_counter() > deadline:
            time.sleep(SLEEP_SECONDS)
