"""Models rebuilt from legacy Keras 2 / tf.keras HDF5 files (``model.h5``).

The root's ``model_config`` attribute holds the architecture as JSON (Keras 2's form or, from
Keras 3's legacy writer, Keras 3's), ``training_config`` the compile settings; the weights
are read as files/legacy_h5_weights.py describes. The config goes through the same checks
as a ``.keras`` file's, and the model is built under the same allocation budget. The
optimiser state of a legacy file is not restored (the model is compiled afresh).
"""
from __future__ import annotations

import json

from ..files import UnsafeFileError
from ..files.h5_format import read_h5_file
from ..files.legacy_h5_weights import assign_legacy_weights
from .keras_file import ALLOCATION_SLACK, model_from_keras_config, tree_bytes


def _keras2_nodes(config):
    """Keras 2's functional config (``inbound_nodes`` as ``[[[name, node, tensor, kwargs], ...]]``)
    in Keras 3's form, which ``keras_config.from_keras`` reads."""
    if not isinstance(config, dict):
        return config
    inner = config.get("config")
    if config.get("class_name") in ("Functional", "Model") and isinstance(inner, dict):
        config = {**config, "class_name": "Functional"}
        keras2 = False
        for entry in inner.get("layers", []):
            nodes = entry.get("inbound_nodes", [])
            if nodes and isinstance(nodes[0], list):
                keras2 = True
                entry["inbound_nodes"] = [_keras2_node(node) for node in nodes]
            entry_config = entry.get("config", {})
            if entry.get("class_name") == "InputLayer" and "batch_input_shape" in entry_config:
                entry_config["batch_shape"] = entry_config.pop("batch_input_shape")
            _keras2_nodes(entry)
        for key in ("input_layers", "output_layers"):  # Keras 2 listed a single tensor as a list of one
            refs = inner.get(key)
            if keras2 and isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], list):
                inner[key] = refs[0]
    if isinstance(inner, dict):
        for entry in inner.get("layers", []) if config.get("class_name") == "Sequential" else []:
            c = entry.get("config", {})
            if entry.get("class_name") == "InputLayer" and "batch_input_shape" in c:
                c["batch_shape"] = c.pop("batch_input_shape")
            c.pop("implementation", None)
            if c.get("time_major") is False:
                c.pop("time_major")
    return config


def _keras2_node(node):
    def tensor(ref):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": list(ref[:3])}}
    kwargs = node[0][3] if node and len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
    refs = [tensor(ref) for ref in node]
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


def load_legacy_h5_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """A model from a legacy Keras ``.h5`` file: architecture, weights and compile settings."""
    tree = read_h5_file(filepath)
    source = str(filepath)
    root = tree["groups"].get("", {})
    if "model_config" not in root:
        raise ValueError(f"{source} holds no model_config: it is a weights-only file; build the model and call "
                         "model.load_weights(...)")
    try:
        config = json.loads(root["model_config"])
    except (TypeError, json.JSONDecodeError) as e:
        raise UnsafeFileError(f"{source}: model_config is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise UnsafeFileError(f"{source}: model_config must be a JSON object")
    training = None
    if "training_config" in root:
        try:
            training = json.loads(root["training_config"])
        except (TypeError, json.JSONDecodeError):
            training = None
    if isinstance(training, dict) and isinstance(training.get("optimizer_config"), dict):
        config["compile_config"] = {**{k: v for k, v in training.items() if k != "optimizer_config"},
                                    "optimizer": training["optimizer_config"]}
    model, parsed = model_from_keras_config(_keras2_nodes(config), custom_objects, safe_mode,
                                            source=f"{source}:model_config",
                                            budget=tree_bytes(tree) + ALLOCATION_SLACK)
    assign_legacy_weights(model, tree, source)
    if compile and parsed["compile_config"] is not None:
        model.compile_from_config(parsed["compile_config"], custom_objects=parsed["custom_objects"])
    return model
