"""Names against Keras's own functions: ``to_snake_case`` on every public class name Keras
exports, every name a ``keras.<kind>.get`` accepts, and the recurrent layers' signatures."""
import inspect

import keras
import pytest
from keras.src import activations as k_activations
from keras.src import constraints as k_constraints
from keras.src import initializers as k_initializers
from keras.src import losses as k_losses
from keras.src import metrics as k_metrics
from keras.src import optimizers as k_optimizers
from keras.src import regularizers as k_regularizers
from keras.src.utils.naming import to_snake_case as keras_to_snake_case

import deepgrad as dg
from deepgrad.naming import to_snake_case

_NAMESPACES = (keras.layers, keras.losses, keras.metrics, keras.optimizers, keras.initializers,
               keras.regularizers, keras.constraints, keras.callbacks, keras.models, keras.optimizers.schedules)
KERAS_CLASS_NAMES = sorted({name for ns in _NAMESPACES for name, obj in vars(ns).items()
                            if isinstance(obj, type) and not name.startswith("_")})
TRICKY = ["", "a", "A", "ABC", "HTTPServer", "Conv2D", "Conv2DTranspose", "Conv3DTranspose", "PReLU", "ReLU",
          "L1L2", "GRUCell", "X2Y", "Dense_1", "_private", "already_snake", "with spaces!", "MixedCase9Name",
          "IoU", "OneHotMeanIoU", "F1Score", "R2Score", "SELU", "TFOpLambda", "A1B2C3", "lowerUpper", "Name-With.Dots"]


def test_the_list_is_large_enough_to_mean_something():
    assert len(KERAS_CLASS_NAMES) > 200


@pytest.mark.parametrize("name", KERAS_CLASS_NAMES + TRICKY)
def test_to_snake_case_gives_keras_results(name):
    assert to_snake_case(name) == keras_to_snake_case(name)


@pytest.mark.parametrize("layer", ["Dense", "Conv2D", "Conv1D", "MaxPooling2D", "GlobalAveragePooling1D", "LSTM",
                                   "GRU", "SimpleRNN", "BatchNormalization", "LayerNormalization", "Embedding"])
def test_default_layer_names_are_keras_names(layer):
    from deepgrad.layers.base import reset_names

    reset_names()
    args = {"Dense": (2,), "Conv2D": (2, 3), "Conv1D": (2, 3), "LSTM": (2,), "GRU": (2,), "SimpleRNN": (2,),
            "Embedding": (4, 2)}.get(layer, ())
    assert getattr(dg.layers, layer)(*args).name == keras_to_snake_case(layer)


_BASES = {"Initializer", "Regularizer", "Constraint", "Loss", "LossFunctionWrapper", "Metric", "MeanMetricWrapper",
          "Optimizer"}


def _needs_arguments(cls) -> bool:
    return any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               for p in inspect.signature(cls).parameters.values())


def _resolved_name(obj) -> str:
    return obj.__name__ if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj).__name__


@pytest.mark.parametrize("ours, theirs", [
    (dg.initializers, k_initializers), (dg.regularizers, k_regularizers), (dg.constraints, k_constraints),
    (dg.losses, k_losses), (dg.optimizers, k_optimizers), (dg.activations, k_activations),
    (dg.metrics, k_metrics),
], ids=lambda m: m.__name__)
def test_every_name_keras_resolves_to_a_class_we_have_resolves_to_that_class(ours, theirs):
    our_names = {n for n, v in vars(ours).items() if callable(v) and not n.startswith("_")}
    checked = 0
    for name, obj in theirs.ALL_OBJECTS_DICT.items():
        target = obj.__name__
        if target not in our_names or target in _BASES or (ours is dg.metrics and name in ("accuracy", "acc")):
            continue  # not in deepgrad, or an abstract base; "accuracy" follows the loss (see test_metrics)
        if inspect.isclass(obj) and _needs_arguments(obj):
            continue  # a wrapper (MultiOptimizer, LossScaleOptimizer): Keras cannot make one by name either
        try:
            resolved = ours.get(name)
        except ValueError as error:  # a class that needs arguments (IoU(num_classes, ...)); Keras cannot build it either
            assert "cannot be built from its name alone" in str(error) and target in str(error), name
            continue
        assert _resolved_name(resolved) == target, name
        checked += 1
    assert checked >= 6


def _parameters(cls):
    return inspect.signature(cls).parameters


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Conv1D", "Conv2D"])
def test_recurrent_and_wrapper_signatures_are_keras_signatures(name):
    ours, theirs = _parameters(getattr(dg.layers, name)), _parameters(getattr(keras.layers, name))
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        assert ours[key].default == param.default, key


@pytest.mark.parametrize("name", ["Dense", "Conv2D", "Conv1D", "Embedding", "BatchNormalization",
                                  "LayerNormalization"])
def test_weight_argument_names_and_defaults_are_keras(name):
    ours, theirs = _parameters(getattr(dg.layers, name)), _parameters(getattr(keras.layers, name))
    triples = [k for k in theirs if k.endswith(("_initializer", "_regularizer", "_constraint"))]
    assert len(triples) >= 3
    for key in triples:
        assert key in ours and ours[key].default == theirs[key].default, key
