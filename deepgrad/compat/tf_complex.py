"""TensorFlow's complex tensors as far as Keras programs use them: ``tf.cast(x, tf.complex64)``,
``tf.signal.fft``/``fft2d`` and their inverses, ``tf.math.real``/``imag``/``abs`` (FNet's token
mixing ``tf.math.real(tf.signal.fft2d(tf.cast(x, tf.complex64)))``).

deepgrad's autograd is real, so a complex tensor is held as its two real parts, each a Tensor:
gradients flow through both, into deepgrad's FFT ops that take and give ``(real, imag)`` pairs.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import Tensor
from ..ops.math_extra import FFT

complex64, complex128 = np.complex64, np.complex128


class ComplexTensor:
    """``real + i imag``, both Tensors of one float dtype (float32 for complex64)."""

    def __init__(self, real, imag):
        self.real, self.imag = real, imag

    @property
    def dtype(self):
        return np.dtype(np.complex128 if self.real.dtype == np.float64 else np.complex64)

    @property
    def shape(self):
        return self.real.shape

    @property
    def ndim(self) -> int:
        return self.real.ndim

    def numpy(self) -> np.ndarray:
        return (np.asarray(self.real.numpy()) + 1j * np.asarray(self.imag.numpy())).astype(self.dtype)

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, index):
        return ComplexTensor(self.real[index], self.imag[index])

    def __neg__(self):
        return ComplexTensor(-self.real, -self.imag)

    def __add__(self, other):
        o = as_complex(other)
        return ComplexTensor(self.real + o.real, self.imag + o.imag)

    __radd__ = __add__

    def __sub__(self, other):
        o = as_complex(other)
        return ComplexTensor(self.real - o.real, self.imag - o.imag)

    def __rsub__(self, other):
        return as_complex(other) - self

    def __mul__(self, other):
        o = as_complex(other)  # (a + ib)(c + id) = (ac - bd) + i(ad + bc)
        return ComplexTensor(self.real * o.real - self.imag * o.imag, self.real * o.imag + self.imag * o.real)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<tf.Tensor shape={self.shape} dtype={self.dtype.name}>"


def _part_dtype(dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) == np.complex128 else np.float32)


def as_complex(x, dtype=np.complex64) -> ComplexTensor:
    """``x`` as a ComplexTensor: a real tensor gets a zero imaginary part, a NumPy complex array is split."""
    if isinstance(x, ComplexTensor):
        return x
    part = _part_dtype(dtype)
    if not isinstance(x, Tensor) and np.iscomplexobj(x):
        array = np.asarray(x)
        return ComplexTensor(Tensor(array.real.astype(part)), Tensor(array.imag.astype(part)))
    real = ops.cast(x, part)
    return ComplexTensor(real, ops.zeros_like(real))


def cast(x, dtype):
    """TF's cast where complex types are involved: to complex (imaginary part zero, or the parts
    recast), or from complex to a real type (the real part, as TF keeps it)."""
    target = np.dtype(dtype)
    if target.kind == "c":
        if isinstance(x, ComplexTensor):
            part = _part_dtype(target)
            return ComplexTensor(ops.cast(x.real, part), ops.cast(x.imag, part))
        return as_complex(x, target)
    return ops.cast(x.real, target)


def complex(real, imag, name=None) -> ComplexTensor:
    real, imag = ops.convert_to_tensor(real), ops.convert_to_tensor(imag)
    if real.dtype != imag.dtype or np.dtype(real.dtype).kind != "f":
        raise TypeError(f"tf.complex: real and imag must be floats of one dtype, got {real.dtype} and {imag.dtype}")
    return ComplexTensor(real, imag)


def _transform(name: str, axes: tuple, inverse: bool):
    def transform(input, name=None):
        x = as_complex(input) if not isinstance(input, ComplexTensor) else input
        if x.ndim < len(axes):
            raise ValueError(f"tf.signal.{name_}: the input needs at least {len(axes)} axes, got shape {x.shape}")
        real, imag = FFT.apply(x.real, x.imag, axes=axes, inverse=inverse)
        return ComplexTensor(real, imag)
    name_ = name
    transform.__name__ = name
    return transform


fft, ifft = _transform("fft", (-1,), False), _transform("ifft", (-1,), True)
fft2d, ifft2d = _transform("fft2d", (-2, -1), False), _transform("ifft2d", (-2, -1), True)
fft3d, ifft3d = _transform("fft3d", (-3, -2, -1), False), _transform("ifft3d", (-3, -2, -1), True)


def real(input, name=None):
    """The real part (a real tensor is returned as it is, as in TF)."""
    return input.real if isinstance(input, ComplexTensor) else ops.convert_to_tensor(input)


def imag(input, name=None):
    """The imaginary part (zeros for a real tensor, as in TF)."""
    return input.imag if isinstance(input, ComplexTensor) else ops.zeros_like(ops.convert_to_tensor(input))


def conj(x, name=None):
    return ComplexTensor(x.real, -x.imag) if isinstance(x, ComplexTensor) else ops.convert_to_tensor(x)


def abs(x, name=None):
    """``|x|``: the modulus ``sqrt(re^2 + im^2)`` of a complex tensor."""
    return ops.sqrt(x.real * x.real + x.imag * x.imag)


def angle(input, name=None):
    """``atan2(im, re)`` of a complex tensor (0 for a real one, as TF gives for non-negative values)."""
    if not isinstance(input, ComplexTensor):
        x = ops.convert_to_tensor(input)
        return ops.where(x < 0, np.pi, 0.0) * ops.ones_like(x)
    return ops.arctan2(input.imag, input.real)
