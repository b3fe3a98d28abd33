"""Floor 3: differentiable primitives, named and called as NumPy's functions."""
from . import activation, conv, linalg, math, nn, normalization, pool, recurrent, reduce, shape
from . import image
from .activation import (
    dropout, elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax,
    softmax_cross_entropy, softplus, tanh,
)
from .math import (
    abs, absolute, add, clip, divide, exp, log, maximum, minimum, multiply, negative, power,
    sqrt, square, subtract, where,
)
from .conv import conv1d, conv2d
from .linalg import dot, matmul
from .nn import embedding, linear
from .normalization import batch_norm, layer_norm
from .pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .recurrent import gru, lstm, simple_rnn
from .reduce import amax, amin, logsumexp, max, mean, min, std, sum, var
from .shape import (
    astype, broadcast_to, concatenate, expand_dims, flatten, getitem, pad, permute, reshape, split,
    squeeze, stack, swapaxes, take, transpose,
)
from .elementwise import (
    angle, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cbrt, ceil, conj,
    conjugate, copy, cos, cosh, deg2rad, divide_no_nan, exp2, expm1, fabs, floor, floor_divide,
    fmax, fmin, fmod, gcd, heaviside, hypot, i0, imag, lcm, ldexp, log10, log1p, log2,
    logaddexp, logaddexp2, mod, nan_to_num, nextafter, rad2deg, real, reciprocal, round, sign,
    signbit, sin, sinc, sinh, tan, true_divide, trunc,
)
from .logic import (
    allclose, bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_not, bitwise_or,
    bitwise_right_shift, bitwise_xor, equal, greater, greater_equal, isclose, isfinite, isinf,
    isnan, isneginf, isposinf, isreal, left_shift, less, less_equal, logical_and, logical_not,
    logical_or, logical_xor, not_equal, right_shift,
)
from .creation import (
    arange, array, bartlett, blackman, empty, empty_like, eye, full, full_like, geomspace,
    hamming, hanning, identity, kaiser, linspace, logspace, ones, ones_like, tri, zeros,
    zeros_like,
)
from ._tensor_methods import install as _install

_install()

__all__ = [
    "abs", "absolute", "add", "amax", "amin", "astype", "avg_pool1d", "avg_pool2d", "batch_norm",
    "conv1d", "conv2d", "embedding", "layer_norm", "linear", "max_pool1d", "max_pool2d", "broadcast_to", "clip", "concatenate",
    "divide", "dot", "dropout", "elu", "exp", "expand_dims", "gru", "lstm", "simple_rnn", "flatten", "gelu", "getitem",
    "leaky_relu", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "multiply", "negative", "pad", "permute", "power", "relu", "reshape", "selu",
    "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "split", "sqrt", "square",
    "squeeze", "stack", "std", "subtract", "sum", "swapaxes", "take", "tanh", "transpose",
    "var", "where",
]
__all__ += [
    "angle", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "cbrt",
    "ceil", "conj", "conjugate", "copy", "cos", "cosh", "deg2rad", "divide_no_nan", "exp2", "expm1",
    "fabs", "floor", "floor_divide", "fmax", "fmin", "fmod", "gcd", "heaviside", "hypot", "i0",
    "imag", "lcm", "ldexp", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "mod",
    "nan_to_num", "nextafter", "rad2deg", "real", "reciprocal", "round", "sign", "signbit", "sin",
    "sinc", "sinh", "tan", "true_divide", "trunc",
]
__all__ += [
    "allclose", "bitwise_and", "bitwise_invert", "bitwise_left_shift", "bitwise_not", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "equal", "greater", "greater_equal", "isclose",
    "isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "left_shift", "less",
    "less_equal", "logical_and", "logical_not", "logical_or", "logical_xor", "not_equal",
    "right_shift",
]
__all__ += [
    "arange", "array", "bartlett", "blackman", "empty", "empty_like", "eye", "full", "full_like",
    "geomspace", "hamming", "hanning", "identity", "kaiser", "linspace", "logspace", "ones",
    "ones_like", "tri", "zeros", "zeros_like",
]
