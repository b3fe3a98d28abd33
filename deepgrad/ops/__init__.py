"""Floor 3: differentiable primitives, named and called as NumPy's functions."""
import functools as _functools
import types as _types

from .. import backend as _backend
from . import activation, im2col, image, linalg, manipulation, math, product, nn, normalization, pool, recurrent, reduce
from .activation import (
    dropout, elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax,
    softmax_cross_entropy, softplus, tanh,
)
from .math import (
    abs, absolute, add, clip, divide, exp, log, maximum, minimum, multiply, negative, power,
    sqrt, square, subtract, where,
)
from .im2col import conv1d, conv2d
from .product import matmul
from .nn import embedding, linear
from .normalization import batch_norm, layer_norm
from .pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .recurrent import gru, lstm, simple_rnn
from .reduce import amax, amin, logsumexp, max, mean, min, std, sum, var
from .manipulation import (
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
from .statistics import (
    all, any, argmax, argmin, average, count_nonzero, cumprod, cumsum, median, percentile,
    quantile, prod, ptp, nanargmax, nanargmin, nancumprod, nancumsum, nanmax, nanmean,
    nanmedian, nanmin, nanpercentile, nanprod, nanquantile, nanstd, nansum, nanvar, corrcoef,
    correlate, diff, trapezoid, histogram, bincount, digitize,
)
from .indexing import (
    take_along_axis, select, nonzero, unique, searchsorted, unravel_index, isin, get_item,
    sort, argsort, argpartition, top_k,
)
from .arrangement import (
    append, array_split, diag, diagflat, diagonal, dsplit, dstack, flip, fliplr, flipud,
    hsplit, hstack, meshgrid, moveaxis, ravel, repeat, roll, rot90, tile, tril, triu, vsplit,
    vstack, vander, trace, ndim, size,
)
from .nn_activations import (
    celu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, log_sigmoid, relu6, silu,
    soft_shrink, softsign, sparse_plus, sparse_sigmoid, sparsemax, squareplus, swish, tanh_shrink, threshold,
)
from .convolution import conv, conv_transpose, depthwise_conv, separable_conv
from .nn_functions import (
    batch_normalization, depth_to_space, dot_product_attention, fold, layer_normalization, moments, multi_hot,
    normalize, one_hot, polar, psnr, rms_normalization, space_to_depth, unfold,
)
from .nn_losses import (
    binary_crossentropy, categorical_crossentropy, ctc_decode, ctc_loss, sparse_categorical_crossentropy,
)
from .pooling import adaptive_average_pool, adaptive_max_pool, average_pool, max_pool
from ..autograd.tensor import register_ops as _register_ops


__all__ = [
    "abs", "absolute", "add", "amax", "amin", "astype", "avg_pool1d", "avg_pool2d", "batch_norm",
    "conv1d", "conv2d", "embedding", "layer_norm", "linear", "max_pool1d", "max_pool2d", "broadcast_to", "clip", "concatenate",
    "divide", "dot", "dropout", "elu", "exp", "expand_dims", "gru", "lstm", "simple_rnn", "flatten", "gelu", "getitem",
    "leaky_relu", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "multiply", "negative", "pad", "permute", "power", "relu", "reshape", "selu",
    "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "split", "sqrt", "square",
    "squeeze", "stack", "std", "subtract", "sum", "swapaxes", "take", "tanh", "transpose",
    "var", "where",
    # keras.ops.nn activations
    "celu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "log_sigmoid",
    "relu6", "silu", "soft_shrink", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh_shrink", "threshold",
    # keras.ops.nn convolutions, pooling and functions
    "conv", "conv_transpose", "depthwise_conv", "separable_conv", "multi_hot", "one_hot",
    "adaptive_average_pool", "adaptive_max_pool", "average_pool", "max_pool",
    "batch_normalization", "depth_to_space", "dot_product_attention", "fold", "layer_normalization", "moments",
    "normalize", "polar", "psnr", "rms_normalization", "space_to_depth", "unfold",
    "binary_crossentropy", "categorical_crossentropy", "ctc_decode", "ctc_loss", "sparse_categorical_crossentropy",
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
__all__ += [
    "all",
    "any",
    "argmax",
    "argmin",
    "average",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "median",
    "percentile",
    "quantile",
    "prod",
    "ptp",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
    "corrcoef",
    "correlate",
    "diff",
    "trapezoid",
    "histogram",
    "bincount",
    "digitize",
    "take_along_axis",
    "select",
    "nonzero",
    "unique",
    "searchsorted",
    "unravel_index",
    "isin",
    "get_item",
    "sort",
    "argsort",
    "argpartition",
    "top_k",
    "append",
    "array_split",
    "diag",
    "diagflat",
    "diagonal",
    "dsplit",
    "dstack",
    "flip",
    "fliplr",
    "flipud",
    "hsplit",
    "hstack",
    "meshgrid",
    "moveaxis",
    "ravel",
    "repeat",
    "roll",
    "rot90",
    "tile",
    "tril",
    "triu",
    "vsplit",
    "vstack",
    "vander",
    "trace",
    "ndim",
    "size",
]

from . import core  # noqa: E402
from .core import (  # noqa: E402
    associative_scan, cast, cond, convert_to_numpy, convert_to_tensor, custom_gradient, dtype,
    fori_loop, is_tensor, map, rearrange, saturate_cast, scan, scatter, scatter_update, shape,
    slice, slice_update, stop_gradient, switch, unstack, vectorize, vectorized_map, view, view_as_complex,
    view_as_real, while_loop,
)

__all__ += [
    "associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient",
    "dtype", "fori_loop", "is_tensor", "map", "rearrange", "saturate_cast", "scan", "scatter",
    "scatter_update", "shape", "slice", "slice_update", "stop_gradient", "switch", "unstack",
    "vectorize", "vectorized_map", "view", "view_as_complex", "view_as_real", "while_loop",
]

from . import linear_algebra  # noqa: E402
from .linear_algebra import (  # noqa: E402
    cdist, cholesky, cholesky_inverse, cross, det, dot, eig, eigh, einsum, inner, inv, jvp, kron, lstsq,
    lu_factor, matrix_rank, norm, outer, pinv, qr, slogdet, solve, solve_triangular, svd, tensordot, vdot,
)

__all__ += [
    "cdist", "cholesky", "cholesky_inverse", "cross", "det", "eig", "eigh", "einsum", "inner", "inv",
    "jvp", "kron", "lstsq", "lu_factor", "matrix_rank", "norm", "outer", "pinv", "qr", "solve",
    "solve_triangular", "svd", "tensordot", "vdot", "slogdet",
]

from . import math_extra  # noqa: E402
from .math_extra import (  # noqa: E402
    erf, erfc, erfinv, extract_sequences, fft, fft2, ifft2, in_top_k, irfft, istft, logdet, rfft, rsqrt,
    segment_max, segment_min, segment_prod, segment_sum, stft,
)

__all__ += [
    "erf", "erfc", "erfinv", "extract_sequences", "fft", "fft2", "ifft2", "in_top_k", "irfft", "istft",
    "logdet", "rfft", "rsqrt", "segment_max", "segment_min", "segment_prod", "segment_sum", "stft",
]


_symbolic_aware = _backend.symbolic_aware


_wrapped = {}
for _name in __all__:
    _fn = globals().get(_name)
    if isinstance(_fn, _types.FunctionType) and _fn.__module__.startswith("deepgrad.ops"):
        globals()[_name] = _wrapped[_fn] = _symbolic_aware(_fn)

from . import numpy  # noqa: E402,F401 - keras.ops.numpy's namespace

# the functions behind Tensor's operators and methods (listed in autograd/tensor.py), symbolic-aware
# so that ``Tensor * KerasTensor`` records the op too
_register_ops(
    abs=abs, add=add, astype=astype, broadcast_to=broadcast_to, clip=clip, divide=divide, exp=exp,
    expand_dims=expand_dims, flatten=flatten, floor_divide=floor_divide, getitem=getitem, log=log, log_softmax=log_softmax,
    logsumexp=logsumexp, matmul=matmul, max=max, mean=mean, min=min, mod=mod, multiply=multiply,
    negative=negative, power=power, relu=relu, reshape=reshape, sigmoid=sigmoid, softmax=softmax, sqrt=sqrt,
    squeeze=squeeze, std=std, subtract=subtract, sum=sum, swapaxes=swapaxes, tanh=tanh,
    transpose=transpose, var=var,
)

# keras.ops.image's functions are not top-level ops, but record themselves on KerasTensors too
# (as SymbolicOp "image.<name>")
for _name, _fn in list(vars(image).items()):
    if not _name.startswith("_") and isinstance(_fn, _types.FunctionType) and _fn.__module__ == image.__name__:
        _wrapped[_fn] = _symbolic_aware(_fn)

# keras.ops's namespaces (ops.nn.relu, ops.numpy.add, ...) hold the same symbolic-aware functions
for _namespace in (core, image, linalg, math, nn, numpy):
    for _name, _fn in list(vars(_namespace).items()):
        if not _name.startswith("_") and isinstance(_fn, _types.FunctionType) and _fn in _wrapped:
            setattr(_namespace, _name, _wrapped[_fn])
del _name, _fn, _namespace, _wrapped
