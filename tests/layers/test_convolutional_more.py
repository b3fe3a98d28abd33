"""Conv3D, grouped and channels-first convolutions, transposed, depthwise and separable convolution layers:
layer checks (shapes, weights, config, gradients), outputs and gradients against PyTorch, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ layer checks
@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape,weight_shapes", [
    (layers.Conv3D, dict(filters=4, kernel_size=2), (2, 5, 4, 3, 2), (2, 4, 3, 2, 4), [(2, 2, 2, 2, 4), (4,)]),
    (layers.Conv3D, dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2), (2, 5, 4, 3, 2),
     (2, 3, 2, 2, 4), [(3, 3, 3, 1, 4), (4,)]),
    (layers.Conv2D, dict(filters=6, kernel_size=3, groups=3), (2, 6, 5, 3), (2, 4, 3, 6), [(3, 3, 1, 6), (6,)]),
    (layers.Conv2D, dict(filters=4, kernel_size=3, data_format="channels_first", padding="same"), (2, 3, 6, 5),
     (2, 4, 6, 5), [(3, 3, 3, 4), (4,)]),
    (layers.Conv1D, dict(filters=4, kernel_size=3, groups=2, padding="causal"), (2, 7, 6), (2, 7, 4),
     [(3, 3, 4), (4,)]),
    (layers.Conv1DTranspose, dict(filters=3, kernel_size=3, strides=2), (2, 5, 4), (2, 11, 3), [(3, 3, 4), (3,)]),
    (layers.Conv2DTranspose, dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 5, 4, 2),
     (2, 10, 8, 3), [(4, 4, 3, 2), (3,)]),
    (layers.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, output_padding=1, use_bias=False),
     (2, 4, 3, 2), (2, 10, 8, 2), [(3, 3, 2, 2)]),
    (layers.Conv2DTranspose, dict(filters=2, kernel_size=3, data_format="channels_first"), (2, 3, 4, 5),
     (2, 2, 6, 7), [(3, 3, 2, 3), (2,)]),
    (layers.Conv3DTranspose, dict(filters=2, kernel_size=2, strides=(1, 2, 2)), (2, 3, 3, 2, 3),
     (2, 4, 6, 4, 2), [(2, 2, 2, 2, 3), (2,)]),
    (layers.DepthwiseConv1D, dict(kernel_size=3, depth_multiplier=2), (2, 7, 3), (2, 5, 6), [(3, 3, 2), (6,)]),
    (layers.DepthwiseConv2D, dict(kernel_size=3, strides=2, padding="same"), (2, 7, 6, 3), (2, 4, 3, 3),
     [(3, 3, 3, 1), (3,)]),
    (layers.SeparableConv1D, dict(filters=4, kernel_size=3, depth_multiplier=2), (2, 7, 3), (2, 5, 4),
     [(3, 3, 2), (1, 6, 4), (4,)]),
    (layers.SeparableConv2D, dict(filters=4, kernel_size=(3, 2), padding="same"), (2, 6, 5, 3), (2, 6, 5, 4),
     [(3, 2, 3, 1), (1, 1, 3, 4), (4,)]),
    (layers.SeparableConv2D, dict(filters=4, kernel_size=3, data_format="channels_first"), (2, 3, 6, 5),
     (2, 4, 4, 3), [(3, 3, 3, 1), (1, 1, 3, 4), (4,)]),
])
def test_layer_checks(cls, kwargs, input_shape, output_shape, weight_shapes):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape,
                   expected_weight_shapes=weight_shapes, expected_num_trainable_weights=len(weight_shapes),
                   expected_num_params=sum(int(np.prod(s)) for s in weight_shapes))


def test_aliases_are_the_same_classes():
    assert layers.Convolution3D is layers.Conv3D
    assert layers.Convolution1DTranspose is layers.Conv1DTranspose
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.Convolution3DTranspose is layers.Conv3DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D
    assert layers.SeparableConvolution2D is layers.SeparableConv2D
    assert layers.get("Convolution2DTranspose") is layers.Conv2DTranspose


# ------------------------------------------------------------------ against PyTorch (float64)
def _grads(layer, x, seed=5):
    """Output, input gradient and weight gradients of sum(layer(x) * r), in float64."""
    xt = dg.Tensor(x, requires_grad=True)
    out = layer(xt)
    r = rand(*out.shape, seed=seed, dtype=np.float64)
    (out * dg.Tensor(r)).sum().backward()
    return out.data, r, xt.grad, [w.grad for w in layer.weights]


def _torch_grads(fn, x, weights, r):
    xt = torch.tensor(x, requires_grad=True)
    ws = [torch.tensor(w, requires_grad=True) for w in weights]
    out = fn(xt, *ws)
    (out * torch.tensor(r)).sum().backward()
    return out.detach().numpy(), xt.grad.numpy(), [w.grad.numpy() for w in ws]


def _assert_all_close(ours, theirs):
    out, _, dx, dws = ours
    t_out, t_dx, t_dws = theirs
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-10)
    for a, b in zip(dws, t_dws):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("groups,data_format", [(1, "channels_first"), (2, "channels_last"),
                                                (4, "channels_first")])
def test_conv2d_groups_and_channels_first_match_torch(groups, data_format):
    x = rand(2, 4, 7, 6, dtype=np.float64)  # (N, C, H, W)
    layer = layers.Conv2D(8, (3, 2), strides=(2, 1), groups=groups, data_format=data_format, dtype="float64")
    x_in = x if data_format == "channels_first" else x.transpose(0, 2, 3, 1)
    ours = _grads(layer, x_in)
    kernel, bias = layer.get_weights()

    def fn(xt, k, b):
        xt = xt if data_format == "channels_first" else xt.permute(0, 3, 1, 2)
        out = F.conv2d(xt, k.permute(3, 2, 0, 1), b, stride=(2, 1), groups=groups)
        return out if data_format == "channels_first" else out.permute(0, 2, 3, 1)

    _assert_all_close(ours, _torch_grads(fn, x_in, [kernel, bias], ours[1]))


def test_conv3d_matches_torch():
    x = rand(2, 5, 6, 4, 3, dtype=np.float64)
    layer = layers.Conv3D(4, (2, 3, 2), strides=(1, 2, 1), dilation_rate=1, dtype="float64")
    ours = _grads(layer, x)

    def fn(xt, k, b):
        return F.conv3d(xt.permute(0, 4, 1, 2, 3), k.permute(4, 3, 0, 1, 2), b,
                        stride=(1, 2, 1)).permute(0, 2, 3, 4, 1)

    _assert_all_close(ours, _torch_grads(fn, x, layer.get_weights(), ours[1]))


@pytest.mark.parametrize("kwargs,torch_padding,torch_output_padding", [
    (dict(strides=2, padding="same"), 1, 0),    # k=4, s=2: Keras "same" crops one cell each side
    (dict(strides=2, padding="valid"), 0, 0),   # (n - 1) 2 + 4
    (dict(strides=3, padding="valid", output_padding=2), 0, 2),
    (dict(strides=1, padding="valid", dilation_rate=2), 0, 0),
])
def test_conv2d_transpose_matches_torch(kwargs, torch_padding, torch_output_padding):
    x = rand(2, 4, 3, 5, dtype=np.float64)
    layer = layers.Conv2DTranspose(3, 4, dtype="float64", **kwargs)
    ours = _grads(layer, x)
    stride, dilation = kwargs["strides"], kwargs.get("dilation_rate", 1)

    def fn(xt, k, b):  # Keras (kh, kw, out, in) is PyTorch's (in, out, kh, kw)
        return F.conv_transpose2d(xt.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), b, stride=stride,
                                  padding=torch_padding, output_padding=torch_output_padding,
                                  dilation=dilation).permute(0, 2, 3, 1)

    _assert_all_close(ours, _torch_grads(fn, x, layer.get_weights(), ours[1]))


def test_conv1d_and_conv3d_transpose_match_torch():
    x = rand(2, 5, 3, dtype=np.float64)
    layer = layers.Conv1DTranspose(2, 3, strides=2, dtype="float64")
    ours = _grads(layer, x)
    _assert_all_close(ours, _torch_grads(
        lambda xt, k, b: F.conv_transpose1d(xt.permute(0, 2, 1), k.permute(2, 1, 0), b, stride=2).permute(0, 2, 1),
        x, layer.get_weights(), ours[1]))
    x = rand(1, 3, 2, 4, 3, dtype=np.float64)  # channels first (N, C, D, H, W)
    layer = layers.Conv3DTranspose(2, 2, strides=2, data_format="channels_first", dtype="float64")
    ours = _grads(layer, x)
    _assert_all_close(ours, _torch_grads(
        lambda xt, k, b: F.conv_transpose3d(xt, k.permute(4, 3, 0, 1, 2), b, stride=2), x, layer.get_weights(),
        ours[1]))


@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_and_separable_conv2d_match_torch(multiplier):
    x = rand(2, 6, 5, 3, dtype=np.float64)
    depthwise = layers.DepthwiseConv2D(3, padding="valid", depth_multiplier=multiplier, dtype="float64")
    ours = _grads(depthwise, x)

    def depthwise_fn(xt, k, b):  # (kh, kw, C, m) -> (C*m, 1, kh, kw), output channel c*m + j
        w = k.permute(2, 3, 0, 1).reshape(3 * multiplier, 1, 3, 3)
        return F.conv2d(xt.permute(0, 3, 1, 2), w, b, groups=3).permute(0, 2, 3, 1)

    _assert_all_close(ours, _torch_grads(depthwise_fn, x, depthwise.get_weights(), ours[1]))

    separable = layers.SeparableConv2D(4, 2, strides=2, depth_multiplier=multiplier, dtype="float64")
    ours = _grads(separable, x)

    def separable_fn(xt, dk, pk, b):
        w = dk.permute(2, 3, 0, 1).reshape(3 * multiplier, 1, 2, 2)
        mid = F.conv2d(xt.permute(0, 3, 1, 2), w, stride=2, groups=3)
        return F.conv2d(mid, pk.permute(3, 2, 0, 1), b).permute(0, 2, 3, 1)

    _assert_all_close(ours, _torch_grads(separable_fn, x, separable.get_weights(), ours[1]))


@pytest.mark.parametrize("activation", ["relu", "tanh", None])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_and_separable_activations_match_torch(activation, data_format):
    """relu is fused into the depthwise op (and into the separable layer's pointwise GEMM); others follow it."""
    act = {"relu": torch.relu, "tanh": torch.tanh, None: lambda t: t}[activation]
    x = rand(2, 7, 6, 3, dtype=np.float64)
    x_in = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)

    def last(fn):   # a PyTorch function of channels-first maps, on the layer's layout
        if data_format == "channels_first":
            return fn
        return lambda xt, *w: fn(xt.permute(0, 3, 1, 2), *w).permute(0, 2, 3, 1)

    depthwise = layers.DepthwiseConv2D(3, strides=(2, 1), padding="same", depth_multiplier=2, activation=activation,
                                       data_format=data_format, dtype="float64")
    depthwise.build(x_in.shape)
    depthwise.set_weights([depthwise.get_weights()[0], rand(6, seed=3, dtype=np.float64)])
    ours = _grads(depthwise, x_in)
    assert activation != "relu" or (ours[0] == 0).mean() > 0.2

    def depthwise_fn(xt, k, b):   # "same" with k=3, s=(2, 1) on 7x6: one cell each side
        w = k.permute(2, 3, 0, 1).reshape(6, 1, 3, 3)
        return act(F.conv2d(F.pad(xt, (1, 1, 1, 1)), w, b, stride=(2, 1), groups=3))

    _assert_all_close(ours, _torch_grads(last(depthwise_fn), x_in, depthwise.get_weights(), ours[1]))

    separable = layers.SeparableConv2D(4, 3, padding="same", activation=activation, data_format=data_format,
                                       dtype="float64")
    separable.build(x_in.shape)
    separable.set_weights(separable.get_weights()[:2] + [rand(4, seed=4, dtype=np.float64)])
    ours = _grads(separable, x_in)

    def separable_fn(xt, dk, pk, b):
        mid = F.conv2d(F.pad(xt, (1, 1, 1, 1)), dk.permute(2, 3, 0, 1).reshape(3, 1, 3, 3), groups=3)
        return act(F.conv2d(mid, pk.permute(3, 2, 0, 1), b))

    _assert_all_close(ours, _torch_grads(last(separable_fn), x_in, separable.get_weights(), ours[1]))


