"""Models rebuilt from Keras 3's ``.keras`` files (``deepgrad.files.keras_model_file`` writes them).

Reading: the archive's members are validated, the config is checked and turned
into deepgrad's form (keras_config.from_keras: unknown classes, code and Lambda layers are
refused before anything is built), then the model is built under an allocation budget of
the bytes the file's weights really take, so a small file cannot ask for gigabytes.
"""
from __future__ import annotations

import numpy as np

from ..allocation import allocation_budget, reserve
from ..files import UnsafeFileError
from ..files.keras_archive import read_keras_archive
from ..files.keras_assets import load_model_assets
from ..files.keras_config import from_keras
from ..files.keras_paths import assign_weights_tree
from .compile_config import compile_loaded
from .config_check import check_model_config
from .model import deserialize_layer

ALLOCATION_SLACK = 1024 ** 2   # non-saved buffers a build may make (bytes)


def tree_bytes(tree: dict) -> int:
    return int(sum(np.asarray(a).nbytes for a in tree["datasets"].values()))


def _own_build_from_config(model) -> bool:
    method = getattr(type(model), "build_from_config", None)
    return method is not None and getattr(method, "__qualname__", "") != "LayerState.build_from_config"


def build_from_config(model, build_config, source: str) -> None:
    """Build a model saved unbuilt-by-input (a Sequential without ``Input``) from its build config."""
    if model.built and model.weights or not isinstance(build_config, dict):
        return
    if "input_shape" not in build_config and _own_build_from_config(model):
        model.build_from_config(build_config)  # an object's own build config (a FeatureSpace's, per feature)
        return
    shape = build_config.get("input_shape")
    if not isinstance(shape, list) or not shape:
        return
    shapes = shape if isinstance(shape[0], list) else [shape]
    for s in shapes:
        if not all(d is None or (isinstance(d, int) and d >= 0) for d in s):
            raise UnsafeFileError(f"{source}: build_config input_shape {shape!r} is not a list of sizes")
        reserve(int(np.prod([1 if d is None else d for d in s[1:]], dtype=np.int64)) * 8,
                f"the build input of shape {tuple(s)}")
    model.build(shape if isinstance(shape[0], list) else tuple(shape))


def model_from_keras_config(config: dict, custom_objects=None, safe_mode: bool = True, source: str = "config",
                            budget: int | None = None):
    """``(model, parsed)`` from a Keras ``config.json`` object: checked, then built (under
    ``budget`` bytes of weights when given)."""
    try:
        parsed = from_keras(config, custom_objects, safe_mode=safe_mode, source=source)
    except RecursionError:
        raise UnsafeFileError(f"{source}: the config is nested too deeply to be a model") from None
    check_model_config(parsed["model_config"], parsed["custom_objects"], source=source)
    if budget is None:
        model = deserialize_layer(parsed["model_config"], parsed["custom_objects"])
        build_from_config(model, parsed["build_config"], source)
        return model, parsed
    with allocation_budget(budget, source):
        model = deserialize_layer(parsed["model_config"], parsed["custom_objects"])
        build_from_config(model, parsed["build_config"], source)
    return model, parsed


def load_keras_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """A model from a Keras 3 ``.keras`` file (written by Keras or by deepgrad)."""
    archive = read_keras_archive(filepath)
    source = archive["source"]
    model, parsed = model_from_keras_config(archive["config"], custom_objects, safe_mode,
                                            source=f"{source}:config.json",
                                            budget=tree_bytes(archive["weights"]) + ALLOCATION_SLACK)
    compile_config = parsed["compile_config"]
    if compile and compile_config is not None:
        compile_loaded(model, compile_config, parsed["raw_compile_config"], parsed["custom_objects"])
    assign_weights_tree(model, archive["weights"], f"{source}:model.weights.h5",
                        load_optimizer=compile and compile_config is not None
                        and getattr(model, "optimizer", None) is not None)
    load_model_assets(model, archive["assets"], source)
    return model
