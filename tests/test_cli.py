"""The ``deepgrad`` command, driven as a user would: in a subprocess, on offline real data."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import deepgrad as dg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(*args):
    return [sys.executable, "-m", "deepgrad", *map(str, args)]


def run(*args, timeout=600, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def model_weights(path):
    return [w.copy() for w in dg.models.load_model(str(path)).get_weights()]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run("train", "--dataset", "mnist_subset", "--epochs", 2, "--seed", 7, "--out", out, "--verbose", 2)
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_writes_a_complete_run_folder(trained_run):
    out, result = trained_run
    assert "test accuracy:" in result.stdout and str(out) in result.stdout
    for name in ("run.json", "history.csv", "metrics.json", "model.deepgrad"):
        assert (out / name).is_file(), name
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.85  # seed 004's CNN, 2 epochs on 3,600 real digits
    assert set(metrics["per_class"]) == {str(i) for i in range(10)}
    assert np.array(metrics["confusion_matrix"]).sum() == 1000
    assert metrics["train_samples_per_second"] > 0

    for name in ("curves.png", "confusion_matrix.png", "predictions.png", "most_confident_mistakes.png"):
        with Image.open(out / name) as img:
            img.verify()
        with Image.open(out / name) as img:
            assert img.format == "PNG" and img.size[0] >= 300 and img.size[1] >= 200, (name, img.size)


def test_saved_model_reloads_and_predicts_as_reported(trained_run):
    out, _ = trained_run
    model = dg.models.load_model(str(out / "model.deepgrad"))
    (_, _), (x_test, y_test) = dg.datasets.mnist_subset.load_data()
    x = x_test[:, :, :, None].astype("float32") / 255
    accuracy = float((model.predict(x, verbose=0).argmax(1) == y_test).mean())
    metrics = json.loads((out / "metrics.json").read_text())
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_summary_evaluate_and_datasets_commands(trained_run):
    out, _ = trained_run
    summary = run("summary", out / "model.deepgrad")
    assert summary.returncode == 0 and "693,962" in summary.stdout
    evaluate = run("evaluate", out / "model.deepgrad", "--dataset", "mnist_subset")
    assert evaluate.returncode == 0 and "test accuracy" in evaluate.stdout
    listing = run("datasets")
    assert listing.returncode == 0 and "mnist_subset" in listing.stdout and "xor" in listing.stdout


def test_predict_classifies_images_written_as_files(trained_run, tmp_path):
    out, _ = trained_run
    (_, _), (x_test, y_test) = dg.datasets.mnist_subset.load_data()
    model = dg.models.load_model(str(out / "model.deepgrad"))
    pred = model.predict(x_test[:, :, :, None].astype("float32") / 255, verbose=0).argmax(1)
    chosen = [i for i in range(len(y_test)) if pred[i] == y_test[i]][:4]
    paths = []
    for i in chosen:  # an RGB file of a different size: the command converts and resizes it
        path = tmp_path / f"digit_{i}.png"
        Image.fromarray(x_test[i]).convert("RGB").resize((56, 56), Image.NEAREST).save(path)
        paths.append(path)
    result = run("predict", out / "model.deepgrad", *paths, "--top-k", 2)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(chosen)
    for line, i in zip(lines, chosen):
        top_class = line.split(": ", 1)[1].split(" (")[0]
        assert top_class == str(y_test[i]), line


@pytest.mark.parametrize("args, message", [
    (("evaluate", "no_such_model.deepgrad"), "does not exist"),
    (("train", "--dataset", "no_such_data", "--epochs", 1), "unknown dataset"),
    (("train", "--model", "no_such_model", "--dataset", "xor", "--epochs", 1), "unknown model"),
    (("predict", "MODEL", "no_such_image.png"), "does not exist"),
    (("train", "--resume", "no_such_run"), "not a run folder"),
    (("train", "--resume", "RUN"), "already finished"),
])
def test_bad_input_gets_one_line_and_exit_2(trained_run, args, message, tmp_path):
    out, _ = trained_run
    args = [{"MODEL": str(out / "model.deepgrad"), "RUN": str(out)}.get(a, a) for a in args]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no run folder is left behind


def test_corrupted_model_file_and_unreadable_image_are_refused(trained_run, tmp_path):
    out, _ = trained_run
    broken = tmp_path / "broken.deepgrad"
    data = (out / "model.deepgrad").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    result = run("summary", broken)
    assert result.returncode == 2 and "cannot load model" in result.stderr and "Traceback" not in result.stderr

    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("this is text")
    result = run("predict", out / "model.deepgrad", not_an_image)
    assert result.returncode == 2 and "cannot read image" in result.stderr


def _train_until_killed(out, sig):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(command("train", "--model", "mlp", "--dataset", "mnist_subset", "--epochs", 6,
                                    "--batch-size", 32, "--seed", 3, "--out", out, "--verbose", 0),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300
    history = out / "history.csv"
    while time.time() < deadline and proc.poll() is None:  # wait until two epochs are on disk
        if history.is_file() and len(history.read_text().strip().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


@pytest.mark.slow
def test_resume_after_a_killed_run_ends_with_the_same_weights(tmp_path):
    full = tmp_path / "full"
    assert run("train", "--model", "mlp", "--dataset", "mnist_subset", "--epochs", 6, "--batch-size", 32,
               "--seed", 3, "--out", full, "--verbose", 0).returncode == 0

    killed = tmp_path / "killed"
    code, _ = _train_until_killed(killed, signal.SIGKILL)
    assert code == -signal.SIGKILL and not (killed / "model.deepgrad").exists()
    resumed = run("train", "--resume", killed, "--verbose", 0)
    assert resumed.returncode == 0, resumed.stderr
    with open(killed / "history.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(6))
    for a, b in zip(model_weights(full / "model.deepgrad"), model_weights(killed / "model.deepgrad")):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    code, stderr = _train_until_killed(tmp_path, signal.SIGINT)
    assert code == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    model = dg.models.load_model(str(tmp_path / "interrupted.deepgrad"))
    assert model.count_params() == 101_770
    assert (tmp_path / "history.csv").is_file()  # what was written before is still there


@pytest.mark.slow
def test_train_a_users_model_file_and_refuse_images_it_cannot_take(tmp_path):
    model_file = tmp_path / "my_model.py"
    model_file.write_text(
        "import deepgrad as keras\n"
        "from deepgrad import layers\n\n\n"
        "def build_model(input_shape, num_classes):\n"
        "    return keras.Sequential([layers.Input(input_shape), layers.Flatten(),\n"
        "                             layers.Dense(32, activation='relu'),\n"
        "                             layers.Dense(num_classes, activation='softmax')])\n")
    out = tmp_path / "run"
    result = run("train", "--model", model_file, "--dataset", "digits", "--epochs", 10,
                 "--batch-size", 32, "--out", out, "--verbose", 0)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.8  # 8x8 digits, 10 epochs of a small MLP

    vector_model = dg.Sequential([dg.layers.Input((10,)), dg.layers.Dense(3, activation="softmax")])
    vector_model.save(str(tmp_path / "vectors.deepgrad"))
    image = tmp_path / "img.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    result = run("predict", tmp_path / "vectors.deepgrad", image)
    assert result.returncode == 2 and "not images" in result.stderr and "Traceback" not in result.stderr

    bad_file = tmp_path / "no_builder.py"
    bad_file.write_text("x = 1\n")
    result = run("train", "--model", bad_file, "--dataset", "digits", "--epochs", 1, "--out", tmp_path / "r2")
    assert result.returncode == 2 and "must define build_model" in result.stderr
