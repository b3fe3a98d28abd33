"""conv2d's tap path (few output channels) against the im2col path, PyTorch and central
differences; the cost model's choice; the inference forward unfolded in parts."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.ops import conv_taps, im2col as im2col_module
from deepgrad.ops.im2col import conv1d, conv2d, conv2d_relu
from oracle import check_gradients, compare_with_torch
from test_im2col import torch_conv2d

# (n, h, w, cin, cout, kh, kw, strides, padding, dilation)
CASES = [
    (2, 9, 8, 8, 1, 3, 3, (1, 1), "same", (1, 1)),
    (3, 10, 7, 6, 2, 3, 2, (2, 1), "valid", (1, 1)),
    (2, 11, 9, 5, 1, 2, 3, (1, 2), "same", (2, 1)),
    (1, 8, 8, 4, 3, 4, 4, (2, 2), "same", (1, 1)),
    (2, 12, 12, 16, 1, 7, 7, (1, 1), "same", (1, 1)),  # the DCGAN generator's last layer, smaller
]


def _run(monkeypatch, taps: bool, op, arrays, **kw):
    """Forward and every gradient of ``op`` with the tap path forced on or off."""
    monkeypatch.setattr(im2col_module, "use_taps", lambda *a: taps)
    inputs = [dg.Tensor(a, requires_grad=True) for a in arrays]
    out = op(*inputs, **kw)
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype))
    return [out.data] + [t.grad for t in inputs]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("relu", [False, True])
def test_taps_path_equals_im2col_path(monkeypatch, dtype, case, relu):
    n, h, w, cin, cout, kh, kw, strides, padding, dilation = case
    rng = np.random.default_rng(sum(case[:7]))
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((n, h, w, cin), (kh, kw, cin, cout), (cout,))]
    op = conv2d_relu if relu else conv2d
    kw_ = dict(strides=strides, padding=padding, dilation_rate=dilation)
    fast = _run(monkeypatch, True, op, arrays, **kw_)
    plain = _run(monkeypatch, False, op, arrays, **kw_)
    # float64: rounding only (1e-12 of the scale); float32: sums in another order, 1e-5 of the scale
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for name, a, b in zip(("output", "dx", "dkernel", "dbias"), fast, plain):
        assert a.dtype == dtype and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.abs(b).max(), err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES[:4])
def test_taps_path_matches_torch(monkeypatch, dtype, case):
    n, h, w, cin, cout, kh, kw, strides, padding, dilation = case
    monkeypatch.setattr(im2col_module, "use_taps", lambda *a: True)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((n, h, w, cin), (kh, kw, cin, cout), (cout,))]
    compare_with_torch(lambda *t: conv2d(*t, strides=strides, padding=padding, dilation_rate=dilation),
                       lambda *t: torch_conv2d(*t, strides=strides, padding=padding, dilation=dilation), arrays)


@pytest.mark.parametrize("case", [CASES[1], CASES[2]])
def test_taps_path_central_differences(monkeypatch, case):
    n, h, w, cin, cout, kh, kw, strides, padding, dilation = case
    monkeypatch.setattr(im2col_module, "use_taps", lambda *a: True)
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in ((1, h - 2, w - 1, 3), (kh, kw, 3, cout), (cout,))]
    check_gradients(lambda *t: conv2d(*t, strides=strides, padding=padding, dilation_rate=dilation), arrays)


def test_taps_path_conv1d_and_partial_gradients(monkeypatch):
    rng = np.random.default_rng(2)
    x, k = rng.standard_normal((3, 20, 12)), rng.standard_normal((5, 12, 1))
    results = []
    for taps in (True, False):
        monkeypatch.setattr(im2col_module, "use_taps", lambda *a, taps=taps: taps)
        xt, kt = dg.Tensor(x, requires_grad=True), dg.Tensor(k)  # no kernel gradient wanted
        out = conv1d(xt, kt, padding="causal", dilation_rate=2)
        out.backward(np.ones(out.shape))
        assert kt.grad is None
        results.append((out.data, xt.grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=0, atol=1e-12 * np.abs(results[1][0]).max())
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0, atol=1e-12 * np.abs(results[1][1]).max())


def test_cost_model_picks_taps_for_few_filters_only():
    # the DCGAN generator's Conv2D(1, 7, "same") on (64, 28, 28, 64): padded 34x34
    assert conv_taps.use_taps((64, 34, 34, 64), (28, 28), (7, 7, 64, 1))
    # a CNN's usual layers unfold: Conv2D(32, 3) on one channel, Conv2D(64, 3) on 32 channels
    assert not conv_taps.use_taps((128, 28, 28, 1), (26, 26), (3, 3, 1, 32))
    assert not conv_taps.use_taps((128, 15, 15, 32), (13, 13), (3, 3, 32, 64))
    # stride 2 quarters the output cells: 16 channels in for 1 out is not enough
    assert not conv_taps.use_taps((8, 30, 30, 16), (14, 14), (3, 3, 16, 1))


def test_layer_uses_the_tap_path(monkeypatch):
    calls = []
    original = conv_taps.taps_forward
    monkeypatch.setattr(im2col_module, "taps_forward", lambda *a: calls.append(a[0].shape) or original(*a))
    layer = dg.layers.Conv2D(1, 7, padding="same")
    x = np.random.default_rng(0).standard_normal((2, 28, 28, 64)).astype(np.float32)
    out = layer(x)
    assert calls == [(2, 34, 34, 64)] and out.shape == (2, 28, 28, 1)


@pytest.mark.parametrize("bias", [False, True])
def test_inference_unfolds_in_parts_with_the_same_result(monkeypatch, bias):
    rng = np.random.default_rng(3)
    x, k, b = (rng.standard_normal(s).astype(np.float32) for s in ((7, 9, 9, 3), (3, 3, 3, 5), (5,)))
    args = (x, k, b) if bias else (x, k)
    with dg.no_grad():
        whole = conv2d(*args, strides=(2, 1), padding="same").data
        # 9*5 output cells of 28 (or 27) floats per sample: a budget of 3 samples' columns
        monkeypatch.setattr(im2col_module, "COLS_BUDGET", 3 * 45 * 28 * 4)
        shapes = []
        original = im2col_module.im2col
        monkeypatch.setattr(im2col_module, "im2col", lambda xp, *a, **kw: shapes.append(xp.shape[0]) or
                            original(xp, *a, **kw))
        parts = conv2d(*args, strides=(2, 1), padding="same").data
    assert shapes == [3, 3, 1]
    np.testing.assert_allclose(parts, whole, rtol=1e-6, atol=1e-6)
    ref = torch_conv2d(*(torch.tensor(a) for a in args), strides=(2, 1), padding="same").numpy()
    np.testing.assert_allclose(parts, ref, rtol=1e-4, atol=1e-4)
