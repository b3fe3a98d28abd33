"""BatchNormalization and LayerNormalization, and the fused normalisation ops under them."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers
from deepgrad.ops.normalization import batch_norm, batch_norm_inference, layer_norm
from layer_test import run_layer_test
from oracle import check_gradients, compare_with_torch


# ----------------------------------------------------------------- the ops
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 4)])
def test_batch_norm_op_matches_torch(shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype("float32")
    gamma, beta = rng.standard_normal(4).astype("float32"), rng.standard_normal(4).astype("float32")

    def ours(x, g, b):
        return batch_norm(x, g, b, axis=-1, epsilon=1e-3)[0]

    def theirs(x, g, b):  # torch normalises channels-first: move the last axis to 1 and back
        xc = x.movedim(-1, 1)
        return torch.nn.functional.batch_norm(xc, None, None, g, b, training=True, eps=1e-3).movedim(1, -1)

    compare_with_torch(ours, theirs, [x, gamma, beta], rtol=1e-4, atol=1e-5)


def test_layer_norm_op_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 5)).astype("float32")
    g, b = rng.standard_normal(5).astype("float32"), rng.standard_normal(5).astype("float32")
    compare_with_torch(lambda x, g, b: layer_norm(x, g, b, epsilon=1e-3),
                       lambda x, g, b: torch.nn.functional.layer_norm(x, (5,), g, b, eps=1e-3),
                       [x, g, b], rtol=1e-4, atol=1e-5)
    g2, b2 = rng.standard_normal((2, 5)).astype("float32"), rng.standard_normal((2, 5)).astype("float32")
    compare_with_torch(lambda x, g, b: layer_norm(x, g, b, axis=[1, 2], epsilon=1e-3),
                       lambda x, g, b: torch.nn.functional.layer_norm(x, (2, 5), g, b, eps=1e-3),
                       [x, g2, b2], rtol=1e-4, atol=1e-5)


def test_normalization_ops_central_differences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    check_gradients(lambda x, g, b: batch_norm(x, g, b, epsilon=1e-3)[0], [x, g, b], rtol=1e-5, atol=1e-7)
    check_gradients(lambda x, g, b: layer_norm(x, g, b, epsilon=1e-3), [x, g, b], rtol=1e-5, atol=1e-7)
    x4 = rng.standard_normal((2, 3, 2, 2))
    g4, b4 = rng.standard_normal((1, 3, 1, 1)), rng.standard_normal((1, 3, 1, 1))
    check_gradients(lambda x, g, b: batch_norm(x, g, b, axis=1)[0], [x4, g4, b4], rtol=1e-5, atol=1e-7)
    g2, b2 = rng.standard_normal((1, 2, 2)), rng.standard_normal((1, 2, 2))
    check_gradients(lambda x, g, b: layer_norm(x[:, 0], g, b, axis=[1, 2]), [x4, g2, b2], rtol=1e-5, atol=1e-7)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    check_gradients(lambda x, g, b: batch_norm_inference(x, mean, var, g, b), [x, g, b])


def test_batch_norm_keeps_float32():
    x = dg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype("float32"), requires_grad=True)
    y, mean, var = batch_norm(x)
    assert y.dtype == np.float32 and mean.dtype == np.float32 and var.shape == (3,)
    y.backward(np.ones((4, 3), "float32"))
    assert x.grad.dtype == np.float32


# ----------------------------------------------------------------- BatchNormalization
def test_batch_normalization_layer_checks():
    layer, _ = run_layer_test(layers.BatchNormalization, {}, input_shape=(4, 32), expected_output_shape=(4, 32),
                              expected_weight_shapes=[(32,)] * 4, expected_num_trainable_weights=2,
                              expected_num_non_trainable_weights=2, expected_num_params=128,
                              expected_trainable_params=64)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    run_layer_test(layers.BatchNormalization, {"axis": 1, "center": False}, input_shape=(2, 3, 4, 4),
                   expected_output_shape=(2, 3, 4, 4), expected_weight_shapes=[(3,), (3,), (3,)])


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 3, 3)])
def test_batch_normalization_matches_torch_training_and_inference(shape):
    rng = np.random.default_rng(3)
    layer = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype("float32")
    layer(x)
    gamma, beta = rng.standard_normal(3).astype("float32"), rng.standard_normal(3).astype("float32")
    mm, mv = rng.standard_normal(3).astype("float32"), (rng.random(3) + 0.5).astype("float32")
    layer.set_weights([gamma, beta, mm, mv])

    xd = dg.Tensor(x, requires_grad=True)
    out = layer(xd, training=True)
    xt = torch.tensor(x).movedim(-1, 1).contiguous().requires_grad_()
    gt, bt = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    rm, rv = torch.tensor(mm), torch.tensor(mv)
    ref = torch.nn.functional.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=0.1, eps=1e-3).movedim(1, -1)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(out.shape).astype("float32")
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad, xt.grad.movedim(1, -1).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, gt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.beta.grad, bt.grad.numpy(), rtol=1e-4, atol=1e-5)

    # moving mean as torch; moving variance from the biased batch variance (Keras), where
    # torch's running_var takes the unbiased one: undo Bessel's factor n / (n - 1) to compare
    n = x.size // 3
    np.testing.assert_allclose(layer.moving_mean.data, rm.numpy(), rtol=1e-5, atol=1e-6)
    biased = x.reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(layer.moving_variance.data, 0.9 * mv + 0.1 * biased, rtol=1e-5, atol=1e-6)
    unbiased_ref = (rv.numpy() - 0.9 * mv) / 0.1
    np.testing.assert_allclose(biased * n / (n - 1), unbiased_ref, rtol=1e-4)

    # inference uses the moving statistics, as torch in eval mode
    inf = layer(x, training=False)
    ref_eval = torch.nn.functional.batch_norm(torch.tensor(x).movedim(-1, 1), torch.tensor(layer.moving_mean.data),
                                              torch.tensor(layer.moving_variance.data), torch.tensor(gamma),
                                              torch.tensor(beta), training=False, eps=1e-3).movedim(1, -1)
    np.testing.assert_allclose(inf.data, ref_eval.numpy(), rtol=1e-4, atol=1e-5)


def test_batch_normalization_inference_leaves_moving_statistics_alone():
    layer = layers.BatchNormalization()
    x = np.random.default_rng(0).standard_normal((6, 2)).astype("float32") + 3
    out = layer(x)  # training=None: inference
    np.testing.assert_allclose(out.data, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.data, [0, 0])
    layer.trainable = False  # a frozen BatchNormalization runs in inference mode even in training
    layer(x, training=True)
    np.testing.assert_array_equal(layer.moving_mean.data, [0, 0])
    assert len(layer.trainable_weights) == 0 and len(layer.non_trainable_weights) == 4


def test_batch_normalization_errors():
    with pytest.raises(ValueError, match="momentum"):
        layers.BatchNormalization(momentum=2)
    layer = layers.BatchNormalization(name="bn")
    layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"bn.*\(2, 4\)"):
        layer(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="axis"):
        layers.BatchNormalization(axis=5)(np.zeros((2, 3), "float32"))


# ----------------------------------------------------------------- LayerNormalization
def test_layer_normalization_layer_checks_and_torch():
    layer, out = run_layer_test(layers.LayerNormalization, {}, input_shape=(3, 4, 6), expected_output_shape=(3, 4, 6),
                                expected_weight_shapes=[(6,), (6,)], expected_num_trainable_weights=2)
    x = np.random.default_rng(0).standard_normal((3, 4, 6)).astype("float32")
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (6,), eps=1e-3)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-4, atol=1e-5)
    run_layer_test(layers.LayerNormalization, {"axis": [1, 2], "center": False}, input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 4), expected_weight_shapes=[(3, 4)])


def test_layer_normalization_with_weights_matches_torch_gradients():
    rng = np.random.default_rng(5)
    layer = layers.LayerNormalization(epsilon=1e-5)
    x = rng.standard_normal((4, 5)).astype("float32")
    layer(x)
    gamma, beta = rng.standard_normal(5).astype("float32"), rng.standard_normal(5).astype("float32")
    layer.set_weights([gamma, beta])
    xd = dg.Tensor(x, requires_grad=True)
    out = layer(xd)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ref = torch.nn.functional.layer_norm(xt, (5,), gt, bt, eps=1e-5)
    g = rng.standard_normal((4, 5)).astype("float32")
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    for ours, theirs in ((xd.grad, xt), (layer.gamma.grad, gt), (layer.beta.grad, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-4, atol=1e-5)
