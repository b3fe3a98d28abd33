"""TF-Keras's backend functions (``K.mean``, ``K.random_normal``, ``K.batch_dot``, ...).

Keras 3 keeps them under ``tf.keras.backend`` (``from tensorflow.keras import backend as K``)
for TF-Keras programs; here they are reached as ``deepgrad.backend.<name>`` (and so as
``tf.keras.backend.<name>``), looked up on first use. Each follows TF-Keras's definition:
reductions and comparisons are TF's, ``axis`` defaults as there, ``arange`` gives int32,
``sqrt`` clips negatives to 0, ``clip`` raises ``max_value`` to ``min_value``, ``ones``/
``zeros``/``eye``/``variable`` give Variables, ``ctc_*`` take class ``num_classes - 1`` as
the blank, as TF's CTC does.
"""
from __future__ import annotations

import builtins
import math as _math

import numpy as np

from .. import backend as _backend
from .. import ops
from ..autograd import Tensor
from ..autograd import Variable as _Variable
from ..compat import tensorflow as tf

_py_all, _py_any = builtins.all, builtins.any

__all__ = [
    "abs", "all", "any", "arange", "argmax", "argmin", "batch_dot", "batch_flatten", "batch_get_value",
    "batch_normalization", "batch_set_value", "bias_add", "binary_crossentropy", "binary_focal_crossentropy",
    "cast", "cast_to_floatx", "categorical_crossentropy", "categorical_focal_crossentropy", "clip", "concatenate",
    "constant", "conv1d", "conv2d", "conv2d_transpose", "conv3d", "cos", "count_params", "ctc_batch_cost",
    "ctc_decode", "ctc_label_dense_to_sparse", "cumprod", "cumsum", "depthwise_conv2d", "dot", "dropout", "dtype",
    "elu", "equal", "eval", "exp", "expand_dims", "eye", "flatten", "foldl", "foldr", "gather", "get_value",
    "gradients", "greater", "greater_equal", "hard_sigmoid", "in_top_k", "int_shape", "is_sparse",
    "l2_normalize", "less", "less_equal", "log", "map_fn", "max", "maximum", "mean", "min", "minimum",
    "moving_average_update", "ndim", "not_equal", "one_hot", "ones", "ones_like", "permute_dimensions", "pool2d",
    "pool3d", "pow", "prod", "random_bernoulli", "random_normal", "random_normal_variable", "random_uniform",
    "random_uniform_variable", "relu", "repeat", "repeat_elements", "reshape", "resize_images", "resize_volumes",
    "reverse", "rnn", "round", "separable_conv2d", "set_value", "shape", "sigmoid", "sign", "sin", "softmax",
    "softplus", "softsign", "sparse_categorical_crossentropy", "spatial_2d_padding", "spatial_3d_padding",
    "sqrt", "square", "squeeze", "stack", "std", "stop_gradient", "sum", "switch", "tanh", "temporal_padding",
    "tile", "to_dense", "transpose", "truncated_normal", "update", "update_add", "update_sub", "var", "variable",
    "zeros", "zeros_like",
]


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else tf.convert_to_tensor(x)


def _dtype_or_floatx(dtype):
    return _backend.floatx() if dtype is None else _backend.standardize_dtype(dtype)


def _data_format(data_format):
    data_format = _backend.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Unknown data_format: {data_format}")
    return data_format


def _padding(padding):
    if padding not in ("same", "valid"):
        raise ValueError(f"Invalid padding: {padding}")
    return padding


def _float_if_bool(x):
    x = _t(x)
    return tf.cast(x, _backend.floatx()) if x.dtype == np.bool_ else x


