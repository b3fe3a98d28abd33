"""``deepgrad export MODEL out.onnx [--quantize int8]`` and ``deepgrad predict out.onnx IMAGES``,
run as a user would."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

from PIL import Image

import deepgrad as dg
from deepgrad import cli, layers

from onnx_helpers import randomize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "deepgrad", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A CNN for the UCI digits' 8x8 images, saved, and three image files."""
    folder = tmp_path_factory.mktemp("cli-export")
    model = dg.Sequential([layers.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                           layers.Flatten(), layers.Dense(10, activation="softmax")])
    randomize(model, seed=5)
    model.save(str(folder / "model.deepgrad"))
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(path)
        images.append(path)
    return folder, images


def _parse(stdout: str) -> list:
    """Each line ``path: c (p), c (p), ...`` -> [(class, probability), ...]."""
    rows = []
    for line in stdout.strip().splitlines():
        pairs = line.split(": ", 1)[1].split("), ")
        rows.append([(p.split(" (")[0], float(p.split(" (")[1].rstrip(")"))) for p in pairs])
    return rows


def test_export_then_predict_on_onnx_matches_the_saved_model(saved):
    folder, images = saved
    out = folder / "model.onnx"
    result = run("export", folder / "model.deepgrad", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (float32" in result.stdout
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    from_onnx = run("predict", out, *images, "--top-k", 3)
    from_model = run("predict", folder / "model.deepgrad", *images, "--top-k", 3)
    assert from_onnx.returncode == 0 and from_model.returncode == 0, from_onnx.stderr + from_model.stderr
    got, want = _parse(from_onnx.stdout), _parse(from_model.stdout)
    assert len(got) == 3 and [[c for c, _ in row] for row in got] == [[c for c, _ in row] for row in want]
    np.testing.assert_allclose([[p for _, p in row] for row in got], [[p for _, p in row] for row in want],
                               atol=1.001e-3)


def test_export_int8_with_calibration_images(saved):
    folder, images = saved
    out = folder / "int8.onnx"
    result = run("export", folder / "model.deepgrad", out, "--quantize", "int8", "--calibration-dataset", "digits",
                 "--calibration-samples", 64)
    assert result.returncode == 0, result.stderr
    assert "(int8," in result.stdout
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(out)).graph.node}
    predicted = run("predict", out, *images, "--top-k", 1)
    assert predicted.returncode == 0 and len(predicted.stdout.strip().splitlines()) == 3, predicted.stderr


def test_command_errors_are_one_line(saved, tmp_path, capsys):
    folder, images = saved
    assert cli.main(["predict", str(tmp_path / "missing.onnx"), str(images[0])]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file")
    assert cli.main(["predict", str(tmp_path / "junk.onnx"), str(images[0])]) == 2
    assert "cannot load ONNX model" in capsys.readouterr().err
    assert cli.main(["export", str(folder / "model.deepgrad"), str(tmp_path / "m.onnx"),
                     "--calibration-dataset", "digits"]) == 2
    assert "--calibration-dataset goes with --quantize int8" in capsys.readouterr().err


def test_missing_extras_name_the_install_command(saved, tmp_path, monkeypatch, capsys):
    folder, images = saved
    path = tmp_path / "m.onnx"
    dg.models.load_model(str(folder / "model.deepgrad")).export(str(path), format="onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # import onnxruntime now fails
    assert cli.main(["predict", str(path), str(images[0])]) == 2
    assert "running ONNX files needs onnxruntime: pip install deepgrad[onnx]" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    with pytest.raises(ImportError, match=r"ONNX export needs the onnx package: pip install deepgrad\[onnx\]"):
        model.export(str(tmp_path / "other.onnx"), format="onnx")
