"""Random tensors with Keras's names, signatures and defaults (``keras.random``).

Every function takes ``seed=``: None (deepgrad's global generator), an int (the same numbers
every call) or a ``SeedGenerator`` (new numbers every call, repeatable from its seed).
Samples are drawn in float64 by NumPy and cast to ``dtype`` (floatx by default).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..ops import manipulation, math
from ..ops.dtypes import real_number, standardize_dtype, to_array
from .seed_generator import numpy_generator


def _shape(shape, op: str) -> tuple:
    try:
        shape = tuple(int(n) for n in (shape if isinstance(shape, (list, tuple)) else np.atleast_1d(to_array(shape))))
    except (TypeError, ValueError):
        raise ValueError(f"{op}: shape must be a tuple of non-negative integers, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: shape must be a tuple of non-negative integers, got {shape}")
    backend.check_allocation(shape, np.float64, op)  # drawn in float64
    return shape


def _float_dtype(dtype, op: str) -> str:
    name = standardize_dtype(dtype)
    if np.dtype(name).kind != "f":
        raise ValueError(f"{op}: dtype must be a floating-point type, got dtype={dtype!r}")
    return name


def _out(values, dtype) -> Tensor:
    a = np.asarray(values).astype(dtype)
    return Tensor(a, dtype=a.dtype)


def _value(x):
    """A Python number, array or Tensor as a NumPy scalar/array (for distribution parameters)."""
    return np.asarray(to_array(x), dtype=np.float64)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2)."""
    dtype = _float_dtype(dtype, "normal")
    gen = numpy_generator(seed, "normal")
    return _out(gen.standard_normal(_shape(shape, "normal")) * _value(stddev) + _value(mean), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of U[minval, maxval)."""
    dtype = _float_dtype(dtype, "uniform")
    gen = numpy_generator(seed, "uniform")
    lo, hi = _value(minval), _value(maxval)
    return _out(lo + (hi - lo) * gen.random(_shape(shape, "uniform")), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """N(mean, stddev^2) restricted to two standard deviations around the mean.

    Draws outside [-2, 2] are drawn again (about 4.6% each round, so a few rounds suffice).
    """
    dtype = _float_dtype(dtype, "truncated_normal")
    gen = numpy_generator(seed, "truncated_normal")
    z = gen.standard_normal(_shape(shape, "truncated_normal"))
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return _out(z * _value(stddev) + _value(mean), dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    name = standardize_dtype(dtype)
    if np.dtype(name).kind not in "iu":
        raise ValueError(f"randint: dtype must be an integer type, got dtype={dtype!r}")
    lo, hi = to_array(minval), to_array(maxval)
    if np.any(hi <= lo):
        raise ValueError(f"randint: maxval must be greater than minval, got minval={minval}, maxval={maxval}")
    gen = numpy_generator(seed, "randint")
    return _out(gen.integers(lo, hi, _shape(shape, "randint")), name)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (unnormalised log-probabilities,
    shape ``(batch_size, num_classes)`` or ``(num_classes,)``).

    Gumbel-max: argmax(logits + G) with G = -log(-log U) is a draw from softmax(logits).
    """
    z = np.asarray(to_array(logits), dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"categorical: logits must be (batch_size, num_classes) or (num_classes,), "
                         f"got shape {z.shape}")
    if z.ndim == 1:
        return categorical(z[None], num_samples, dtype, seed)[0]
    num_samples = int(num_samples)
    if num_samples < 0:
        raise ValueError(f"categorical: num_samples must not be negative, got {num_samples}")
    backend.check_allocation((z.shape[0], num_samples, z.shape[1]), np.float64, "categorical")
    gen = numpy_generator(seed, "categorical")
    u = gen.random((z.shape[0], int(num_samples), z.shape[1]))
    gumbel = -np.log(-np.log(np.clip(u, np.finfo(np.float64).tiny, 1.0)))
    return _out(np.argmax(z[:, None, :] + gumbel, axis=-1), standardize_dtype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability ``rate`` and scale the rest by 1 / (1 - rate).

    ``noise_shape`` (None entries take the input's size) shares one mask along axes of size 1.
    Differentiable in ``inputs``: the gradient is the same mask times 1 / (1 - rate).
    """
    rate = real_number("dropout", "rate", rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got rate={rate}")
    x = inputs if isinstance(inputs, Tensor) else Tensor(to_array(inputs))
    if noise_shape is None:
        noise_shape = x.shape
    else:
        noise_shape = tuple(n if d is None else int(d) for d, n in zip(noise_shape, x.shape[-len(noise_shape):]))
        try:
            np.broadcast_shapes(noise_shape, x.shape)
        except ValueError:
            raise ValueError(f"dropout: noise_shape {noise_shape} does not broadcast to the input shape {x.shape}") from None
    gen = numpy_generator(seed, "dropout")
    keep = gen.random(noise_shape) >= rate
    scale = (keep / (1.0 - rate)).astype(x.dtype)
    return math.multiply(x, Tensor(scale, dtype=scale.dtype))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order (differentiable in ``x``)."""
    t = x if isinstance(x, Tensor) else Tensor(to_array(x), dtype=to_array(x).dtype)
    if t.ndim == 0:
        raise ValueError("shuffle: cannot shuffle a scalar")
    axis = int(axis)
    if not -t.ndim <= axis < t.ndim:
        raise ValueError(f"shuffle: axis {axis} is out of range for shape {t.shape}")
    order = numpy_generator(seed, "shuffle").permutation(t.shape[axis])
    return manipulation.take(t, order, axis=axis % t.ndim)


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples of Gamma(alpha, 1) (shape ``alpha``, unit scale)."""
    dtype = _float_dtype(dtype, "gamma")
    a = _value(alpha)
    if np.any(a <= 0):
        raise ValueError(f"gamma: alpha must be positive, got alpha={alpha}")
    return _out(numpy_generator(seed, "gamma").standard_gamma(a, _shape(shape, "gamma")), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of Beta(alpha, beta)."""
    dtype = _float_dtype(dtype, "beta")
    a, b = _value(alpha), _value(beta)
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError(f"beta: alpha and beta must be positive, got alpha={alpha}, beta={beta}")
    return _out(numpy_generator(seed, "beta").beta(a, b, _shape(shape, "beta")), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Numbers of successes in ``counts`` trials of probability ``probabilities``."""
    dtype = standardize_dtype(dtype)
    n, p = to_array(counts), _value(probabilities)
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"binomial: probabilities must be in [0, 1], got {probabilities}")
    if np.any(np.asarray(n) < 0):
        raise ValueError(f"binomial: counts must be non-negative, got {counts}")
    draws = numpy_generator(seed, "binomial").binomial(np.asarray(n).astype(np.int64), p, _shape(shape, "binomial"))
    return _out(draws, dtype)
