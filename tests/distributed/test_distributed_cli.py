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
