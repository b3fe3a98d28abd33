"""``tf.math``, ``tf.nn``, ``tf.random`` and ``tf.linalg``: TensorFlow's names and argument
names (``axis``, ``keepdims``; ``name=`` accepted and ignored) for deepgrad's ops of the same
meaning. Where TF's conventions differ from NumPy's (``tf.linalg.svd`` returns ``s, u, v``;
``tf.nn.conv2d`` takes ``"SAME"``; ``argmax`` defaults to axis 0 and int64), the difference
is spelled out here, not reimplemented.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import backend, ops
from ..autograd import Tensor
from .tf_boxes import combined_non_max_suppression, non_max_suppression


def _dtype(dtype):
    return np.dtype(dtype if dtype is not None else backend.floatx())


def _seeded(seed) -> np.random.Generator:
    return np.random.default_rng(seed) if seed is not None else backend.rng()


# ----------------------------------------------------------------- reductions and comparisons
def _reduce(op):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        return op(input_tensor, axis=axis, keepdims=keepdims)
    return reduce


reduce_sum, reduce_mean, reduce_max, reduce_min = (_reduce(ops.sum), _reduce(ops.mean), _reduce(ops.max),
                                                   _reduce(ops.min))
reduce_prod, reduce_any, reduce_all = _reduce(ops.prod), _reduce(ops.any), _reduce(ops.all)
reduce_logsumexp, reduce_variance, reduce_std = _reduce(ops.logsumexp), _reduce(ops.var), _reduce(ops.std)


def argmax(input, axis=None, output_type=np.int64, name=None):
    """Index of the largest value along ``axis`` (TF's default axis is 0, its default type int64)."""
    return ops.cast(ops.argmax(input, axis=0 if axis is None else axis), output_type)


def argmin(input, axis=None, output_type=np.int64, name=None):
    return ops.cast(ops.argmin(input, axis=0 if axis is None else axis), output_type)


def count_nonzero(input, axis=None, keepdims=False, dtype=np.int64, name=None):
    return ops.sum(ops.cast(ops.not_equal(input, 0), dtype), axis=axis, keepdims=keepdims)


def top_k(input, k=1, sorted=True, index_type=np.int32, name=None):
    """``(values, indices)`` of the ``k`` largest entries of the last axis."""
    values, indices = ops.top_k(input, k, sorted=sorted)
    return _TopK(values, ops.cast(indices, index_type))


class _TopK(tuple):
    """TF's ``TopKV2`` result: a pair with ``.values`` and ``.indices``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def in_top_k(targets, predictions, k, name=None):
    return ops.in_top_k(targets, predictions, k)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """x / sqrt(max(sum(x^2), epsilon))."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), epsilon))


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running sum along ``axis`` (TF's default axis is 0); ``exclusive`` leaves out the element
    itself, ``reverse`` sums from the end."""
    if reverse:
        x = ops.flip(x, axis)
    out = ops.cumsum(x, axis=axis)
    if exclusive:
        out = out - x
    return ops.flip(out, axis) if reverse else out


def _unary(op):
    return lambda x, name=None: op(x)


def _activation(op):
    """TF's activations name their argument ``features``."""
    return lambda features, name=None: op(features)


def _binary(op):
    return lambda x, y, name=None: op(x, y)


math = SimpleNamespace(
    add=_binary(ops.add), subtract=_binary(ops.subtract), multiply=_binary(ops.multiply),
    divide=_binary(ops.divide), truediv=_binary(ops.true_divide), floordiv=_binary(ops.floor_divide),
    floormod=_binary(ops.mod), pow=_binary(ops.power), maximum=_binary(ops.maximum), minimum=_binary(ops.minimum),
    equal=_binary(ops.equal), not_equal=_binary(ops.not_equal), greater=_binary(ops.greater),
    greater_equal=_binary(ops.greater_equal), less=_binary(ops.less), less_equal=_binary(ops.less_equal),
    logical_and=_binary(ops.logical_and), logical_or=_binary(ops.logical_or), logical_not=_unary(ops.logical_not),
    squared_difference=lambda x, y, name=None: ops.square(ops.subtract(x, y)),
    abs=_unary(ops.abs), negative=_unary(ops.negative), sign=_unary(ops.sign), square=_unary(ops.square),
    sqrt=_unary(ops.sqrt), rsqrt=_unary(ops.rsqrt), exp=_unary(ops.exp), expm1=_unary(ops.expm1),
    log=_unary(ops.log), log1p=_unary(ops.log1p), sin=_unary(ops.sin), cos=_unary(ops.cos), tan=_unary(ops.tan),
    tanh=_unary(ops.tanh), sigmoid=_unary(ops.sigmoid), softplus=_unary(ops.softplus), erf=_unary(ops.erf),
    floor=_unary(ops.floor), ceil=_unary(ops.ceil), round=_unary(ops.round), reciprocal=_unary(ops.reciprocal),
    is_nan=_unary(ops.isnan), is_finite=_unary(ops.isfinite), is_inf=_unary(ops.isinf),
    reduce_sum=reduce_sum, reduce_mean=reduce_mean, reduce_max=reduce_max, reduce_min=reduce_min,
    reduce_prod=reduce_prod, reduce_any=reduce_any, reduce_all=reduce_all, reduce_logsumexp=reduce_logsumexp,
    reduce_variance=reduce_variance, reduce_std=reduce_std, argmax=argmax, argmin=argmin,
    count_nonzero=count_nonzero, top_k=top_k, in_top_k=in_top_k, l2_normalize=l2_normalize, cumsum=cumsum,
)


# ----------------------------------------------------------------- tf.nn
def _padding(padding) -> str:
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"tf.nn: padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.lower()


def _spatial(value, name: str, rank: int = 2, op: str = "tf.nn"):
    """TF's strides/ksize/dilations over ``rank`` spatial axes: an int, the ``rank`` values, or
    the full form with 1 for the batch and channel axes (``[1, h, w, 1]``, ``[1, w, 1]``);
    one spatial axis gives an int."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = tuple(int(v) for v in value)
    if len(value) == rank + 2:
        if value[0] != 1 or value[-1] != 1:
            raise ValueError(f"{op}: {name} over the batch or channel axis is not supported, got {value}")
        value = value[1:-1]
    elif len(value) != rank and rank == 1:
        raise ValueError(f"{op}: {name} must be an int, [w] or [1, w, 1], got {value}")
    return value[0] if rank == 1 else value


def _nhwc(data_format):
    if data_format not in ("NHWC", None):
        raise ValueError(f"tf.nn: only data_format='NHWC' (channels last) is supported, got {data_format!r}")
    return "channels_last"


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """2-D convolution, filters of shape ``(height, width, in_channels, out_channels)``."""
    return ops.conv(input, filters, _spatial(strides, "strides"), _padding(padding), _nhwc(data_format),
                    1 if dilations is None else _spatial(dilations, "dilations"))


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """1-D convolution of ``(batch, width, in_channels)`` by filters of shape
    ``(width, in_channels, out_channels)`` (fewer input channels: a grouped convolution)."""
    if data_format not in ("NWC", None):
        raise ValueError(f"tf.nn.conv1d: only data_format='NWC' (channels last) is supported, got {data_format!r}")
    return ops.conv(input, filters, _spatial(stride, "stride", 1, "tf.nn.conv1d"), _padding(padding), "channels_last",
                    1 if dilations is None else _spatial(dilations, "dilations", 1, "tf.nn.conv1d"))


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    return ops.max_pool(input, _spatial(ksize, "ksize"), _spatial(strides, "strides"), _padding(padding),
                        _nhwc(data_format))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    return ops.average_pool(input, _spatial(ksize, "ksize"), _spatial(strides, "strides"), _padding(padding),
                            _nhwc(data_format))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-example -log softmax(logits)[label]."""
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None):
    """Per-example -sum(labels * log softmax(logits))."""
    return ops.categorical_crossentropy(labels, logits, from_logits=True, axis=axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise max(x, 0) - x z + log(1 + exp(-|x|)), not reduced."""
    return ops.binary_crossentropy(labels, logits, from_logits=True)


def moments(x, axes, shift=None, keepdims=False, name=None):
    """``(mean, variance)`` over ``axes``."""
    return ops.moments(x, list(axes) if not isinstance(axes, int) else axes, keepdims=keepdims)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes each entry with probability ``rate`` and scales the rest by 1 / (1 - rate)."""
    return ops.dropout(x, rate=rate, training=True, noise_shape=noise_shape, seed=seed)


def depth_to_space(input, block_size, data_format="NHWC", name=None):
    return ops.depth_to_space(input, int(block_size), _nhwc(data_format))


def space_to_depth(input, block_size, data_format="NHWC", name=None):
    return ops.space_to_depth(input, int(block_size), _nhwc(data_format))


nn = SimpleNamespace(
    depth_to_space=depth_to_space, space_to_depth=space_to_depth,
    relu=_activation(ops.relu), relu6=_activation(ops.relu6), elu=_activation(ops.elu), selu=_activation(ops.selu),
    sigmoid=_unary(ops.sigmoid), tanh=_unary(ops.tanh), softplus=_activation(ops.softplus),
    silu=lambda features, beta=1.0, name=None: ops.multiply(features, ops.sigmoid(ops.multiply(features, beta))),
    swish=lambda features, beta=1.0, name=None: ops.multiply(features, ops.sigmoid(ops.multiply(features, beta))),
    softsign=_activation(ops.softsign),
    gelu=lambda features, approximate=False, name=None: ops.gelu(features, approximate),
    leaky_relu=lambda features, alpha=0.2, name=None: ops.leaky_relu(features, alpha),
    softmax=lambda logits, axis=None, name=None: ops.softmax(logits, axis=-1 if axis is None else axis),
    log_softmax=lambda logits, axis=None, name=None: ops.log_softmax(logits, axis=-1 if axis is None else axis),
    sparse_softmax_cross_entropy_with_logits=sparse_softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits=softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits=sigmoid_cross_entropy_with_logits,
    l2_loss=lambda t, name=None: ops.sum(ops.square(t)) / 2.0,
    bias_add=lambda value, bias, data_format=None, name=None: ops.add(value, bias),
    embedding_lookup=lambda params, ids, max_norm=None, name=None: ops.take(params, ids, axis=0),
    conv1d=conv1d, conv2d=conv2d, max_pool2d=max_pool2d, avg_pool2d=avg_pool2d, moments=moments, dropout=dropout,
    l2_normalize=l2_normalize, top_k=top_k, in_top_k=in_top_k,
)


# ----------------------------------------------------------------- tf.random
def normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None) -> Tensor:
    return Tensor(_seeded(seed).normal(mean, stddev, size=_shape(shape)).astype(_dtype(dtype)))


def uniform(shape, minval=0, maxval=None, dtype=np.float32, seed=None, name=None) -> Tensor:
    """Uniform in [minval, maxval): maxval defaults to 1 for floats and is required for integers."""
    dtype = _dtype(dtype)
    gen = _seeded(seed)
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError("tf.random.uniform: maxval must be given for an integer dtype")
        return Tensor(gen.integers(minval, maxval, size=_shape(shape)).astype(dtype), dtype=dtype)
    return Tensor(gen.uniform(minval, 1.0 if maxval is None else maxval, size=_shape(shape)).astype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None) -> Tensor:
    """Normal values, those beyond two standard deviations drawn again."""
    return _truncated(shape, seed, dtype) * stddev + mean


def _truncated(shape, seed, dtype) -> Tensor:
    gen = _seeded(seed)
    values = gen.normal(size=_shape(shape))
    bad = np.abs(values) > 2
    while bad.any():  # redraw only the rejected entries; ~4.6% per round
        values[bad] = gen.normal(size=int(bad.sum()))
        bad = np.abs(values) > 2
    return Tensor(values.astype(_dtype(dtype)))


def shuffle(value, seed=None, name=None) -> Tensor:
    """The rows (first dimension) in a random order."""
    return ops.take(value, _seeded(seed).permutation(np.shape(_data(value))[0]), axis=0)


def categorical(logits, num_samples, dtype=np.int64, seed=None, name=None) -> Tensor:
    """``num_samples`` class indices per row, drawn with probabilities softmax(logits) (Gumbel-max)."""
    logits = np.asarray(_data(logits), dtype=np.float64)
    gumbel = -np.log(-np.log(_seeded(seed).uniform(size=(num_samples, *logits.shape))))
    return Tensor(np.argmax(logits + gumbel, axis=-1).T.astype(dtype), dtype=dtype)


def gamma(shape, alpha, beta=None, dtype=np.float32, seed=None, name=None) -> Tensor:
    """Gamma(alpha, rate=beta) samples of shape ``shape + broadcast(alpha, beta).shape``; ``beta``
    is TF's inverse scale (1 when omitted), so the mean is alpha / beta."""
    a = np.asarray(_data(alpha), dtype=np.float64)
    b = np.ones_like(a) if beta is None else np.asarray(_data(beta), dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    out = _shape(shape) + a.shape
    return Tensor(_seeded(seed).gamma(a, 1.0 / b, size=out).astype(_dtype(dtype)))


def _set_seed(seed) -> None:
    backend.seed(seed)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _shape(shape):
    shape = _data(shape)
    return tuple(int(d) for d in np.atleast_1d(shape)) if not isinstance(shape, int) else (shape,)


random = SimpleNamespace(normal=normal, uniform=uniform, truncated_normal=truncated_normal, shuffle=shuffle,
                         categorical=categorical, gamma=gamma, set_seed=_set_seed)


# ----------------------------------------------------------------- tf.linalg
def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """TF's order: ``s, u, v`` with a = u diag(s) v^T (v, not v^T)."""
    if not compute_uv:
        return ops.svd(tensor, full_matrices=full_matrices, compute_uv=False)
    u, s, vh = ops.svd(tensor, full_matrices=full_matrices)
    return s, u, ops.swapaxes(vh, -1, -2)


def qr(input, full_matrices=False, name=None):
    return ops.qr(input, mode="complete" if full_matrices else "reduced")


def norm(tensor, ord="euclidean", axis=None, keepdims=False, name=None):
    """The 2-norm of all entries by default ("euclidean"); other ``ord``/``axis`` as NumPy's norm."""
    if ord in ("euclidean", 2) and axis is None:
        return ops.sqrt(ops.sum(ops.square(tensor), keepdims=keepdims))
    if ord == "euclidean":
        ord = None if isinstance(axis, int) else "fro"
    return ops.norm(tensor, ord=ord, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)


def eye(num_rows, num_columns=None, batch_shape=None, dtype=np.float32, name=None) -> Tensor:
    out = ops.eye(num_rows, num_columns, dtype=_dtype(dtype).name)
    if batch_shape:
        out = ops.broadcast_to(out, (*batch_shape, *out.shape))
    return out


def set_diag(input, diagonal, name=None, k=0, align="RIGHT_LEFT"):
    """TF's ``tf.linalg.set_diag``: ``input``'s k-th diagonal (k > 0 above the main one) replaced by
    ``diagonal``, of shape ``(..., L)`` with L the diagonal's length; the rest kept."""
    if not isinstance(k, (int, np.integer)):
        raise NotImplementedError("tf.linalg.set_diag: only a single diagonal (an int k) is supported")
    rows, cols = np.shape(_data(input))[-2:]
    length = min(rows, cols - k) if k >= 0 else min(rows + k, cols)
    if np.shape(_data(diagonal))[-1] != length:
        raise ValueError(f"tf.linalg.set_diag: diagonal {k} of a {rows}x{cols} matrix has {length} entries, "
                         f"got a diagonal of shape {np.shape(_data(diagonal))}")
    place = np.zeros((length, rows, cols), dtype=backend.floatx())
    i = np.arange(length)
    place[i, i + max(-k, 0), i + max(k, 0)] = 1
    diagonal = ops.cast(diagonal, ops.convert_to_tensor(input).dtype)
    place = place.astype(diagonal.dtype)
    embedded = ops.einsum("...l,lmn->...mn", diagonal, place)
    return input * (1 - place.sum(0)) + embedded


linalg = SimpleNamespace(
    matmul=lambda a, b, transpose_a=False, transpose_b=False, name=None, **kw: ops.matmul(
        ops.swapaxes(a, -1, -2) if transpose_a else a, ops.swapaxes(b, -1, -2) if transpose_b else b),
    matvec=lambda a, b, transpose_a=False, name=None: ops.squeeze(
        ops.matmul(ops.swapaxes(a, -1, -2) if transpose_a else a, ops.expand_dims(b, -1)), -1),
    inv=lambda input, adjoint=False, name=None: ops.inv(ops.swapaxes(input, -1, -2) if adjoint else input),
    det=lambda input, name=None: ops.det(input), cholesky=lambda input, name=None: ops.cholesky(input),
    solve=lambda matrix, rhs, adjoint=False, name=None: ops.solve(
        ops.swapaxes(matrix, -1, -2) if adjoint else matrix, rhs),
    svd=svd, qr=qr, eigh=lambda tensor, name=None: ops.eigh(tensor), norm=norm, eye=eye,
    diag=lambda diagonal, name=None, **kw: ops.multiply(ops.expand_dims(diagonal, -1),
                                                        ops.eye(np.shape(_data(diagonal))[-1])),
    diag_part=lambda input, name=None, **kw: ops.diagonal(input, axis1=-2, axis2=-1), set_diag=set_diag,
    trace=lambda x, name=None: ops.trace(x, axis1=-2, axis2=-1),
    matrix_transpose=lambda a, name=None, conjugate=False: ops.swapaxes(a, -1, -2),
    einsum=lambda equation, *inputs, name=None, **kw: ops.einsum(equation, *inputs),
    tensordot=lambda a, b, axes, name=None: ops.tensordot(a, b, axes),
    l2_normalize=l2_normalize, logdet=lambda matrix, name=None: ops.log(ops.det(matrix)),
)


# ----------------------------------------------------------------- tf.image
def extract_patches(images, sizes, strides, rates, padding, name=None):
    """TF's ``(batch, rows, cols, kh * kw * channels)`` patches, from its NHWC fours
    ``sizes=[1, kh, kw, 1]``, ``strides=[1, sh, sw, 1]``, ``rates=[1, rh, rw, 1]``."""
    return ops.image.extract_patches(images, _spatial(sizes, "sizes"), _spatial(strides, "strides"),
                                     _spatial(rates, "rates"), _padding(padding), "channels_last")


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): the share of input pixel i in output pixel o's box [o s, (o + 1) s), s = n_in / n_out,
    each row divided by s (TF's area resize: every output pixel the mean of the input area it covers)."""
    scale = n_in / n_out
    lo, hi = np.arange(n_out)[:, None] * scale, (np.arange(n_out)[:, None] + 1) * scale
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0.0, None)
    return (overlap / scale).astype(np.float32)


def _resize_area(images, size) -> Tensor:
    x = ops.cast(images, np.float32)
    h, w = x.shape[-3], x.shape[-2]
    rows, cols = Tensor(_area_weights(h, size[0])), Tensor(_area_weights(w, size[1]))
    x = ops.einsum("oh,...hwc->...owc", rows, x)
    return ops.einsum("pw,...owc->...opc", cols, x)


def resize(images, size, method="bilinear", preserve_aspect_ratio=False, antialias=False, name=None):
    """TF 2's resize (half-pixel centres); the result is float32 for every method but nearest, as in TF.

    ``preserve_aspect_ratio``: the image is scaled by ``min(new_h / h, new_w / w)`` so it fits
    within ``size`` undistorted; TF works this out in float32 and rounds each side half to even,
    and so does this (a side of exactly ``k + 0.5`` in real numbers may round either way)."""
    if preserve_aspect_ratio:
        sides = np.asarray(np.shape(images.data if isinstance(images, Tensor) else images)[-3:-1], np.float32)
        scale = np.min(np.asarray([int(size[0]), int(size[1])], np.float32) / sides)
        size = tuple(int(side) for side in np.round(scale * sides))
    method = getattr(method, "value", method)
    if method == "area":
        return _resize_area(images, tuple(int(s) for s in size))
    if method in ("gaussian", "mitchellcubic"):
        raise NotImplementedError(f"tf.image.resize: method {method!r} is not available in deepgrad; it resizes "
                                  "with 'bilinear', 'nearest', 'bicubic', 'area', 'lanczos3' and 'lanczos5'")
    if method not in ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"):
        raise ValueError(f"tf.image.resize: method must be one of tf.image.ResizeMethod's ('bilinear', 'nearest', "
                         f"'bicubic', 'area', 'lanczos3', 'lanczos5', 'gaussian', 'mitchellcubic'), got {method!r}")
    if method != "nearest":  # interpolated in float32, never rounded back to an integer type
        x = images.data if isinstance(images, Tensor) else np.asarray(images)
        if not np.issubdtype(x.dtype, np.floating) or x.dtype == np.float16:
            images = ops.cast(images, np.float32)
    out = ops.image.resize(images, tuple(int(s) for s in size), interpolation=method, antialias=antialias,
                           data_format="channels_last")
    return out if method == "nearest" else ops.cast(out, np.float32)


class ResizeMethod:
    """``tf.image.ResizeMethod``: the names of ``tf.image.resize``'s methods, TF's strings."""
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Integers scaled to [0, 1] (divided by the type's maximum) when converted to a float type, floats
    scaled to the integer type's range; float to float is a plain cast, as in TF."""
    x = image.data if isinstance(image, Tensor) else np.asarray(image)
    source, target = x.dtype, np.dtype(dtype)
    if source == target:
        return image if isinstance(image, Tensor) else Tensor(x, dtype=x.dtype)
    if np.issubdtype(source, np.integer) and np.issubdtype(target, np.floating):
        return ops.cast(x, target) / np.asarray(np.iinfo(source).max, target)
    if np.issubdtype(source, np.floating) and np.issubdtype(target, np.integer):
        # TF's rule: x * (max + 0.5), truncated, so 1.0 maps to max and 0.5 to max // 2
        return ops.cast(np.trunc(x * (np.iinfo(target).max + 0.5)), target)
    return ops.cast(image, target)


# TF's YUV (BT.601 luma, analog U and V): yuv = rgb @ _RGB_TO_YUV, rgb = yuv @ _YUV_TO_RGB
_RGB_TO_YUV = np.array([[0.299, -0.14714119, 0.61497538],
                        [0.587, -0.28886916, -0.51496512],
                        [0.114, 0.43601035, -0.10001026]], np.float32)
_YUV_TO_RGB = np.array([[1.0, 1.0, 1.0],
                        [0.0, -0.394642334, 2.03206185],
                        [1.13988303, -0.58062185, 0.0]], np.float32)


def _color_transform(images, matrix: np.ndarray) -> Tensor:
    """The last axis of ``images`` times ``matrix``, in the images' float type (float32 otherwise)."""
    dtype = np.asarray(_data(images)).dtype
    dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)
    return ops.matmul(ops.cast(images, dtype), Tensor(matrix.astype(dtype)))


def rgb_to_yuv(images):
    """Float RGB in [0, 1] (last axis) to YUV: Y in [0, 1], U and V centred on 0."""
    return _color_transform(images, _RGB_TO_YUV)


def yuv_to_rgb(images):
    """The inverse of ``rgb_to_yuv``."""
    return _color_transform(images, _YUV_TO_RGB)


def rgb_to_grayscale(images, name=None):
    return ops.image.rgb_to_grayscale(images, data_format="channels_last")


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """The ``target_height x target_width`` window whose top-left corner is at the offsets."""
    return ops.image.crop_images(image, top_cropping=int(offset_height), left_cropping=int(offset_width),
                                 target_height=int(target_height), target_width=int(target_width),
                                 data_format="channels_last")


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """``image`` placed at the offsets in a zero canvas of ``target_height x target_width``."""
    return ops.image.pad_images(image, top_padding=int(offset_height), left_padding=int(offset_width),
                                target_height=int(target_height), target_width=int(target_width),
                                data_format="channels_last")


def rot90(image, k=1, name=None):
    """``image`` turned ``k`` quarter turns counter-clockwise in its height and width axes."""
    return ops.rot90(image, k=int(k) % 4, axes=(-3, -2))


def psnr(a, b, max_val, name=None):
    """Per image (over the last three axes): 20 log10(max_val) - 10 log10(mean((a - b)^2))."""
    a, b = ops.cast(a, np.float32), ops.cast(b, np.float32)
    mse = ops.mean(ops.square(a - b), axis=(-3, -2, -1))
    return 20.0 * np.log10(float(max_val)) - 10.0 * ops.log10(mse)


def random_crop(value, size, seed=None, name=None):
    """A window of shape ``size`` at a uniformly drawn offset (each axis of ``value`` at least as large)."""
    shape, size = np.shape(_data(value)), tuple(int(s) for s in size)
    if len(size) != len(shape) or any(s > n for s, n in zip(size, shape)):
        raise ValueError(f"tf.image.random_crop: size {size} does not fit in a value of shape {shape}")
    gen = _seeded(seed)
    start = [int(gen.integers(0, n - s + 1)) for n, s in zip(shape, size)]
    return ops.convert_to_tensor(value)[tuple(slice(o, o + s) for o, s in zip(start, size))]


def resize_with_pad(image, target_height, target_width, method="bilinear", antialias=False):
    """Resized without distortion to fit ``target_height x target_width`` (the scale of the
    tighter side, floored sizes), then centred on a zero canvas of that size, as TF does."""
    x = ops.convert_to_tensor(image)
    height, width = x.shape[-3], x.shape[-2]
    ratio = max(width / target_width, height / target_height)
    new_height, new_width = int(height / ratio), int(width / ratio)
    resized = resize(x, (new_height, new_width), method=method, antialias=antialias)
    return pad_to_bounding_box(resized, max((target_height - new_height) // 2, 0),
                               max((target_width - new_width) // 2, 0), target_height, target_width)


def image_gradients(image):
    """``(dy, dx)``: each pixel's difference to the next one down / to the right, zero in the last
    row / column, so both keep the ``(batch, height, width, channels)`` shape."""
    x = ops.convert_to_tensor(image)
    if x.ndim != 4:
        raise ValueError(f"tf.image.image_gradients: expected a batch of rank 4, got shape {tuple(x.shape)}")
    dy = ops.pad(x[:, 1:] - x[:, :-1], ((0, 0), (0, 1), (0, 0), (0, 0)))
    dx = ops.pad(x[:, :, 1:] - x[:, :, :-1], ((0, 0), (0, 0), (0, 1), (0, 0)))
    return dy, dx


def _gaussian_window(size: int, sigma: float, channels: int, dtype) -> Tensor:
    """The normalized ``size x size`` Gaussian, one copy per channel, as a depthwise kernel."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    g /= g.sum()
    window = np.outer(g, g)[:, :, None, None] * np.ones((1, 1, channels, 1))
    return Tensor(window.astype(dtype))


def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, return_index_map=False):
    """Structural similarity per image, with TF's Gaussian-window means over VALID windows:
    luminance (2 mu1 mu2 + c1) / (mu1^2 + mu2^2 + c1) times contrast-structure
    (2 s12 + c2) / (s1^2 + s2^2 + c2), c1 = (k1 max_val)^2, c2 = (k2 max_val)^2, averaged over
    height, width and channels (differentiable in both images)."""
    x = ops.convert_to_tensor(img1)
    y = ops.convert_to_tensor(img2)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    if x.shape[-3] < filter_size or x.shape[-2] < filter_size:
        raise ValueError(f"tf.image.ssim: images of {x.shape[-3]}x{x.shape[-2]} are smaller than filter_size "
                         f"{filter_size}")
    window = _gaussian_window(int(filter_size), float(filter_sigma), x.shape[-1], dtype)
    blur = lambda t: ops.depthwise_conv(t, window, strides=1, padding="valid",  # noqa: E731
                                         data_format="channels_last")  # TF images are NHWC whatever Keras is set to
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = blur(x), blur(y)
    mu11, mu22, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    luminance = (2.0 * mu12 + c1) / (mu11 + mu22 + c1)
    # second moments: E[xy] - E[x]E[y] and E[x^2] + E[y^2] - E[x]^2 - E[y]^2
    cs = (2.0 * (blur(x * y) - mu12) + c2) / (blur(x * x + y * y) - mu11 - mu22 + c2)
    index_map = luminance * cs
    return index_map if return_index_map else ops.mean(index_map, axis=(-3, -2, -1))


def _random_flip(image, seed, axis: int):
    """Each image (one of rank 3, or every one of a rank-4 batch on its own) flipped along
    ``axis`` (-2 width, -3 height) with probability 1/2."""
    x = ops.convert_to_tensor(image)
    gen = _seeded(seed)
    if x.ndim == 3:
        return ops.flip(x, axis=axis) if gen.random() < 0.5 else x
    if x.ndim != 4:
        raise ValueError(f"tf.image.random_flip: expected an image of rank 3 or a batch of rank 4, got shape "
                         f"{tuple(x.shape)}")
    flipped = gen.random(x.shape[0]) < 0.5
    return ops.where(flipped.reshape(-1, 1, 1, 1), ops.flip(x, axis=axis), x)


def random_flip_left_right(image, seed=None):
    return _random_flip(image, seed, -2)


def random_flip_up_down(image, seed=None):
    return _random_flip(image, seed, -3)


def sample_distorted_bounding_box(image_size, bounding_boxes, seed=None, min_object_covered=0.1,
                                  aspect_ratio_range=(0.75, 1.33), area_range=(0.05, 1.0), max_attempts=100,
                                  use_image_if_no_bounding_boxes=None, name=None):
    """A random crop window of ``image_size`` (height, width, channels) as TF draws it: area a
    fraction of the image in ``area_range``, width/height in ``aspect_ratio_range``, covering at
    least ``min_object_covered`` of one of ``bounding_boxes`` ([batch, n, 4] normalized
    ``ymin, xmin, ymax, xmax``; none given means the whole image when
    ``use_image_if_no_bounding_boxes``), at a uniform offset; the whole image when
    ``max_attempts`` draws all fail. Returns ``(begin, size, bboxes)`` for ``tf.slice``."""
    height, width = (int(v) for v in np.asarray(_data(image_size)).ravel()[:2])
    boxes = np.asarray(_data(bounding_boxes), np.float32).reshape(-1, 4)
    if not len(boxes):
        if not use_image_if_no_bounding_boxes:
            raise ValueError("tf.image.sample_distorted_bounding_box: no bounding boxes given; pass "
                             "use_image_if_no_bounding_boxes=True to use the whole image")
        boxes = np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)
    gen = _seeded(seed)
    box = boxes[int(gen.integers(len(boxes)))] * [height, width, height, width]
    box_area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-12)
    window = (0, 0, height, width)
    for _ in range(int(max_attempts)):
        aspect = gen.uniform(*aspect_ratio_range)
        area = gen.uniform(*area_range) * height * width
        h, w = int(round(np.sqrt(area / aspect))), int(round(np.sqrt(area * aspect)))
        if not (0 < h <= height and 0 < w <= width):
            continue
        y, x = int(gen.integers(0, height - h + 1)), int(gen.integers(0, width - w + 1))
        covered = (max(0.0, min(y + h, box[2]) - max(y, box[0])) * max(0.0, min(x + w, box[3]) - max(x, box[1])))
        if covered / box_area >= min_object_covered:
            window = (y, x, h, w)
            break
    y, x, h, w = window
    begin = Tensor(np.array([y, x, 0], np.int32), dtype=np.int32)
    size = Tensor(np.array([h, w, -1], np.int32), dtype=np.int32)
    bbox = np.array([[[y / height, x / width, (y + h) / height, (x + w) / width]]], np.float32)
    return begin, size, Tensor(bbox, dtype=np.float32)


image = SimpleNamespace(
    ResizeMethod=ResizeMethod, non_max_suppression=non_max_suppression,
    combined_non_max_suppression=combined_non_max_suppression,
    extract_patches=extract_patches, resize=resize, convert_image_dtype=convert_image_dtype,
    rot90=rot90, psnr=psnr, random_crop=random_crop,
    crop_to_bounding_box=crop_to_bounding_box, pad_to_bounding_box=pad_to_bounding_box,
    rgb_to_grayscale=rgb_to_grayscale, rgb_to_yuv=rgb_to_yuv, yuv_to_rgb=yuv_to_rgb,
    sample_distorted_bounding_box=sample_distorted_bounding_box,
    random_flip_left_right=random_flip_left_right, random_flip_up_down=random_flip_up_down,
    image_gradients=image_gradients, ssim=ssim, resize_with_pad=resize_with_pad,
    flip_left_right=lambda image, name=None: ops.flip(image, axis=-2),
    flip_up_down=lambda image, name=None: ops.flip(image, axis=-3),
)


# ----------------------------------------------------------------- tf.image's random flips and colour changes
def _random_flip(image, seed, axis, name):
    """TF's rule: one image (rank 3) is flipped with probability 1/2; in a batch (rank 4) each image
    is drawn for on its own."""
    x = ops.convert_to_tensor(image)
    if x.ndim not in (3, 4):
        raise ValueError(f"tf.image.{name}: expected an image of rank 3 or a batch of rank 4, got shape {x.shape}")
    gen = _seeded(seed)
    if x.ndim == 3:
        return ops.flip(x, axis=axis) if gen.uniform() < 0.5 else x
    flip = (gen.uniform(size=x.shape[0]) < 0.5).reshape(-1, 1, 1, 1)
    return ops.where(flip, ops.flip(x, axis=axis), x)


def random_flip_left_right(image, seed=None):
    return _random_flip(image, seed, -2, "random_flip_left_right")


def random_flip_up_down(image, seed=None):
    return _random_flip(image, seed, -3, "random_flip_up_down")


def _float_image(image):
    """TF's colour adjustments work on floats: integer images are scaled to [0, 1] and back."""
    x = ops.convert_to_tensor(image)
    kind = np.dtype(x.dtype).kind
    return (x, None) if kind == "f" else (convert_image_dtype(x, np.float32), np.dtype(x.dtype))


def adjust_brightness(image, delta):
    """``image + delta`` (on the [0, 1] scale for integer images)."""
    x, back = _float_image(image)
    out = x + ops.cast(delta, x.dtype)
    return out if back is None else convert_image_dtype(ops.clip(out, 0.0, 1.0), back, saturate=True)


def adjust_contrast(images, contrast_factor):
    """``(x - mean) * contrast_factor + mean``, the mean per image and channel over height and width."""
    x, back = _float_image(images)
    mean = ops.mean(x, axis=(-3, -2), keepdims=True)
    out = (x - mean) * ops.cast(contrast_factor, x.dtype) + mean
    return out if back is None else convert_image_dtype(ops.clip(out, 0.0, 1.0), back, saturate=True)


def random_brightness(image, max_delta, seed=None):
    """``adjust_brightness`` by one delta drawn uniformly from ``[-max_delta, max_delta)``."""
    if max_delta < 0:
        raise ValueError(f"tf.image.random_brightness: max_delta must be non-negative, got {max_delta}")
    return adjust_brightness(image, float(_seeded(seed).uniform(-max_delta, max_delta)))


def random_contrast(image, lower, upper, seed=None):
    """``adjust_contrast`` by one factor drawn uniformly from ``[lower, upper)``."""
    if not 0 <= lower < upper:
        raise ValueError(f"tf.image.random_contrast: need 0 <= lower < upper, got lower={lower}, upper={upper}")
    return adjust_contrast(image, float(_seeded(seed).uniform(lower, upper)))


def _adjust_hsv(image, fn, what):
    """``image`` through HSV with ``fn(h, s, v)`` applied, the last axis holding RGB (floats of
    any range: hue and saturation do not depend on the scale; integer images on [0, 1] and back)."""
    from ..ops import image as image_ops

    x, back = _float_image(image)
    if x.shape[-1] != 3:
        raise ValueError(f"tf.image.{what}: the last axis must hold 3 channels (RGB), got shape {tuple(x.shape)}")
    hsv = image_ops.rgb_to_hsv(x, data_format="channels_last")
    h, s, v = (hsv[..., i] for i in range(3))
    out = image_ops.hsv_to_rgb(ops.stack(fn(h, s, v), axis=-1), data_format="channels_last")
    return out if back is None else convert_image_dtype(ops.clip(out, 0.0, 1.0), back, saturate=True)


def adjust_saturation(image, saturation_factor, name=None):
    """Saturation times ``saturation_factor``, clipped to [0, 1], in HSV space."""
    factor = float(saturation_factor)
    return _adjust_hsv(image, lambda h, s, v: (h, ops.clip(s * factor, 0.0, 1.0), v), "adjust_saturation")


def adjust_hue(image, delta, name=None):
    """Hue turned by ``delta`` (a fraction of the colour circle, in [-1, 1]), wrapped to [0, 1)."""
    delta = float(delta)
    if not -1.0 <= delta <= 1.0:
        raise ValueError(f"tf.image.adjust_hue: delta must be in the interval [-1, 1], got {delta}")
    return _adjust_hsv(image, lambda h, s, v: (ops.mod(h + delta, 1.0), s, v), "adjust_hue")


def random_saturation(image, lower, upper, seed=None):
    """``adjust_saturation`` by one factor drawn uniformly from ``[lower, upper)``."""
    if upper <= lower:
        raise ValueError(f"tf.image.random_saturation: upper must be > lower, got lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"tf.image.random_saturation: lower must be non-negative, got {lower}")
    return adjust_saturation(image, float(_seeded(seed).uniform(lower, upper)))


def random_hue(image, max_delta, seed=None):
    """``adjust_hue`` by one delta drawn uniformly from ``[-max_delta, max_delta)``."""
    if not 0 <= max_delta <= 0.5:
        raise ValueError(f"tf.image.random_hue: max_delta must be in the interval [0, 0.5], got {max_delta}")
    return adjust_hue(image, float(_seeded(seed).uniform(-max_delta, max_delta)))


def central_crop(image, central_fraction):
    """The centre of an image (rank 3) or of each image of a batch (rank 4), as TF crops it: with
    ``f = central_fraction`` in (0, 1], ``start = int((n - n f) / 2)`` and ``size = n - 2 start``
    on the height and width axes."""
    x = ops.convert_to_tensor(image)
    if x.ndim not in (3, 4):
        raise ValueError(f"tf.image.central_crop: expected an image of rank 3 or a batch of rank 4, got shape "
                         f"{x.shape}")
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"tf.image.central_crop: central_fraction must be within (0, 1], got {central_fraction}")
    if central_fraction == 1.0:
        return x
    height, width = x.shape[-3], x.shape[-2]
    top = int((height - height * central_fraction) / 2)
    left = int((width - width * central_fraction) / 2)
    return x[..., top:height - top, left:width - left, :]


image.central_crop = central_crop
image.random_flip_left_right = random_flip_left_right
image.random_flip_up_down = random_flip_up_down
image.adjust_brightness = adjust_brightness
image.adjust_contrast = adjust_contrast
image.random_brightness = random_brightness
image.random_contrast = random_contrast
image.adjust_saturation, image.adjust_hue = adjust_saturation, adjust_hue
image.random_saturation, image.random_hue = random_saturation, random_hue


def edit_distance(hypothesis, truth, normalize=True, name=None):
    """Levenshtein distance between the sequences of two SparseTensors, per position of their
    leading axes (the last axis holds the sequence); ``normalize`` divides by the truth's length."""
    def rows(sp):
        """{leading index: its values in the order of the last axis}."""
        idx, vals = np.asarray(sp.indices.data), np.asarray(sp.values.data)
        order = np.lexsort(idx.T[::-1])  # row-major order of the positions
        idx, vals = idx[order], vals[order]
        starts = np.flatnonzero(np.r_[True, np.any(idx[1:, :-1] != idx[:-1, :-1], axis=1)]) if len(idx) else []
        return {tuple(idx[s, :-1]): part for s, part in zip(starts, np.split(vals, starts[1:]))}

    hyp, ref = rows(hypothesis), rows(truth)
    shape = tuple(np.maximum(hypothesis.shape[:-1], truth.shape[:-1]))
    out = np.zeros(shape, np.float32)
    for key in np.ndindex(*shape):
        a, b = np.asarray(hyp.get(key, [])), np.asarray(ref.get(key, []))
        # one DP row per hypothesis symbol; insertions by a running minimum along the truth
        row = np.arange(len(b) + 1, dtype=np.float64)
        steps = np.arange(len(b) + 1)
        for i, symbol in enumerate(a, start=1):
            sub = np.concatenate([[i], row[:-1] + (b != symbol)])
            best = np.minimum(row + 1, sub)
            row = np.minimum.accumulate(best - steps) + steps
        distance = row[-1]
        out[key] = distance / len(b) if normalize and len(b) else (np.inf if normalize and len(a) else distance)
    return Tensor(out, dtype=np.float32)
