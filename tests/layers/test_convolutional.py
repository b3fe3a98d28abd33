"""Conv1D and Conv2D layers: Keras shapes and parameter counts, config round trip, PyTorch outputs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad.layers.convolutional import Conv1D, Conv2D
from layer_test import run_layer_test


def test_conv2d_layer_checks_seed_cnn_sizes():
    # the seed CNN: Conv2D(32, (3, 3)) on 28x28x1 -> 26x26x32 with 3*3*1*32 + 32 = 320 parameters
    run_layer_test(Conv2D, {"filters": 32, "kernel_size": (3, 3), "activation": "relu"}, input_shape=(2, 28, 28, 1),
                   expected_output_shape=(2, 26, 26, 32), expected_weight_shapes=[(3, 3, 1, 32), (32,)],
                   expected_num_trainable_weights=2, expected_num_params=320)
    # Conv2D(64, (3, 3)) on 13x13x32 -> 11x11x64 with 3*3*32*64 + 64 = 18,496 parameters
    run_layer_test(Conv2D, {"filters": 64, "kernel_size": 3}, input_shape=(2, 13, 13, 32),
                   expected_output_shape=(2, 11, 11, 64), expected_weight_shapes=[(3, 3, 32, 64), (64,)],
                   expected_num_params=18_496)


@pytest.mark.parametrize("kwargs,expected", [
    ({"strides": 2, "padding": "same"}, (2, 4, 4, 3)),         # ceil(7 / 2) = 4
    ({"strides": (2, 1), "padding": "valid"}, (2, 3, 5, 3)),   # (7 - 3) // 2 + 1 = 3, 7 - 3 + 1 = 5
    ({"dilation_rate": 2, "padding": "valid"}, (2, 3, 3, 3)),  # span 5: 7 - 5 + 1 = 3
    ({"use_bias": False, "padding": "SAME"}, (2, 7, 7, 3)),
])
def test_conv2d_output_shapes(kwargs, expected):
    layer, _ = run_layer_test(Conv2D, {"filters": 3, "kernel_size": 3, **kwargs}, input_shape=(2, 7, 7, 2),
                              expected_output_shape=expected)
    assert len(layer.weights) == (1 if kwargs.get("use_bias") is False else 2)


@pytest.mark.parametrize("padding,expected", [("valid", (2, 6, 4)), ("same", (2, 8, 4)), ("causal", (2, 8, 4))])
def test_conv1d_layer_checks(padding, expected):
    run_layer_test(Conv1D, {"filters": 4, "kernel_size": 3, "padding": padding, "activation": "tanh"},
                   input_shape=(2, 8, 5), expected_output_shape=expected, expected_weight_shapes=[(3, 5, 4), (4,)],
                   expected_num_params=3 * 5 * 4 + 4)


def test_conv2d_layer_matches_torch_with_activation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    for activation, torch_fn in (("relu", torch.relu), ("sigmoid", torch.sigmoid), (None, lambda t: t)):
        layer = Conv2D(4, (3, 2), strides=(1, 2), padding="same", activation=activation)
        out = layer(x)
        kernel, bias = layer.get_weights()
        xt = F.pad(torch.tensor(x).permute(0, 3, 1, 2), (0, 1, 1, 1))  # "same" for k=(3, 2), s=(1, 2), in (6, 5)
        ref = torch_fn(F.conv2d(xt, torch.tensor(kernel).permute(3, 2, 0, 1).contiguous(), torch.tensor(bias),
                                stride=(1, 2)))
        np.testing.assert_allclose(out.data, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
        assert out.dtype == np.float32


def test_conv_layer_trains_kernel_and_bias():
    layer = Conv1D(2, 2, use_bias=True, kernel_initializer="ones", bias_initializer="zeros")
    x = np.arange(6.0, dtype=np.float32).reshape(1, 3, 2)
    out = layer(x)
    # each output step sums its 2x2 window (kernel of ones): steps (0+1+2+3) and (2+3+4+5)
    np.testing.assert_allclose(out.data[0, :, 0], [6.0, 14.0])
    out.sum().backward()
    # d(sum)/d(kernel[k, c, f]) = sum over steps t of x[t + k, c];  d(sum)/d(bias) = number of steps
    expected = np.stack([x[0, 0:2].sum(0), x[0, 1:3].sum(0)])[:, :, None].repeat(2, axis=2)
    np.testing.assert_allclose(layer.kernel.grad, expected)
    np.testing.assert_allclose(layer.bias.grad, [2.0, 2.0])


def test_kernel_regularizer_and_activity_regularizer_add_losses():
    layer = Conv2D(2, 2, kernel_regularizer=dg.regularizers.L2(0.1), activity_regularizer=dg.regularizers.L1(0.5),
                   kernel_initializer="ones")
    out = layer(np.ones((1, 3, 3, 1), np.float32))
    kernel_loss, activity_loss = (float(np.asarray(loss.data)) for loss in layer.losses)
    assert kernel_loss == pytest.approx(0.1 * 2 * 2 * 1 * 2)  # 0.1 * sum(k^2), 8 ones
    assert activity_loss == pytest.approx(0.5 * np.abs(out.data).sum())


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"Conv2D: filters must be a positive integer"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match=r"Conv2D: padding"):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match=r"Conv2D: kernel_size"):
        Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"Conv2D: strides"):
        Conv2D(4, 3, strides=0)
    with pytest.raises(ValueError, match=r"Conv2D: data_format must be"):
        Conv2D(4, 3, data_format="channels_middle")
    with pytest.raises(ValueError, match=r"Conv1D: filters \(4\) must be a multiple of groups \(3\)"):
        Conv1D(4, 3, groups=3)


def test_bad_input_rank_and_channels_name_the_layer():
    layer = Conv2D(4, 3, name="features")
    with pytest.raises(ValueError, match=r"layer 'features'.*expected min_ndim=4, found ndim=3.*\(2, 8, 8\)"):
        layer(np.zeros((2, 8, 8), np.float32))
    layer(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"layer 'features'.*axis -1 of input shape to have value 3.*\(2, 8, 8, 5\)"):
        layer(np.zeros((2, 8, 8, 5), np.float32))
    with pytest.raises(ValueError, match=r"features.*kernel"):
        layer.set_weights([np.zeros((3, 3, 3, 5)), np.zeros(4)])


def test_conv_layers_in_a_sequential_model_report_keras_shapes():
    from deepgrad.layers.pooling import MaxPooling2D

    model = dg.Sequential([
        dg.layers.Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), activation="relu"), MaxPooling2D((2, 2)), dg.layers.Flatten(), dg.layers.Dense(10),
    ])
    assert [layer.count_params() for layer in model.layers] == [320, 0, 18_496, 0, 0, 1_600 * 10 + 10]
    assert model.output_shape == (None, 10)
    assert model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0).shape == (3, 10)
