"""Whole-model files: one zip holding the architecture, the weights and the optimiser state.

Members (stored, not compressed):

- ``config.json``: ``{"format_version", "class_name", "config", "compile_config"}``, the
  model's ``get_config()`` with class names only, and ``get_compile_config()`` (optimiser
  config, losses, metrics, loss weights);
- ``model.weights.safetensors``: every weight, keyed ``"{index}/{name}"`` (see weights.py);
- ``optimizer.safetensors``: ``optimizer.get_state()`` (iterations, learning rate, slots);
- ``metadata.json``: the deepgrad version and the save date.

This module knows the file, not the classes: it writes what a model says about itself and
reads back plain dicts and arrays; ``models.load_model`` builds the model from them.
Reading is safe on hostile files: see archive.py and safetensors_format.py.
"""
from __future__ import annotations

import datetime
import json
import os
import warnings

from .. import __version__
from ..serialization_lib import serialize_keras_object
from . import safetensors_format as st
from .archive import read_archive, write_archive
from .keras_config import overrides_compile_config
from .keras_model_file import save_keras_model
from .legacy_h5_model import save_legacy_h5_model
from .safetensors_format import UnsafeFileError
from .weights import weights_to_arrays

FORMAT_VERSION = 1
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.safetensors"
OPTIMIZER_MEMBER = "optimizer.safetensors"
METADATA_MEMBER = "metadata.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """Write ``model`` to one zip file: a path ending in ``.keras`` gets Keras 3's own format
    (keras_model_file.py), any other (``.deepgrad`` suggested) deepgrad's safetensors zip."""
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("zipped", None)
    save_format = kwargs.pop("save_format", None)
    if save_format:  # Keras 3 reads the format from the path's suffix; the argument only survives as a warning
        if not os.fspath(filepath).endswith((".h5", ".hdf5", ".keras", ".deepgrad")):
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please remove this argument "
                             "and pass a file path with either `.keras` or `.h5` extension."
                             f"Received: save_format={save_format}")
        warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend removing this argument "
                      f"as it can be inferred from the file path. Received: save_format={save_format}", stacklevel=3)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if os.fspath(filepath).endswith((".h5", ".hdf5")):
        save_legacy_h5_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
        return
    if os.fspath(filepath).endswith(".keras"):
        save_keras_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
        return
    compile_config = model.get_compile_config()
    if overrides_compile_config(model):  # a user's objects, serialized
        compile_config = serialize_keras_object(compile_config) if compile_config else None
    compile_config = _without_modules(compile_config)  # by class name: no modules here
    config = {"format_version": FORMAT_VERSION, "class_name": type(model).__name__,
              "config": _without_modules(model.get_config()),
              "compile_config": compile_config}
    members = {
        CONFIG_MEMBER: json.dumps(config, allow_nan=False).encode("utf-8"),
        WEIGHTS_MEMBER: st.dumps(weights_to_arrays(model), {"format": "deepgrad.weights"}),
        METADATA_MEMBER: json.dumps({"deepgrad_version": __version__, "format": "deepgrad.model",
                                     "format_version": FORMAT_VERSION,
                                     "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
                                    ).encode("utf-8"),
    }
    if compile_config is not None and include_optimizer and getattr(model, "optimizer", None) is not None:
        optimizer = model.optimizer
        members[OPTIMIZER_MEMBER] = st.dumps(optimizer.get_state(), {"class_name": type(optimizer).__name__})
    write_archive(filepath, members, overwrite=overwrite)


def _without_modules(node):
    """A serialized structure without ``module`` and ``registered_name``: deepgrad's files name
    classes only (a registered class is found again by its name)."""
    if isinstance(node, dict):
        return {k: _without_modules(v) for k, v in node.items() if k not in ("module", "registered_name")}
    if isinstance(node, (list, tuple)):
        return [_without_modules(v) for v in node]
    return node


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


def read_model_file(filepath) -> dict:
    """``{"source", "model_config", "compile_config", "weights", "optimizer_state"}`` of a model
    file: the two configs as JSON values (not yet checked against known classes), the arrays
    as read by safetensors (``optimizer_state`` None when the file has none)."""
    source = os.fspath(filepath)
    members = read_model_archive(source)
    config = _json(members[CONFIG_MEMBER], f"{source}:{CONFIG_MEMBER}")
    if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
        raise UnsafeFileError(f"{source}: unsupported or missing format_version "
                              f"{config.get('format_version') if isinstance(config, dict) else None!r}")
    weights, _ = st.loads(members[WEIGHTS_MEMBER], source=f"{source}:{WEIGHTS_MEMBER}")
    optimizer_state = None
    if OPTIMIZER_MEMBER in members:
        optimizer_state, _ = st.loads(members[OPTIMIZER_MEMBER], source=f"{source}:{OPTIMIZER_MEMBER}")
    return {"source": source, "model_config": {"class_name": config.get("class_name"), "config": config.get("config")},
            "compile_config": config.get("compile_config"), "weights": weights, "optimizer_state": optimizer_state}
