"""Arguments, defaults and configs as Keras 3 spells them: signatures, get_config, regularisation losses."""
import inspect

import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy


def normalise(value):
    """A config value without Keras's serialisation envelope ("module", "registered_name")."""
    if isinstance(value, dict) and "class_name" in value:
        return value["class_name"], {k: normalise(v) for k, v in (value.get("config") or {}).items()}
    if isinstance(value, (list, tuple)):
        return tuple(normalise(v) for v in value)
    return value


LAYERS = {"Dense": (3,), "Conv2D": (4, 3), "Conv1D": (4, 3), "MaxPooling2D": (), "AveragePooling2D": (2,),
          "MaxPooling1D": (), "AveragePooling1D": (2,), "GlobalAveragePooling2D": (), "GlobalMaxPooling2D": (),
          "GlobalAveragePooling1D": (), "GlobalMaxPooling1D": (), "BatchNormalization": (),
          "LayerNormalization": (), "Embedding": (10, 3), "SimpleRNN": (3,), "LSTM": (3,), "GRU": (3,),
          "Dropout": (0.5,), "RepeatVector": (2,), "Reshape": ((6,),), "Permute": ((2, 1),),
          "Activation": ("relu",), "Concatenate": (), "Add": (), "Multiply": (), "Average": (), "Maximum": (),
          "Minimum": (), "Subtract": (), "Flatten": ()}

# Keras config keys deepgrad leaves out, and why
NOT_SUPPORTED = {"dtype",                                          # the dtype policy: deepgrad keeps a dtype
                 "renorm", "renorm_clipping", "renorm_momentum",   # batch renormalisation
                 "rms_scaling"}                                    # LayerNormalization(rms_scaling=True)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_config_matches_keras(name):
    k_config = getattr(keras.layers, name)(*LAYERS[name]).get_config()
    d_config = getattr(dg.layers, name)(*LAYERS[name]).get_config()
    assert set(k_config) - set(d_config) <= NOT_SUPPORTED, f"{name}: keys Keras has that deepgrad lacks"
    for key in set(k_config) & set(d_config) - {"name"}:
        assert normalise(d_config[key]) == normalise(k_config[key]), f"{name}.{key}"


@pytest.mark.parametrize("name", ["Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
                                  "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
                                  "LecunUniform", "LecunNormal", "Orthogonal"])
def test_initializer_config_matches_keras(name):
    assert getattr(dg.initializers, name)().get_config() == getattr(keras.initializers, name)().get_config()


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "LecunUniform"])
def test_initializer_fan_axes(name):
    """input_axes/output_axes choose the fans: a (3, 4, 5) kernel with fans 3 and 20."""
    init = getattr(dg.initializers, name)(seed=0, input_axes=[0], output_axes=[1, 2])
    values = init((3, 4, 5), dtype="float64")
    scale, mode, distribution = type(init).preset
    n = {"fan_in": 3, "fan_avg": (3 + 20) / 2}[mode]
    if distribution == "uniform":
        assert np.abs(values).max() <= np.sqrt(3 * scale / n)
        assert np.abs(values).max() > 0.8 * np.sqrt(3 * scale / n)
    else:
        assert np.abs(values).max() <= 2 * np.sqrt(scale / n) / 0.87962566103423978
    k_init = getattr(keras.initializers, name)(seed=0, input_axes=[0], output_axes=[1, 2])
    assert init.get_config() == k_init.get_config()


def _signature_defaults(cls):
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


SIGNATURES = [(m, n) for m, names in {
    "layers": ["Dense", "Conv2D", "Conv1D", "MaxPooling2D", "MaxPooling1D", "BatchNormalization",
               "LayerNormalization", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
               "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector", "Concatenate"],
    "optimizers": ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam"],
    "initializers": ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
                     "VarianceScaling", "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal", "Constant"],
    "metrics": ["Precision", "Recall", "AUC", "BinaryAccuracy", "TopKCategoricalAccuracy"],
}.items() for n in names]


@pytest.mark.parametrize("module, name", SIGNATURES, ids=[f"{m}.{n}" for m, n in SIGNATURES])
def test_argument_defaults_match_keras(module, name):
    """Every argument both spell out has Keras's default (deepgrad names some that Keras leaves to **kwargs)."""
    k_defaults = _signature_defaults(getattr(getattr(keras, module), name))
    d_defaults = _signature_defaults(getattr(getattr(dg, module), name))
    shared = set(k_defaults) & set(d_defaults) - {"name"}  # Keras derives an unnamed object's name later
    mismatched = {n: (d_defaults[n], k_defaults[n]) for n in shared
                  if normalise(d_defaults[n]) != normalise(k_defaults[n])}
    assert not mismatched, f"(deepgrad, Keras) defaults: {mismatched}"


@pytest.mark.parametrize("name, args, x", [
    ("Embedding", (5, 3), np.array([[1, 2, 4], [0, 3, 3], [2, 2, 1]], dtype="int32")),
    ("Dense", (3,), np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)),
    ("Conv2D", (2, 2), np.linspace(-1, 1, 54, dtype="float32").reshape(2, 3, 3, 3)),
    ("LSTM", (3,), np.linspace(-1, 1, 24, dtype="float32").reshape(2, 3, 4)),
])
def test_activity_regularizer_loss(name, args, x):
    """Keras 3 divides an activity penalty by the batch size."""
    k_layer = getattr(keras.layers, name)(*args, activity_regularizer=keras.regularizers.L1L2(0.01, 0.02))
    d_layer = getattr(dg.layers, name)(*args, activity_regularizer=dg.regularizers.L1L2(0.01, 0.02))
    k_layer(x)
    d_layer(dg.Tensor(x, dtype=x.dtype) if x.dtype.kind == "i" else dg.Tensor(x))
    d_layer.set_weights(k_layer.get_weights())
    k_layer(x)
    d_layer(dg.Tensor(x, dtype=x.dtype) if x.dtype.kind == "i" else dg.Tensor(x))
    assert len(d_layer.losses) == len(k_layer.losses) == 1
    np.testing.assert_allclose(to_numpy(d_layer.losses[0]), to_numpy(k_layer.losses[0]), rtol=1e-5)
