"""Numerical features: ``Normalization`` (standardise by adapted mean and variance),
``Discretization`` (bucket by boundaries, adapted from quantiles) and ``CategoryEncoding``."""
from __future__ import annotations

import itertools
import math

import numpy as np

from ... import backend, ops
from ...autograd import Tensor
from ..base import Layer
from .data_layer import DataLayer, encode_categorical, to_numpy


def _int_zeros(shape, dtype=None):
    """Zeros for the integer ``count`` weight (the float initializers refuse integer dtypes)."""
    return np.zeros(shape, dtype or np.int32)


def _first_array(batch):
    """A batch of an iterable may be ``(x, y)``: its features are the first item."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), epsilon)`` per position along ``axis``
    (``invert``: ``mean + x * max(sqrt(variance), epsilon)``)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        self.input_mean, self.input_variance, self.invert = mean, variance, invert
        self.supports_masking = True
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: set both `mean` and `variance` or neither, got mean={mean} "
                             f"and variance={variance}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"Normalization: `mean` shape {np.shape(mean)} differs from `variance` shape "
                             f"{np.shape(variance)}")
        self._mean = self._variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization: axis {self.axis} out of range for inputs of rank {ndim}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"Normalization: axis {d} of input shape {tuple(input_shape)} must be known")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._stat_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._build_input_shape = tuple(input_shape)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._stat_shape, initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._stat_shape, initializer="ones",
                                                  trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int32", initializer=_int_zeros, trainable=False)
            self.count.data = np.zeros((), np.int32)  # add_weight stores floatx; Keras's count is int32
        else:
            # a mean of lower rank fills the last kept axes, as Keras broadcasts it
            mean, var = np.asarray(self.input_mean, self.dtype), np.asarray(self.input_variance, self.dtype)
            expanded = [1] * ndim
            for i in range(1, mean.ndim + 1):
                expanded[self._keep_axis[-i]] = mean.shape[-i]
            self._mean = np.broadcast_to(mean.reshape(expanded), self._broadcast_shape).copy()
            self._variance = np.broadcast_to(var.reshape(expanded), self._broadcast_shape).copy()
        self.built = True

    def adapt(self, data):
        """Mean and variance of ``data`` (an array, or an iterable of batches merged with
        Chan's parallel update) over every axis not in ``axis``."""
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.ndarray):
            batches, shape = [data], data.shape
        elif hasattr(data, "__iter__"):
            it = iter(data)
            first = next(it, None)
            if first is None:
                raise ValueError("Normalization.adapt: received an empty iterable (no batches)")
            first = to_numpy(_first_array(first))
            batches, shape = itertools.chain([first], (to_numpy(_first_array(b)) for b in it)), first.shape
        else:
            raise TypeError(f"Normalization.adapt: unsupported data type {type(data).__name__}")
        if not self.built:
            self._maybe_build(tuple(shape))
        total_mean = np.zeros(self._stat_shape, np.float64)
        total_var = np.zeros(self._stat_shape, np.float64)
        total = 0
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            for d in self._keep_axis:
                if batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"Normalization.adapt: batch shape {batch.shape} is incompatible with the "
                                     f"built input shape {self._build_input_shape}")
            mean, var = batch.mean(axis=self._reduce_axis), batch.var(axis=self._reduce_axis)
            n = math.prod(batch.shape[d] for d in self._reduce_axis)
            total += n
            w = n / total
            new_mean = total_mean * (1 - w) + mean * w
            # variance of the union: each part's variance plus its mean's squared offset, weighted
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean = new_mean
        self.adapt_mean.assign(total_mean.astype(self.dtype))
        self.adapt_variance.assign(total_var.astype(self.dtype))

    @property
    def mean(self):
        return self._mean if self.input_mean is not None else self.adapt_mean.data.reshape(self._broadcast_shape)

    @property
    def variance(self):
        return (self._variance if self.input_mean is not None
                else self.adapt_variance.data.reshape(self._broadcast_shape))

    def call(self, inputs):
        if inputs.dtype != self.dtype:  # integer data is standardised in the layer's float dtype, as Keras casts it
            inputs = inputs.astype(self.dtype)
        scale = np.maximum(np.sqrt(self.variance), backend.epsilon()).astype(self.dtype)
        mean = self.mean.astype(self.dtype)
        if self.invert:
            return ops.add(ops.multiply(inputs, scale), mean)
        return ops.divide(ops.subtract(inputs, mean), scale)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": tuple(self.axis), "invert": self.invert,
                       "mean": np.array(self.input_mean).tolist(), "variance": np.array(self.input_variance).tolist()})
        return config


