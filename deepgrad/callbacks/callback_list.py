"""``CallbackList``: the callbacks of one ``fit``/``evaluate``/``predict``, called as one."""
from __future__ import annotations

from .callback import _HOOKS, Callback
from .history import History
from .progbar_logger import ProgbarLogger


class CallbackList(Callback):
    """Calls each hook on every callback in order. ``add_progbar`` puts a ``ProgbarLogger``
    first and ``add_history`` a ``History`` last, unless the list already holds one."""

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r} of type {type(cb).__name__}")
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def resume_epoch(self) -> int | None:
        """The last answer of a callback that has one (see ``Callback.resume_epoch``)."""
        answers = [e for e in (cb.resume_epoch() for cb in self.callbacks) if e is not None]
        return answers[-1] if answers else None


def sort_logs(logs: dict) -> dict:
    """``logs`` with its keys in sorted order, in place (the same dict), as Keras hands logs on
    (``accuracy`` before ``loss``, each ``val_`` key among the rest by its name)."""
    keys = list(logs)
    if keys != sorted(keys):
        items = sorted(logs.items())
        logs.clear()
        logs.update(items)
    return logs


def _dispatch(name):
    """A CallbackList hook passing ``logs`` (a dict, never None, keys sorted) on to every
    callback, as Keras does."""
    if name.endswith(("_begin", "_end")) and ("epoch" in name or "batch" in name):
        def hook(self, index, logs=None):
            logs = {} if logs is None else sort_logs(logs)
            for cb in self.callbacks:
                getattr(cb, name)(index, logs)
    else:
        def hook(self, logs=None):
            logs = {} if logs is None else sort_logs(logs)
            for cb in self.callbacks:
                getattr(cb, name)(logs)
    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))
