"""``tf.train.latest_checkpoint(dir)`` for the weights deepgrad writes.

TensorFlow reads the directory's ``checkpoint`` state file, which names the newest checkpoint
prefix. deepgrad writes no such prefixes: its checkpoints are whole files (``save_weights`` /
``ModelCheckpoint`` to ``.weights.h5``, ``.weights.safetensors``, ``.weights.npz``, ``.h5``,
``.keras``), so the newest of those in the directory is the latest checkpoint, its path what
``load_weights`` takes. A ``checkpoint`` state file, when there is one, is read as TF reads it.
"""
from __future__ import annotations

import os
import re

_WEIGHT_ENDINGS = (".weights.h5", ".weights.json", ".safetensors", ".weights.npz", ".h5", ".hdf5", ".keras")


def _from_state_file(checkpoint_dir: str, latest_filename: str):
    state = os.path.join(checkpoint_dir, latest_filename)
    if not os.path.isfile(state):
        return None
    with open(state, encoding="utf-8") as f:
        found = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', f.read(), re.MULTILINE)
    if not found:
        return None
    path = found.group(1)
    path = path if os.path.isabs(path) else os.path.join(checkpoint_dir, path)
    exists = os.path.exists(path) or os.path.exists(path + ".index")
    return path if exists else None


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The path of the newest checkpoint in ``checkpoint_dir`` (by modification time, then name),
    or None when there is none, as TF returns None."""
    checkpoint_dir = os.fspath(checkpoint_dir)
    named = _from_state_file(checkpoint_dir, latest_filename or "checkpoint")
    if named is not None:
        return named
    if not os.path.isdir(checkpoint_dir):
        return None
    candidates = [os.path.join(checkpoint_dir, n) for n in os.listdir(checkpoint_dir)
                  if n.endswith(_WEIGHT_ENDINGS) and not re.search(r"_\d{5}\.weights\.h5$", n)]
    candidates = [p for p in candidates if os.path.isfile(p)]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (os.path.getmtime(p), p))
