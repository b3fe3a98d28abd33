"""N-D conv, conv_transpose, depthwise_conv and separable_conv: values against Keras, gradients against PyTorch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect  # noqa: E402
import itertools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import nn as dnn  # noqa: E402

KERNEL = (3, 2, 3)
SPATIAL = (7, 6, 5)


def normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def k_np(value):
    return keras.ops.convert_to_numpy(value)


GEOMETRIES = [  # (padding, strides, dilation)
    ("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1), ("same", 2, 1), ("valid", 1, 2), ("same", 1, 2),
]


def case(nd, data_format, seed=0, cin=4, batch=2, dtype=np.float64):
    x = normal(seed, (batch, *SPATIAL[:nd], cin), dtype)
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_matches_keras(nd, geometry, data_format, groups):
    padding, strides, dilation = geometry
    x = case(nd, data_format)
    kernel = normal(1, (*KERNEL[:nd], 4 // groups, 8))
    expected = k_np(keras.ops.conv(x, kernel, strides, padding, data_format, dilation))
    out = dg.conv(x, kernel, strides, padding, data_format, dilation)
    assert out.dtype == expected.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_depthwise_and_separable_conv_match_keras(nd, geometry, data_format):
    padding, strides, dilation = geometry
    x = case(nd, data_format, dtype=np.float32)
    depthwise = normal(1, (*KERNEL[:nd], 4, 2), np.float32)
    pointwise = normal(2, (*(1,) * nd, 8, 5), np.float32)
    expected = k_np(keras.ops.depthwise_conv(x, depthwise, strides, padding, data_format, dilation))
    out = dg.depthwise_conv(x, depthwise, strides, padding, data_format, dilation)
    assert out.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    expected = k_np(keras.ops.separable_conv(x, depthwise, pointwise, strides, padding, data_format, dilation))
    out = dg.separable_conv(x, depthwise, pointwise, strides, padding, data_format, dilation)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("output_padding", [None, 0, 1])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_matches_keras(nd, geometry, data_format, output_padding):
    padding, strides, dilation = geometry
    if output_padding == 1 and strides == 1 and dilation == 1:
        pytest.skip("an output padding must be smaller than the stride or the dilation")
    x = case(nd, data_format)
    kernel = normal(1, (*KERNEL[:nd], 5, 4))
    expected = k_np(keras.ops.conv_transpose(x, kernel, strides, padding, output_padding, data_format, dilation))
    out = dg.conv_transpose(x, kernel, strides, padding, output_padding, data_format, dilation)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


def torch_conv(nd, strides, dilation, groups):
    """PyTorch's convolution on channels-last data with a Keras kernel (valid padding)."""
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]

    def run(x, kernel):
        out = fn(torch.movedim(x, -1, 1), torch.movedim(torch.movedim(kernel, -1, 0), -1, 1),
                 stride=strides, dilation=dilation, groups=groups)
        return torch.movedim(out, 1, -1)

    return run


