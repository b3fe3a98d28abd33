"""Start a program on N ranks under ``mpiexec`` (the one installed beside this Python, from
the MPICH wheel, else the first on PATH), on this machine or on several (``hosts``, or an
MPI hostfile), and name the rank that failed when the job ends badly.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

_ENV_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def under_mpi() -> bool:
    """Whether this process was started by an MPI launcher (``mpiexec -n N ...``)."""
    return any(v in os.environ for v in _ENV_RANK_VARS)


def find_mpiexec() -> str:
    """``mpiexec`` beside the running interpreter, else on PATH; an error saying how to get it."""
    for folder in (os.path.join(sys.prefix, "bin"), os.path.dirname(sys.executable)):
        path = os.path.join(folder, "mpiexec")
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("mpiexec")
    if found:
        return found
    raise FileNotFoundError("deepgrad.distributed: no mpiexec found beside this Python or on PATH; "
                            "pip install deepgrad[distributed]  (installs mpi4py and the MPICH wheel)")


def mpiexec_command(command: list[str], workers: int, hosts=None, hostfile=None) -> list[str]:
    """The hydra ``mpiexec`` command line that runs ``command`` on ``workers`` ranks."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if hosts and hostfile:
        raise ValueError("give hosts or a hostfile, not both")
    cmd = [find_mpiexec(), "-n", str(workers)]
    if hosts:
        cmd += ["-hosts", hosts if isinstance(hosts, str) else ",".join(hosts)]
    if hostfile:
        if not os.path.isfile(hostfile):
            raise FileNotFoundError(f"hostfile {hostfile!r} does not exist")
        cmd += ["-f", os.fspath(hostfile)]
    return cmd + list(command)


def _rank_table(folder: str) -> dict[int, tuple[int, str]]:
    """pid -> (rank, host) from the files ``init()`` writes into ``DEEPGRAD_RANK_DIR``."""
    table = {}
    for name in os.listdir(folder):
        if not name.startswith("rank"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                pid, host = f.read().split()
            table[int(pid)] = (int(name[4:]), host)
        except (OSError, ValueError):
            continue
    return table


_BAD_TERMINATION = re.compile(r"PID (\d+) RUNNING AT (\S+)\s*\n=\s*(?:EXIT CODE: (\d+)|KILLED BY SIGNAL: (\d+))")


def failure_message(output: str, table: dict, workers: int) -> str | None:
    """Our one-line account of hydra's "BAD TERMINATION" report: which rank ended, how."""
    found = _BAD_TERMINATION.search(output)
    if not found:
        return None
    pid, host = int(found.group(1)), found.group(2)
    code = found.group(3) or found.group(4)
    rank, _ = table.get(pid, (None, host))
    how = f"was killed by signal {code}" if code in ("9", "15", "6", "11") else f"exited with code {code}"
    who = f"rank {rank} (pid {pid} on {host})" if rank is not None else f"the rank with pid {pid} on {host}"
    return f"deepgrad.distributed: {who} {how}; all {workers} ranks were ended"


def run(command: list[str], workers: int, hosts=None, hostfile=None, env=None, timeout=None) -> int:
    """Run ``command`` on ``workers`` ranks and wait; returns the exit code. The output of
    the ranks goes to this process's stdout/stderr; when a rank dies, a last line names it."""
    cmd = mpiexec_command(command, workers, hosts, hostfile)
    with tempfile.TemporaryDirectory(prefix="deepgrad-ranks-") as folder:
        environment = dict(os.environ if env is None else env, DEEPGRAD_RANK_DIR=folder)
        proc = subprocess.Popen(cmd, env=environment, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
        captured = []
        try:
            for line in proc.stderr:       # passed on as it comes, kept to find hydra's report
                sys.stderr.write(line)
                captured.append(line)
            code = proc.wait(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            message = failure_message("".join(captured), _rank_table(folder), workers)
            if message:
                print(message, file=sys.stderr)
        return code
