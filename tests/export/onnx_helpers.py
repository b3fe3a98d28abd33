"""What the ONNX export tests share: random weights, the export, the onnxruntime run."""
from __future__ import annotations

import numpy as np
import onnx

from deepgrad.export.runtime import OnnxPredictor


def randomize(model, seed: int = 0) -> None:
    """Every weight drawn at random (variances positive), so no converter passes on zeros and ones."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in (w.name or ""):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.5, shape)
        w.assign(value.astype(np.asarray(w.data).dtype))


def export_and_run(model, xs, path, **kwargs):
    """Export ``model`` to ``path``, check the file, and return (onnxruntime's outputs, predict's outputs)."""
    model.export(str(path), format="onnx", **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    got = OnnxPredictor(str(path)).predict(xs, batch_size=len(xs[0]) if isinstance(xs, list) else len(xs))
    want = model.predict(xs, verbose=0)
    return got, want


def _compare(got, want, tol):
    got = got if isinstance(got, list) else [got]
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(getattr(w, "data", w))
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def assert_exports(model, xs, path, tol: float = 1e-5, **kwargs) -> None:
    """onnxruntime equals predict on ``xs`` and, the batch axis being dynamic, on its first sample alone."""
    got, want = export_and_run(model, xs, path, **kwargs)
    _compare(got, want, tol)
    one = [x[:1] for x in xs] if isinstance(xs, list) else xs[:1]
    _compare(OnnxPredictor(str(path)).predict(one, batch_size=1), model.predict(one, verbose=0), tol)
