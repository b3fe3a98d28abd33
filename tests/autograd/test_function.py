"""The ``Function`` contract: recording is decided before forward; saved arrays only when recorded."""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import Function, Tensor
from deepgrad.autograd.tensor import _OpTable, _ops


class Probe(Function):
    """Remembers what forward saw: its own instance and ``needs_input_grad`` at that moment."""

    seen: list = []

    def forward(self, a, b):
        Probe.seen.append((self, self.needs_input_grad))
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return g * b, g * a


def _probe(*inputs):
    Probe.seen.clear()
    out = Probe.apply(*inputs)
    (fn, needs), = Probe.seen
    return out, fn, needs


def test_needs_input_grad_is_set_before_forward():
    x, c = Tensor(np.ones(2), requires_grad=True), Tensor(np.full(2, 3.0))
    out, fn, needs = _probe(x, c)
    assert needs == (True, False) and out._ctx is fn and len(fn.saved) == 2
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


@pytest.mark.parametrize("case", ["no_grad", "no input requires grad"])
def test_nothing_is_recorded_or_saved_when_no_gradient_is_needed(case):
    x, c = Tensor(np.ones(2), requires_grad=case == "no_grad"), Tensor(np.full(2, 3.0))
    if case == "no_grad":
        with dg.no_grad():
            out, fn, needs = _probe(x, c)
    else:
        out, fn, needs = _probe(x, c)
    assert needs == (False, False)
    assert fn.saved == () and fn.inputs == ()
    assert out._ctx is None and not out.requires_grad
    np.testing.assert_array_equal(out.data, [3.0, 3.0])


def test_a_forward_under_no_grad_keeps_no_arrays_of_a_real_op():
    """conv2d keeps its im2col matrix only for a kernel gradient: none under no_grad."""
    x = Tensor(np.ones((1, 4, 4, 2)), requires_grad=True)
    k = Tensor(np.ones((3, 3, 2, 2)), requires_grad=True)
    seen = []
    original = Function.save_for_backward

    def spy(self, *arrays):
        original(self, *arrays)
        seen.append(self.saved)

    Function.save_for_backward = spy
    try:
        with dg.no_grad():
            dg.conv2d(x, k)
        dg.conv2d(x, k)
    finally:
        Function.save_for_backward = original
    assert seen[0] == ()
    cols, kernel, relu_out = seen[1]
    assert cols.shape == (4, 18) and kernel is k.data and relu_out is None


def test_tensor_operators_are_written_in_the_class_body():
    for name in ("__add__", "__radd__", "__sub__", "__mul__", "__truediv__", "__pow__", "__matmul__",
                 "__neg__", "__getitem__", "__lt__", "sum", "mean", "reshape", "transpose", "T", "astype"):
        assert name in vars(Tensor), name
    # and deepgrad.ops filled every entry of the table they run
    assert [n for n in _OpTable.__slots__ if not hasattr(_ops, n)] == []
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (2.0 - a) * a / (a + 1.0) ** 2.0
    y.sum().backward()
    x = np.array([1.0, 2.0])
    # d/dx (2 - x) x / (x + 1)^2 = (2 - 2x) / (x + 1)^2 - 2 (2 - x) x / (x + 1)^3
    np.testing.assert_allclose(a.grad, (2 - 2 * x) / (x + 1) ** 2 - 2 * (2 - x) * x / (x + 1) ** 3, rtol=1e-12)


def test_autograd_imports_nothing_from_a_higher_floor():
    """autograd (floor 2) may import only backend (floor 1) from the package, not ops, even in a function."""
    root = pathlib.Path(dg.__file__).parent / "autograd"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:  # from .. or from ..x
                targets = [node.module] if node.module else [a.name for a in node.names]
                assert all(t.split(".")[0] == "backend" for t in targets), f"{path.name} imports {targets}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("deepgrad"), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("deepgrad") for a in node.names), path.name


def test_softmax_and_sigmoid_outputs_carry_their_logits():
    z = Tensor(np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), requires_grad=True)
    probs = dg.softmax(z, axis=-1)
    assert probs._keras_logits.tensor is z and probs._keras_logits.axis == 1
    assert dg.softmax(z, axis=0)._keras_logits.axis == 0
    p = dg.sigmoid(z)
    assert p._keras_logits.tensor is z and p._keras_logits.axis is None
    assert (z * 2.0)._keras_logits is None and Tensor([1.0])._keras_logits is None
    with dg.no_grad():  # set as Keras sets it: whether or not a graph is recorded
        assert dg.softmax(z)._keras_logits.tensor is z
