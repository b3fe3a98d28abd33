"""Horovod's Keras callbacks: start every rank from the same weights, average the epoch's
metrics over ranks, and warm the learning rate up over the first epochs."""
from __future__ import annotations

import numpy as np

from ..callbacks import Callback
from . import mpi as world
from .group import average_logs, broadcast_model


class BroadcastGlobalVariablesCallback(Callback):
    """At the start of training every rank takes rank ``root_rank``'s weights, optimiser state
    and random state (``fit`` under ``init()`` does this already; the callback keeps Horovod
    programs unchanged and works in a custom loop that calls its hooks)."""

    def __init__(self, root_rank: int = 0, device=""):
        super().__init__()
        self.root_rank = int(root_rank)

    def on_train_begin(self, logs=None):
        comm = world.comm()
        if comm.Get_size() > 1:
            broadcast_model(self.model, comm, root=self.root_rank)


class MetricAverageCallback(Callback):
    """At each epoch end the metrics in ``logs`` become their average over the ranks (in
    place, so the callbacks after it see the averages). ``fit`` under ``init()`` averages
    them already, weighted by samples; averaging equal values again changes nothing."""

    def __init__(self, device=""):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        comm = world.comm()
        if logs and comm.Get_size() > 1:
            logs.update(average_logs(logs, comm))


class LearningRateWarmupCallback(Callback):
    """Horovod's warm-up (Goyal et al., 2017): over the first ``warmup_epochs`` epochs the
    learning rate rises from ``initial_lr / size()`` to ``initial_lr`` (the rate for the
    global batch, reached at the end of the warm-up),

        lr(e) = initial_lr / size * (e * (size - 1) / warmup_epochs + 1),

    with ``e`` the fractional epoch (batch / steps_per_epoch added). Horovod's arguments;
    ``momentum_correction`` is accepted (deepgrad's optimisers keep no lr-scaled momentum)."""

    def __init__(self, initial_lr, warmup_epochs: int = 5, momentum_correction: bool = True,
                 steps_per_epoch=None, verbose: int = 0):
        super().__init__()
        if initial_lr is None or float(initial_lr) <= 0:
            raise ValueError(f"LearningRateWarmupCallback: initial_lr must be > 0, got {initial_lr!r}")
        if warmup_epochs is None or warmup_epochs <= 0:
            raise ValueError(f"LearningRateWarmupCallback: warmup_epochs must be > 0, got {warmup_epochs!r}")
        self.initial_lr = float(initial_lr)
        self.warmup_epochs = warmup_epochs
        self.steps_per_epoch = steps_per_epoch
        self.verbose = verbose
        self.current_epoch = 0

    def learning_rate(self, epoch: float) -> float:
        n = world.size()
        if epoch >= self.warmup_epochs:
            return self.initial_lr
        return self.initial_lr / n * (epoch * (n - 1) / self.warmup_epochs + 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.current_epoch >= self.warmup_epochs:
            return
        steps = self.steps_per_epoch or self.params.get("steps") or 1
        self.model.optimizer.learning_rate = self.learning_rate(self.current_epoch + batch / steps)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.warmup_epochs - 1:
            self.model.optimizer.learning_rate = self.initial_lr
            if self.verbose and world.rank() == 0:
                print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to "
                      f"{self.model.optimizer.learning_rate:g}.")
        if logs is not None:
            logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))