def torch_conv_transpose(nd, strides, dilation, output_padding):
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]

    def run(x, kernel):
        # Keras (*k, out, in) -> PyTorch (in, out, *k)
        weight = torch.movedim(torch.movedim(kernel, -1, 0), -1, 1)
        out = fn(torch.movedim(x, -1, 1), weight, stride=strides, dilation=dilation, output_padding=output_padding)
        return torch.movedim(out, 1, -1)

    return run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,strides,dilation,groups", [
    (1, 1, 1, 1), (1, 2, 1, 2), (1, 1, 2, 4), (2, 1, 1, 1), (2, 2, 1, 2), (2, 1, 2, 1), (3, 1, 1, 2), (3, 2, 1, 1),
])
def test_conv_gradients_match_torch(nd, strides, dilation, groups, dtype):
    x = case(nd, "channels_last", seed=nd + strides, dtype=dtype)
    kernel = normal(5, (*KERNEL[:nd], 4 // groups, 8), dtype)
    compare_with_torch(lambda a, k: dg.conv(a, k, strides, dilation_rate=dilation), torch_conv(nd, strides, dilation, groups),
                       [x, kernel], rtol=1e-4 if dtype == np.float32 else None, atol=1e-4 if dtype == np.float32 else None)


@pytest.mark.parametrize("nd,strides,dilation,output_padding", [
    (1, 1, 1, 0), (1, 2, 1, 1), (1, 1, 2, 0), (2, 1, 1, 0), (2, 2, 1, 1), (2, 2, 2, 0), (3, 2, 1, 1), (3, 1, 1, 0),
])
def test_conv_transpose_gradients_match_torch(nd, strides, dilation, output_padding):
    x = case(nd, "channels_last", seed=nd)
    kernel = normal(6, (*KERNEL[:nd], 3, 4))
    # Keras's "valid" with this output_padding is PyTorch's padding=0 with the same output_padding
    compare_with_torch(lambda a, k: dg.conv_transpose(a, k, strides, "valid", output_padding, dilation_rate=dilation),
                       torch_conv_transpose(nd, strides, dilation, output_padding), [x, kernel])


@pytest.mark.parametrize("op", ["conv", "depthwise_conv", "separable_conv", "conv_transpose"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_same_padding_and_channels_first_gradients_match_torch_through_keras(op, data_format, padding):
    # Keras's torch backend pads asymmetrically for "same" and crops the transposed output;
    # its autograd gives the reference gradient for those geometries
    x = case(2, data_format, seed=3, cin=4)
    kernels = {"conv": [normal(1, (3, 2, 2, 6))], "depthwise_conv": [normal(1, (3, 2, 4, 2))],
               "separable_conv": [normal(1, (3, 2, 4, 2)), normal(2, (1, 1, 8, 3))],
               "conv_transpose": [normal(1, (3, 2, 5, 4))]}[op]
    ours, theirs = getattr(dg, op), getattr(keras.ops, op)
    compare_with_torch(lambda a, *k: ours(a, *k, strides=2, padding=padding, data_format=data_format),
                       lambda a, *k: theirs(a, *k, strides=2, padding=padding, data_format=data_format),
                       [x, *kernels])


@pytest.mark.parametrize("op,kernel_shape,kwargs", [
    ("conv", (2, 2, 4, 3), {"strides": 2, "padding": "same"}),
    ("conv", (3, 2, 2, 4), {"dilation_rate": (1, 2)}),
    ("depthwise_conv", (2, 3, 4, 2), {"padding": "same"}),
    ("conv_transpose", (3, 2, 2, 4), {"strides": 2, "padding": "same", "output_padding": 1}),
    ("conv_transpose", (2, 2, 3, 4), {"strides": (2, 1), "dilation_rate": 1}),
])
def test_central_differences(op, kernel_shape, kwargs):
    x = normal(0, (1, 5, 4, 4))
    check_gradients(lambda a, k: getattr(dg, op)(a, k, **kwargs), [x, normal(1, kernel_shape)])


def test_conv_1d_and_3d_central_differences():
    check_gradients(lambda a, k: dg.conv(a, k, 2, "same"), [normal(0, (2, 6, 2)), normal(1, (3, 2, 3))])
    check_gradients(lambda a, k: dg.conv_transpose(a, k, 2, "same", data_format="channels_first"),
                    [normal(0, (1, 2, 3, 2, 2)), normal(1, (2, 2, 2, 2, 2))])


def test_float32_stays_float32_and_lists_are_accepted():
    x = normal(0, (1, 4, 4, 2), np.float32)
    kernel = normal(1, (2, 2, 2, 3), np.float32)
    assert dg.conv(x, kernel).dtype == np.float32
    out = dg.conv(x.tolist(), kernel.tolist())
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, dg.conv(x, kernel).data, rtol=1e-6)


def test_signatures_match_keras():
    for name in ["conv", "conv_transpose", "depthwise_conv", "separable_conv"]:
        assert inspect.signature(getattr(dnn, name)) == inspect.signature(getattr(keras.ops.nn, name)), name
        assert getattr(dg.ops, name) is getattr(dnn, name)


def test_errors_name_the_op_and_shapes():
    x = np.zeros((1, 5, 5, 4))
    with pytest.raises(ValueError, match=r"conv: the input's 4 channels"):
        dg.conv(x, np.zeros((2, 2, 3, 6)))
    with pytest.raises(ValueError, match="conv: padding"):
        dg.conv(x, np.zeros((2, 2, 4, 6)), padding="full")
    with pytest.raises(ValueError, match="conv: inputs must have rank 3, 4 or 5"):
        dg.conv(np.zeros((5, 4)), np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match="conv: strides"):
        dg.conv(x, np.zeros((2, 2, 4, 6)), strides=(1, 2, 3))
    with pytest.raises(ValueError, match="does not fit"):
        dg.conv(x, np.zeros((6, 6, 4, 2)))
    with pytest.raises(ValueError, match="depthwise_conv: the kernel"):
        dg.depthwise_conv(x, np.zeros((2, 2, 3, 1)))
    with pytest.raises(ValueError, match="conv_transpose: the kernel"):
        dg.conv_transpose(x, np.zeros((2, 2, 4, 3)))
    with pytest.raises(ValueError, match="data_format"):
        dg.conv(x, np.zeros((2, 2, 4, 6)), data_format="NHWC")


BACKWARD_CASES = {
    "Conv": (lambda a, k: dg.conv(a, k, 2, "same"), [normal(0, (2, 5, 5, 4)), normal(1, (3, 3, 2, 4))]),
    "ConvTranspose": (lambda a, k: dg.conv_transpose(a, k, 2, "same"), [normal(0, (2, 3, 3, 4)), normal(1, (3, 3, 2, 4))]),
}


@settings(max_examples=15)
@given(nd=st.integers(1, 2), size=st.integers(3, 6), k=st.integers(1, 3), stride=st.integers(1, 2),
       dilation=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]), groups=st.sampled_from([1, 2]),
       data_format=st.sampled_from(["channels_last", "channels_first"]), seed=st.integers(0, 1000))
def test_random_geometries_match_keras_on_torch(nd, size, k, stride, dilation, padding, groups, data_format, seed):
    assume(padding == "same" or (k - 1) * dilation + 1 <= size)
    x = normal(seed, (2, *(size,) * nd, 4))
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    kernel = normal(seed + 1, (*(k,) * nd, 4 // groups, 4))
    compare_with_torch(lambda a, w: dg.conv(a, w, stride, padding, data_format, dilation),
                       lambda a, w: keras.ops.conv(a, w, stride, padding, data_format, dilation), [x, kernel])
    tkernel = normal(seed + 2, (*(k,) * nd, 3, 4))
    compare_with_torch(lambda a, w: dg.conv_transpose(a, w, stride, padding, None, data_format, dilation),
                       lambda a, w: keras.ops.conv_transpose(a, w, stride, padding, None, data_format, dilation),
                       [x, tkernel])
