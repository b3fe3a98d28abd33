"""``deepgrad explain`` (PNG overlays of explanations) and the explanation grid of ``deepgrad train``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import cli, layers, reports  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIZE = (400, 440)   # reports.EXPLANATION_INCHES at 100 dpi


def run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "deepgrad", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder holding a small CNN over 12 x 12 gray images, and two image files of another size."""
    folder = tmp_path_factory.mktemp("run")
    dg.utils.set_random_seed(3)
    model = dg.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(4, 3, activation="relu", name="features"),
                           layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.save(str(folder / "model.deepgrad"))
    mlp = dg.Sequential([layers.Input((12, 12, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    mlp.save(str(folder / "mlp.deepgrad"))
    (folder / "run.json").write_text(json.dumps({"dataset": "digits"}))
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), mode="L").save(folder / f"{name}.png")
    return folder


def read_png(path):
    with Image.open(path) as img:
        img.verify()                      # a whole, valid PNG
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB")), img.size


def test_explain_writes_an_overlay_per_image_into_the_run_folder(run_folder):
    result = run("explain", run_folder / "model.deepgrad", run_folder / "a.png", run_folder / "b.png")
    assert result.returncode == 0, result.stderr
    written = result.stdout.split()
    folder = run_folder / "explanations"
    assert written == [str(folder / "a_grad_cam.png"), str(folder / "b_grad_cam.png")]
    for path in written:
        pixels, size = read_png(path)
        assert size == PNG_SIZE and pixels.std() > 10   # an image, not a blank page


@pytest.mark.parametrize("method", ["ig", "saliency", "smoothgrad", "occlusion", "grad_cam"])
def test_every_method_and_an_out_folder(run_folder, tmp_path, method, capsys):
    out = tmp_path / "maps"
    assert cli.main(["explain", str(run_folder / "model.deepgrad"), str(run_folder / "a.png"),
                     "--method", method, "--target", "2", "--steps", "8", "--out", str(out)]) == 0
    path = out / f"a_{method}.png"
    assert capsys.readouterr().out.split() == [str(path)]
    assert read_png(path)[1] == PNG_SIZE


def test_methods_draw_different_maps(run_folder, tmp_path):
    pixels = {}
    for method in ("saliency", "occlusion"):
        assert cli.main(["explain", str(run_folder / "model.deepgrad"), str(run_folder / "a.png"),
                         "--method", method, "--out", str(tmp_path)]) == 0
        pixels[method] = read_png(tmp_path / f"a_{method}.png")[0]
    assert np.abs(pixels["saliency"].astype(int) - pixels["occlusion"]).max() > 50


@pytest.mark.parametrize("args, message", [
    (("--target", "3"), "--target 3 is out of range: the model has 3 classes (0 to 2)"),
    (("--layer", "nope"), "has no layer named 'nope'; layers with a spatial output: ['features', 'max_pooling2d"),
    (("--layer", "dense"), "no spatial axes"),
    (("--steps", "1"), "--steps must be a whole number >= 2"),
])
def test_bad_requests_get_one_line_and_exit_2(run_folder, args, message, capsys):
    model = dg.models.load_model(str(run_folder / "model.deepgrad"))
    args = tuple(model.layers[-1].name if a == "dense" else a for a in args)
    assert cli.main(["explain", str(run_folder / "model.deepgrad"), str(run_folder / "a.png"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepgrad: error: ") and message in err and err.count("\n") == 1


def test_grad_cam_on_a_model_without_convolutions_names_the_other_methods(run_folder, capsys):
    assert cli.main(["explain", str(run_folder / "mlp.deepgrad"), str(run_folder / "a.png")]) == 2
    assert "no convolutional layer for Grad-CAM" in capsys.readouterr().err
    assert cli.main(["explain", str(run_folder / "mlp.deepgrad"), str(run_folder / "a.png"), "--method", "ig",
                     "--out", str(run_folder / "mlp_maps")]) == 0


def test_heat_map_sums_channels_and_scales_to_one():
    attribution = np.zeros((4, 4, 3))
    attribution[1, 2] = [1.0, -2.0, 1.0]
    attribution[3, 3, 0] = 2.0
    heat = reports.heat_map(attribution, (4, 4, 3))
    assert heat.shape == (4, 4) and heat[1, 2] == 1.0 and heat[3, 3] == 0.5 and heat.sum() == 1.5
    np.testing.assert_array_equal(reports.heat_map(np.zeros((4, 4)), (4, 4, 1)), np.zeros((4, 4)))


@pytest.mark.slow
def test_train_adds_an_explanation_grid(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--dataset", "digits", "--epochs", 1, "--out", out, "--verbose", 0)
    assert result.returncode == 0, result.stderr
    pixels, (width, height) = read_png(out / "explanations.png")
    assert width > 600 and height > 600 and pixels.std() > 10   # six rows of an image and five maps