# ------------------------------------------------------------------ elementwise and reductions
def abs(x): return tf.abs(x)
def cos(x): return tf.cos(x)
def sin(x): return tf.sin(x)
def exp(x): return tf.exp(x)
def log(x): return tf.math.log(x)
def round(x): return tf.round(x)
def sign(x): return tf.sign(x)
def square(x): return tf.square(x)
def tanh(x): return tf.tanh(x)
def sigmoid(x): return tf.sigmoid(x)
def softplus(x): return tf.math.softplus(x)
def softsign(x): return ops.softsign(_t(x))
def pow(x, a): return tf.pow(x, a)
def equal(x, y): return tf.equal(x, y)
def not_equal(x, y): return tf.not_equal(x, y)
def greater(x, y): return tf.greater(x, y)
def greater_equal(x, y): return tf.greater_equal(x, y)
def less(x, y): return tf.less(x, y)
def less_equal(x, y): return tf.less_equal(x, y)
def maximum(x, y): return tf.maximum(x, y)
def minimum(x, y): return tf.minimum(x, y)
def argmax(x, axis=-1): return tf.argmax(x, axis)
def argmin(x, axis=-1): return tf.argmin(x, axis)
def cumsum(x, axis=0): return tf.cumsum(x, axis=axis)
def cumprod(x, axis=0): return tf.math.cumprod(x, axis=axis)
def max(x, axis=None, keepdims=False): return tf.reduce_max(x, axis, keepdims)
def min(x, axis=None, keepdims=False): return tf.reduce_min(x, axis, keepdims)
def sum(x, axis=None, keepdims=False): return tf.reduce_sum(x, axis, keepdims)
def prod(x, axis=None, keepdims=False): return tf.reduce_prod(x, axis, keepdims)
def mean(x, axis=None, keepdims=False): return tf.reduce_mean(_float_if_bool(x), axis, keepdims)
def std(x, axis=None, keepdims=False): return tf.math.reduce_std(_float_if_bool(x), axis=axis, keepdims=keepdims)
def var(x, axis=None, keepdims=False): return tf.math.reduce_variance(_float_if_bool(x), axis=axis,
                                                                      keepdims=keepdims)
def all(x, axis=None, keepdims=False): return tf.reduce_all(tf.cast(x, "bool"), axis, keepdims)
def any(x, axis=None, keepdims=False): return tf.reduce_any(tf.cast(x, "bool"), axis, keepdims)
def l2_normalize(x, axis=None): return tf.math.l2_normalize(x, axis=axis)
def in_top_k(predictions, targets, k): return tf.math.in_top_k(targets, predictions, k)


def sqrt(x):
    """sqrt(max(x, 0)): TF-Keras clips negatives to 0 first."""
    return tf.sqrt(tf.maximum(x, 0.0))


def clip(x, min_value, max_value):
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)) and max_value < min_value:
        max_value = min_value
    min_value = -np.inf if min_value is None else min_value
    max_value = np.inf if max_value is None else max_value
    return tf.clip_by_value(x, min_value, max_value)


# ------------------------------------------------------------------ activations
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """max(x, 0) with TF-Keras's options: ``x - threshold`` below the threshold scaled by
    ``alpha`` (leaky), values above ``threshold`` kept, the result capped at ``max_value``."""
    x = _t(x)
    if alpha != 0.0 and max_value is None and threshold == 0:
        return tf.nn.leaky_relu(x, alpha=alpha)
    negative_part = tf.nn.relu(-x + threshold) if alpha != 0.0 else None
    if threshold != 0:
        out = x * tf.cast(tf.greater(x, threshold), x.dtype)
    else:
        out = tf.nn.relu(x)
    if max_value is not None:
        out = tf.clip_by_value(out, 0.0, max_value)
    if negative_part is not None:
        out = out - alpha * negative_part
    return out


def elu(x, alpha=1.0):
    x = _t(x)
    res = tf.nn.elu(x)
    return res if alpha == 1 else tf.where(x > 0, res, alpha * res)


def hard_sigmoid(x):
    """clip(0.2 x + 0.5, 0, 1), TF-Keras's slope (Keras 3's ``hard_sigmoid`` uses 1/6)."""
    return tf.clip_by_value(_t(x) * 0.2 + 0.5, 0.0, 1.0)


def softmax(x, axis=-1):
    x = _t(x)
    if x.ndim <= 1:
        raise ValueError(f"Cannot apply softmax to a tensor that is 1D. Received input: {x}")
    if isinstance(axis, int):
        return tf.nn.softmax(x, axis=axis)
    numerator = tf.exp(x - tf.reduce_max(x, axis=axis, keepdims=True))
    return numerator / tf.reduce_sum(numerator, axis=axis, keepdims=True)


