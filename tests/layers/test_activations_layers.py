"""ReLU, LeakyReLU, PReLU, ELU and Softmax layers: layer checks, formulas against PyTorch, masks, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cls,kwargs", [
    (layers.ReLU, {}), (layers.ReLU, {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}),
    (layers.LeakyReLU, {}), (layers.LeakyReLU, {"negative_slope": 0.05}),
    (layers.ELU, {"alpha": 0.7}), (layers.Softmax, {}), (layers.Softmax, {"axis": 1}),
    (layers.Softmax, {"axis": [1, 2]}),
])
def test_weightless_activation_layer_checks(cls, kwargs):
    layer, out = run_layer_test(cls, kwargs, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4),
                                expected_num_trainable_weights=0, expected_num_params=0)
    assert layer.supports_masking


@pytest.mark.parametrize("shared_axes,alpha_shape", [(None, (3, 4)), ([1], (1, 4)), (2, (3, 1)), ([1, 2], (1, 1))])
def test_prelu_layer_checks(shared_axes, alpha_shape):
    layer, _ = run_layer_test(layers.PReLU, {"shared_axes": shared_axes, "alpha_initializer": "random_normal"},
                              input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4),
                              expected_weight_shapes=[alpha_shape], expected_num_trainable_weights=1)
    assert layer.weights[0].name.split("/")[-1] == "alpha"


def _torch_relu(x, max_value, negative_slope, threshold):
    # x above the threshold passes, below it becomes negative_slope * (x - threshold); then capped
    out = torch.where(x > threshold, x, negative_slope * (x - threshold))
    return out if max_value is None else torch.clamp(out, max=max_value)


@pytest.mark.parametrize("max_value,negative_slope,threshold", [
    (None, 0.0, 0.0), (6.0, 0.0, 0.0), (None, 0.2, 0.0), (1.0, 0.3, 0.5), (None, 0.0, 0.4), (2.0, 0.0, 0.0),
])
def test_relu_matches_formula_and_gradient(max_value, negative_slope, threshold):
    x = rand(5, 7) * 3
    x[np.abs(x - threshold) < 1e-3] += 0.01  # keep away from the kink, where the gradient has no single value
    xt = dg.Tensor(x.astype(np.float64), requires_grad=True)
    out = layers.ReLU(max_value, negative_slope, threshold, dtype="float64")(xt)
    r = rand(5, 7, seed=1).astype(np.float64)
    (out * dg.Tensor(r)).sum().backward()
    ref_x = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = _torch_relu(ref_x, max_value, negative_slope, threshold)
    (ref * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad, ref_x.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_leaky_relu_and_elu_match_torch():
    x = rand(4, 6) * 2
    np.testing.assert_allclose(layers.LeakyReLU()(x).data, F.leaky_relu(torch.tensor(x), 0.3).numpy(), rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU(alpha=0.1)(x).data, F.leaky_relu(torch.tensor(x), 0.1).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(layers.ELU(0.5)(x).data, F.elu(torch.tensor(x), 0.5).numpy(), rtol=1e-6, atol=1e-7)


def test_prelu_matches_torch_values_and_gradients():
    x = rand(3, 4, 5, 2)
    alpha = rand(1, 1, 2, seed=2)
    layer = layers.PReLU(shared_axes=[1, 2], dtype="float64")
    xt = dg.Tensor(x.astype(np.float64), requires_grad=True)
    layer(xt)
    layer.set_weights([alpha.astype(np.float64)])
    r = rand(3, 4, 5, 2, seed=3).astype(np.float64)
    (layer(xt) * dg.Tensor(r)).sum().backward()
    ref_x = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref_a = torch.tensor(alpha.astype(np.float64), requires_grad=True)
    ref = torch.where(ref_x >= 0, ref_x, ref_a * ref_x)
    (ref * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(layer(xt).data, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.alpha.grad, ref_a.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(xt.grad, ref_x.grad.numpy(), rtol=1e-12)


def test_softmax_axes_and_mask():
    x = rand(2, 3, 4)
    np.testing.assert_allclose(layers.Softmax(axis=1)(x).data, torch.softmax(torch.tensor(x), 1).numpy(), rtol=1e-6)
    both = layers.Softmax(axis=[1, 2])(x).data
    ref = torch.softmax(torch.tensor(x).reshape(2, 12), 1).reshape(2, 3, 4).numpy()
    np.testing.assert_allclose(both, ref, rtol=1e-5, atol=1e-7)
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool)[:, None, :]  # second sample fully masked
    out = layers.Softmax()(x, mask=mask).data
    keep = np.where(mask, x, -np.inf)[0]
    ref0 = np.exp(keep - keep.max(-1, keepdims=True))
    np.testing.assert_allclose(out[0], ref0 / ref0.sum(-1, keepdims=True), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out[1], 0.0)
    # a float mask keeps the cells above 0.5
    np.testing.assert_allclose(layers.Softmax()(x, mask=mask.astype(np.float32) * 0.9).data, out, rtol=1e-6)


def test_softmax_uses_an_embedding_mask():
    tokens = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    emb = layers.Embedding(5, 4, mask_zero=True)
    h = emb(tokens)
    scores = dg.matmul(h, h.transpose(0, 2, 1))  # (2, 4, 4) attention-like scores over the keys
    scores._keras_mask = np.asarray(h._keras_mask)[:, None, :]  # (2, 1, 4): the keys' mask, as a layer would set it
    out = layers.Softmax()(scores).data
    np.testing.assert_array_equal(out[0, :, 2:], 0.0)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)


def test_activation_layers_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"ReLU: max_value must be a number >= 0"):
        layers.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match=r"ReLU: negative_slope"):
        layers.ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"LeakyReLU: negative_slope"):
        layers.LeakyReLU(negative_slope=None)
    with pytest.raises(ValueError, match=r"PReLU: shared_axes"):
        layers.PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match=r"Softmax 'sm': the mask must broadcast.*\(2, 5\).*\(2, 3\)"):
        layers.Softmax(name="sm")(rand(2, 3), mask=np.ones((2, 5), bool))
    layer = layers.PReLU(name="pr")
    layer(rand(2, 3))
    with pytest.raises(ValueError, match=r"PReLU 'pr'.*\(2, 4\)"):
        layer(rand(2, 4))
