"""``graph_backward``: every op of the table in test_every_function.py that has one gives, as
recorded ops, exactly the gradients of its NumPy ``backward`` (so ``create_graph=True`` changes
no first-order gradient)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import grad
from test_every_function import OPS, _build, _graph_functions


def _twice_differentiable(name) -> bool:
    _, outs, _ = _build(name)
    return all(getattr(fn, "graph_backward", None) is not None for fn in _graph_functions(outs))


CASES = [name for name in OPS if _twice_differentiable(name)]


def test_the_ops_of_the_keras_critics_are_all_covered():
    names = {n.split(":")[-1].split("-")[0] for n in CASES}
    for op in ("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Sum", "Mean", "MatMul", "Reshape",
               "Transpose", "Pad", "Linear", "LinearReLU", "Conv2D", "Conv2DReLU", "LeakyReLU", "ReLU", "Tanh",
               "Sigmoid", "Dropout", "Concatenate", "GetItem"):
        assert op in names, f"{op} has no graph_backward case"


@pytest.mark.parametrize("name", CASES)
def test_graph_backward_equals_backward(name):
    leaves, _, loss = _build(name)
    expected = grad(loss, leaves, retain_graph=True)
    got = grad(loss, leaves, create_graph=True)
    for k, (g, e) in enumerate(zip(got, expected)):
        assert isinstance(g, dg.Tensor), f"{name}: input {k} got no Tensor gradient"
        np.testing.assert_allclose(g.data, e, rtol=1e-12, atol=1e-14, err_msg=f"{name}: input {k}")
