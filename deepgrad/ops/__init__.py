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
from ..autograd.tensor import register_ops as _register_ops

# the functions behind Tensor's operators and methods (listed in autograd/tensor.py)
_register_ops(
    abs=abs, add=add, astype=astype, broadcast_to=broadcast_to, clip=clip, divide=divide, exp=exp,
    expand_dims=expand_dims, flatten=flatten, getitem=getitem, log=log, log_softmax=log_softmax,
    logsumexp=logsumexp, matmul=matmul, max=max, mean=mean, min=min, multiply=multiply,
    negative=negative, power=power, relu=relu, reshape=reshape, sigmoid=sigmoid, softmax=softmax, sqrt=sqrt,
    squeeze=squeeze, std=std, subtract=subtract, sum=sum, swapaxes=swapaxes, tanh=tanh,
    transpose=transpose, var=var,
)

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
