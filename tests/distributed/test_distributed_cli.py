"""``deepgrad train --workers 2`` re-launches itself under mpiexec; rank 0 writes the run folder."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, _env

pytestmark = pytest.mark.slow


def test_train_workers_two_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "deepgrad", "train", "--model", "mlp", "--dataset", "digits",
                             "--epochs", "2", "--batch-size", "64", "--workers", "2", "--out", str(out),
                             "--verbose", "2"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("training on 2 ranks") == 1       # printed by rank 0 only
    assert result.stdout.count("Epoch 2/2") == 1 and result.stdout.count("Model: ") == 1
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5                            # two epochs of the digits MLP learn
    assert (out / "model.deepgrad").is_file() and not (out / "backup").exists()
    assert sorted(os.listdir(out)).count("model.deepgrad") == 1


def test_workers_refuses_hosts_and_hostfile_together(tmp_path):
    result = subprocess.run([sys.executable, "-m", "deepgrad", "train", "--workers", "2", "--hosts", "a",
                             "--hostfile", "f"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "give --hosts or --hostfile, not both" in result.stderr


PROGRAM = """
import numpy as np
import deepgrad.distributed as hvd
hvd.init()
total = hvd.allreduce(np.array([hvd.rank() + 1.0]), op=hvd.Sum)
open(f"rank.{hvd.rank()}.of.{hvd.size()}.sum.{int(total[0])}", "w").close()
"""


@pytest.mark.parametrize("where", [["--hostfile", "hosts.txt"], ["--hosts", "localhost:1,localhost:1"]])
def test_launcher_with_a_hostfile_or_hosts_naming_this_machine(tmp_path, where):
    # the only machine here is this one: MPICH's hydra starts local ranks for "localhost"
    pytest.importorskip("mpi4py")
    (tmp_path / "hosts.txt").write_text("localhost:2\n")
    (tmp_path / "program.py").write_text(PROGRAM)
    result = subprocess.run([sys.executable, "-m", "deepgrad.distributed", "-n", "2", *where, sys.executable,
                             "program.py"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("rank.*")) == ["rank.0.of.2.sum.3", "rank.1.of.2.sum.3"]