def dropout(x, level, noise_shape=None, seed=None):
    return tf.nn.dropout(x, rate=level, noise_shape=noise_shape, seed=seed)


# ------------------------------------------------------------------ losses
def binary_crossentropy(target, output, from_logits=False):
    target, output = _t(target), _t(output)
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = _backend.epsilon()
    output = tf.clip_by_value(output, eps, 1.0 - eps)
    bce = target * tf.math.log(output + eps) + (1 - target) * tf.math.log(1 - output + eps)
    return -bce


def binary_focal_crossentropy(target, output, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False):
    target, output = _t(target), _t(output)
    probs = tf.sigmoid(output) if from_logits else output
    p_t = target * probs + (1 - target) * (1 - probs)
    focal = tf.pow(1.0 - p_t, gamma) * binary_crossentropy(target, output, from_logits=from_logits)
    if apply_class_balancing:
        focal = (target * alpha + (1 - target) * (1 - alpha)) * focal
    return focal


def _check_same_shape(target, output):
    if len(target.shape) != len(output.shape) or _py_any(
            a is not None and b is not None and a != b for a, b in zip(target.shape, output.shape)):
        raise ValueError(f"Shapes {tuple(target.shape)} and {tuple(output.shape)} are incompatible")


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _t(target), _t(output)
    _check_same_shape(target, output)
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=output, axis=axis)
    output = output / tf.reduce_sum(output, axis, True)
    eps = _backend.epsilon()
    output = tf.clip_by_value(output, eps, 1.0 - eps)
    return -tf.reduce_sum(target * tf.math.log(output), axis)


def categorical_focal_crossentropy(target, output, alpha=0.25, gamma=2.0, from_logits=False, axis=-1):
    target, output = _t(target), _t(output)
    _check_same_shape(target, output)
    if from_logits:
        output = tf.nn.softmax(output, axis=axis)
    output = output / tf.reduce_sum(output, axis=axis, keepdims=True)
    eps = _backend.epsilon()
    output = tf.clip_by_value(output, eps, 1.0 - eps)
    focal = alpha * tf.pow(1.0 - output, gamma) * (-target * tf.math.log(output))
    return tf.reduce_sum(focal, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1, ignore_class=None):
    target, output = _t(target), _t(output)
    target = tf.cast(target, "int64")
    if not from_logits:
        eps = _backend.epsilon()
        output = tf.math.log(tf.clip_by_value(output, eps, 1 - eps))
    rank = output.ndim
    axis %= rank
    if axis != rank - 1:
        output = tf.transpose(output, [*range(axis), *range(axis + 1, rank), axis])
    out_shape = tuple(output.shape)
    if target.ndim != rank - 1:
        target = tf.reshape(target, [-1])
        output = tf.reshape(output, [-1, out_shape[-1]])
    target_shape = tuple(target.shape)
    valid = None
    if ignore_class is not None:
        valid = tf.not_equal(target, ignore_class)
        target = tf.where(valid, target, tf.zeros_like(target))
    res = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)
    if valid is not None:
        res = tf.reshape(res * tf.cast(valid, res.dtype), out_shape[:-1])
        res._keras_mask = tf.reshape(valid, out_shape[:-1])
        return res
    if len(target_shape) != rank - 1 or (tuple(res.shape) != out_shape[:-1] and rank >= 3):
        res = tf.reshape(res, out_shape[:-1])
    return res


def ctc_label_dense_to_sparse(labels, label_lengths):
    """The first ``label_lengths[i]`` labels of each row as a ``SparseTensor`` (indices in row order)."""
    labels = np.asarray(_t(labels).numpy())
    lengths = np.asarray(_t(label_lengths).numpy()).reshape(-1).astype(np.int64)
    mask = np.arange(labels.shape[1])[None, :] < lengths[:, None]
    indices = np.argwhere(mask).astype(np.int64)
    return tf.SparseTensor(indices, labels[mask], np.asarray(labels.shape, np.int64))


