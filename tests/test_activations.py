"""Every activation against PyTorch, forward and backward, plus get/serialize."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import activations
from oracle import check_gradients, compare_with_torch

KINKS = (0.0, 1.0, 4.0, 6.0, -3.0, 3.0, -1.0, 0.5, -0.5, 0.2)


def inputs(shape=(4, 6), dtype=np.float64, seed=0):
    """Values in (-8, 8) kept away from every kink, where the derivative is not defined."""
    x = np.random.default_rng(seed).uniform(-8, 8, shape)
    for k in KINKS:
        x[np.abs(x - k) < 0.05] += 0.1
    return x.astype(dtype)


CASES = {
    "linear": (activations.linear, lambda x: x * 1),
    "sigmoid": (activations.sigmoid, torch.sigmoid),
    "tanh": (activations.tanh, torch.tanh),
    "relu": (activations.relu, F.relu),
    "relu_slope": (lambda x: activations.relu(x, negative_slope=0.1), lambda x: F.leaky_relu(x, 0.1)),
    "relu_max": (lambda x: activations.relu(x, max_value=4.0), lambda x: torch.clamp(x, 0, 4)),
    "relu_threshold": (lambda x: activations.relu(x, threshold=1.0), lambda x: torch.where(x > 1, x, 0 * x)),
    # Keras: x > threshold -> x, else negative_slope * (x - threshold); then capped at max_value
    "relu_all": (lambda x: activations.relu(x, negative_slope=0.3, max_value=6.0, threshold=1.0),
                 lambda x: torch.clamp(torch.where(x > 1, x, 0.3 * (x - 1)), max=6.0)),
    "relu6": (activations.relu6, F.relu6),
    "leaky_relu": (activations.leaky_relu, lambda x: F.leaky_relu(x, 0.2)),
    "elu": (activations.elu, F.elu),
    "elu_alpha": (lambda x: activations.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5)),
    "selu": (activations.selu, F.selu),
    "gelu": (activations.gelu, F.gelu),
    "gelu_tanh": (lambda x: activations.gelu(x, approximate=True), lambda x: F.gelu(x, approximate="tanh")),
    "softplus": (activations.softplus, F.softplus),
    "softsign": (activations.softsign, F.softsign),
    "silu": (activations.silu, F.silu),
    "swish": (activations.swish, F.silu),
    # written as relu6(x + 3) / 6: torch's own hardsigmoid backward uses a float32 1/6 even in float64
    "hard_sigmoid": (activations.hard_sigmoid, lambda x: F.relu6(x + 3) / 6),
    "hard_silu": (activations.hard_silu, lambda x: x * F.relu6(x + 3) / 6),
    "mish": (activations.mish, F.mish),
    "log_sigmoid": (activations.log_sigmoid, F.logsigmoid),
    "exponential": (activations.exponential, torch.exp),
    "softmax": (activations.softmax, lambda x: torch.softmax(x, dim=-1)),
    "softmax_axis0": (lambda x: activations.softmax(x, axis=0), lambda x: torch.softmax(x, dim=0)),
    "log_softmax": (activations.log_softmax, lambda x: torch.log_softmax(x, dim=-1)),
    "celu": (activations.celu, F.celu),
    "celu_alpha": (lambda x: activations.celu(x, alpha=2.5), lambda x: F.celu(x, alpha=2.5)),
    "hard_shrink": (activations.hard_shrink, F.hardshrink),
    "hard_shrink_1": (lambda x: activations.hard_shrink(x, threshold=1.0), lambda x: F.hardshrink(x, 1.0)),
    "hard_tanh": (activations.hard_tanh, F.hardtanh),
    "soft_shrink": (activations.soft_shrink, F.softshrink),
    "soft_shrink_3": (lambda x: activations.soft_shrink(x, threshold=3.0), lambda x: F.softshrink(x, 3.0)),
    # 0 below -1, (x + 1)^2 / 4 between, x above 1
    "sparse_plus": (activations.sparse_plus,
                    lambda x: torch.where(x <= -1, 0 * x, torch.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (activations.sparse_sigmoid, lambda x: torch.clamp((x + 1) / 2, 0, 1)),
    "sparsemax": (activations.sparsemax, lambda x: _torch_sparsemax(x, -1)),
    "sparsemax_axis0": (lambda x: activations.sparsemax(x, axis=0), lambda x: _torch_sparsemax(x, 0)),
    "squareplus": (activations.squareplus, lambda x: (x + torch.sqrt(x * x + 4)) / 2),
    "squareplus_b": (lambda x: activations.squareplus(x, b=0.5), lambda x: (x + torch.sqrt(x * x + 0.5)) / 2),
    "tanh_shrink": (activations.tanh_shrink, F.tanhshrink),
    "threshold": (lambda x: activations.threshold(x, 0.2, -3.0), lambda x: F.threshold(x, 0.2, -3.0)),
}


def _torch_sparsemax(x, dim):
    """Martins & Astudillo (2016): tau from the sorted values, k = #{j: 1 + j z_(j) > sum_{i<=j} z_(i)};
    torch differentiates through the sort."""
    z = torch.sort(x, dim=dim, descending=True).values
    cumsum = torch.cumsum(z, dim=dim)
    shape = [1] * x.dim()
    shape[dim] = -1
    j = torch.arange(1, x.shape[dim] + 1, dtype=x.dtype).view(shape)
    support = 1 + j * z > cumsum
    k = support.sum(dim=dim, keepdim=True)
    tau = (torch.gather(cumsum, dim, k - 1) - 1) / k.to(x.dtype)
    return torch.clamp(x - tau, min=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch_float64(case):
    ours, theirs = CASES[case]
    compare_with_torch(ours, theirs, [inputs()])


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch_float32(case):
    ours, theirs = CASES[case]
    out = compare_with_torch(ours, theirs, [inputs((3, 5), np.float32, seed=1)], rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32


def test_hard_sigmoid_matches_torch_builtin_in_float32():
    compare_with_torch(activations.hard_sigmoid, F.hardsigmoid, [inputs((3, 5), np.float32)])
    compare_with_torch(activations.hard_silu, F.hardswish, [inputs((3, 5), np.float32)])


@pytest.mark.parametrize("name", ["softplus", "log_sigmoid", "sigmoid", "softmax", "log_softmax", "mish"])
def test_extreme_inputs_stay_finite(name):
    x = dg.Tensor(np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], np.float32), requires_grad=True)
    y = activations.get(name)(x)
    y.sum().backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))


def test_central_differences_for_composed_activations():
    for fn in (activations.softsign, activations.silu, activations.mish, activations.hard_silu,
               lambda x: activations.relu(x, negative_slope=0.3, max_value=6.0, threshold=1.0)):
        check_gradients(fn, [inputs((2, 5), seed=3)])


def test_relu_rejects_bad_arguments():
    with pytest.raises(ValueError, match="negative_slope"):
        activations.relu(dg.Tensor([1.0]), negative_slope=-1)
    with pytest.raises(ValueError, match="max_value"):
        activations.relu(dg.Tensor([1.0]), max_value=-1)


def test_accepts_arrays_and_lists():
    np.testing.assert_allclose(activations.relu(np.array([-1.0, 2.0])).data, [0.0, 2.0])
    np.testing.assert_allclose(activations.linear([1.0, -2.0]).data, [1.0, -2.0])


def test_get_serialize_deserialize():
    assert activations.get(None) is activations.linear
    assert activations.get("linear") is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    custom = lambda x: x * 2  # noqa: E731
    assert activations.get(custom) is custom
    for name in ["relu", "sigmoid", "tanh", "softmax", "gelu", "selu", "elu", "leaky_relu", "hard_sigmoid",
                 "softplus", "softsign", "silu", "exponential", "log_softmax", "relu6", "mish", "linear"]:
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.serialize(None) == "linear"
    with pytest.raises(ValueError, match="Unknown activation 'relux'"):
        activations.get("relux")
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


def test_glu_against_torch():
    compare_with_torch(activations.glu, lambda x: F.glu(x, dim=-1), [inputs((3, 8))])
    compare_with_torch(lambda x: activations.glu(x, axis=0), lambda x: F.glu(x, dim=0), [inputs((4, 3), seed=2)])


def test_central_differences_for_new_activations():
    for fn in (activations.celu, activations.glu, activations.squareplus, activations.sparsemax,
               activations.sparse_plus, activations.tanh_shrink, activations.soft_shrink):
        check_gradients(fn, [inputs((2, 6), seed=4)])


def test_sparsemax_is_a_distribution_with_zeros():
    y = activations.sparsemax(inputs((5, 7), seed=5)).data
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    assert np.all(y >= 0) and np.any(y == 0)


def test_new_activations_by_name_and_round_trip():
    for name in ["celu", "glu", "hard_shrink", "hard_tanh", "soft_shrink", "sparse_plus", "sparse_sigmoid",
                 "sparsemax", "squareplus", "tanh_shrink", "threshold"]:
        fn = activations.get(name)
        assert fn is getattr(activations, name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(name) is fn
        assert activations.deserialize({"class_name": "function", "config": name}) is fn


def test_activation_functions_apply_to_symbolic_tensors_as_keras():
    # keras.activations.swish(keras_tensor) while a functional model is defined (DDPM's blocks):
    # the call records a node, and the model computes what Keras's does
    import keras

    import deepgrad as dg
    names = ["swish", "gelu", "relu", "softplus", "tanh", "softmax"]
    k_in = keras.Input((4,))
    k_hidden = keras.layers.Dense(6)(k_in)
    k_model = keras.Model(k_in, [getattr(keras.activations, n)(k_hidden) for n in names])
    d_in = dg.layers.Input((4,))
    d_hidden = dg.layers.Dense(6)(d_in)
    d_outs = [getattr(dg.activations, n)(d_hidden) for n in names]
    assert all(isinstance(o, dg.KerasTensor) and o.shape == (None, 6) for o in d_outs)
    d_model = dg.Model(d_in, d_outs)
    d_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for ours, theirs in zip(d_model.predict(x, verbose=0), k_model.predict(x, verbose=0)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # the names still resolve to the functions themselves
    assert dg.activations.get("relu") is dg.activations.relu and dg.activations.swish is dg.activations.silu
