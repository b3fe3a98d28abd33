"""``MPIProcessGroup``: what ``fit`` does differently on each rank of an MPI run (the
interface is ``deepgrad.process_group``; see there for each method's job).

Data rules. Horovod style (the program shards its own data and wraps its optimiser in
``DistributedOptimizer``): every rank iterates the batches it was given, and ``begin_fit``
refuses ranks with different numbers of batches per epoch, which would leave one rank
waiting forever in an all-reduce. Keras style (``set_distribution(DataParallel())``): every
rank is given the whole data and ``batch_size`` is the global batch; each global batch is cut
into ``size`` contiguous shards (``np.array_split``: sizes differ by one at most), rank r
trains on shard r, and the gradients are averaged weighted by shard size, so that a step is
the step of one process on the whole global batch. A global batch with fewer samples than
ranks (only the last one can be) is dropped on every rank, so every rank runs the same number
of steps. Every rank shuffles with rank 0's random state, so they cut the same batches.
Both at once (a ``DistributedOptimizer`` under ``DataParallel``): the optimiser's all-reduce is
the only one, weighted by shard size as DataParallel's is.

``evaluate`` and ``predict`` under ``DataParallel`` (arrays): the rows are cut into ``size``
contiguous parts (``np.array_split``'s rule; a rank may get none), each rank runs its part in
batches of ``ceil(batch_size / size)``; ``evaluate`` then sums every metric's state (totals
and counts, confusion matrices) over the ranks, so the result is the one-process result on
all rows, on every rank; ``predict`` gathers the parts in row order, on every rank (as
Keras's ``DataParallel`` returns the whole prediction on every process). Nothing is padded,
so nothing needs masking; a generator or dataset is run whole on every rank.

Files. ``model.save``/``save_weights`` write on rank 0 only. A rank other than 0 that calls
them writes nothing and waits until rank 0 has written, so that a ``load`` right after is
safe; rank 0 never waits for the others (a program that saves under ``if hvd.rank() == 0``,
Horovod's habit, does not hang). Inside ``fit`` the writing callbacks run on rank 0 alone.
"""
from __future__ import annotations

import copy
import hashlib
import math

import numpy as np

from .. import backend, process_group
from ..callbacks import (BackupAndRestore, CSVLogger, ModelCheckpoint, ProgbarLogger, RemoteMonitor,
                         TensorBoard)
from ..models import data_adapter as da
from .collectives import GradientReducer, _wait_yielding, allgather
from .mpi import mpi as _mpi

# callbacks that print or write files: rank 0 alone runs them
CHIEF_ONLY_CALLBACKS = (ProgbarLogger, ModelCheckpoint, CSVLogger, TensorBoard, BackupAndRestore, RemoteMonitor)


class MismatchError(ValueError):
    """The ranks disagree on something they must share (the model, the number of batches)."""


def install_group(group) -> None:
    process_group.install(group)


def _rows(batch) -> int:
    x = batch[0]
    first = da.flatten_arrays(x)
    return int(first[0].shape[0]) if first else 0


class ShardedBatches:
    """A rank's view of a batch source: its shard of each global batch (``shard``), or the
    batches as given; counts the samples it yields (the weight of this rank's metrics)."""

    def __init__(self, source, group: "MPIProcessGroup", shard: bool):
        self.source, self.group, self.shard = source, group, shard

    @property
    def num_batches(self):
        steps = self.source.num_batches
        if not self.shard or steps is None or not isinstance(self.source, da.ArrayBatches):
            return steps
        src = self.source
        last = src.n - (math.ceil(src.n / src.batch_size) - 1) * src.batch_size
        full = math.ceil(src.n / src.batch_size)
        # the last global batch is dropped when it cannot give every rank a sample
        return steps - 1 if steps == full and last < self.group.size else steps

    def __iter__(self):
        group, size, rank = self.group, self.group.size, self.group.rank
        group.samples = 0
        for batch in self.source:
            n = _rows(batch)
            if self.shard:
                if n < size:
                    continue
                lo, hi = _shard_bounds(n, size, rank)
                batch = tuple(None if part is None else da.take(part, slice(lo, hi)) for part in batch)
                group.step_scale = (hi - lo) / n   # this shard's share of the global batch's mean loss
                n = hi - lo
            group.samples += n
            yield batch


