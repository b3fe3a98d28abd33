"""Floor 3: differentiable primitives, named and called as NumPy's functions."""
from . import activation, conv, linalg, math, nn, normalization, pool, recurrent, reduce, shape
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
