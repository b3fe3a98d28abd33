"""Writing a model as Keras 3's ``.keras`` file and ``.weights.h5`` file.

The config is the one Keras serializes (keras_config.to_keras, with ``compile_config`` when
the model is compiled), the weights sit at Keras's object paths (keras_paths.py), with the
optimiser state when compiled, in ``model.weights.h5`` (h5_format.py), the adapted vocabularies in
``assets/`` (keras_assets.py); the zip is written
atomically (keras_archive.py). ``keras.saving.load_model`` reads the result.
"""
from __future__ import annotations

import os

from .atomic import write_bytes_atomic
from .h5_format import write_h5
from .keras_assets import model_assets
from .keras_archive import write_keras_archive
from .keras_config import saved_compile_config, to_keras
from .keras_paths import weights_tree


def keras_config_of(model) -> dict:
    """``config.json`` of ``model``: its Keras config, with ``compile_config`` when compiled."""
    config = to_keras(model)
    compile_config = saved_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    return config


def save_keras_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """``model`` as a Keras 3 ``.keras`` file."""
    config = keras_config_of(model)
    tree = weights_tree(model, include_optimizer=include_optimizer and "compile_config" in config)
    write_keras_archive(filepath, config, write_h5(tree), assets=model_assets(model), overwrite=overwrite)


def save_keras_weights(model, filepath, overwrite: bool = True) -> None:
    """``model``'s weights as Keras 3's ``.weights.h5``: object paths, and the optimiser state
    when the model is compiled, as Keras writes it."""
    compiled = getattr(model, "optimizer", None) is not None
    write_bytes_atomic(os.fspath(filepath), write_h5(weights_tree(model, include_optimizer=compiled)),
                       overwrite=overwrite)
