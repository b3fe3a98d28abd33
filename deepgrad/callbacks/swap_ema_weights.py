"""``SwapEMAWeights``: evaluate and predict with the optimiser's moving averages of the weights."""
from __future__ import annotations

import numpy as np

from .callback import Callback


class SwapEMAWeights(Callback):
    """With an optimiser made with ``use_ema=True``: the model holds the moving averages
    during evaluation and prediction (validation in ``fit`` included) and its trained
    weights otherwise; with ``swap_on_epoch=True`` also from each epoch's end to the next
    epoch's start (so checkpoints written at epoch end hold the averages)."""

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizers(self) -> list:
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer
        if hasattr(optimizer, "optimizers"):  # a MultiOptimizer: the inner ones that keep averages
            found = [o for o in optimizer.optimizers if getattr(o, "use_ema", False)]
            if not found:
                raise ValueError("SwapEMAWeights: none of the MultiOptimizer's optimizers has use_ema=True")
            return found
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(f"SwapEMAWeights needs an optimizer made with use_ema=True; got {optimizer!r}")
        return [optimizer]

    def _swap(self) -> None:
        for optimizer in self._optimizers():
            for variable, average in optimizer.moving_averages():
                held = np.array(variable.data)
                variable.data[...] = average
                average[...] = held

    def _finalize(self) -> None:
        # fit ends by copying the averages into the model; they are in the model already
        for optimizer in self._optimizers():
            for variable, average in optimizer.moving_averages():
                average[...] = variable.data

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end
