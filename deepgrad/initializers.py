"""Weight initializers with Keras 3's names, arguments and formulas.

An initializer is a callable ``init(shape, dtype=None) -> np.ndarray`` (dtype defaults to
floatx). Random ones draw from ``deepgrad.backend.rng()`` so ``backend.seed(n)`` makes
initialisation repeat; an initializer given its own ``seed`` returns the same values on
every call, as Keras's integer-seeded initializers do.
"""
from __future__ import annotations

import functools
import math
import random

import numpy as np

from . import backend
from .autograd import Tensor, Variable
from .registry import Configurable, Registry


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """(fan_in, fan_out); a conv kernel ``(..., in_channels, out_channels)`` counts its
    receptive field: fan_in = prod(shape[:-2]) * in_channels. Given both ``input_axes`` and
    ``output_axes``, the fans are the products of those axes' sizes instead."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return int(shape[-2]) * receptive_field, int(shape[-1]) * receptive_field


def _dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype if dtype is not None else backend.floatx())
    if dtype.kind != "f":
        raise ValueError(f"Initializers produce floating-point arrays; got dtype {dtype}")
    return dtype


class Initializer(Configurable):
    """Base class: ``__call__(shape, dtype=None)`` and ``get_config()``. As Keras's, a call gives a
    tensor; a subclass's ``__call__`` may compute a NumPy array, which is wrapped on the way out."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not getattr(call, "_gives_tensor", False):
            @functools.wraps(call)
            def tensor_call(self, shape, dtype=None, **kw):
                out = call(self, shape, dtype=dtype, **kw)
                return Tensor(out, dtype=out.dtype) if isinstance(out, np.ndarray) else out
            tensor_call._gives_tensor = True
            cls.__call__ = tensor_call

    def __call__(self, shape, dtype=None) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def clone(self):
        """A new initializer of the same class and config."""
        return type(self).from_config(self.get_config())


class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"{type(self).__name__}: seed must be an integer or None, got {seed!r}")
        self.seed = seed
        if seed is None:
            # Keras's unseeded initializer takes a default seed from Python's ``random`` when it is
            # made; taking one draw too keeps the seeds that the unseeded SeedGenerators made
            # after it (a Dropout's, an LSTM cell's) those of Keras after ``set_random_seed``.
            # The weights still come from deepgrad's generator
            random.randint(1, 10**9)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed) if self.seed is not None else backend.rng()

    def get_config(self) -> dict:
        return {"seed": self.seed}


# ----------------------------------------------------------------- constants
def _any_dtype(dtype) -> np.dtype:
    """The constant initializers fill any dtype (an int or bool weight too), as Keras's do."""
    return np.dtype(dtype if dtype is not None else backend.floatx())


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, _any_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, _any_dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, _any_dtype(dtype))

    def get_config(self):
        """Keras's config: a number as it is, an array or tensor as Keras writes one
        (``{"class_name": "__numpy__" / "__tensor__", "config": {"value": [...], "dtype": ...}}``)."""
        value = self.value
        if isinstance(value, (Tensor, np.ndarray, np.generic)):
            kind = "__tensor__" if isinstance(value, Tensor) else "__numpy__"
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.ndim == 0 and kind == "__numpy__":
                return {"value": array.item()}
            return {"value": {"class_name": kind, "config": {"value": array.tolist(), "dtype": array.dtype.name}}}
        return {"value": value}

    @classmethod
    def from_config(cls, config):
        value = config.get("value", 0.0)
        if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
            inner = value["config"]
            array = np.array(inner["value"], dtype=inner["dtype"])
            value = Tensor(array, dtype=array.dtype) if value["class_name"] == "__tensor__" else array
        return cls(value)


class Identity(Initializer):
    """``gain * eye(rows, cols)`` for a 2-D shape."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


# ----------------------------------------------------------------- random
def _truncated_normal(rng, shape, mean, stddev) -> np.ndarray:
    """Normal samples; those more than two standard deviations from the mean are redrawn."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev + mean


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, shape).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), shape, self.mean, self.stddev).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


# The standard deviation of a unit normal truncated to [-2, 2]; dividing by it gives the
# truncated samples the variance asked for.
_TRUNCATED_STDDEV = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Samples with variance ``scale / n``, n = fan_in, fan_out or their mean.

    truncated_normal: stddev = sqrt(scale / n) / .8796; untruncated_normal: sqrt(scale / n);
    uniform: limit = sqrt(3 scale / n).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: distribution must be 'truncated_normal', "
                             f"'untruncated_normal' or 'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, shape)
        return out.astype(_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config(), "input_axes": self.input_axes, "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution); only the seed is configurable."""

    preset: tuple = ()

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self.preset, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""
    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)) / .8796."""
    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(6 / fan_in)."""
    preset = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal, stddev = sqrt(2 / fan_in) / .8796."""
    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(3 / fan_in)."""
    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal, stddev = sqrt(1 / fan_in) / .8796."""
    preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """``gain * Q`` from the QR decomposition of a normal matrix of shape
    ``(prod(shape[:-1]), shape[-1])``: orthonormal columns (or rows, if fewer rows)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


