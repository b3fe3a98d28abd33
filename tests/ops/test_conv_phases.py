"""col2im in phase blocks and batch parts (ops/conv_phases.py), and the transposed convolution
with its bias in the op (conv_transpose_bias), against the tap-by-tap path and PyTorch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import itertools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import conv_phases  # noqa: E402
from deepgrad.ops.convolution import conv_transpose_bias, tap_slices  # noqa: E402


def tap_by_tap(dcols, padded_shape, kernel, strides, dilation, out_shape):
    """The plain col2im: one strided add per kernel tap, in ascending tap order."""
    out = np.zeros(padded_shape, dcols.dtype)
    nd = len(kernel)
    for tap in itertools.product(*[range(k) for k in kernel]):
        out[tap_slices(tap, strides, dilation, out_shape)] += dcols[(slice(None),) * (1 + nd) + tap]
    return out


GEOMETRIES = [  # (kernel, strides, dilation, out_shape) per axis
    ((4, 4), (2, 2), (1, 1), (5, 6)),  # a DCGAN layer's: k = 2 s
    ((3, 5), (2, 3), (1, 1), (4, 3)),  # k not a multiple of s: the last group has fewer phases
    ((2, 1), (3, 2), (1, 1), (3, 4)),  # k < s: cells that no tap reaches
    ((3, 3), (1, 1), (2, 1), (4, 5)),  # dilation: one group per tap
    ((3,), (2,), (1,), (6,)),
    ((2, 3, 2), (2, 1, 2), (1, 1, 1), (3, 2, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,strides,dilation,out_shape", GEOMETRIES)
def test_scatter_add_is_bit_identical_to_tap_by_tap(kernel, strides, dilation, out_shape, dtype):
    rng = np.random.default_rng(len(kernel) + sum(strides))
    padded = tuple((o - 1) * s + (k - 1) * d + 1 + extra
                   for o, k, s, d, extra in zip(out_shape, kernel, strides, dilation, itertools.cycle((0, 2))))
    dcols = rng.standard_normal((3, *out_shape, *kernel, 5)).astype(dtype)
    expected = tap_by_tap(dcols, (3, *padded, 5), kernel, strides, dilation, out_shape)
    out = np.zeros((3, *padded, 5), dtype)
    conv_phases.scatter_add(out, dcols, kernel, strides, dilation, out_shape)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("part_bytes", [1, 700, 1 << 30])
@pytest.mark.parametrize("kernel,strides,dilation,out_shape", GEOMETRIES[:4])
def test_col2im_gemm_in_batch_parts_matches_one_gemm(kernel, strides, dilation, out_shape, part_bytes, monkeypatch):
    # parts of one sample, of a few samples with a shorter last part (5 = 2 + 2 + 1), and the whole batch
    monkeypatch.setattr(conv_phases, "PART_BYTES", part_bytes)
    rng = np.random.default_rng(7)
    n, cin, c = 5, 3, 2
    padded = tuple((o - 1) * s + (k - 1) * d + 1 for o, k, s, d in zip(out_shape, kernel, strides, dilation))
    a = rng.standard_normal((n * np.prod(out_shape), cin))
    w = rng.standard_normal((cin, np.prod(kernel) * c))
    expected = tap_by_tap((a @ w).reshape(n, *out_shape, *kernel, c), (n, *padded, c), kernel, strides, dilation,
                          out_shape)
    out = conv_phases.col2im_gemm(a, w, (n, *padded, c), kernel, strides, dilation, out_shape)
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)


def keras_conv_transpose_plus_bias(strides, padding, output_padding, data_format, dilation):
    def run(x, kernel, bias):
        out = keras.ops.conv_transpose(x, kernel, strides, padding, output_padding, data_format, dilation)
        return out + (bias if data_format == "channels_last" else bias.reshape(-1, *(1,) * (x.ndim - 2)))
    return run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,kernel,strides,padding,output_padding,dilation,data_format", [
    (2, (4, 4), 2, "same", None, 1, "channels_last"),  # the DCGAN generator's layers
    (2, (4, 4), 2, "valid", None, 1, "channels_first"),
    (2, (3, 2), 3, "same", 1, 1, "channels_last"),
    (2, (5, 3), (3, 2), "valid", (2, 1), 1, "channels_last"),
    (2, (3, 3), 1, "same", None, 2, "channels_last"),
    (2, (3, 3), 1, "valid", 1, 2, "channels_first"),
    (1, (4,), 2, "same", None, 1, "channels_last"),
    (3, (2, 3, 2), 2, "same", None, 1, "channels_last"),
])
def test_conv_transpose_with_bias_matches_torch(nd, kernel, strides, padding, output_padding, dilation, data_format,
                                                dtype):
    rng = np.random.default_rng(nd)
    shape = (2, 5, 4, 3)[:nd + 1] + (3,)
    x = rng.standard_normal(shape).astype(dtype)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    k = rng.standard_normal((*kernel, 4, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    compare_with_torch(
        lambda a, kk, bb: conv_transpose_bias(a, kk, bb, strides, padding, output_padding, data_format, dilation),
        keras_conv_transpose_plus_bias(strides, padding, output_padding, data_format, dilation), [x, k, b],
        rtol=tol, atol=tol)


def test_conv_transpose_with_bias_central_differences():
    rng = np.random.default_rng(3)
    check_gradients(lambda a, k, b: conv_transpose_bias(a, k, b, 2, "same", 1),
                    [rng.standard_normal((2, 3, 4, 2)), rng.standard_normal((3, 4, 3, 2)), rng.standard_normal(3)])


def test_conv_transpose_with_bias_equals_the_plain_op_plus_bias_bit_for_bit():
    rng = np.random.default_rng(4)
    x, k, b = (rng.standard_normal(s).astype(np.float32) for s in ((4, 7, 7, 16), (4, 4, 8, 16), (8,)))
    fused = conv_transpose_bias(x, k, b, 2, "same")
    plain = dg.conv_transpose(x, k, 2, "same") + b
    np.testing.assert_array_equal(fused.data, plain.data)
    assert fused.data.flags.c_contiguous


def test_second_derivatives_through_conv_transpose_with_bias_match_torch():
    # a gradient penalty: d/dK and d/db of |dL/dx|^2, with L = sum(w * tanh(conv_transpose(x, K) + b))
    rng = np.random.default_rng(5)
    x0, k0, b0 = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((4, 4, 3, 2)), rng.standard_normal(3)
    w0 = rng.standard_normal((2, 6, 6, 3))
    x, k, b = (dg.Tensor(v, requires_grad=True) for v in (x0, k0, b0))
    gx = dg.grad((dg.tanh(conv_transpose_bias(x, k, b, 2, "same")) * w0).sum(), x, create_graph=True)
    dk, db = dg.grad((gx * gx).sum(), [k, b])
    tx, tk, tb = (torch.tensor(v, requires_grad=True) for v in (x0, k0, b0))
    # "same" with k = 4, s = 2 is PyTorch's padding 1; Keras (kh, kw, out, in) -> PyTorch (in, out, kh, kw)
    out = torch.nn.functional.conv_transpose2d(tx.permute(0, 3, 1, 2), tk.permute(3, 2, 0, 1), tb, 2, 1)
    (tgx,) = torch.autograd.grad((torch.tanh(out.permute(0, 2, 3, 1)) * torch.tensor(w0)).sum(), tx,
                                 create_graph=True)
    rk, rb = torch.autograd.grad((tgx * tgx).sum(), [tk, tb])
    np.testing.assert_allclose(dk, rk.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, rb.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel,strides,dilation,out_shape", GEOMETRIES)
def test_fresh_scatter_overwrites_garbage_bit_for_bit(kernel, strides, dilation, out_shape):
    """``fresh=True`` copies the first tap group in and zeroes only the cells outside its box:
    the same numbers as zeroing first, whatever the array held."""
    rng = np.random.default_rng(11)
    padded = tuple((o - 1) * s + (k - 1) * d + 1 + extra
                   for o, k, s, d, extra in zip(out_shape, kernel, strides, dilation, itertools.cycle((0, 2))))
    dcols = rng.standard_normal((3, *out_shape, *kernel, 5)).astype(np.float32)
    expected = tap_by_tap(dcols, (3, *padded, 5), kernel, strides, dilation, out_shape)
    out = np.full((3, *padded, 5), np.nan, np.float32)
    conv_phases.scatter_add(out, dcols, kernel, strides, dilation, out_shape, fresh=True)
    np.testing.assert_array_equal(out, expected)


def test_fill_outside_sets_every_cell_outside_the_box_once():
    a = np.full((2, 5, 6, 3), 7.0)
    conv_phases.fill_outside(a, [(1, 4), (2, 6)], -1.0)
    expected = np.full_like(a, -1.0)
    expected[:, 1:4, 2:6] = 7.0
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("case", ["conv_transpose", "conv_strided", "conv_1d", "pool"])
def test_ops_give_the_same_numbers_from_a_pool_of_garbage(case, monkeypatch):
    """The pooled arrays the padding, col2im and the uncropped gradient are made in are never
    zeroed whole: with every pooled array handed out full of NaN the results are unchanged."""
    from deepgrad.ops import workspace

    rng = np.random.default_rng(12)
    fns = {"conv_transpose": ((2, 7, 6, 8), (4, 4, 5, 8), lambda x, k: dg.ops.conv_transpose(x, k, 2, "same")),
           "conv_strided": ((2, 11, 10, 3), (4, 4, 3, 6), lambda x, k: dg.ops.conv(x, k, 2, "same")),
           "conv_1d": ((2, 13, 3), (5, 3, 4), lambda x, k: dg.ops.conv(x, k, 3, "valid")),
           "pool": ((2, 9, 9, 4), None, lambda x: dg.ops.average_pool(x, 3, 2, "same"))}
    x_shape, k_shape, fn = fns[case]
    arrays = [rng.standard_normal(x_shape).astype(np.float32)]
    if k_shape:
        arrays.append(rng.standard_normal(k_shape).astype(np.float32))

    def run():
        ins = [dg.Tensor(a, requires_grad=True) for a in arrays]
        y = fn(*ins)
        y.backward(np.random.default_rng(13).standard_normal(y.shape).astype(np.float32))
        return [y.data.copy()] + [t.grad.copy() for t in ins]

    expected = run()
    monkeypatch.setattr(workspace, "empty", lambda shape, dtype: np.full(shape, np.nan, dtype))
    for a, b in zip(run(), expected):
        np.testing.assert_array_equal(a, b)
