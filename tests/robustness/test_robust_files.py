"""load_model/load_weights on junk bytes and on truncated or mutated real files: a model or a clear error."""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deepgrad as dg
from robust_support import cases, outcome

FILE_NAMES = ("file", "zip", "archive", "safetensors", "header", "config", "weights", "model", "json",
              "unsafe", "member", "truncated", "corrupt", "format", "not a", "invalid", "expected", "shape",
              "dtype", "hdf5", "h5", "layer", "keras", "deepgrad", "missing", "unknown", "bytes", "offset")


def _model():
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(2, activation="relu", name="d")])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def real_files():
    folder = tempfile.mkdtemp(prefix="deepgrad-robust-")
    model = _model()
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)
    paths = {"model": os.path.join(folder, "m.deepgrad"), "keras": os.path.join(folder, "m.keras"),
             "weights": os.path.join(folder, "m.weights.safetensors")}
    model.save(paths["model"])
    model.save(paths["keras"])
    model.save_weights(paths["weights"])
    yield {k: open(p, "rb").read() for k, p in paths.items()}, folder


SUFFIX = {"model": ".deepgrad", "keras": ".keras", "weights": ".weights.safetensors"}


def _load(kind, path):
    if kind == "weights":
        return _model().load_weights(path)
    return dg.models.load_model(path)


@cases(0.5)
@given(junk=st.binary(max_size=300), kind=st.sampled_from(sorted(SUFFIX)))
def test_junk_bytes_are_a_clear_error(junk, kind, real_files, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("junk") / f"f{SUFFIX[kind]}")
    with open(path, "wb") as f:
        f.write(junk)
    outcome(lambda: _load(kind, path), FILE_NAMES)


@cases(0.5)
@given(kind=st.sampled_from(sorted(SUFFIX)), data=st.data())
def test_truncated_real_files_are_a_clear_error(kind, data, real_files, tmp_path_factory):
    blob = real_files[0][kind]
    cut = data.draw(st.integers(0, len(blob) - 1))
    path = str(tmp_path_factory.mktemp("cut") / f"f{SUFFIX[kind]}")
    with open(path, "wb") as f:
        f.write(blob[:cut])
    outcome(lambda: _load(kind, path), FILE_NAMES)


@cases(1)
@given(kind=st.sampled_from(sorted(SUFFIX)), data=st.data())
def test_mutated_real_files_load_or_are_a_clear_error(kind, data, real_files, tmp_path_factory):
    blob = bytearray(real_files[0][kind])
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    path = str(tmp_path_factory.mktemp("mutated") / f"f{SUFFIX[kind]}")
    with open(path, "wb") as f:
        f.write(bytes(blob))
    loaded = outcome(lambda: _load(kind, path), FILE_NAMES)
    if loaded is not None and kind != "weights":
        # a byte inside a weight's data may change a value, never the architecture
        assert [w.shape for w in loaded.get_weights()] == [(3, 2), (2,)]