def ctc_batch_cost(y_true, y_pred, input_length, label_length):
    """CTC loss per sample, shape ``(batch, 1)``; ``y_pred`` holds softmax probabilities
    ``(batch, time, classes)`` and the blank is the last class. As in TF-Keras, the first
    ``label_length`` ids of each row go to TF 1's ``ctc_loss``, which ends a row at its first id
    ``>= classes - 1``: labels padded with such an id may pass the padded width as ``label_length``."""
    labels = ctc_label_dense_to_sparse(y_true, label_length)
    log_probs = tf.math.log(tf.transpose(_t(y_pred), [1, 0, 2]) + _backend.epsilon())
    loss = tf.compat.v1.nn.ctc_loss(labels=labels, inputs=log_probs, sequence_length=tf.reshape(input_length, [-1]))
    return tf.expand_dims(loss, 1)


def ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1):
    """``([decoded (batch, time) padded with -1] * top_paths, log_prob (batch, top_paths))``;
    the blank is the last class. Greedy's log_prob is minus the sum of each step's largest log-probability."""
    y_pred = _t(y_pred)
    logits = tf.math.log(y_pred + _backend.epsilon())
    decoded, scores = ops.ctc_decode(logits, tf.cast(tf.reshape(input_length, [-1]), "int32"),
                                     strategy="greedy" if greedy else "beam_search", beam_width=beam_width,
                                     top_paths=1 if greedy else top_paths, mask_index=int(y_pred.shape[-1]) - 1)
    batch, steps = int(y_pred.shape[0]), int(y_pred.shape[1])
    dense = []
    for path in decoded:
        path = np.asarray(path.numpy() if isinstance(path, Tensor) else path).astype(np.int64)
        width = path.shape[-1]
        out = np.full((batch, steps), -1, np.int64)
        out[:, :builtins.min(width, steps)] = path[:, :steps]
        dense.append(Tensor(out, dtype=np.int64))  # int64 ids, as TF's decoders give
    scores = tf.reshape(scores, [batch, -1])
    return dense, scores


# ------------------------------------------------------------------ shapes and creation
def arange(start, stop=None, step=1, dtype="int32"):
    if stop is None and start < 0:
        start = 0
    result = tf.range(start, stop, step) if stop is not None else tf.range(start)
    if step != 1 and stop is None:
        result = tf.range(0, start, step)
    return tf.cast(result, dtype)


def cast(x, dtype): return tf.cast(x, dtype)


def cast_to_floatx(x):
    if isinstance(x, Tensor):
        return tf.cast(x, _backend.floatx())
    return np.asarray(x, dtype=_backend.floatx())


def concatenate(tensors, axis=-1): return tf.concat([_t(x) for x in tensors], axis)
def constant(value, dtype=None, shape=None, name=None): return tf.constant(value, dtype=_dtype_or_floatx(dtype),
                                                                          shape=shape)
def expand_dims(x, axis=-1): return tf.expand_dims(x, axis)
def flatten(x): return tf.reshape(x, [-1])
def batch_flatten(x): x = _t(x); return tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
def gather(reference, indices): return tf.gather(reference, indices)
def one_hot(indices, num_classes): return tf.one_hot(indices, depth=num_classes, axis=-1)
def permute_dimensions(x, pattern): return tf.transpose(x, perm=list(pattern))
def reshape(x, shape): return tf.reshape(x, shape)
def shape(x): return tf.shape(x)
def squeeze(x, axis): return tf.squeeze(x, [axis])
def stack(x, axis=0): return tf.stack(x, axis=axis)
def transpose(x): return tf.transpose(x)
def ones_like(x, dtype=None, name=None): return tf.ones_like(x, dtype=dtype)
def zeros_like(x, dtype=None, name=None): return tf.zeros_like(x, dtype=dtype)
def to_dense(tensor): return tf.sparse.to_dense(tensor) if is_sparse(tensor) else tensor
def is_sparse(tensor): return isinstance(tensor, tf.SparseTensor)
def ndim(x): return len(_t(x).shape)
def dtype(x): return _backend.standardize_dtype(x.dtype)
def count_params(x): return _math.prod(int(d) for d in x.shape)


def int_shape(x):
    try:
        return tuple(x.shape)
    except (AttributeError, ValueError, TypeError):
        return None


def tile(x, n):
    return tf.tile(x, [n] if isinstance(n, int) else n)


