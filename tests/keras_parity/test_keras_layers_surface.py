"""The whole ``keras.layers`` surface: every public name of Keras 3's ``keras.layers`` exists in
``deepgrad.layers``, is a class where Keras's is a class, and has Keras's ``inspect.signature``:
the same parameter names in the same order, of the same kinds (positional, keyword, ``*args``,
``**kwargs``), with the same defaults. Names Keras gives one object (``Conv2D`` and
``Convolution2D``) are one object in deepgrad too."""
import inspect

import keras
import numpy as np
import pytest

import deepgrad.layers as dg_layers

# Image augmentation layers that are being added alongside this listing; this set is emptied
# once they are in.

KERAS_NAMES = sorted(n for n in dir(keras.layers) if not n.startswith("_"))
CHECKED = KERAS_NAMES


def test_the_listing_is_keras_3_layers():
    assert len(KERAS_NAMES) >= 170 and {"Dense", "LSTM", "Wrapper", "TorchModuleWrapper", "Input"} <= set(KERAS_NAMES)


def test_every_public_keras_name_exists():
    missing = [n for n in KERAS_NAMES if not hasattr(dg_layers, n)]
    assert not missing, f"missing from deepgrad.layers: {missing}"


def _same_default(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # defaults that do not compare (arrays): compare their text
        return repr(a) == repr(b)


@pytest.mark.parametrize("name", CHECKED)
def test_signature_is_keras_signature(name):
    theirs, ours = getattr(keras.layers, name), getattr(dg_layers, name)
    assert inspect.isclass(ours) == inspect.isclass(theirs), f"{name}: class in one, function in the other"
    if not callable(theirs):
        return
    k_params = list(inspect.signature(theirs).parameters.values())
    d_params = list(inspect.signature(ours).parameters.values())
    assert [p.name for p in d_params] == [p.name for p in k_params], name
    assert [p.kind for p in d_params] == [p.kind for p in k_params], name
    wrong = {k.name: (d.default, k.default) for k, d in zip(k_params, d_params) if not _same_default(d.default,
                                                                                                     k.default)}
    assert not wrong, f"{name}: (deepgrad, Keras) defaults differ: {wrong}"


def test_keras_aliases_are_aliases():
    """Two Keras names for one object (Conv2D / Convolution2D) are one object in deepgrad."""
    by_object: dict = {}
    for name in CHECKED:
        by_object.setdefault(id(getattr(keras.layers, name)), []).append(name)
    groups = [names for names in by_object.values() if len(names) > 1]
    assert len(groups) >= 10
    for names in groups:
        assert len({id(getattr(dg_layers, n)) for n in names}) == 1, names


@pytest.mark.parametrize("name", [n for n in CHECKED if inspect.isclass(getattr(keras.layers, n))
                                  and issubclass(getattr(keras.layers, n), keras.layers.Layer)])
def test_layer_classes_are_layers_with_keras_bases(name):
    """Every layer class is a deepgrad Layer; Keras's recurrent, wrapper and embedding families
    keep their bases (``LSTM`` is an ``RNN``, ``TimeDistributed`` a ``Wrapper``, ...)."""
    ours = getattr(dg_layers, name)
    assert issubclass(ours, dg_layers.Layer)
    theirs = getattr(keras.layers, name)
    for base in ("RNN", "Wrapper", "Embedding", "Dense", "EinsumDense", "JaxLayer"):
        assert issubclass(ours, getattr(dg_layers, base)) == issubclass(theirs, getattr(keras.layers, base)), \
            f"{name}: subclass of {base} in one library only"


# ----------------------------------------------------------------- built layers, side by side
_I2, _I3, _IMG = (None, 4), (None, 5, 4), (None, 8, 8, 3)
# name -> (arguments, keyword arguments, input shape); "LSTM"/"Dense" arguments stand for a new layer
_BUILT = {
    "Dense": ((3,), {}, _I2), "EinsumDense": (("ab,bc->ac", 3), {}, _I2), "Embedding": ((10, 3), {}, (None, 5)),
    "Conv1D": ((2, 3), {}, _I3), "Conv2D": ((2, 3), {}, _IMG), "Conv2DTranspose": ((2, 3), {}, _IMG),
    "DepthwiseConv2D": ((3,), {}, _IMG), "SeparableConv2D": ((2, 3), {}, _IMG),
    "BatchNormalization": ((), {}, _I2), "LayerNormalization": ((), {}, _I2), "GroupNormalization": ((2,), {}, _I2),
    "RMSNormalization": ((), {}, _I2), "UnitNormalization": ((), {}, _I2), "PReLU": ((), {}, _I2),
    "LSTM": ((3,), {}, _I3), "GRU": ((3,), {}, _I3), "SimpleRNN": ((3,), {}, _I3),
    "ConvLSTM1D": ((2, 3), {}, (None, 3, 6, 2)), "Bidirectional": (("LSTM",), {}, _I3),
    "TimeDistributed": (("Dense",), {}, _I3), "SpectralNormalization": (("Dense",), {}, _I2),
    "MaxPooling2D": ((), {}, _IMG), "GlobalAveragePooling1D": ((), {}, _I3), "Flatten": ((), {}, _IMG),
    "Reshape": (((2, 2),), {}, _I2), "Permute": (((2, 1),), {}, _I3), "RepeatVector": ((3,), {}, _I2),
    "UpSampling2D": ((), {}, _IMG), "ZeroPadding2D": ((), {}, _IMG), "Cropping1D": ((), {}, _I3),
    "Dropout": ((0.5,), {}, _I2), "GaussianNoise": ((0.2,), {}, _I2), "SpatialDropout1D": ((0.2,), {}, _I3),
    "Activation": (("relu",), {}, _I2), "ReLU": ((), {}, _I2), "Softmax": ((), {}, _I2), "Masking": ((), {}, _I3),
    "Rescaling": ((0.5,), {}, _IMG), "Resizing": ((4, 4), {}, _IMG), "CenterCrop": ((4, 4), {}, _IMG),
    "RandomFlip": ((), {}, _IMG), "RandomZoom": ((0.1,), {}, _IMG), "CategoryEncoding": ((), {"num_tokens": 5}, _I2),
    "Concatenate": ((), {}, [_I2, _I2]), "Add": ((), {}, [_I2, _I2]), "Dot": ((1,), {}, [_I2, _I2]),
    "Attention": ((), {}, [_I3, _I3]), "AdditiveAttention": ((), {}, [_I3, _I3]),
}


def _strip(text: str) -> str:
    """Session counters out (``dense_3/kernel`` -> ``dense/kernel``)."""
    import re
    return re.sub(r"_\d+(?=[/_>,]|$)", "", text)


def _built_surface(K, name) -> dict:
    args, kwargs, shape = _BUILT[name]
    args = [K.layers.LSTM(3) if a == "LSTM" else K.layers.Dense(3) if a == "Dense" else a for a in args]
    layer = getattr(K.layers, name)(*args, **kwargs)
    facts = {"name": _strip(layer.name), "dtype": str(layer.dtype),
             "dtype_policy": getattr(layer.dtype_policy, "name", None), "supports_masking": layer.supports_masking,
             "trainable": layer.trainable}
    sized = (lambda s: [tuple(2 if d is None else d for d in x) for x in s]) if isinstance(shape, list) else \
        (lambda s: tuple(2 if d is None else d for d in s))
    out = layer.compute_output_shape([tuple(s) for s in shape] if isinstance(shape, list) else tuple(shape))
    several = isinstance(out, list) and out and isinstance(out[0], (list, tuple))  # Keras may give one as a list
    facts["output_shape"] = [list(s) for s in out] if several else [list(out)]
    if not layer.built:
        layer.build(sized(shape))
    config = layer.get_config()
    facts["config keys"] = sorted(config)
    facts["config values"] = {k: v for k, v in config.items()
                              if k in ("axis", "units", "filters", "rate", "scale", "num_tokens", "output_mode")}
    facts["weights"] = [(w.name, _strip(w.path), tuple(int(d) for d in w.shape)) for w in layer.weights]
    facts["trainable_weights"] = [_strip(w.path) for w in layer.trainable_weights]
    facts["non_trainable_weights"] = [_strip(w.path) for w in layer.non_trainable_weights]
    facts["non_trainable_variables"] = [_strip(w.path) for w in layer.non_trainable_variables]
    facts["count_params"] = layer.count_params()
    facts["repr"] = _strip(repr(layer))
    return facts


@pytest.mark.parametrize("name", sorted(_BUILT))
def test_built_layer_surface_is_kerass(name):
    """Built with the same arguments: names, dtypes, masking, output shapes, config keys (and the
    values that change with building, e.g. LayerNormalization's ``axis`` list), weight names,
    paths (a wrapper's inner weights under the wrapper), shapes and order, counts and repr."""
    import deepgrad
    ours, theirs = _built_surface(deepgrad, name), _built_surface(keras, name)
    assert ours == theirs


# ----------------------------------------------------------------- every layer's config, value by value
# the arguments of the classes Keras cannot make without any ("LSTM", "Dense", "LSTMCell" stand for new layers)
_ARGS = {
    **{name: (args, kwargs) for name, (args, kwargs, _) in _BUILT.items()},
    **{f"{kind}{rank}D": ((2,), {}) for kind in ("AdaptiveAveragePooling", "AdaptiveMaxPooling", "AveragePooling",
                                                 "AvgPool") for rank in (1, 2, 3)},
    **{f"{kind}{rank}D{t}": ((2, 3), {}) for kind in ("Conv", "Convolution") for rank in (1, 2, 3)
       for t in ("", "Transpose")},
    "AlphaDropout": ((0.5,), {}), "GaussianDropout": ((0.5,), {}), "SpatialDropout2D": ((0.2,), {}),
    "SpatialDropout3D": ((0.2,), {}), "ConvLSTM2D": ((2, 3), {}), "ConvLSTM3D": ((2, 3), {}),
    "DepthwiseConv1D": ((3,), {}), "SeparableConv1D": ((2, 3), {}), "SeparableConvolution1D": ((2, 3), {}),
    "SeparableConvolution2D": ((2, 3), {}), "Discretization": ((), {"num_bins": 3}),
    "GRUCell": ((3,), {}), "LSTMCell": ((3,), {}), "SimpleRNNCell": ((3,), {}), "RNN": (("LSTMCell",), {}),
    "StackedRNNCells": ((["LSTMCell"],), {}),
    "GroupQueryAttention": ((), {"head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1}),
    "MultiHeadAttention": ((2, 4), {}), "InputLayer": ((), {"shape": (3,)}), "MaxNumBoundingBoxes": ((3,), {}),
    "ReversibleEmbedding": ((10, 3), {}), "Wrapper": (("Dense",), {}), "RandomBrightness": ((0.2,), {}),
    "RandomColorDegeneration": ((0.2,), {}), "RandomContrast": ((0.2,), {}), "RandomCrop": ((4, 4), {}),
    "RandomHue": ((0.2,), {}), "RandomPosterization": ((4,), {}), "RandomRotation": ((0.2,), {}),
    "RandomSaturation": ((0.2,), {}), "RandomSharpness": ((0.2,), {}), "RandomTranslation": ((0.1, 0.1), {}),
}
# Keras cannot make these here: they need TensorFlow, JAX, a SavedModel, a torch module or a function
_NOT_MADE = {"FlaxLayer", "JaxLayer", "TFSMLayer", "TorchModuleWrapper", "Lambda", "Pipeline", "Hashing",
             "HashedCrossing", "IntegerLookup", "StringLookup", "TextVectorization"}
LAYER_CLASSES = [n for n in CHECKED if inspect.isclass(getattr(keras.layers, n)) and n not in _NOT_MADE
                 and issubclass(getattr(keras.layers, n), keras.layers.Layer)]


def _new_layer(K, name):
    def arg(a):
        if isinstance(a, list):
            return [arg(x) for x in a]
        made = {"LSTM": lambda: K.layers.LSTM(3), "Dense": lambda: K.layers.Dense(3),
                "LSTMCell": lambda: K.layers.LSTMCell(3)}
        return made[a]() if isinstance(a, str) and a in made else a
    args, kwargs = _ARGS.get(name, ((), {}))
    return getattr(K.layers, name)(*[arg(a) for a in args], **kwargs)


def _typed(value):
    """A config with its types spelled out (a tuple is not a list, 1 is not 1.0) and session
    counters and random seeds out of names."""
    if isinstance(value, dict):
        return {k: "<seed>" if k == "seed" and isinstance(v, int) else
                _strip(v) if k == "name" and isinstance(v, str) else _typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value)


def test_the_config_listing_makes_every_layer_keras_makes():
    assert len(LAYER_CLASSES) >= 150


@pytest.mark.parametrize("name", LAYER_CLASSES)
def test_config_of_a_new_layer_is_kerass(name):
    """``get_config()`` of a layer made with the same arguments, key by key and value by value:
    the dtype policy, nested initializers and layers in Keras's object form
    (``module``/``registered_name``), tuples where Keras writes tuples."""
    import deepgrad
    ours, theirs = _new_layer(deepgrad, name).get_config(), _new_layer(keras, name).get_config()
    assert _typed(ours) == _typed(theirs)


@pytest.mark.parametrize("name", LAYER_CLASSES)
def test_built_after_construction_is_kerass(name):
    """Keras builds a layer with no state to create when it is made (Dropout, pooling,
    Activation...); the others wait for their input shape."""
    import deepgrad
    assert _new_layer(deepgrad, name).built == _new_layer(keras, name).built


def test_a_layer_built_when_made_still_runs_and_a_subclass_with_a_build_waits():
    import deepgrad
    for K in (deepgrad, keras):
        class Scaled(K.layers.Dropout):
            def build(self, input_shape):
                self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

            def call(self, x, training=None):
                return super().call(x, training=training) * self.scale

        assert not Scaled(0.5).built, K.__name__
        pool, layer = K.layers.MaxPooling1D(2), Scaled(0.5)
        model = K.Sequential([K.Input((4, 3)), pool, layer])
        assert pool.built and layer.built and len(layer.weights) == 1, K.__name__
        assert pool.get_build_config() is None, K.__name__  # never built from a shape
        out = K.ops.convert_to_numpy(model(np.ones((2, 4, 3), "float32")))
        np.testing.assert_array_equal(out, np.ones((2, 2, 3), "float32"))
