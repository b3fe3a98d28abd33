"""``ModelCheckpoint``: save the model (or its weights) every epoch or every N batches."""
from __future__ import annotations

import math
import os
import warnings

from .callback import Callback
from .monitor import MonitorMixin, resolve_mode


class ModelCheckpoint(MonitorMixin, Callback):
    """Save to ``filepath``, which may hold ``str.format`` fields filled from the epoch (1-based),
    the batch and the logs: ``"model.{epoch:02d}-{val_loss:.2f}.deepgrad"``.

    ``save_best_only`` saves only when ``monitor`` beats the best so far (starting from
    ``initial_value_threshold`` when given). Files are written atomically by deepgrad.saving.
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer, got {save_freq!r}")
        self.save_freq = save_freq
        # the suffixes save_weights writes: Keras's own (.weights.h5) and deepgrad's two
        if save_weights_only and not self.filepath.endswith((".weights.h5", ".weights.safetensors",
                                                             ".weights.npz")):
            raise ValueError("ModelCheckpoint: with save_weights_only=True the filepath must end in "
                             f"'.weights.h5', '.weights.safetensors' or '.weights.npz', got {self.filepath!r}")
        self.mode = resolve_mode(monitor, mode, "ModelCheckpoint")
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = math.inf if self.mode == "min" else -math.inf
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0

    def _improved(self, current: float) -> bool:
        return current < self.best if self.mode == "min" else current > self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch, batch, logs) -> str:
        fields = {k: v for k, v in (logs or {}).items() if k not in ("epoch", "batch")}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(epoch=epoch + 1, **fields)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: the logs '
                           f"have no value {e}; logged names are {sorted(logs or {})}") from None

    def _save_model(self, epoch, batch, logs) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.dirname(filepath):
            os.makedirs(os.path.dirname(filepath), exist_ok=True)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            current = float(current)
            if not self._improved(current):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
