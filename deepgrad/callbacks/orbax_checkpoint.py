"""``OrbaxCheckpoint``: Keras's checkpoints through Orbax, a JAX library."""
from __future__ import annotations

import importlib.util

from .callback import Callback


class OrbaxCheckpoint(Callback):
    """Keras's signature; deepgrad does not write Orbax checkpoints. Without the
    ``orbax-checkpoint`` package this says to install it; with it, that Orbax's JAX arrays
    are not deepgrad's. ``ModelCheckpoint`` and ``BackupAndRestore`` save deepgrad models."""

    def __init__(self, directory, monitor="val_loss", verbose=0, save_best_only=False, mode="auto",
                 save_freq="epoch", initial_value_threshold=None, max_to_keep=1, save_on_background=True,
                 save_weights_only=False):
        super().__init__()
        if importlib.util.find_spec("orbax") is None:
            raise ImportError("OrbaxCheckpoint needs the orbax-checkpoint package (pip install orbax-checkpoint), "
                              "which is not installed; deepgrad.callbacks.ModelCheckpoint and BackupAndRestore "
                              "save checkpoints without it")
        raise NotImplementedError("OrbaxCheckpoint: deepgrad does not write Orbax checkpoints (Orbax stores JAX "
                                  "arrays); use deepgrad.callbacks.ModelCheckpoint or BackupAndRestore")
