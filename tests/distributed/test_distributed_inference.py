"""Under DataParallel: evaluate runs each rank on its rows and sums every metric's totals and
counts (the one-process result, on every rank, rows uneven over ranks); predict gathers the
rows in order on every rank; model.save and save_weights write once (rank 0), and a load
right after, on every rank, reads the file."""
import json
import pathlib

import numpy as np
import pytest

pytestmark = pytest.mark.slow

MODEL = """
import numpy as np
import deepgrad as dg
from deepgrad import layers, metrics, utils

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 5))
    y = np.eye(3)[rng.integers(0, 3, 23)]
    return x, y, rng.random(23)

def build():
    utils.set_random_seed(2)
    model = dg.Sequential([layers.Input((5,)), layers.Dense(6, activation="tanh", dtype="float64"),
                           layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile("adam", "categorical_crossentropy",
                  metrics=["accuracy", metrics.AUC(name="auc"), metrics.Precision(name="precision")])
    return model

def results(model, x, y, w):
    return {"plain": model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True),
            "weighted": model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0, return_dict=True),
            "steps": model.evaluate(x, y, batch_size=4, steps=3, verbose=0, return_dict=True)}
"""

PROGRAM = MODEL + """
import json, os
import deepgrad.distributed as hvd
from deepgrad import distribution, files
from deepgrad.models import model as model_module
distribution.set_distribution(distribution.DataParallel())
r = hvd.rank()

writes = []
for name in ("save_model", "save_weights"):
    def counted(*args, _inner=getattr(files, name), _name=name, **kwargs):
        writes.append(_name)
        return _inner(*args, **kwargs)
    setattr(files, name, counted)

x, y, w = data()
model = build()
with open(f"evaluate.{r}.json", "w") as f:
    json.dump(results(model, x, y, w), f)
np.savez(f"predict.{r}.npz", all=model.predict(x, batch_size=8, verbose=0),
         two=model.predict(x[:2], verbose=0))         # fewer rows than ranks: one rank has none

model.save("model.deepgrad")                          # every rank calls it; rank 0 writes
loaded = dg.models.load_model("model.deepgrad")       # safe at once on every rank
model.save_weights("model.weights.safetensors")
model.load_weights("model.weights.safetensors")
if r == 0:                                            # Horovod's habit: rank 0 alone; nobody waits for it
    model.save("only_rank_0.deepgrad")
np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
with open(f"writes.{r}.json", "w") as f:
    json.dump(writes, f)
"""


def test_evaluate_predict_and_save_under_data_parallel(run_ranks):
    result = run_ranks(3, PROGRAM)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = pathlib.Path(result.args[-1]).parent
    scope = {}
    exec(MODEL, scope)
    x, y, w = scope["data"]()
    model = scope["build"]()
    expected = scope["results"](model, x, y, w)
    assert 0.0 < expected["plain"]["auc"] < 1.0 and expected["weighted"]["loss"] != expected["plain"]["loss"]
    for r in range(3):
        got = json.loads((folder / f"evaluate.{r}.json").read_text())
        for case in expected:   # the one-process value on every rank: summed states, not a mean of means
            assert set(got[case]) == set(expected[case]) == {"loss", "accuracy", "auc", "precision"}
            for key, value in expected[case].items():
                np.testing.assert_allclose(got[case][key], value, rtol=1e-12, atol=1e-12, err_msg=f"{case} {key}")
        with np.load(folder / f"predict.{r}.npz") as f:
            np.testing.assert_allclose(f["all"], model.predict(x, verbose=0), rtol=0, atol=1e-14)
            np.testing.assert_allclose(f["two"], model.predict(x[:2], verbose=0), rtol=0, atol=1e-14)
        writes = json.loads((folder / f"writes.{r}.json").read_text())
        assert writes == (["save_model", "save_weights", "save_model"] if r == 0 else [])
    assert (folder / "model.deepgrad").is_file() and (folder / "only_rank_0.deepgrad").is_file()