def reverse(x, axes):
    return tf.reverse(x, [axes] if isinstance(axes, int) else list(axes))


def repeat(x, n):
    """``(batch, features)`` -> ``(batch, n, features)``."""
    x = _t(x)
    if x.ndim != 2:
        raise ValueError(f"Expected input `x` to have rank 2. Received: rank(x)={x.ndim}")
    return tf.tile(tf.expand_dims(x, 1), [1, n, 1])


def repeat_elements(x, rep, axis):
    return ops.repeat(_t(x), rep, axis=axis)


def temporal_padding(x, padding=(1, 1)):
    if len(padding) != 2:
        raise ValueError(f"Expected `padding` to be a tuple of 2 integers. Received: padding={padding}")
    return tf.pad(x, [[0, 0], list(padding), [0, 0]])


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None):
    if len(padding) != 2 or len(padding[0]) != 2 or len(padding[1]) != 2:
        raise ValueError("Expected `padding` to be a tuple of 2 tuples of 2 integers. "
                         f"Received: padding={padding}")
    pads = [list(p) for p in padding]
    if _data_format(data_format) == "channels_first":
        return tf.pad(x, [[0, 0], [0, 0], *pads])
    return tf.pad(x, [[0, 0], *pads, [0, 0]])


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None):
    if len(padding) != 3 or _py_any(len(p) != 2 for p in padding):
        raise ValueError("Expected `padding` to be a tuple of 3 tuples of 2 integers. "
                         f"Received: padding={padding}")
    pads = [list(p) for p in padding]
    if _data_format(data_format) == "channels_first":
        return tf.pad(x, [[0, 0], [0, 0], *pads])
    return tf.pad(x, [[0, 0], *pads, [0, 0]])


def resize_images(x, height_factor, width_factor, data_format, interpolation="nearest"):
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Invalid `data_format` argument: {data_format}")
    methods = ("area", "bicubic", "bilinear", "gaussian", "lanczos3", "lanczos5", "mitchellcubic", "nearest")
    if interpolation not in methods:
        raise ValueError("`interpolation` argument should be one of: " + ", ".join(f'"{m}"' for m in methods)
                         + f'. Received: "{interpolation}".')
    x = _t(x)
    rows = 2 if data_format == "channels_first" else 1
    size = (int(x.shape[rows]) * height_factor, int(x.shape[rows + 1]) * width_factor)
    if data_format == "channels_first":
        x = tf.transpose(x, [0, 2, 3, 1])
    x = tf.image.resize(x, size, method=interpolation)
    return tf.transpose(x, [0, 3, 1, 2]) if data_format == "channels_first" else x


def resize_volumes(x, depth_factor, height_factor, width_factor, data_format):
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Invalid data_format: {data_format}")
    first = 2 if data_format == "channels_first" else 1
    out = repeat_elements(x, depth_factor, axis=first)
    out = repeat_elements(out, height_factor, axis=first + 1)
    return repeat_elements(out, width_factor, axis=first + 2)


# ------------------------------------------------------------------ products
def dot(x, y):
    """Keras 2's ``dot``: for ranks above 2, x's last axis against y's second-to-last
    (``(2, 3, 4) . (5, 4, 3) -> (2, 3, 5, 3)``); else ``matmul``."""
    x, y = _t(x), _t(y)
    if x.ndim > 2 or y.ndim > 2:
        perm = list(range(y.ndim))
        perm = [perm.pop(-2)] + perm
        yt = tf.reshape(tf.transpose(y, perm), [y.shape[-2], -1])
        out = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), yt)
        return tf.reshape(out, tuple(x.shape[:-1]) + tuple(y.shape[:-2]) + tuple(y.shape[-1:]))
    return tf.matmul(x, y)


