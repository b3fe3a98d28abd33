"""What ``compile()`` was given, as JSON, and back: the record a model file keeps.

``compile()`` records its settings (``record``); ``get_compile_config()`` writes them as
JSON (``to_json``, the optimiser serialised at that moment, as Keras does);
``compile_from_config`` turns that JSON back into ``compile()`` arguments (``from_json``).
A metric is kept as the string it came from when that string rebuilds it, else its config;
a user's metric function by its name only (``custom_objects`` brings it back on loading).
"""
from __future__ import annotations

import warnings

from .. import backend, losses, metrics, optimizers
from ..registry import GLOBAL_CUSTOM_NAMES, GLOBAL_CUSTOM_OBJECTS, scope_stack


def metric_spec(metric, loss):
    """The string the metric came from when that string rebuilds it, else its config."""
    counters = backend.uid_snapshot()  # the trial metric must not take a name from the ones after it
    try:
        rebuilt = metrics.get(metric.name, loss=loss)
        if type(rebuilt) is type(metric) and rebuilt.get_config() == metric.get_config():
            return metric.name
    except ValueError:
        pass
    finally:
        backend.restore_uids(counters)
    if isinstance(metric, metrics.AutoAccuracy):
        return "accuracy"
    if type(metric) is metrics.MeanMetricWrapper:   # a user's function: stored by name only
        registered = GLOBAL_CUSTOM_NAMES.get(metric._fn)  # register_keras_serializable's "package>name"
        return registered if registered is not None else getattr(metric._fn, "__name__", metric.name)
    return metrics.serialize(metric)


def record(optimizer, loss, metric_specs: list, output_names: list[str], loss_weights: list[float]) -> dict:
    """The compile settings: ``metric_specs`` holds ``(output index, spec, weighted)``."""
    several = len(output_names) > 1
    groups = {False: {n: [] for n in output_names}, True: {n: [] for n in output_names}}
    for index, spec, weighted in metric_specs:
        groups[weighted][output_names[index]].append(spec)

    def pack(group):
        if not any(group.values()):
            return None
        return group if several else group[output_names[0]]

    return {"optimizer": optimizer, "loss": loss, "metrics": pack(groups[False]),
            "weighted_metrics": pack(groups[True]), "loss_weights": list(loss_weights) if several else None}


def _loss_json(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return {k: _loss_json(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_loss_json(v) for v in loss]
    return losses.serialize(loss)


def to_json(recorded: dict) -> dict:
    return {**recorded, "optimizer": optimizers.serialize(recorded["optimizer"]),
            "loss": _loss_json(recorded["loss"])}


def _builtin_loss(name: str) -> bool:
    """Whether ``name`` is one of deepgrad's losses (the trial takes no name counter)."""
    counters = backend.uid_snapshot()
    try:
        losses.get(name)
    except ValueError:
        return False
    finally:
        backend.restore_uids(counters)
    return True


def from_json(config: dict, custom_objects=None) -> dict:
    """``compile()`` keyword arguments from ``to_json``'s output."""
    custom_objects = custom_objects or {}

    def loss_of(spec):
        if isinstance(spec, dict) and "class_name" not in spec:
            return {k: loss_of(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [loss_of(v) for v in spec]
        if isinstance(spec, str) and spec not in custom_objects and spec not in GLOBAL_CUSTOM_OBJECTS \
                and _builtin_loss(spec):
            return spec   # Keras compiles again with the string itself, so the config keeps it
        return None if spec is None else losses.deserialize(spec, custom_objects)

    def metrics_of(spec):
        if spec is None:
            return None
        if isinstance(spec, dict) and "class_name" not in spec:
            return {k: metrics_of(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [metrics_of(v) for v in spec]
        if isinstance(spec, dict):
            return metrics.deserialize(spec, custom_objects)
        if spec in custom_objects:
            return custom_objects[spec]
        if spec in GLOBAL_CUSTOM_OBJECTS:   # saved by its registered "package>name"
            return GLOBAL_CUSTOM_OBJECTS[spec]
        if spec not in metrics.known_names():
            raise ValueError(f"The model was compiled with metric {spec!r}, which is not built in; pass it "
                             f"with custom_objects={{{spec!r}: function}}, or load with compile=False")
        return spec

    return {"optimizer": optimizers.deserialize(config["optimizer"], custom_objects),
            "loss": loss_of(config.get("loss")), "metrics": metrics_of(config.get("metrics")),
            "weighted_metrics": metrics_of(config.get("weighted_metrics")),
            "loss_weights": config.get("loss_weights")}


def _own(method) -> bool:
    """Whether ``method`` is deepgrad's own (not a user's override)."""
    return (getattr(method, "__module__", "") or "").startswith("deepgrad.")


def compile_loaded(model, config: dict, raw: dict | None = None, custom_objects=None) -> None:
    """Compile a model just loaded from a file, as Keras's loading does.

    ``config`` is the saved ``compile_config`` in deepgrad's form, ``raw`` as the file holds it
    (Keras's serialized objects). A model whose class overrides ``compile_from_config`` gets the
    file's form, with ``custom_objects`` known by name while it runs (the override deserializes
    what its ``get_compile_config`` saved); one that overrides ``compile`` but not
    ``compile_from_config`` is left uncompiled with Keras's warning.
    """
    cls = type(model)
    if not _own(cls.compile_from_config):
        stack = scope_stack()
        table = dict(custom_objects or {})
        stack.append(table)
        try:
            model.compile_from_config(raw if raw is not None else config)
        finally:
            if stack and stack[-1] is table:
                stack.pop()
        return
    if not _own(cls.compile):
        warnings.warn("`compile()` was not called as part of model loading because the model's `compile()` method "
                      "is custom. All subclassed Models that have `compile()` overridden should also override "
                      "`get_compile_config()` and `compile_from_config(config)`. Alternatively, you can call "
                      "`compile()` manually after loading.", stacklevel=3)
        return
    model.compile_from_config(config, custom_objects=custom_objects)
