"""``init`` and ``shutdown``: join the MPI world and install deepgrad's process group."""
from __future__ import annotations

import atexit
import os
import socket
import sys
import time
import traceback

from .. import runtime
from . import mpi as world
from .group import MPIProcessGroup, install_group


def _abort_on_exception(exc_type, exc, tb) -> None:
    """An uncaught exception on one rank ends every rank (MPI_Abort) instead of leaving the
    others waiting forever in their next all-reduce; the message names the failed rank."""
    comm = world._comm
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(text)
    if comm is None or comm.Get_size() == 1 or issubclass(exc_type, SystemExit):
        return
    sys.stderr.write(f"deepgrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} on "
                     f"{socket.gethostname()} failed with {exc_type.__name__}: {exc}; ending all ranks\n")
    sys.stderr.flush()
    _tell_launcher(b"failed\n")
    # mpiexec forwards a rank's output through a pipe; an immediate Abort can end the job before
    # the message above is forwarded (seen on a loaded machine), so give it a moment first
    time.sleep(0.5)
    comm.Abort(1)


def init(comm=None):
    """Join the MPI world (idempotent) and install deepgrad's process group, so that ``fit``
    prints on rank 0 only, averages metrics over ranks and checks that the ranks agree.

    ``comm`` is an mpi4py communicator to use instead of ``COMM_WORLD``. Returns it.
    """
    MPI = world.mpi()
    if world._comm is not None and comm is None:
        return world._comm
    comm = MPI.COMM_WORLD if comm is None else comm
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    world.set_world(comm, local)
    # the ranks on this machine share its cores: each keeps its share of threads
    runtime.share_cores(local.Get_size())
    install_group(MPIProcessGroup(comm))
    if comm.Get_size() > 1:
        sys.excepthook = _abort_on_exception
        _write_rank_file(comm)
    return comm


_watch_socket = None


def _write_rank_file(comm) -> None:
    """For the launcher (``deepgrad train --workers``, ``python -m deepgrad.distributed``):
    this rank's number, pid and host on a connection the launcher watches, kept open until a
    normal exit says "bye", so that a rank killed outright (kill -9, out of memory) is named."""
    global _watch_socket
    path = os.environ.get("DEEPGRAD_RANK_SOCKET")
    if not path or _watch_socket is not None:
        return
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        sock.sendall(f"{comm.Get_rank()} {os.getpid()} {socket.gethostname()}\n".encode())
    except OSError:
        return  # another machine, or the launcher is gone: naming a failed rank is a courtesy
    _watch_socket = sock
    atexit.register(_say_bye)


def _say_bye() -> None:
    _tell_launcher(b"bye\n")


def _tell_launcher(message: bytes) -> None:
    if _watch_socket is not None:
        try:
            _watch_socket.sendall(message)
        except OSError:
            pass


def shutdown() -> None:
    """Leave the process group: ``fit`` is single-process again (MPI itself ends at exit)."""
    install_group(None)
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = sys.__excepthook__
    world.set_world(None, None)
    runtime.share_cores(1)
