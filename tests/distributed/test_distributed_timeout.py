"""A test whose ranks outlive its timeout leaves nothing running: the launcher starts
``mpiexec`` in a session of its own and kills the whole group (mpiexec, its proxies, the
ranks) when the timeout fires."""
import os
import pathlib
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow

HANG = """
import os, time
from mpi4py import MPI   # alone: the ranks start in well under the timeout
rank = MPI.COMM_WORLD.Get_rank()
open(f"pid.{rank}", "w").write(str(os.getpid()))
if rank == 0:
    while True:        # never joins the barrier: every rank hangs
        time.sleep(0.05)
MPI.COMM_WORLD.Barrier()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see which processes live")
@pytest.mark.parametrize("launcher", [False, True])
def test_timeout_kills_every_rank(run_ranks, tmp_path, launcher):
    with pytest.raises(subprocess.TimeoutExpired):
        run_ranks(2, HANG, timeout=6, launcher=launcher)
    pids = [int((tmp_path / f"pid.{r}").read_text()) for r in range(2)]
    assert all(p != os.getpid() for p in pids)
    deadline = time.monotonic() + 10
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], f"ranks {pids} still running after the timeout"
