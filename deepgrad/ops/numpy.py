"""``keras.ops.numpy``: the NumPy-like ops, under the module name Keras groups them by.

Each is defined by kind in a module beside this one and is also a name of ``deepgrad.ops``.
"""
from .activation import (  # noqa: F401
    tanh,
)
from .arrangement import (  # noqa: F401
    append, array_split, diag, diagflat, diagonal, dsplit, dstack, flip, fliplr, flipud, hsplit,
    hstack, meshgrid, moveaxis, ndim, ravel, repeat, roll, rot90, size, tile, trace, tril, triu,
    vander, vsplit, vstack,
)
from .core import (  # noqa: F401
    vectorize, view,
)
from .creation import (  # noqa: F401
    arange, array, bartlett, blackman, empty, empty_like, eye, full, full_like, geomspace,
    hamming, hanning, identity, kaiser, linspace, logspace, ones, ones_like, tri, zeros,
    zeros_like,
)
from .elementwise import (  # noqa: F401
    angle, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cbrt, ceil, conj, conj as
    conjugate, copy, cos, cosh, deg2rad, divide_no_nan, exp2, expm1, fabs, floor, floor_divide,
    fmax, fmin, fmod, gcd, heaviside, hypot, i0, imag, lcm, ldexp, log10, log1p, log2,
    logaddexp, logaddexp2, mod, nan_to_num, nextafter, rad2deg, real, reciprocal, round, sign,
    signbit, sin, sinc, sinh, tan, true_divide, trunc,
)
from .indexing import (  # noqa: F401
    argpartition, argsort, get_item, isin, nonzero, searchsorted, select, sort, take_along_axis,
    unique, unravel_index,
)
from .linear_algebra import (  # noqa: F401
    cross, dot, einsum, inner, kron, outer, slogdet, tensordot, vdot,
)
from .logic import (  # noqa: F401
    allclose, bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_not, bitwise_or,
    bitwise_right_shift, bitwise_xor, equal, greater, greater_equal, isclose, isfinite, isinf,
    isnan, isneginf, isposinf, isreal, left_shift, less, less_equal, logical_and, logical_not,
    logical_or, logical_xor, not_equal, right_shift,
)
from .manipulation import (  # noqa: F401
    broadcast_to, concatenate, expand_dims, pad, reshape, split, squeeze, stack, swapaxes, take,
    transpose,
)
from .math import (  # noqa: F401
    abs, abs as absolute, add, clip, divide, exp, log, maximum, minimum, multiply, negative,
    power, sqrt, square, subtract, where,
)
from .product import (  # noqa: F401
    matmul,
)
from .reduce import (  # noqa: F401
    max as amax, min as amin, max, mean, min, std, sum, var,
)
from .statistics import (  # noqa: F401
    all, any, argmax, argmin, average, bincount, corrcoef, correlate, count_nonzero, cumprod,
    cumsum, diff, digitize, histogram, median, nanargmax, nanargmin, nancumprod, nancumsum,
    nanmax, nanmean, nanmedian, nanmin, nanpercentile, nanprod, nanquantile, nanstd, nansum,
    nanvar, percentile, prod, ptp, quantile, trapezoid,
)

__all__ = [
    "abs", "absolute", "add", "all", "allclose", "amax", "amin", "angle", "any", "append",
    "arange", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "argmax", "argmin", "argpartition", "argsort", "array", "array_split", "average",
    "bartlett", "bincount", "bitwise_and", "bitwise_invert", "bitwise_left_shift",
    "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "blackman",
    "broadcast_to", "cbrt", "ceil", "clip", "concatenate", "conj", "conjugate", "copy",
    "corrcoef", "correlate", "cos", "cosh", "count_nonzero", "cross", "cumprod", "cumsum",
    "deg2rad", "diag", "diagflat", "diagonal", "diff", "digitize", "divide", "divide_no_nan",
    "dot", "dsplit", "dstack", "einsum", "empty", "empty_like", "equal", "exp", "exp2",
    "expand_dims", "expm1", "eye", "fabs", "flip", "fliplr", "flipud", "floor", "floor_divide",
    "fmax", "fmin", "fmod", "full", "full_like", "gcd", "geomspace", "get_item", "greater",
    "greater_equal", "hamming", "hanning", "heaviside", "histogram", "hsplit", "hstack",
    "hypot", "i0", "identity", "imag", "inner", "isclose", "isfinite", "isin", "isinf", "isnan",
    "isneginf", "isposinf", "isreal", "kaiser", "kron", "lcm", "ldexp", "left_shift", "less",
    "less_equal", "linspace", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logspace", "matmul", "max",
    "maximum", "mean", "median", "meshgrid", "min", "minimum", "mod", "moveaxis", "multiply",
    "nan_to_num", "nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmax", "nanmean",
    "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile", "nanstd", "nansum",
    "nanvar", "ndim", "negative", "nextafter", "nonzero", "not_equal", "ones", "ones_like",
    "outer", "pad", "percentile", "power", "prod", "ptp", "quantile", "rad2deg", "ravel",
    "real", "reciprocal", "repeat", "reshape", "right_shift", "roll", "rot90", "round",
    "searchsorted", "select", "sign", "signbit", "sin", "sinc", "sinh", "size", "slogdet",
    "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "subtract", "sum", "swapaxes",
    "take", "take_along_axis", "tan", "tanh", "tensordot", "tile", "trace", "transpose",
    "trapezoid", "tri", "tril", "triu", "true_divide", "trunc", "unique", "unravel_index",
    "vander", "var", "vdot", "vectorize", "view", "vsplit", "vstack", "where", "zeros",
    "zeros_like",
]
