"""``run_ranks``: run a Python program on N MPI ranks (its own ``mpiexec``), with this
checkout's deepgrad first on the path, and return the finished process."""
import os
import pathlib
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
        return subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=timeout)
    return run


def load_ranks(folder, n: int, stem: str = "weights") -> list:
    """The arrays each rank saved as ``<stem>.<rank>.npz``."""
    import numpy as np
    out = []
    for r in range(n):
        with np.load(pathlib.Path(folder) / f"{stem}.{r}.npz") as f:
            out.append([f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))])
    return out
