"""Keras's applications as the oracle: build a Keras model and deepgrad's twin, give both the
same weights, compare. Keras models are cached: building them is the slow part."""
from __future__ import annotations

import functools
import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import deepgrad.applications as dga  # noqa: E402

# the smallest input side each architecture accepts
MIN_SIZE = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75}
ARCHITECTURES = [n for n in dir(keras.applications) if n[0].isupper()]

# layers Keras names by a per-session counter: their number is not part of the architecture
_AUTO = re.compile(r"^(?:[^/]+/)?((conv2d|batch_normalization|dense|depthwise_conv2d|separable_conv2d|normalization|"
                   r"layer_normalization|layer_scale)(_\d+)?)/")


def min_shape(name):
    side = MIN_SIZE.get(name, 32)
    return (side, side, 3)


def keras_builder(name):
    """Keras's constructor; NASNetMobile is refused on the torch backend, so build it from the
    NASNet function with NASNetMobile's hyper-parameters."""
    if name != "NASNetMobile":
        return getattr(keras.applications, name)
    from keras.src.applications import nasnet

    def mobile(input_shape=None, include_top=True, weights=None, input_tensor=None, pooling=None, classes=1000,
               classifier_activation="softmax", name="nasnet_mobile"):
        return nasnet.NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                             skip_reduction=False, filter_multiplier=2, include_top=include_top, weights=weights,
                             input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=224,
                             classifier_activation=classifier_activation, name=name)
    return mobile


@functools.lru_cache(maxsize=3)
def _keras_model(name, frozen_kwargs):
    return keras_builder(name)(weights=None, **dict(frozen_kwargs))


def pair(name, **kwargs):
    """(Keras model, deepgrad model), both with ``weights=None`` and the same arguments."""
    kwargs.setdefault("input_shape", min_shape(name))
    frozen = tuple(sorted(kwargs.items()))
    return _keras_model(name, frozen), getattr(dga, name)(weights=None, **kwargs)


def weight_key(path: str) -> str:
    """A weight's ``layer/variable`` name without Keras's counters and nesting prefixes."""
    path = _AUTO.sub(lambda m: m.group(2) + "/", path)
    parts = path.split("/")
    return "/".join(parts[-2:]).split("variable")[0]


def random_weights(keras_model, seed=0):
    """Keras's initial weights with batch statistics and affine terms drawn away from their
    defaults (mean 0, variance 1, gamma 1, beta 0), so every term of every layer counts."""
    rng = np.random.default_rng(seed)
    out = []
    for w in keras_model.weights:
        value = np.asarray(keras.ops.convert_to_numpy(w.value))
        leaf = w.path.split("/")[-1]
        if leaf in ("gamma", "moving_variance"):
            value = rng.uniform(0.8, 1.2, value.shape).astype(value.dtype)
        elif leaf in ("beta", "moving_mean", "bias"):
            value = rng.normal(0.0, 0.05, value.shape).astype(value.dtype)
        out.append(value)
    return out


def images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch,) + tuple(shape)).astype("float32")
