"""Weights files, told apart by name on writing and by content on reading:

- ``.weights.h5``: Keras 3's weights file (object paths, keras_paths.py), read and written;
- ``.weights.json`` with its ``_00000.weights.h5`` shards: Keras 3's sharded weights (keras_shards.py);
- ``.h5`` / ``.hdf5`` written by Keras 2 / tf.keras (``layer_names``): read by layer order,
  or by layer name (legacy_h5_weights.py);
- ``.weights.safetensors`` (or any ``.safetensors``) and ``.weights.npz``: deepgrad's own;
- the weights of a whole-model file: Keras's ``.keras`` or deepgrad's zip.

deepgrad's own keys and matching rules are those of weights.py.
"""
from __future__ import annotations

import os

import numpy as np

from . import safetensors_format as st
from .archive import sniff
from .atomic import atomic_write
from .h5_format import is_hdf5, read_h5
from .keras_archive import archive_members, is_keras_archive, read_keras_archive
from .keras_model_file import save_keras_weights
from .keras_paths import assign_weights_tree
from .keras_shards import read_sharded_tree, save_sharded_weights
from .legacy_h5_weights import assign_legacy_weights, is_legacy_tree
from .model_file import WEIGHTS_MEMBER, read_model_archive
from .weights import assign_arrays, read_npz, weights_to_arrays


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    filepath = os.fspath(filepath)
    if max_shard_size is not None:
        # Keras: sharding writes an index and its shards, named from a .weights.json path
        if not filepath.endswith(("weights.h5", "weights.json")):
            raise ValueError("The filename must end in `.weights.json` when `max_shard_size` is specified. "
                             f"Received: filepath={filepath}")
        save_sharded_weights(model, filepath, max_shard_size, overwrite=overwrite)
        return
    if filepath.endswith(".weights.h5"):
        save_keras_weights(model, filepath, overwrite=overwrite)
        return
    arrays = weights_to_arrays(model)
    if filepath.endswith(".npz"):
        with atomic_write(filepath, "wb", overwrite=overwrite) as f:
            np.savez(f, **arrays)
    elif filepath.endswith(".safetensors"):
        st.save_file(arrays, filepath, metadata={"format": "deepgrad.weights"}, overwrite=overwrite)
    else:
        raise ValueError(f"save_weights: the filepath must end in '.weights.h5', '.weights.safetensors' or "
                         f"'.weights.npz', got {filepath!r}")


def load_weights(model, filepath, skip_mismatch: bool = False, by_name: bool = False) -> None:
    """Load weights written by ``save_weights`` (deepgrad's or Keras's), or those of a saved
    model file. ``by_name`` applies to legacy ``.h5`` files, as in tf.keras; ``skip_mismatch``
    leaves the objects whose saved shapes do not fit untouched (Keras files)."""
    filepath = os.fspath(filepath)
    if filepath.endswith("weights.json"):
        if by_name:
            raise ValueError(f"load_weights: by_name=True applies to legacy .h5 files only, not {filepath!r}")
        assign_weights_tree(model, read_sharded_tree(filepath), filepath, skip_mismatch=skip_mismatch)
        return
    with open(filepath, "rb") as f:
        data = f.read()
    if is_hdf5(data[:8]):
        tree = read_h5(data, filepath)
        if is_legacy_tree(tree):
            assign_legacy_weights(model, tree, filepath, by_name=by_name, skip_mismatch=skip_mismatch)
        elif by_name:
            raise ValueError("load_weights: by_name=True applies to legacy .h5 files only; Keras 3 "
                             f"{filepath!r} stores weights by object path")
        else:
            assign_weights_tree(model, tree, filepath, skip_mismatch=skip_mismatch)
        return
    if by_name:
        raise ValueError(f"load_weights: by_name=True applies to legacy .h5 files only, not {filepath!r}")
    if filepath.endswith(".safetensors"):
        arrays, _ = st.loads(data, source=filepath)
    elif filepath.endswith(".npz"):
        sniff(data[:8], filepath)
        arrays = read_npz(data, filepath)
    elif is_keras_archive(archive_members(filepath)):
        archive = read_keras_archive(filepath)
        assign_weights_tree(model, archive["weights"], f"{filepath}:model.weights.h5", skip_mismatch=skip_mismatch)
        return
    else:
        arrays, _ = st.loads(read_model_archive(filepath)[WEIGHTS_MEMBER], source=f"{filepath}:{WEIGHTS_MEMBER}")
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is supported for Keras files (.weights.h5, "
                                  ".keras, legacy .h5) only")
    assign_arrays(model, arrays, filepath)
