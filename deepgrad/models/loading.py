"""Models rebuilt from what was saved: a model file, a JSON architecture, another model.

``deepgrad.files`` reads a model file into plain configs and arrays; here the configs are
checked against the known classes (config_check.py) before anything is built, then the
model is built, its weights assigned and, with ``compile``, ``compile_from_config`` restores
the compile settings and the optimiser state.
"""
from __future__ import annotations

import json
import os

from ..allocation import allocation_budget
from ..files import assign_arrays, read_model_file
from ..files.h5_format import is_hdf5
from ..files.keras_archive import archive_members, is_keras_archive
from .compile_config import compile_loaded
from .config_check import check_model_config
from .keras_file import ALLOCATION_SLACK, load_keras_model
from .legacy_h5 import load_legacy_h5_model
from .model import deserialize_layer


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """A model saved with ``model.save`` or by Keras: a Keras 3 ``.keras`` zip, a legacy
    Keras/tf.keras ``.h5`` file, or deepgrad's own zip (``.deepgrad``, and ``.keras`` files
    written by earlier deepgrad versions), told apart by their contents, not their names.
    Architecture, weights and, with ``compile``, the compile settings and optimiser state."""
    source = os.fspath(filepath)
    with open(source, "rb") as f:
        head = f.read(8)
    if is_hdf5(head):
        return load_legacy_h5_model(source, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if is_keras_archive(archive_members(source)):
        return load_keras_model(source, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    return _load_deepgrad_model(source, custom_objects, compile)


def _load_deepgrad_model(filepath, custom_objects, compile):
    saved = read_model_file(filepath)
    source = f"{saved['source']}:config.json"
    check_model_config(saved["model_config"], custom_objects, source=source)
    compile_config = saved["compile_config"]
    if compile_config is not None:
        check_model_config({"class_name": "Model", "config": compile_config}, custom_objects,
                           source=f"{source} compile_config")
    budget = sum(int(a.nbytes) for a in saved["weights"].values()) + ALLOCATION_SLACK
    with allocation_budget(budget, saved["source"]):
        model = deserialize_layer(saved["model_config"], custom_objects)
    assign_arrays(model, saved["weights"], saved["source"])
    if compile and compile_config is not None:
        compile_loaded(model, compile_config, compile_config, custom_objects)
        if saved["optimizer_state"] is not None and getattr(model, "optimizer", None) is not None:
            model.optimizer.set_state(saved["optimizer_state"])
    return model


def model_from_json(json_string, custom_objects=None):
    """A model (uncompiled, fresh weights) from ``model.to_json()``."""
    return deserialize_layer(json.loads(json_string), custom_objects)
