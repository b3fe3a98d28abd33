"""The MPI world this process belongs to: mpi4py imported lazily, ``init`` and the ranks.

mpi4py and MPICH are an optional extra (``pip install deepgrad[distributed]``). A process
started without ``mpiexec`` is a world of one rank, so a program written for several ranks
also runs alone.
"""
from __future__ import annotations


_INSTALL_HINT = ("deepgrad.distributed needs mpi4py and an MPI library: "
                 "pip install deepgrad[distributed]  (installs mpi4py and the MPICH wheel)")

_comm = None          # MPI.COMM_WORLD once init() ran
_local_comm = None    # the ranks on this machine


def mpi():
    """The ``mpi4py.MPI`` module, or an ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    return MPI


def set_world(comm, local_comm) -> None:
    """Record the communicators ``init`` joined (None, None: leave)."""
    global _comm, _local_comm
    _comm, _local_comm = comm, local_comm


def comm():
    """The communicator of ``init()`` (a ValueError before it)."""
    if _comm is None:
        raise ValueError("deepgrad.distributed: call deepgrad.distributed.init() first")
    return _comm


def is_initialized() -> bool:
    return _comm is not None


def rank() -> int:
    """This process's rank in [0, size)."""
    return comm().Get_rank()


def size() -> int:
    """The number of ranks."""
    return comm().Get_size()


def local_rank() -> int:
    """This process's rank among the ranks on its machine."""
    comm()
    return _local_comm.Get_rank()


def local_size() -> int:
    comm()
    return _local_comm.Get_size()


def cross_rank() -> int:
    """Which machine this is: machines are counted in the order of their lowest rank."""
    MPI = mpi()
    lowest = _local_comm.allreduce(rank(), op=MPI.MIN)
    return sorted(set(comm().allgather(lowest))).index(lowest)
