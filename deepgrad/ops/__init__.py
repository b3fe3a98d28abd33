"""Floor 3: differentiable primitives, named and called as NumPy's functions."""
from . import activation, conv, linalg, manipulation, math, nn, normalization, pool, recurrent, reduce
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
from .manipulation import (
    astype, broadcast_to, concatenate, expand_dims, flatten, getitem, pad, permute, reshape, split,
    squeeze, stack, swapaxes, take, transpose,
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

from . import core  # noqa: E402
from .core import (  # noqa: E402
    associative_scan, cast, cond, convert_to_numpy, convert_to_tensor, custom_gradient, dtype,
    fori_loop, is_tensor, map, rearrange, saturate_cast, scan, scatter, scatter_update, shape,
    slice, slice_update, stop_gradient, switch, unstack, vectorized_map, view_as_complex,
    view_as_real, while_loop,
)

__all__ += [
    "associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient",
    "dtype", "fori_loop", "is_tensor", "map", "rearrange", "saturate_cast", "scan", "scatter",
    "scatter_update", "shape", "slice", "slice_update", "stop_gradient", "switch", "unstack",
    "vectorized_map", "view_as_complex", "view_as_real", "while_loop",
]

from . import linear_algebra  # noqa: E402
from .linear_algebra import (  # noqa: E402
    cdist, cholesky, cholesky_inverse, cross, det, eig, eigh, einsum, inner, inv, jvp, kron, lstsq,
    lu_factor, matrix_rank, norm, outer, pinv, qr, solve, solve_triangular, svd, tensordot, vdot,
)

__all__ += [
    "cdist", "cholesky", "cholesky_inverse", "cross", "det", "eig", "eigh", "einsum", "inner", "inv",
    "jvp", "kron", "lstsq", "lu_factor", "matrix_rank", "norm", "outer", "pinv", "qr", "solve",
    "solve_triangular", "svd", "tensordot", "vdot",
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
