"""Operators and ndarray-style methods on ``Tensor``, all routed to the ops."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from . import activation, manipulation, math, reduce
from . import product as linalg


def _reflected(op):
    return lambda self, other: op(other, self)


def _compare(ufunc):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(ufunc(self.data, other), dtype=bool)

    return method


def install() -> None:
    T = Tensor
    T.__add__, T.__radd__ = math.add, _reflected(math.add)
    T.__sub__, T.__rsub__ = math.subtract, _reflected(math.subtract)
    T.__mul__, T.__rmul__ = math.multiply, _reflected(math.multiply)
    T.__truediv__, T.__rtruediv__ = math.divide, _reflected(math.divide)
    T.__pow__, T.__rpow__ = math.power, _reflected(math.power)
    T.__matmul__, T.__rmatmul__ = linalg.matmul, _reflected(linalg.matmul)
    T.__neg__ = math.negative
    T.__pos__ = lambda self: self
    T.__abs__ = math.abs
    T.__getitem__ = manipulation.getitem
    for name, uf in [("__lt__", np.less), ("__le__", np.less_equal), ("__gt__", np.greater),
                     ("__ge__", np.greater_equal), ("__eq__", np.equal), ("__ne__", np.not_equal)]:
        setattr(T, name, _compare(uf))
    T.__hash__ = lambda self: id(self)

    T.sum, T.mean, T.max, T.min = reduce.sum, reduce.mean, reduce.max, reduce.min
    T.var, T.std, T.logsumexp = reduce.var, reduce.std, reduce.logsumexp
    T.reshape, T.transpose, T.permute = manipulation.reshape, manipulation.transpose, manipulation.permute
    T.swapaxes, T.squeeze, T.flatten = manipulation.swapaxes, manipulation.squeeze, manipulation.flatten
    T.expand_dims, T.broadcast_to = manipulation.expand_dims, manipulation.broadcast_to
    T.clip, T.exp, T.log, T.sqrt, T.abs = math.clip, math.exp, math.log, math.sqrt, math.abs
    T.dot, T.matmul = linalg.matmul, linalg.matmul
    T.relu, T.sigmoid, T.tanh = activation.relu, activation.sigmoid, activation.tanh
    T.softmax, T.log_softmax = activation.softmax, activation.log_softmax
    T.T = property(lambda self: manipulation.transpose(self))
    T.astype = manipulation.astype



