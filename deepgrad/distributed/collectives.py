"""All-reduce, all-gather and broadcast of NumPy arrays and Tensors (Horovod's names), and
the fused gradient all-reduce that ``DistributedOptimizer`` and ``DataParallel`` share.

The fused all-reduce copies the gradients of one dtype into one flat buffer (kept between
steps) and reduces it with a single MPI call: a model's dozens of small gradients then cost
one message, not dozens. A model larger than ``BUCKET_BYTES`` per dtype is cut into buckets
of whole gradients, last layers first (the order backward produces them), each started with
a non-blocking ``Iallreduce`` as soon as its copy is made, so that the copies of the next
buckets overlap the transfer of the first.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from . import mpi as world

# Horovod's reduction ops
Average, Sum, Min, Max, Product = "average", "sum", "min", "max", "product"

BUCKET_BYTES = 16 << 20   # one fused message at most; larger models are split into buckets


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
    """sum_r w_r g_r / sum_r w_r for a list of gradients, in one fused message per bucket.

    With ``weight`` None, w_r = 1 (Horovod's average). ``DataParallel`` passes each rank's
    number of samples, so that ranks with unequal shards of a last batch still give the
    gradient of the whole batch's mean loss; the weight travels as one extra element of the
    first buffer, so it costs no extra message.
    """

    def __init__(self, comm, bucket_bytes: int = BUCKET_BYTES):
        self.comm = comm
        self.bucket_bytes = int(bucket_bytes)
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

    def reduce(self, grads: list, weight: float | None = None) -> list:
        MPI = world.mpi()
        arrays = [None if g is None else (g.data if isinstance(g, Tensor) else np.asarray(g)) for g in grads]
        buckets = self._buckets(arrays)
        if not buckets:
            return list(grads)
        requests, filled = [], []
        for b, (dtype, indices) in enumerate(buckets):
            extra = 1 if b == 0 and weight is not None else 0
            size = sum(arrays[i].size for i in indices) + extra
            key = (np.dtype(dtype).str, b)
            buffer = self._buffers.get(key)
            if buffer is None or buffer.size != size:
                buffer = self._buffers[key] = np.empty(size, dtype)
            np.concatenate([arrays[i].reshape(-1) for i in indices], out=buffer[:size - extra])
            if weight is not None:
                buffer *= weight   # w_r g_r in every bucket, and w_r itself as the first bucket's last element
            if extra:
                buffer[-1] = weight
            requests.append(self.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM))
            filled.append((buffer, indices))
        MPI.Request.Waitall(requests)
        self.bytes_per_step = sum(buffer.nbytes for buffer, _ in filled)
        total = float(filled[0][0][-1]) if weight is not None else float(self.comm.Get_size())
        out = list(grads)
        for buffer, indices in filled:
            if buffer.dtype.kind == "f":
                buffer /= total
            start = 0
            for i in indices:
                n = arrays[i].size
                out[i] = buffer[start:start + n].reshape(arrays[i].shape)
                start += n
        return out
