"""Floor 1: global settings, Keras 3's ``keras.config``.

Numbers (``floatx``, ``epsilon``, ``image_data_format``) live in ``backend``; the default
dtype policy in ``dtype_policies``; this module adds the switches around them:

- interactive logging: on, progress bars are redrawn in place on a terminal; off, ``fit``
  prints plain lines (one per epoch), as on a server;
- ``max_epochs`` / ``max_steps_per_epoch``: caps that ``fit`` honours (for a quick run of a
  script without editing it; also read from ``KERAS_MAX_EPOCHS`` / ``KERAS_MAX_STEPS_PER_EPOCH``);
- unsafe deserialization, traceback filtering, flash attention, NNX: Keras's switches, kept
  so that programs setting them run. deepgrad files hold no code, so there is nothing unsafe
  to allow; tracebacks are never filtered; NumPy has no flash-attention kernel (asking a layer
  for ``flash_attention=True`` is an error whatever this switch says); NNX is JAX's.
"""
from __future__ import annotations

import os

from .backend import epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from .dtype_policies import dtype_policy, set_dtype_policy

_settings = {
    "interactive_logging": True,
    "max_epochs": int(os.environ["KERAS_MAX_EPOCHS"]) if os.environ.get("KERAS_MAX_EPOCHS") else None,
    "max_steps_per_epoch": (int(os.environ["KERAS_MAX_STEPS_PER_EPOCH"])
                            if os.environ.get("KERAS_MAX_STEPS_PER_EPOCH") else None),
    "unsafe_deserialization": False,
    "traceback_filtering": True,
    "flash_attention": None,  # None: automatic (never on NumPy); False: disabled
}


def backend() -> str:
    """The array library deepgrad computes with: ``"numpy"``."""
    return "numpy"


def set_backend(backend) -> None:
    """deepgrad has one backend, NumPy: ``"numpy"`` is accepted, anything else is an error."""
    if backend != "numpy":
        raise ValueError(f"set_backend: deepgrad runs on NumPy only; got backend {backend!r}. "
                         "Use Keras itself for the jax, tensorflow and torch backends.")


def enable_interactive_logging() -> None:
    _settings["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """Progress as plain lines (one per epoch), never redrawn in place."""
    _settings["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    return _settings["interactive_logging"]


def set_max_epochs(max_epochs) -> None:
    """``fit`` runs at most this many epochs (None: no cap)."""
    _settings["max_epochs"] = max_epochs


def max_epochs():
    return _settings["max_epochs"]


def set_max_steps_per_epoch(max_steps_per_epoch) -> None:
    """``fit`` runs at most this many batches per epoch (None: no cap)."""
    _settings["max_steps_per_epoch"] = max_steps_per_epoch


def max_steps_per_epoch():
    return _settings["max_steps_per_epoch"]


def enable_unsafe_deserialization() -> None:
    """Keras's switch for loading Lambda layers' bytecode. deepgrad model files never hold code,
    so this only records the wish (``is_unsafe_deserialization_enabled``)."""
    _settings["unsafe_deserialization"] = True


def is_unsafe_deserialization_enabled() -> bool:
    return _settings["unsafe_deserialization"]


def enable_traceback_filtering() -> None:
    _settings["traceback_filtering"] = True


def disable_traceback_filtering() -> None:
    _settings["traceback_filtering"] = False


def is_traceback_filtering_enabled() -> bool:
    """Keras hides its own frames from tracebacks when this is on; deepgrad never hides any."""
    return _settings["traceback_filtering"]


def enable_flash_attention() -> None:
    """Back to automatic (Keras sets None): on NumPy that means the one plain kernel."""
    _settings["flash_attention"] = None


def disable_flash_attention() -> None:
    _settings["flash_attention"] = False


def is_flash_attention_enabled():
    """None (automatic, the default) or False (disabled), as in Keras."""
    return _settings["flash_attention"]


def is_nnx_enabled() -> bool:
    """Flax NNX is a JAX feature: never enabled here."""
    return False


__all__ = ["backend", "disable_flash_attention", "disable_interactive_logging", "disable_traceback_filtering",
           "dtype_policy", "enable_flash_attention", "enable_interactive_logging", "enable_traceback_filtering",
           "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format", "is_flash_attention_enabled",
           "is_interactive_logging_enabled", "is_nnx_enabled", "is_traceback_filtering_enabled", "max_epochs",
           "max_steps_per_epoch", "set_backend", "set_dtype_policy", "set_epsilon", "set_floatx",
           "set_image_data_format", "set_max_epochs", "set_max_steps_per_epoch"]