# ---------------------------------------------------------------- Discretization quantile summaries
def summarize(values, epsilon):
    """Every ``step``-th sorted value with weight ``step`` (``step = max(n * epsilon, 1)``)."""
    values = np.sort(np.reshape(values, -1))
    step = max(values.size * epsilon, 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def compress_summary(summary, epsilon):
    """Resample a (values, weights) summary at the cumulative-weight fractions
    ``epsilon, 2 epsilon, ..., 1`` by linear interpolation."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    frac = cum / cum[-1]
    new_bins = np.interp(percents, frac, summary[0])
    new_cum = np.interp(percents, frac, cum)
    new_weights = new_cum - np.concatenate(([0], new_cum[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def merge_summaries(a, b, epsilon):
    merged = np.concatenate((a, b), axis=1)
    return compress_summary(merged[:, np.argsort(merged[0])], epsilon)


class Discretization(DataLayer):
    """Bucket index of each value: ``digitize(x, bin_boundaries)``, then encoded as
    ``output_mode`` says. ``adapt`` finds ``num_bins`` quantile boundaries."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, dtype=None,
                 name=None):
        super().__init__(name=name, dtype=dtype)
        if sparse:
            raise ValueError("Discretization: sparse=True is not supported (dense outputs only)")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Discretization: invalid output_mode {output_mode!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"Discretization: num_bins must be >= 0, got {num_bins}")
        if num_bins is not None and bin_boundaries is not None:
            if len(bin_boundaries) != num_bins - 1:
                raise ValueError(f"Discretization: both num_bins={num_bins} and bin_boundaries="
                                 f"{bin_boundaries} set")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("Discretization: set either `num_bins` or `bin_boundaries`")
        self.bin_boundaries = list(bin_boundaries) if bin_boundaries is not None else None
        self.num_bins, self.epsilon, self.output_mode, self.sparse = num_bins, epsilon, output_mode, sparse
        self.summary = np.array([[], []], dtype="float32")

    @property
    def output_dtype(self):
        return np.dtype("int32") if self.output_mode == "int" else self.dtype

    def adapt(self, data, steps=None):
        if self.num_bins is None:
            raise ValueError("Discretization.adapt: the layer was given `bin_boundaries`; use `num_bins` to adapt")
        self.summary = np.array([[], []], dtype="float32")
        if isinstance(data, (np.ndarray, Tensor)):
            batches = [data]
        else:
            batches = itertools.islice(data, steps) if steps is not None else data
        for batch in batches:
            values = to_numpy(_first_array(batch)).astype("float32")
            self.summary = merge_summaries(summarize(values, self.epsilon), self.summary, self.epsilon)
        self.bin_boundaries = compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("Discretization: pass `bin_boundaries` or call `adapt` before using the layer")
        indices = np.digitize(np.asarray(inputs, np.float32), np.asarray(self.bin_boundaries, np.float32))
        return encode_categorical(indices, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            keep = input_shape[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else input_shape
            return tuple(keep) + (depth,)
        return (input_shape[0],) + tuple(input_shape[2:]) + (depth,) if len(input_shape) >= 2 else (depth,)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": str(self.dtype)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            # an adapted layer: its boundaries are restored as found
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)


class CategoryEncoding(DataLayer):
    """Integer ids in [0, num_tokens) to ``one_hot``, ``multi_hot`` or ``count`` vectors."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"CategoryEncoding: unknown output_mode {output_mode!r}")
        if num_tokens is None or num_tokens < 1:
            raise ValueError(f"CategoryEncoding: num_tokens must be set and >= 1, got {num_tokens}")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported (dense outputs only)")
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, sparse

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError("CategoryEncoding: `count_weights` is only used with output_mode='count'")
            count_weights = to_numpy(count_weights).astype(self.dtype)
        return encode_categorical(inputs, self.output_mode, self.num_tokens, self.dtype, count_weights)

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 0:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return tuple(input_shape) + (self.num_tokens,)
        return tuple(input_shape[:-1]) + (self.num_tokens,)

    def get_config(self):
        config = super().get_config()
        # Keras's config has no "sparse" (only False is supported here anyway)
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config
