"""``Callback``: hooks the trainer calls around training, evaluation and prediction."""
from __future__ import annotations


class Callback:
    """Base class with every Keras hook as a no-op. ``model`` and ``params`` (verbose, epochs,
    steps) are set by ``fit``/``evaluate``/``predict`` before the first hook runs."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Keras's ``on_batch_begin``/``on_batch_end`` are the training-batch hooks under their old
        # names: a subclass that writes one of them (and not the new name) has it called for
        # each training batch; the others keep the no-op, so ``fit`` pays nothing for the alias.
        for old, new in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            if getattr(cls, old) is not getattr(Callback, old) and getattr(cls, new) is getattr(Callback, new):
                setattr(cls, new, _alias(old, new))

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    def resume_epoch(self) -> int | None:
        """The epoch ``fit`` starts at instead of ``initial_epoch``, asked once ``on_train_begin``
        has run: a callback that restored an interrupted run answers (BackupAndRestore gives the
        epoch after its backup); None, the default, leaves the start alone."""
        return None


def _alias(old: str, new: str):
    def hook(self, batch, logs=None):
        getattr(self, old)(batch, logs=logs)
    hook.__name__ = new
    return hook


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")
