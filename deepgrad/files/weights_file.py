"""Weights files: ``.weights.safetensors`` (or any ``.safetensors``) and ``.weights.npz``.

``load_weights`` also reads the weights of a whole-model file (``.deepgrad``/``.keras``).
Keys and matching rules are those of weights.py.
"""
from __future__ import annotations

import os

import numpy as np

from . import safetensors_format as st
from .archive import sniff
from .atomic import atomic_write
from .model_file import WEIGHTS_MEMBER, read_model_archive
from .weights import assign_arrays, read_npz, weights_to_arrays


def save_weights(model, filepath, overwrite: bool = True) -> None:
    filepath = os.fspath(filepath)
    arrays = weights_to_arrays(model)
    if filepath.endswith(".npz"):
        with atomic_write(filepath, "wb", overwrite=overwrite) as f:
            np.savez(f, **arrays)
    elif filepath.endswith(".safetensors"):
        st.save_file(arrays, filepath, metadata={"format": "deepgrad.weights"}, overwrite=overwrite)
    else:
        raise ValueError(f"save_weights: the filepath must end in '.weights.safetensors' or '.weights.npz', "
                         f"got {filepath!r}")


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights written by ``save_weights`` (or the weights of a saved model file)."""
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported")
    filepath = os.fspath(filepath)
    with open(filepath, "rb") as f:
        data = f.read()
    if filepath.endswith(".safetensors"):
        arrays, _ = st.loads(data, source=filepath)
    elif filepath.endswith(".npz"):
        sniff(data[:8], filepath)
        arrays = read_npz(data, filepath)
    else:
        arrays, _ = st.loads(read_model_archive(filepath)[WEIGHTS_MEMBER], source=f"{filepath}:{WEIGHTS_MEMBER}")
    assign_arrays(model, arrays, filepath)
