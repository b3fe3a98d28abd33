"""Data-parallel training over MPI with Horovod's names (``import deepgrad.distributed as hvd``).

    hvd.init()
    x, y = x[hvd.rank()::hvd.size()], y[hvd.rank()::hvd.size()]     # this rank's shard
    opt = hvd.DistributedOptimizer(deepgrad.optimizers.Adam(1e-3 * hvd.size()))
    model.compile(optimizer=opt, loss=...)
    model.fit(x, y, batch_size=64, callbacks=[hvd.BroadcastGlobalVariablesCallback(0)])

run with ``mpiexec -n 4 python train.py``. Keras's own way, ``deepgrad.distribution``'s
``DataParallel``, shares this machinery. Needs ``pip install deepgrad[distributed]``.
"""
import numpy as np

from .callbacks import BroadcastGlobalVariablesCallback, LearningRateWarmupCallback, MetricAverageCallback
from .collectives import (Average, Max, Min, Product, Sum, allgather, allgather_object, allreduce, broadcast,
                          broadcast_object)
from .group import MismatchError
from .mpi import comm, cross_rank, is_initialized, local_rank, local_size, rank, size
from .start import init, shutdown
from .optimizer import DistributedOptimizer


def broadcast_variables(variables, root_rank: int = 0) -> None:
    """Every rank's ``variables`` take the values they have on rank ``root_rank`` (in place)."""
    c = comm()
    for v in variables:
        data = v if isinstance(v, np.ndarray) else v.data
        if data.flags.c_contiguous:
            c.Bcast(data, root=root_rank)
        else:
            data[...] = c.bcast(data if c.Get_rank() == root_rank else None, root=root_rank)


def mpi_threads_supported() -> bool:
    from .mpi import mpi
    return mpi().Query_thread() == mpi().THREAD_MULTIPLE


__all__ = ["Average", "BroadcastGlobalVariablesCallback", "DistributedOptimizer", "LearningRateWarmupCallback",
           "Max", "MetricAverageCallback", "Min", "MismatchError", "Product", "Sum", "allgather",
           "allgather_object", "allreduce", "broadcast", "broadcast_object", "broadcast_variables", "comm",
           "cross_rank", "init", "is_initialized", "local_rank", "local_size", "mpi_threads_supported", "rank",
           "shutdown", "size"]