def batch_dot(x, y, axes=None):
    """Per-sample dot product over ``axes`` (x's and y's); the result keeps x's other axes then y's."""
    x, y = _t(x), _t(y)
    x_ndim, y_ndim = x.ndim, y.ndim
    if x_ndim < 2 or y_ndim < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"Cannot do batch_dot on inputs with different batch sizes. Received inputs with "
                         f"shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    if isinstance(axes, int):
        axes = [axes, axes]
    if axes is None:
        axes = [x_ndim - 1, y_ndim - 1] if y_ndim == 2 else [x_ndim - 1, y_ndim - 2]
    if _py_any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"Multiple target dimensions are not supported. Expected: None, int, (int, int), "
                         f"Provided: {axes}")
    a0, a1 = axes[0] % x_ndim, axes[1] % y_ndim
    if 0 in (a0, a1):
        raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not batched, add a dummy "
                         "batch dimension to your inputs using K.expand_dims(x, 0)")
    if x.shape[a0] != y.shape[a1]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {tuple(x.shape)} and {tuple(y.shape)} "
                         f"with axes={[a0, a1]}. x.shape[{a0}] != y.shape[{a1}] ({x.shape[a0]} != {y.shape[a1]}).")
    letters = "abcdefghijklmnopqrstuvwxyz"
    xs = "z" + letters[:x_ndim - 1]
    fresh = iter(letters[x_ndim - 1:])
    ys = "z" + "".join(xs[a0] if i == a1 else next(fresh) for i in range(1, y_ndim))
    out = xs[:a0] + xs[a0 + 1:] + ys[1:a1] + ys[a1 + 1:]
    result = ops.einsum(f"{xs},{ys}->{out}", x, y)
    if x_ndim == 2 and y_ndim == 2:  # TF-Keras gives (batch, 1) here
        result = tf.expand_dims(result, 1)
    return result


# ------------------------------------------------------------------ convolution and pooling
def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format = _data_format(data_format)
    if padding == "causal":
        left = dilation_rate * (int(kernel.shape[0]) - 1)
        x = tf.pad(x, [[0, 0], [left, 0], [0, 0]] if data_format == "channels_last" else [[0, 0], [0, 0], [left, 0]])
        padding = "valid"
    return ops.conv(_t(x), kernel, strides, _padding(padding), data_format, dilation_rate)


def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    return ops.conv(_t(x), kernel, strides, _padding(padding), _data_format(data_format), dilation_rate)


def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format=None, dilation_rate=(1, 1, 1)):
    return ops.conv(_t(x), kernel, strides, _padding(padding), _data_format(data_format), dilation_rate)


def conv2d_transpose(x, kernel, output_shape, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """TF's ``conv2d_transpose``: the kernel is ``(h, w, out_channels, in_channels)`` and
    ``output_shape`` picks the spatial size (its batch entry may be None)."""
    data_format = _data_format(data_format)
    padding = _padding(padding)
    x = _t(x)
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    dilation_rate = (dilation_rate, dilation_rate) if isinstance(dilation_rate, int) else tuple(dilation_rate)
    # The full ("valid") transposed convolution, then the window TF's padding rule puts at the
    # output: SAME pads the forward convolution by max((n - 1) s + k - t, 0), the smaller half first.
    full = ops.conv_transpose(x, kernel, strides, "valid", None, data_format, dilation_rate)
    spatial = (2, 3) if data_format == "channels_first" else (1, 2)
    for a, s, k, d in zip(spatial, strides, kernel.shape[:2], dilation_rate):
        n, target, k_eff = int(x.shape[a]), int(output_shape[a]), (int(k) - 1) * d + 1
        before = builtins.max((n - 1) * s + k_eff - target, 0) // 2 if padding == "same" else 0
        length = int(full.shape[a])
        if before + target > length:
            pads = [[0, 0]] * full.ndim
            pads[a] = [0, before + target - length]
            full = tf.pad(full, pads)
        index = [slice(None)] * full.ndim
        index[a] = slice(before, before + target)
        full = full[tuple(index)]
    return full


def depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    return ops.depthwise_conv(_t(x), depthwise_kernel, strides, _padding(padding), _data_format(data_format),
                              dilation_rate)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    if len(strides) != 2:
        raise ValueError("`strides` must be a tuple of 2 integers.")
    return ops.separable_conv(_t(x), depthwise_kernel, pointwise_kernel, strides, _padding(padding),
                              _data_format(data_format), dilation_rate)


def _pool(x, pool_size, strides, padding, data_format, pool_mode):
    fn = {"max": ops.max_pool, "avg": ops.average_pool}.get(pool_mode)
    if fn is None:
        raise ValueError(f"Invalid pooling mode: {pool_mode}")
    return fn(_t(x), pool_size, strides, _padding(padding), _data_format(data_format))


def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format=None, pool_mode="max"):
    if len(pool_size) != 2:
        raise ValueError("`pool_size` must be a tuple of 2 integers.")
    if len(strides) != 2:
        raise ValueError("`strides` must be a tuple of 2 integers.")
    return _pool(x, pool_size, strides, padding, data_format, pool_mode)


