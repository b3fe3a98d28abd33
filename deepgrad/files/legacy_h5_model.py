"""``model.save("model.h5")``: the legacy Keras HDF5 model file, as Keras 3 still writes it.

One HDF5 file whose root attributes hold the architecture (``model_config``: ``{"class_name",
"config"}`` in JSON), the compile settings (``training_config``, with the optimizer as
``optimizer_config``), ``keras_version`` and ``backend``; its ``model_weights`` group holds one
group per layer (sorted by name), each listing its variables' paths in ``weight_names``
(trainable first, then non-trainable, Keras's legacy order) with one dataset per variable, and
``layer_names`` lists the layers in model order. Keras 3's ``load_model`` and deepgrad's read it.
The optimizer's slots are not written (Keras restores them from such a file only when they
match its own optimizer layout); a model loaded from it resumes with a fresh optimizer state.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .atomic import write_bytes_atomic
from .h5_format import write_h5
from .keras_archive import KERAS_VERSION
from .keras_model_file import keras_config_of


def _legacy_weights(layer) -> list:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _names(names: list) -> np.ndarray:
    return np.array(names) if names else np.array([], dtype="S1")  # (an empty list has no string dtype)


def legacy_h5_tree(model, include_optimizer: bool = True) -> dict:
    """The groups (with their attributes) and datasets of ``model``'s legacy HDF5 file."""
    config = keras_config_of(model)
    compile_config = config.pop("compile_config", None)
    model_config = {"class_name": config["class_name"], "config": config["config"]}
    root = {"keras_version": KERAS_VERSION, "backend": "numpy", "model_config": json.dumps(model_config)}
    if include_optimizer and compile_config is not None:
        training = {k: v for k, v in compile_config.items() if k != "optimizer"}
        optimizer = compile_config.get("optimizer")
        if isinstance(optimizer, dict):
            training["optimizer_config"] = {"class_name": optimizer.get("class_name"),
                                            "config": optimizer.get("config", {})}
        root["training_config"] = json.dumps(training)
    layers = list(model.layers)
    groups = {"": root,
              "model_weights": {"layer_names": np.array([layer.name.encode("utf8") for layer in layers]),
                                "backend": b"numpy", "keras_version": KERAS_VERSION.encode("utf8")}}
    datasets = {}
    for layer in sorted(layers, key=lambda layer: layer.name):
        variables = _legacy_weights(layer)
        names = [v.path.encode("utf8") for v in variables]
        groups[f"model_weights/{layer.name}"] = {"weight_names": _names(names)}
        for name, variable in zip(names, variables):
            datasets[f"model_weights/{layer.name}/{name.decode('utf8')}"] = np.asarray(variable.data)
    groups["model_weights/top_level_model_weights"] = {"weight_names": _names([])}
    return {"groups": groups, "datasets": datasets}


def save_legacy_h5_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """``model`` as a legacy Keras ``.h5`` model file (written atomically)."""
    warnings.warn(f"Saving {os.fspath(filepath)!r} in the legacy HDF5 model format; '.keras' files (Keras 3's own "
                  "format) also keep the optimizer state and are preferred.", UserWarning, stacklevel=3)
    if not model.built:
        raise ValueError(f"save_model: the model {model.name!r} is not built yet, so it has no weights to save; "
                         "call it on data (or build it) first")
    write_bytes_atomic(os.fspath(filepath), write_h5(legacy_h5_tree(model, include_optimizer)), overwrite=overwrite)