def test_depthwise_and_separable_conv1d_match_torch():
    x = rand(2, 9, 2, dtype=np.float64)
    depthwise = layers.DepthwiseConv1D(3, depth_multiplier=2, dilation_rate=2, dtype="float64")
    ours = _grads(depthwise, x)
    _assert_all_close(ours, _torch_grads(
        lambda xt, k, b: F.conv1d(xt.permute(0, 2, 1), k.permute(1, 2, 0).reshape(4, 1, 3), b, dilation=2,
                                  groups=2).permute(0, 2, 1), x, depthwise.get_weights(), ours[1]))
    separable = layers.SeparableConv1D(3, 2, padding="same", dtype="float64")
    ours = _grads(separable, x)

    def separable_fn(xt, dk, pk, b):  # "same" for k=2: the extra cell after
        mid = F.conv1d(F.pad(xt.permute(0, 2, 1), (0, 1)), dk.permute(1, 2, 0).reshape(2, 1, 2), groups=2)
        return F.conv1d(mid, pk.permute(2, 1, 0), b).permute(0, 2, 1)

    _assert_all_close(ours, _torch_grads(separable_fn, x, separable.get_weights(), ours[1]))


def test_causal_grouped_conv1d_sees_no_future():
    x = rand(1, 8, 4)
    layer = layers.Conv1D(2, 3, padding="causal", groups=2, dilation_rate=2)
    base = layer(x).data
    later = x.copy()
    later[:, 5:] += 1.0  # changing steps 5.. must leave outputs 0..4 alone
    np.testing.assert_array_equal(layer(later).data[:, :5], base[:, :5])
    assert not np.allclose(layer(later).data[:, 5:], base[:, 5:])