OrthogonalInitializer = Orthogonal
IdentityInitializer = Identity


# ----------------------------------------------------------------- STFT kernels
# Generalised cosine windows w[n] = sum_k (-1)^k a_k cos(2 pi k n / (M - 1)), as scipy.signal.windows
# defines them; "periodic" (scipy's fftbins=True) takes M = N + 1 and drops the last sample.
_COSINE_WINDOWS = {"hann": (0.5, 0.5), "hanning": (0.5, 0.5), "hamming": (0.54, 0.46),
                   "blackman": (0.42, 0.5, 0.08), "boxcar": (1.0,), "rectangular": (1.0,), "ones": (1.0,)}


def _window(name, length: int, periodic: bool) -> np.ndarray:
    """A named window of ``length`` samples (scipy.signal.get_window's names; the cosine and
    Bartlett windows in NumPy, any other name through SciPy when it is installed)."""
    if isinstance(name, str) and name.lower() in (*_COSINE_WINDOWS, "bartlett", "triang"):
        m = length + 1 if periodic else length
        if m == 1:
            return np.ones(length)
        n = np.arange(m)
        if name.lower() in ("bartlett", "triang"):
            # bartlett: 1 - |2n / (M - 1) - 1|; triang never reaches zero at the ends
            w = 1 - np.abs(2 * n / (m - 1) - 1) if name.lower() == "bartlett" else \
                1 - np.abs((2 * n + 1 - m) / (m + m % 2))
        else:
            w = sum((-1) ** k * a * np.cos(2 * np.pi * k * n / (m - 1))
                    for k, a in enumerate(_COSINE_WINDOWS[name.lower()]))
        return w[:length]
    try:
        import scipy.signal
    except ImportError:
        raise ValueError(f"STFT: window {name!r} needs SciPy (pip install scipy); without it the windows are "
                         f"{sorted([*_COSINE_WINDOWS, 'bartlett', 'triang'])}") from None
    return scipy.signal.get_window(name, length, periodic)


class STFT(Initializer):
    """Kernels of a short-time Fourier transform as a 1-D convolution, shape (T, 1, F // 2 + 1):

    kernel[t, 0, k] = cos (side "real") or sin (side "imag") of -2 pi t k / F, F = 2 (bins - 1),
    times window[t] / scale, scale = sqrt(sum w^2) ("density"), sum |w| ("spectrum") or 1 (None).
    ``window``: a window name (or a ``(name, parameter)`` tuple, through SciPy), the window's values,
    or None for no window.
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side must be 'real' or 'imag', got {side!r}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"STFT: scaling must be None, 'density' or 'spectrum', got {scaling!r}")
        if isinstance(window, str):
            _window(window, 1, False)  # an unknown name fails here, not when the kernel is built
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def __call__(self, shape, dtype=None):
        dtype = _dtype(dtype)
        if len(shape) != 3:
            raise ValueError(f"STFT initializer needs a shape (frame_length, channels, bins), got {tuple(shape)}")
        frame_length, _, bins = shape
        t = np.arange(frame_length).reshape(-1, 1, 1)
        k = np.arange(bins).reshape(1, 1, -1)
        angle = -2.0 * np.pi * t * k / ((bins - 1) * 2)
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            win = self.window
            named = isinstance(win, str) or (isinstance(win, tuple) and win and isinstance(win[0], str))
            win = _window(win, frame_length, self.periodic) if named else np.asarray(win, np.float64)
            if win.shape != (frame_length,):
                raise ValueError(f"STFT: the window must have shape ({frame_length},), got {win.shape}")
            scale = {"density": np.sqrt(np.sum(win ** 2)), "spectrum": np.sum(np.abs(win))}.get(self.scaling, 1.0)
            kernel = kernel * win.reshape(-1, 1, 1) / scale
        return kernel.astype(dtype)

    def get_config(self):
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        return {"side": self.side, "window": window, "periodic": self.periodic, "scaling": self.scaling}


STFTInitializer = STFT

# ----------------------------------------------------------------- lookup by name
_CLASSES = [Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, Orthogonal, STFT]


# the lower-case names as functions, as Keras exports them (initializers.glorot_uniform(...))
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
stft = STFT


_REGISTRY = Registry("initializer", _CLASSES, {
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
    "OrthogonalInitializer": Orthogonal, "IdentityInitializer": Identity, "STFTInitializer": STFT,
}, base=Initializer, ignored_keys=("dtype",))
deserialize, get = _REGISTRY.deserialize, _REGISTRY.get
# ``Variable("zeros", shape=...)`` resolves the name here (autograd sits below this floor)
Variable._get_initializer = staticmethod(get)


def serialize(initializer):
    """``{"class_name", "config"}`` for an initializer object; a built-in function by its name."""
    return _REGISTRY.serialize(initializer)
