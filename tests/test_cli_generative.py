"""``deepgrad train --model gan|vae``, driven in a subprocess on a few real MNIST images."""
import csv
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import deepgrad as dg  # noqa: E402
from test_cli import ROOT, command, run  # noqa: E402

TINY = ("--dataset", "mnist_subset", "--samples", 16, "--batch-size", 8, "--verbose", 2)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_gan_trains_saves_both_networks_and_sample_grids(tmp_path):
    out = tmp_path / "gan"
    result = run("train", "--model", "gan", *TINY, "--epochs", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("run.json", "history.csv", "metrics.json", "generator.deepgrad", "discriminator.deepgrad",
                 "samples.png", "samples_epoch_001.png", "curves.png"):
        assert (out / name).is_file(), name
    assert not (out / "backup").exists()  # removed once training finished
    rows = _rows(out / "history.csv")
    assert len(rows) == 1 and {"d_loss", "g_loss"} <= set(rows[0])
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["final"]["d_loss"]) and np.isfinite(metrics["final"]["g_loss"])
    generator = dg.models.load_model(str(out / "generator.deepgrad"))
    images = generator.predict(np.random.default_rng(0).normal(size=(3, 128)).astype("float32"), verbose=0)
    assert images.shape == (3, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    logits = dg.models.load_model(str(out / "discriminator.deepgrad")).predict(images, verbose=0)
    assert logits.shape == (3, 1)
    with Image.open(out / "samples.png") as img:
        assert img.size == (8 * 28, 8 * 28)  # 64 samples, 8 a row
    again = run("train", "--resume", out)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_vae_trains_and_draws_reconstructions_and_the_latent_plane(tmp_path):
    out = tmp_path / "vae"
    result = run("train", "--model", "vae", *TINY, "--epochs", 2, "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("encoder.deepgrad", "decoder.deepgrad", "reconstructions.png", "latent_space.png",
                 "latent_scatter.png", "curves.png", "metrics.json"):
        assert (out / name).is_file(), name
    rows = _rows(out / "history.csv")
    assert len(rows) == 2 and {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(rows[0])
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    metrics = json.loads((out / "metrics.json").read_text())
    # loss = reconstruction + KL, on the test images too
    assert metrics["test"]["loss"] == pytest.approx(metrics["test"]["reconstruction_loss"] + metrics["test"]["kl_loss"],
                                                    rel=1e-5)
    x = np.asarray(dg.datasets.mnist_subset.load_data()[1][0][:4], "float32")[..., None] / 255
    z_mean, z_log_var = dg.models.load_model(str(out / "encoder.deepgrad")).predict(x, verbose=0)
    assert z_mean.shape == z_log_var.shape == (4, 2)
    decoded = dg.models.load_model(str(out / "decoder.deepgrad")).predict(z_mean, verbose=0)
    assert decoded.shape == (4, 28, 28, 1)
    with Image.open(out / "reconstructions.png") as img:
        assert img.size == (10 * 28, 2 * 28)
    with Image.open(out / "latent_space.png") as img:
        assert img.size == (15 * 28, 15 * 28)


def test_generative_models_refuse_inputs_that_are_not_images(tmp_path):
    result = run("train", "--model", "vae", "--dataset", "xor", "--out", tmp_path / "x")
    assert result.returncode == 2 and "multiples of 4" in result.stderr


@pytest.mark.slow
def test_an_interrupted_gan_run_resumes_after_its_last_epoch(tmp_path):
    out = tmp_path / "gan"
    env = dict(os.environ, PYTHONPATH=ROOT)
    args = ("--dataset", "mnist_subset", "--samples", 64, "--batch-size", 8, "--verbose", 2)
    proc = subprocess.Popen(command("train", "--model", "gan", *args, "--epochs", 3, "--out", out), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (out / "samples_epoch_001.png").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130, stderr
    assert (out / "backup").is_dir() and not (out / "generator.deepgrad").exists()
    done = len(_rows(out / "history.csv"))
    assert done in (1, 2)  # the signal may land after a second epoch finished
    result = run("train", "--resume", out)
    assert result.returncode == 0, result.stderr
    assert f"Epoch {done + 1}/3" in result.stdout and f"Epoch {done}/3" not in result.stdout
    assert len(_rows(out / "history.csv")) == 3 and (out / "samples_epoch_003.png").is_file()
