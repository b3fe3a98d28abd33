"""``run_ranks``: run a Python program on N MPI ranks (its own ``mpiexec``), with this
checkout's deepgrad first on the path, and return the finished process."""
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


@pytest.fixture
def run_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    from deepgrad.distributed.launch import mpiexec_command

    def run(n: int, program: str, *args, timeout: float = 120, launcher: bool = False):
        script = tmp_path / f"program_{len(list(tmp_path.glob('program_*.py')))}.py"
        script.write_text(textwrap.dedent(program))
        command = [sys.executable, str(script), *map(str, args)]
        if launcher:  # through deepgrad's launcher, which names a failed rank
            cmd = [sys.executable, "-m", "deepgrad.distributed", "-n", str(n), *command]
        else:
            cmd = mpiexec_command(command, n)
        return run_group(cmd, tmp_path, timeout)
    return run


def run_group(cmd: list, cwd, timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, timeout=timeout)``, with ``mpiexec`` started in
    a session of its own: on timeout the whole session (mpiexec, its proxies, every rank) is
    killed, not mpiexec alone, which would leave the ranks running; then TimeoutExpired."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    except BaseException:   # an interrupted test run leaves no rank behind either
        kill_group(proc.pid)
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_group(sid: int) -> None:
    """SIGKILL every process of session ``sid``: hydra puts each rank in a process group of its
    own, but they stay in mpiexec's session."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in _session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _session(sid: int) -> list:
    """The pids of session ``sid`` (from /proc; none where there is no /proc)."""
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:   # after the name: state, ppid, pgrp, session
                pids.append(int(entry))
    return pids


def load_ranks(folder, n: int, stem: str = "weights") -> list:
    """The arrays each rank saved as ``<stem>.<rank>.npz``."""
    import numpy as np
    out = []
    for r in range(n):
        with np.load(pathlib.Path(folder) / f"{stem}.{r}.npz") as f:
            out.append([f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))])
    return out