def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format=None, pool_mode="max"):
    return _pool(x, pool_size, strides, padding, data_format, pool_mode)


def bias_add(x, bias, data_format=None):
    data_format = _data_format(data_format)
    x, bias = _t(x), _t(bias)
    if bias.ndim != 1 and bias.ndim != x.ndim - 1:
        raise ValueError(f"Unexpected bias dimensions {bias.ndim}. Expected it to be 1 or {x.ndim - 1} dimensions")
    if data_format == "channels_first" and x.ndim > 2:
        if bias.ndim == 1:
            return x + tf.reshape(bias, (1, -1) + (1,) * (x.ndim - 2))
        return x + tf.reshape(bias, (1, bias.shape[-1]) + tuple(bias.shape[:-1]))
    return x + bias


def batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon)


# ------------------------------------------------------------------ random
def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return tf.random.normal(shape, mean=mean, stddev=stddev, dtype=_dtype_or_floatx(dtype), seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return tf.random.uniform(shape, minval=minval, maxval=maxval, dtype=_dtype_or_floatx(dtype), seed=seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return tf.random.truncated_normal(shape, mean, stddev, dtype=_dtype_or_floatx(dtype), seed=seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    dtype = _dtype_or_floatx(dtype)
    return tf.cast(random_uniform(shape, dtype=dtype, seed=seed) <= p, dtype)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    return variable(random_normal(shape, mean, scale, dtype, seed), dtype=dtype, name=name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    return variable(random_uniform(shape, low, high, dtype, seed), dtype=dtype, name=name)


# ------------------------------------------------------------------ variables and values
def variable(value, dtype=None, name=None, constraint=None):
    if hasattr(value, "tocoo"):  # a SciPy sparse matrix
        coo = value.tocoo()
        return tf.SparseTensor(np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data, coo.shape)
    value = value.numpy() if isinstance(value, Tensor) else value
    return tf.Variable(np.asarray(value, dtype=_dtype_or_floatx(dtype)), name=name, constraint=constraint)


def _filled(fill, shape, dtype, name):
    dtype = _dtype_or_floatx(dtype)
    values = np.full(tuple(shape), fill, dtype=dtype)
    return variable(values, dtype=dtype, name=name) if _py_all(tuple(shape)) else Tensor(values)


def ones(shape, dtype=None, name=None): return _filled(1, shape, dtype, name)
def zeros(shape, dtype=None, name=None): return _filled(0, shape, dtype, name)


def eye(size, dtype=None, name=None):
    dtype = _dtype_or_floatx(dtype)
    rows, cols = (size, size) if isinstance(size, int) else tuple(size)
    return variable(np.eye(rows, cols, dtype=dtype), dtype=dtype, name=name)


def get_value(x):
    return x.numpy() if isinstance(x, Tensor) else x


def eval(x): return get_value(to_dense(x))
def batch_get_value(tensors): return [get_value(x) for x in tensors]


def set_value(x, value):
    x.assign(np.asarray(value, dtype=_backend.standardize_dtype(x.dtype)))


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def update(x, new_x): return x.assign(new_x)
def update_add(x, increment): return x.assign_add(increment)
def update_sub(x, decrement): return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    """x <- x - (x - value) (1 - momentum)."""
    return x.assign_sub((_t(x) - tf.cast(value, x.dtype)) * (1 - momentum))


def stop_gradient(variables):
    if isinstance(variables, (list, tuple)):
        return map(tf.stop_gradient, variables)
    return tf.stop_gradient(variables)


def gradients(loss, variables):
    """d(loss)/d(variables) as Tensors, for a loss computed with gradients recorded."""
    from ..autograd import grad
    listed = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    grads = grad(loss, listed, retain_graph=True)
    return [None if g is None else Tensor(g) for g in grads]


# ------------------------------------------------------------------ control flow
def map_fn(fn, elems, name=None, dtype=None): return tf.map_fn(fn, elems)


def foldl(fn, elems, initializer=None, name=None):
    """fn(...fn(fn(initializer, elems[0]), elems[1])...), the first element as initializer if None."""
    items = list(tf.unstack(_t(elems), axis=0)) if not isinstance(elems, (list, tuple)) else list(elems)
    acc = items.pop(0) if initializer is None else initializer
    for item in items:
        acc = fn(acc, item)
    return acc


def foldr(fn, elems, initializer=None, name=None):
    items = list(tf.unstack(_t(elems), axis=0)) if not isinstance(elems, (list, tuple)) else list(elems)
    items.reverse()
    acc = items.pop(0) if initializer is None else initializer
    for item in items:
        acc = fn(acc, item)
    return acc


def switch(condition, then_expression, else_expression):
    """``then`` where ``condition`` holds, else ``else``; a scalar condition picks a whole branch
    (callables are called only for the branch taken)."""
    condition = tf.cast(condition, "bool")
    if condition.ndim == 0:
        chosen = then_expression if bool(condition.numpy()) else else_expression
        return chosen() if callable(chosen) else chosen
    then_expression = then_expression() if callable(then_expression) else _t(then_expression)
    else_expression = else_expression() if callable(else_expression) else _t(else_expression)
    if condition.ndim > then_expression.ndim:
        raise ValueError("Rank of `condition` should be less than or equal to rank of `then_expression` and "
                         f"`else_expression`. ndim(condition)={condition.ndim}, "
                         f"ndim(then_expression)={then_expression.ndim}")
    if condition.ndim > 1:  # trailing axes of the expressions broadcast the condition
        condition = tf.reshape(condition, tuple(condition.shape) + (1,) * (then_expression.ndim - condition.ndim))
    elif condition.ndim == 1 and then_expression.ndim > 1:
        condition = tf.reshape(condition, tuple(condition.shape) + (1,) * (then_expression.ndim - 1))
    return tf.where(condition, then_expression, else_expression)


def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None, unroll=False,
        input_length=None, time_major=False, zero_output_for_mask=False, return_all_outputs=True):
    """Iterate ``step_function(input_t, states [+ constants]) -> (output_t, new_states)`` over time.

    Returns ``(last_output, outputs, new_states)``; outputs ``(batch, time, ...)`` (time first with
    ``time_major``). Where ``mask`` is False a step keeps the previous states and repeats the
    previous output (zeros with ``zero_output_for_mask``).
    """
    inputs = tf.nest.map_structure(_t, inputs) if not isinstance(inputs, Tensor) else inputs
    flat = tf.nest.flatten(inputs)
    if not time_major:
        flat = [tf.transpose(x, [1, 0, *range(2, x.ndim)]) for x in flat]
    steps = int(flat[0].shape[0])
    if mask is not None:
        mask = tf.cast(_t(mask), "bool")
        if not time_major:
            mask = tf.transpose(mask, [1, 0, *range(2, mask.ndim)])
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    states = list(initial_states)
    constants = list(constants or [])
    outputs, prev_output = [], None

    def where(m, new, old):
        m = tf.reshape(m, tuple(m.shape) + (1,) * (new.ndim - m.ndim))
        return tf.where(m, new, old)

    for t in order:
        step_in = tf.nest.pack_sequence_as(inputs, [x[t] for x in flat])
        output, new_states = step_function(step_in, states + constants)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if mask is not None:
            base = tf.zeros_like(output) if (zero_output_for_mask or prev_output is None) else prev_output
            output = where(mask[t], output, base)
            new_states = [where(mask[t], n, s) for n, s in zip(new_states, states)]
        states, prev_output = new_states, output
        outputs.append(output)
    stacked = tf.stack(outputs, axis=0) if return_all_outputs else tf.expand_dims(outputs[-1], 0)
    if not time_major:
        stacked = tf.transpose(stacked, [1, 0, *range(2, stacked.ndim)])
    return outputs[-1], stacked, states