# ------------------------------------------------------------------ training and errors
def test_dcgan_generator_trains():
    dg.utils.set_random_seed(0)
    model = dg.Sequential([
        layers.Input((8,)), layers.Dense(4 * 4 * 8), layers.Reshape((4, 4, 8)),
        layers.Conv2DTranspose(8, 4, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Conv2DTranspose(4, 4, strides=2, padding="same"), layers.PReLU(shared_axes=[1, 2]),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ])
    model.compile(optimizer=dg.optimizers.Adam(0.01), loss="mse")
    # one learnable picture (a bright disc) for every latent vector
    yy, xx = np.mgrid[:16, :16]
    disc = (((yy - 7.5) ** 2 + (xx - 7.5) ** 2) < 30).astype(np.float32)
    z, images = rand(16, 8), np.broadcast_to(disc[None, :, :, None], (16, 16, 16, 1)).copy()
    assert model.output_shape == (None, 16, 16, 1)
    first = model.train_on_batch(z, images)
    for _ in range(40):
        last = model.train_on_batch(z, images)
    assert float(last) < 0.3 * float(first)


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv2D: filters \(5\) must be a multiple of groups \(2\)"):
        layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2D 'g'.*5 input channels must be a multiple of groups \(2\)"):
        layers.Conv2D(4, 3, groups=2, name="g")(rand(1, 5, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2DTranspose: each output_padding must be smaller than its stride"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Conv2DTranspose: strides > 1 cannot be combined with dilation_rate"):
        layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"Conv3D: kernel_size"):
        layers.Conv3D(2, (3, 3))
    with pytest.raises(ValueError, match=r"DepthwiseConv2D: depth_multiplier must be a positive integer"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"SeparableConv1D: padding"):
        layers.SeparableConv1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match=r"layer 't'.*expected min_ndim=5, found ndim=4.*\(2, 4, 4, 3\)"):
        layers.Conv3DTranspose(2, 2, name="t")(rand(2, 4, 4, 3))
    layer = layers.SeparableConv2D(2, 2, name="sep")
    layer(rand(1, 4, 4, 3))
    with pytest.raises(ValueError, match=r"layer 'sep'.*axis -1 of input shape to have value 3.*\(1, 4, 4, 5\)"):
        layer(rand(1, 4, 4, 5))
