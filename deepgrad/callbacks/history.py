"""``History``: every epoch's logs, as ``model.fit`` returns them."""
from __future__ import annotations

from .callback import Callback


class History(Callback):
    """``history.history`` maps each log name to its list of per-epoch values; ``history.epoch``
    lists the epochs seen. Added to every ``fit``; it also sets ``model.history``."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
