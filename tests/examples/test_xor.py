"""The XOR examples: hand-written back-propagation and deepgrad's, both learn XOR exactly."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["xor_numpy", "xor_autograd"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_reaches_full_accuracy(name, seed):
    assert load(name).main(epochs=3000, seed=seed, verbose=False) == 1.0


def test_autograd_gradients_equal_the_hand_written_back_propagation():
    numpy_xor, autograd_xor = load("xor_numpy"), load("xor_autograd")
    p = numpy_xor.init_params(seed=5)
    X, Y, sig = numpy_xor.X, numpy_xor.Y, numpy_xor.sigmoid
    # the hand-written backward of xor_numpy, one step
    h = sig(X @ p["W1"] + p["b1"])
    out = sig(h @ p["W2"] + p["b2"])
    d2 = 2 * (out - Y) / len(X) * out * (1 - out)
    d1 = (d2 @ p["W2"].T) * h * (1 - h)
    expected = [X.T @ d1, d1.sum(0, keepdims=True), h.T @ d2, d2.sum(0, keepdims=True)]
    # deepgrad in float64 on the same weights
    params = [dg.Tensor(p[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    loss = ((autograd_xor.forward(params, dg.Tensor(X)) - dg.Tensor(Y)) ** 2).mean()
    loss.backward()
    for param, grad in zip(params, expected):
        np.testing.assert_allclose(param.grad, grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["xor_numpy", "xor_autograd"])
def test_example_runs_as_a_script_and_prints_loss_and_predictions(name):
    root = os.path.join(EXAMPLES, "..")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(root))
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{name}.py")], capture_output=True,
                            text=True, env=env, timeout=120, check=True)
    lines = result.stdout.splitlines()
    losses = [float(line.split()[-1]) for line in lines if line.startswith("epoch")]
    assert len(losses) >= 2 and losses[-1] < losses[0] / 100
    assert "0 xor 1 -> " in result.stdout
    assert lines[-1] == "accuracy 1.00"