def _shard_bounds(n: int, size: int, rank: int) -> tuple[int, int]:
    """Rank ``rank``'s rows of ``n`` cut into ``size`` contiguous parts, the first ``n % size``
    parts one row longer (``np.array_split``'s rule)."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def model_signature(model) -> tuple[str, int, int]:
    """(hash of every weight's shape and dtype in order, number of weights, number of parameters)."""
    weights = list(getattr(model, "weights", []))
    text = ";".join(f"{tuple(w.shape)}:{np.dtype(w.dtype).str}" for w in weights)
    return (hashlib.sha256(text.encode()).hexdigest()[:16], len(weights),
            int(sum(int(np.prod(w.shape)) for w in weights)))


class MPIProcessGroup(process_group.ProcessGroup):
    def __init__(self, comm):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.shard_data = False          # DataParallel(auto_shard_dataset=True) cuts each global batch
        self.reduce_in_trainer = False   # DataParallel all-reduces the gradients in the trainer
        self.reducer = GradientReducer(comm)
        self.step_scale = None   # under DataParallel: this rank's samples / the global batch's
        self.samples = 0
        self.fitting = False
        self._files = comm.Dup() if self.size > 1 else None   # for "rank 0 has written": apart from training's
        self._written: list = []  # rank 0's notices not yet matched by the other ranks

    def keep_callback(self, callback) -> bool:
        if self.rank == 0:
            return True
        return not (isinstance(callback, CHIEF_ONLY_CALLBACKS) or getattr(callback, "chief_only", False))

    def batches(self, source):
        if self.size == 1:
            return source
        return ShardedBatches(source, self, self.shard_data)

    def begin_fit(self, model, start_epoch: int, steps) -> int:
        self.fitting = True
        if self.size == 1:
            return start_epoch
        self.check_agreement(model, steps)
        broadcast_model(model, self.comm, root=0)
        return int(self.comm.bcast(int(start_epoch), root=0))

    def check_agreement(self, model, steps) -> None:
        """A MismatchError on every rank, naming the ranks, when they hold different models or
        would run different numbers of steps per epoch (one rank would then wait forever)."""
        mine = (model_signature(model), steps)
        every = self.comm.allgather(mine)
        signatures = [s for s, _ in every]
        if len(set(signatures)) > 1:
            described = ", ".join(f"rank {r}: {n} weights, {p} parameters (shapes hash {h})"
                                  for r, (h, n, p) in enumerate(signatures))
            raise MismatchError(f"deepgrad.distributed: the ranks hold different models ({described}); "
                                "every rank must build the same model")
        counts = [s for _, s in every]
        if len(set(counts)) > 1:
            described = ", ".join(f"rank {r}: {c}" for r, c in enumerate(counts))
            raise MismatchError(f"deepgrad.distributed: the ranks would run different numbers of batches per "
                                f"epoch ({described}); give every rank the same number of samples, set "
                                "steps_per_epoch, or pass the whole data under "
                                "deepgrad.distribution.set_distribution(DataParallel()), which shards it evenly")

    def end_fit(self) -> None:
        self.fitting = False

    def _reducer_for(self, optimizer):
        """(the reducer, this rank's scale) that reduces this step's gradients, or None.

        A ``DistributedOptimizer`` under ``DataParallel`` reduces the gradients itself, once (the
        trainer then leaves them alone), but with DataParallel's weights, this rank's share of the
        global batch, not Horovod's 1 / size: DataParallel cut the batch, so a step is the step of
        one process on the whole global batch, uneven shards included."""
        if self.size == 1:
            return None
        scale = self.step_scale if self.shard_data and self.reduce_in_trainer else None
        if getattr(optimizer, "reduces_gradients", False):
            return optimizer._reducer, scale
        if self.reduce_in_trainer:
            return self.reducer, scale
        return None

    def start_gradients(self, variables, optimizer):
        which = self._reducer_for(optimizer)
        if which is None:
            return None
        reducer = which[0]
        hook = reducer.start(variables, which[1])
        # backward writes the gradients into the buckets' views; the hook only when a bucket can start early
        return (hook if reducer.overlaps else None), reducer.out

    def reduce_gradients(self, grads: list, optimizer) -> list:
        if self.size == 1:
            return grads
        if getattr(optimizer, "reduces_gradients", False):
            # its apply reduces them, with the scale of this step (when no start() gave one)
            optimizer._reducer.next_scale = self._reducer_for(optimizer)[1]
            return grads
        if not self.reduce_in_trainer:
            return grads
        return self.reducer.reduce(grads, scale=self.step_scale if self.shard_data else None)

    # ------------------------------------------------ evaluate and predict under DataParallel
    def inference_batches(self, source):
        if self.size == 1 or not self.shard_data or not isinstance(source, da.ArrayBatches):
            return source
        n = source.n if source.steps is None else min(source.n, source.steps * source.batch_size)
        lo, hi = _shard_bounds(n, self.size, self.rank)
        rows = slice(lo, hi)
        part = da.ArrayBatches(da.take(source.x, rows), da.take(source.y, rows), da.take(source.sample_weight, rows),
                               batch_size=-(-source.batch_size // self.size))
        part.rank_rows = (lo, hi, n)
        return part

    def merge_metrics(self, metrics: list, source, steps: int) -> int:
        """Every metric's state summed over the ranks (in place, the same on every rank); the
        number of batches run by all ranks."""
        if getattr(source, "rank_rows", None) is None:
            return steps
        every = self.comm.allgather([metric_state(m) for m in metrics])
        for k, metric in enumerate(metrics):
            keys = sorted({key for states in every for key in states[k]})
            for key in keys:
                parts = [states[k][key] for states in every if states[k].get(key) is not None]
                if parts:
                    total = parts[0]
                    for part in parts[1:]:
                        total = total + part
                    metric.__dict__[key] = float(total) if isinstance(parts[0], float) else total
        return int(self.comm.allreduce(int(steps)))

    def gather_outputs(self, outputs, source):
        """The ranks' predictions (array, list or dict of arrays) joined in row order, on every rank
        (None when no rank had a row)."""
        if getattr(source, "rank_rows", None) is None:
            return outputs
        described = self.comm.allgather(None if outputs is None else _describe(outputs))
        template = next((d for d in described if d is not None), None)
        if template is None:
            return None
        kind, keys, metas = template
        arrays = (_flat(outputs, keys) if outputs is not None
                  else [np.empty((0,) + tail, dtype) for tail, dtype in metas])
        joined = [allgather(a) for a in arrays]
        if kind == "array":
            return joined[0]
        return dict(zip(keys, joined)) if kind == "dict" else joined

    # ------------------------------------------------ files
    def write_file(self, write) -> None:
        if self.size == 1:
            write()
            return
        if self.fitting:   # a writing callback inside fit runs on rank 0 alone
            if self.rank == 0:
                write()
            return
        if self.rank == 0:
            write()
            # "written": the others' barrier completes once rank 0 has entered it; rank 0 does not wait
            self._written = [r for r in self._written if not r.Test()] + [self._files.Ibarrier()]
        else:
            _wait_yielding(self._files.Ibarrier())

    def average_logs(self, logs: dict) -> dict:
        if self.size == 1 or not isinstance(logs, dict):
            return logs
        return average_logs(logs, self.comm, weight=float(self.samples) if self.samples else 1.0)

    def any(self, flag: bool) -> bool:
        if self.size == 1:
            return bool(flag)
        return bool(self.comm.allreduce(bool(flag), op=_mpi().LOR))


def metric_state(metric) -> dict:
    """{attribute: value} for the attributes that make up ``metric``'s state: those its
    ``reset_state`` sets, found by resetting a copy (config such as thresholds is left alone)."""
    probe = copy.deepcopy(metric)
    for key, value in vars(probe).items():   # fresh objects, so a reassignment shows
        if isinstance(value, bool):
            continue
        if isinstance(value, float):
            probe.__dict__[key] = np.float64(value)
        elif isinstance(value, int):
            probe.__dict__[key] = np.int64(value)
    before = dict(vars(probe))
    saved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in before.items()}
    probe.reset_state()
    state = {}
    for key, value in vars(probe).items():
        old = saved.get(key)
        changed = value is not before.get(key) or (isinstance(value, np.ndarray) and not np.array_equal(value, old))
        if changed:
            state[key] = metric.__dict__.get(key)
    return state


def _describe(outputs):
    """(kind, keys, [(shape beyond axis 0, dtype)]) of a prediction."""
    if isinstance(outputs, dict):
        keys = list(outputs)
        return "dict", keys, [(outputs[k].shape[1:], outputs[k].dtype) for k in keys]
    if isinstance(outputs, (list, tuple)):
        return "list", None, [(a.shape[1:], a.dtype) for a in outputs]
    return "array", None, [(outputs.shape[1:], outputs.dtype)]


def _flat(outputs, keys) -> list:
    if isinstance(outputs, dict):
        return [outputs[k] for k in keys]
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def average_logs(logs: dict, comm, weight: float = 1.0) -> dict:
    """sum_r w_r v_r / sum_r w_r for every numeric log entry, in one all-reduce."""
    keys = [k for k, v in logs.items() if isinstance(v, (int, float, np.ndarray, np.generic))
            and not isinstance(v, bool)]
    parts = [np.asarray(logs[k], np.float64).reshape(-1) for k in keys]
    buffer = np.concatenate(parts + [np.ones(1)]) * weight
    comm.Allreduce(_mpi().IN_PLACE, buffer, op=_mpi().SUM)
    buffer /= buffer[-1]
    out = dict(logs)
    start = 0
    for k, part in zip(keys, parts):
        value = buffer[start:start + part.size]
        out[k] = float(value[0]) if np.ndim(logs[k]) == 0 else value.reshape(np.shape(logs[k]))
        start += part.size
    return out


def broadcast_model(model, comm, root: int = 0) -> None:
    """Every rank takes rank ``root``'s weights, optimiser state and random state."""
    for w in getattr(model, "weights", []):
        data = w.data
        if data.flags.c_contiguous:
            comm.Bcast(data, root=root)
        else:
            w.data[...] = comm.bcast(data if comm.Get_rank() == root else None, root=root)
    optimizer = getattr(model, "optimizer", None)
    state = None
    if optimizer is not None and hasattr(optimizer, "get_state") and hasattr(optimizer, "build"):
        optimizer.build(model.trainable_weights)  # the slots exist on every rank, to take root's values
        state = optimizer.get_state()
    shared = comm.bcast({"optimizer": state, "rng": backend.get_rng_state()} if comm.Get_rank() == root
                        else None, root=root)
    if state is not None and shared["optimizer"] is not None:
        optimizer.set_state(shared["optimizer"])
    backend.set_rng_state(shared["rng"])
