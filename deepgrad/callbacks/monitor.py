"""Shared by the callbacks that watch a logged value: which direction counts as better."""
from __future__ import annotations

import warnings

import numpy as np

_MAXIMIZED = ("acc", "accuracy", "auc", "precision", "recall")


def resolve_mode(monitor: str, mode: str, owner: str) -> str:
    """"min" or "max". With mode="auto", accuracy-like names are maximised, others minimised."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, falling back to 'auto'", stacklevel=3)
        mode = "auto"
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name.endswith(_MAXIMIZED) or name.startswith("fmeasure") else "min"


def monitor_value(logs, monitor: str, owner: str):
    """The monitored value as a float, or None (with a warning listing what is logged)."""
    logs = logs or {}
    value = logs.get(monitor)
    if value is None:
        warnings.warn(f"{owner} is conditioned on metric `{monitor}` which is not available. "
                      f"Available metrics are: {','.join(logs)}", stacklevel=3)
        return None
    return float(np.asarray(value))


class MonitorMixin:
    """Keras's ``MonitorCallback`` attributes of a callback with ``monitor`` and a resolved
    ``mode``: ``monitor_op`` (``np.less`` when smaller is better, else ``np.greater``),
    ``min_delta`` and ``get_monitor_value(logs)``."""

    min_delta = 0

    @property
    def monitor_op(self):
        return np.less if self.mode == "min" else np.greater

    def get_monitor_value(self, logs):
        """The monitored value of ``logs`` (None, with a warning, when it is not logged)."""
        return monitor_value(logs, self.monitor, type(self).__name__)
