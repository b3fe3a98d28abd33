"""``BackupAndRestore``: resume an interrupted ``fit`` exactly where its last backup left it."""
from __future__ import annotations

import contextlib
import json
import os
import random

import numpy as np

from .. import backend
from ..files import assign_arrays, load_safetensors, save_safetensors, weights_to_arrays
from .callback import Callback

_BACKUP_FILE = "backup.safetensors"
_PREVIOUS_FILE = "backup.previous.safetensors"


class BackupAndRestore(Callback):
    """At each epoch end (or every ``save_freq`` batches) writes one file atomically into
    ``backup_dir``: the model's weights, the optimiser state, the epoch, and the random
    states (deepgrad's generator, NumPy's legacy one and Python's ``random``). When ``fit``
    starts and a backup exists, all of it is restored and training resumes at the next epoch,
    so a crashed run ends with the same weights as an uninterrupted one. The backup is
    deleted when training ends normally if ``delete_checkpoint`` (and ``backup_dir`` too if
    it is then empty).

    With an integer ``save_freq``, a resumed run restarts the epoch the backup was taken in
    from its first batch (as Keras does), so only ``"epoch"`` backups resume bit-exactly.

    ``double_checkpoint`` keeps the backup before the last one too, and restores it when the
    last cannot be read (a damaged disk or file): twice the space, one more chance.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive integer, got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.double_checkpoint = double_checkpoint
        self._current_epoch = 0
        self._batches_seen = 0
        self._resume_epoch = None   # the epoch after the restored backup, for fit to start at

    @property
    def _path(self) -> str:
        return os.path.join(self.backup_dir, _BACKUP_FILE)

    @property
    def _previous_path(self) -> str:
        return os.path.join(self.backup_dir, _PREVIOUS_FILE)

    # ----------------------------------------------------------------- writing
    def _backup(self, last_epoch: int) -> None:
        arrays = {f"weights/{k}": v for k, v in weights_to_arrays(self.model).items()}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            arrays.update({f"optimizer/{k}": v for k, v in optimizer.get_state().items()})
        np_state = np.random.get_state()
        arrays["numpy_random/keys"] = np_state[1]
        py_state = random.getstate()
        meta = {"epoch": last_epoch, "deepgrad_rng": backend.get_rng_state(),
                "numpy_random": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
                "python_random": [py_state[0], list(py_state[1]), py_state[2]]}
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._previous_path)  # the last backup becomes the previous one
        save_safetensors(arrays, self._path, metadata={"backup": json.dumps(meta)})

    # ----------------------------------------------------------------- restoring
    def last_epoch(self) -> int | None:
        """The last epoch the backup in ``backup_dir`` holds (0-based), or None without one."""
        if not os.path.exists(self._path):
            return None
        return int(json.loads(load_safetensors(self._path)[1]["backup"])["epoch"])

    def _restore(self) -> None:
        try:
            arrays, metadata = load_safetensors(self._path)
            meta = json.loads(metadata["backup"])
        except Exception:
            if not (self.double_checkpoint and os.path.exists(self._previous_path)):
                raise
            arrays, metadata = load_safetensors(self._previous_path)  # the last backup is unreadable
            meta = json.loads(metadata["backup"])
        assign_arrays(self.model, {k[len("weights/"):]: v for k, v in arrays.items() if k.startswith("weights/")},
                      self._path)
        state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
        if state and getattr(self.model, "optimizer", None) is not None:
            self.model.optimizer.set_state(state)
        backend.set_rng_state(meta["deepgrad_rng"])
        name, pos, has_gauss, cached = meta["numpy_random"]
        np.random.set_state((name, arrays["numpy_random/keys"].astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = meta["python_random"]
        random.setstate((version, tuple(internal), gauss))
        self._resume_epoch = int(meta["epoch"]) + 1

    # ----------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._resume_epoch = None
        if os.path.exists(self._path) or (self.double_checkpoint and os.path.exists(self._previous_path)):
            self._restore()

    def resume_epoch(self) -> int | None:
        return self._resume_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen >= self.save_freq:
            self._batches_seen = 0
            self._backup(self._current_epoch - 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._backup(epoch)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and (os.path.exists(self._path) or os.path.exists(self._previous_path)):
            for path in (self._path, self._previous_path):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
            with contextlib.suppress(OSError):  # the directory goes too when nothing else is in it
                os.rmdir(self.backup_dir)
