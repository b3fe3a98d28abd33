"""Whole-model files: one zip holding the architecture, the weights and the optimiser state.

Members (stored, not compressed):

- ``config.json``: ``{"format_version", "class_name", "config", "compile_config"}``, the
  model's ``get_config()`` with class names only, and how it was compiled (optimiser
  config, losses, metrics, loss weights);
- ``model.weights.safetensors``: every weight, keyed ``"{index}/{name}"`` (see weights.py);
- ``optimizer.safetensors``: ``optimizer.get_state()`` (iterations, learning rate, slots);
- ``metadata.json``: the deepgrad version and the save date.

Loading is safe on hostile files: see archive.py, safetensors_format.py and config_check.py.
"""
from __future__ import annotations

import datetime
import json
import os

from . import safetensors_format as st
from .archive import read_archive, write_archive
from .config_check import check_model_config
from .safetensors_format import UnsafeFileError
from .weights import assign_arrays, weights_to_arrays

FORMAT_VERSION = 1
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.safetensors"
OPTIMIZER_MEMBER = "optimizer.safetensors"
METADATA_MEMBER = "metadata.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


# ----------------------------------------------------------------- compile configuration
def _loss_spec(loss):
    from .. import losses

    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return {k: _loss_spec(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_loss_spec(v) for v in loss]
    return losses.serialize(loss)


def _metric_spec(metric, loss):
    """The string the metric came from when that string rebuilds it, else its config."""
    from .. import metrics

    try:
        if type(metrics.get(metric.name, loss=loss)) is type(metric):
            return metric.name
    except ValueError:
        pass
    if isinstance(metric, metrics.AutoAccuracy):
        return "accuracy"
    if type(metric) is metrics.MeanMetricWrapper:   # a user's function: stored by name only
        return getattr(metric._fn, "__name__", metric.name)
    return metrics.serialize(metric)


def compile_config(model) -> dict | None:
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    from .. import optimizers

    names = model._output_names()
    several = len(names) > 1
    groups = {False: {n: [] for n in names}, True: {n: [] for n in names}}
    for index, metric, weighted in model._metrics:
        name = names[index]
        if several and metric.name.startswith(f"{name}_"):
            metric.name = metric.name[len(name) + 1:]
            spec = _metric_spec(metric, model._losses[index])
            metric.name = f"{name}_{metric.name}"
        else:
            spec = _metric_spec(metric, model._losses[index])
        if weighted and isinstance(spec, str) and spec.startswith("weighted_"):
            spec = spec[len("weighted_"):]
        groups[weighted][name].append(spec)

    def pack(group):
        if not any(group.values()):
            return None
        return group if several else group[names[0]]

    return {"optimizer": optimizers.serialize(model.optimizer), "loss": _loss_spec(model.loss),
            "metrics": pack(groups[False]), "weighted_metrics": pack(groups[True]),
            "loss_weights": list(model._loss_weights) if several else None}


def _recompile(model, config: dict, custom_objects) -> None:
    from .. import losses, metrics, optimizers

    def loss_of(spec):
        if isinstance(spec, dict) and "class_name" not in spec:
            return {k: loss_of(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [loss_of(v) for v in spec]
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
        if spec in (custom_objects or {}):
            return custom_objects[spec]
        if spec not in metrics.known_names():
            raise ValueError(f"The model was compiled with metric {spec!r}, which is not built in; pass it "
                             f"with custom_objects={{{spec!r}: function}}, or load with compile=False")
        return spec

    model.compile(optimizer=optimizers.deserialize(config["optimizer"], custom_objects),
                  loss=loss_of(config.get("loss")), metrics=metrics_of(config.get("metrics")),
                  weighted_metrics=metrics_of(config.get("weighted_metrics")),
                  loss_weights=config.get("loss_weights"))


# ----------------------------------------------------------------- save and load
def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """Write ``model`` to one zip file (any extension; ``.deepgrad`` or ``.keras`` suggested)."""
    if kwargs:
        raise TypeError(f"save_model: unexpected keyword argument(s) {sorted(kwargs)}")
    from .. import __version__

    config = {"format_version": FORMAT_VERSION, "class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": compile_config(model)}
    optimizer = getattr(model, "optimizer", None)
    members = {
        CONFIG_MEMBER: json.dumps(config, allow_nan=False).encode("utf-8"),
        WEIGHTS_MEMBER: st.dumps(weights_to_arrays(model), {"format": "deepgrad.weights"}),
        METADATA_MEMBER: json.dumps({"deepgrad_version": __version__, "format": "deepgrad.model",
                                     "format_version": FORMAT_VERSION,
                                     "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
                                    ).encode("utf-8"),
    }
    if optimizer is not None and getattr(model, "compiled", False):
        members[OPTIMIZER_MEMBER] = st.dumps(optimizer.get_state(), {"class_name": type(optimizer).__name__})
    write_archive(filepath, members, overwrite=overwrite)


def read_model_archive(filepath) -> dict[str, bytes]:
    return read_archive(filepath, required=(CONFIG_MEMBER, WEIGHTS_MEMBER),
                        optional=(OPTIMIZER_MEMBER, METADATA_MEMBER))


def _json(data: bytes, source: str):
    if len(data) > MAX_JSON_BYTES:
        raise UnsafeFileError(f"{source} is {len(data)} bytes, over the {MAX_JSON_BYTES}-byte limit for JSON")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnsafeFileError(f"{source} is not valid JSON ({e})") from None


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Rebuild a model saved by ``save_model``: architecture, weights and, with ``compile``,
    the compile settings and the exact optimiser state."""
    from ..models.model import deserialize_layer

    source = os.fspath(filepath)
    members = read_model_archive(source)
    config = _json(members[CONFIG_MEMBER], f"{source}:{CONFIG_MEMBER}")
    if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
        raise UnsafeFileError(f"{source}: unsupported or missing format_version "
                              f"{config.get('format_version') if isinstance(config, dict) else None!r}")
    model_config = {"class_name": config.get("class_name"), "config": config.get("config")}
    check_model_config(model_config, custom_objects, source=f"{source}:{CONFIG_MEMBER}")
    if config.get("compile_config") is not None:
        check_model_config({"class_name": "Model", "config": config["compile_config"]}, custom_objects,
                           source=f"{source}:{CONFIG_MEMBER} compile_config")
    model = deserialize_layer(model_config, custom_objects)
    arrays, _ = st.loads(members[WEIGHTS_MEMBER], source=f"{source}:{WEIGHTS_MEMBER}")
    assign_arrays(model, arrays, source)
    if compile and config.get("compile_config") is not None:
        _recompile(model, config["compile_config"], custom_objects)
        if OPTIMIZER_MEMBER in members:
            state, _ = st.loads(members[OPTIMIZER_MEMBER], source=f"{source}:{OPTIMIZER_MEMBER}")
            model.optimizer.set_state(state)
    return model
