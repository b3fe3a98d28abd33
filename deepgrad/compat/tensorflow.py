"""The TensorFlow names that Keras programs reach through ``tf.``, mapped onto deepgrad.

``from deepgrad.compat import tensorflow as tf`` replaces ``import tensorflow as tf``:
``tf.keras`` is deepgrad itself, and the low-level names a hand-written training loop uses
(``tf.constant``, ``tf.Variable``, ``tf.random.normal``, ``tf.matmul``, ``tf.reduce_mean``,
``tf.GradientTape``, ``tf.optimizers``) are deepgrad's tensors and ops.  Only what such
programs use is here; this is not an implementation of TensorFlow.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import deepgrad as keras
from .. import backend, ops
from ..autograd import Tensor
from ..autograd import Variable as _Variable
from .gradient_tape import GradientTape  # noqa: F401 - tf.GradientTape

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_

# Elementwise and linear algebra ops keep their names.
abs, exp, log, sqrt, square = ops.abs, ops.exp, ops.log, ops.sqrt, ops.square
tanh, sigmoid, maximum, minimum, where = ops.tanh, ops.sigmoid, ops.maximum, ops.minimum, ops.where
matmul, reshape, transpose, clip_by_value = ops.matmul, ops.reshape, ops.transpose, ops.clip


def _dtype(dtype):
    return np.dtype(dtype if dtype is not None else backend.floatx())


def constant(value, dtype=None) -> Tensor:
    """A tensor that needs no gradient (TensorFlow's ``tf.constant``)."""
    value = value.data if isinstance(value, Tensor) else value
    return Tensor(np.array(value, dtype=_dtype(dtype)))


def convert_to_tensor(value, dtype=None) -> Tensor:
    return value if isinstance(value, Tensor) and dtype is None else constant(value, dtype)


def Variable(initial_value, trainable: bool = True, name: str | None = None, dtype=None) -> _Variable:
    """A trainable variable; ``initial_value`` may be a tensor, an array or a number."""
    value = initial_value.data if isinstance(initial_value, Tensor) else initial_value
    return _Variable(np.array(value, dtype=_dtype(dtype)), trainable=trainable, name=name)


def zeros(shape, dtype=None) -> Tensor:
    return Tensor(np.zeros(shape, dtype=_dtype(dtype)))


def ones(shape, dtype=None) -> Tensor:
    return Tensor(np.ones(shape, dtype=_dtype(dtype)))


def _normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    gen = np.random.default_rng(seed) if seed is not None else backend.rng()
    return Tensor(gen.normal(mean, stddev, size=shape).astype(_dtype(dtype)))


def _uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    gen = np.random.default_rng(seed) if seed is not None else backend.rng()
    return Tensor(gen.uniform(minval, maxval, size=shape).astype(_dtype(dtype)))


random = SimpleNamespace(normal=_normal, uniform=_uniform, set_seed=lambda s: keras.utils.set_random_seed(s))


def reduce_mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return ops.mean(x, axis=axis, keepdims=keepdims)


def reduce_sum(x, axis=None, keepdims: bool = False) -> Tensor:
    return ops.sum(x, axis=axis, keepdims=keepdims)


def reduce_max(x, axis=None, keepdims: bool = False) -> Tensor:
    return ops.max(x, axis=axis, keepdims=keepdims)


def reduce_min(x, axis=None, keepdims: bool = False) -> Tensor:
    return ops.min(x, axis=axis, keepdims=keepdims)


def concat(values, axis: int) -> Tensor:
    return ops.concatenate(values, axis=axis)


def shape(x) -> tuple:
    """The shape as a tuple of ints (``tf.shape(x)[0]`` is the batch size)."""
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def expand_dims(x, axis: int) -> Tensor:
    return ops.expand_dims(x, axis)


def squeeze(x, axis=None) -> Tensor:
    return ops.squeeze(x, axis)


math = SimpleNamespace(log=ops.log, exp=ops.exp, sqrt=ops.sqrt, square=ops.square, abs=ops.abs, tanh=ops.tanh,
                       reduce_mean=lambda x, axis=None, keepdims=False: ops.mean(x, axis=axis, keepdims=keepdims),
                       reduce_sum=lambda x, axis=None, keepdims=False: ops.sum(x, axis=axis, keepdims=keepdims))


nn = SimpleNamespace(relu=ops.relu, sigmoid=ops.sigmoid, tanh=ops.tanh, softmax=ops.softmax,
                     log_softmax=ops.log_softmax, elu=ops.elu, selu=ops.selu,
                     gelu=lambda features, approximate=False, name=None: ops.gelu(features, approximate),
                     softplus=ops.softplus, leaky_relu=ops.leaky_relu)


def cast(x, dtype) -> Tensor:
    return ops.cast(x, _dtype(dtype))


def function(fn=None, **kwargs):
    """``@tf.function``: deepgrad runs eagerly, so the function is returned as it is."""
    return fn if fn is not None else (lambda f: f)


def random_uniform_initializer(minval=-0.05, maxval=0.05, seed=None):
    return keras.initializers.RandomUniform(minval=minval, maxval=maxval, seed=seed)


def __getattr__(name: str):
    # Names that live in deepgrad's higher floors resolve on first use, so this module
    # imports without them.
    if name == "optimizers":
        return keras.optimizers
    if name == "keras":  # ``from tensorflow import keras``
        return keras
    raise AttributeError(f"deepgrad.compat.tensorflow has no {name!r}: only the TensorFlow names "
                         f"that Keras programs use are mapped; use deepgrad's own API for the rest")
