"""The attention op with dropout on its probabilities and the probabilities as a second output
(``ops.attention.attention_with_dropout``): against PyTorch's formula with the same dropout
factors, against float64 central differences, and its draws against ``ops.dropout``'s."""
import numpy as np
import pytest
import torch
from oracle import check_gradients

import deepgrad as dg
from deepgrad.ops.activation import dropout_mask
from deepgrad.ops.attention import attention_with_dropout


def normal(seed, shape, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def torch_reference(q, k, v, scale, factors, allowed=None, groups=1):
    """softmax(q k^T scale) with masked logits removed, times the dropout factors, times v;
    returns (output (B, T, N, Hv), probabilities (B, N, T, S))."""
    qh, kh, vh = (a.transpose(1, 2) for a in (q, k, v))
    if groups > 1:
        kh, vh = kh.repeat_interleave(groups, 1), vh.repeat_interleave(groups, 1)
    logits = qh @ kh.transpose(-1, -2) * scale
    if allowed is not None:
        logits = logits.masked_fill(~torch.from_numpy(np.ascontiguousarray(allowed)), float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    dropped = probs if factors is None else probs * torch.from_numpy(factors)
    return (dropped @ vh).transpose(1, 2), probs


@pytest.mark.parametrize("shape", [
    dict(b=2, t=5, s=7, heads=4, kv_heads=4, dim=8, dim_v=8),
    dict(b=3, t=6, s=4, heads=2, kv_heads=2, dim=5, dim_v=3),
    dict(b=2, t=4, s=6, heads=4, kv_heads=2, dim=4, dim_v=6),  # grouped-query
])
@pytest.mark.parametrize("rate,masked,probs_used", [(0.3, False, False), (0.5, True, True), (0.0, True, True),
                                                     (0.25, False, True)])
def test_matches_torch_with_the_same_dropout_factors(shape, rate, masked, probs_used):
    b, t, s, n, nkv = shape["b"], shape["t"], shape["s"], shape["heads"], shape["kv_heads"]
    arrays = [normal(0, (b, t, n, shape["dim"])), normal(1, (b, s, nkv, shape["dim"])),
              normal(2, (b, s, nkv, shape["dim_v"]))]
    allowed = None
    if masked:
        allowed = np.random.default_rng(3).random((b, 1, t, s)) > 0.4
        allowed[..., 1] = True
    ours = [dg.Tensor(a, requires_grad=True) for a in arrays]
    out, probs = attention_with_dropout(*ours, mask=allowed, scale=0.4, rate=rate, seed=(7, 1), return_probs=True)
    factors = dropout_mask((b, n, t, s), rate, np.float32, (7, 1)) if rate else None
    if rate:  # some kept, some dropped, kept ones scaled
        assert set(np.unique(factors)) == {0.0, np.float32(1 / (1 - rate))}
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref_out, ref_probs = torch_reference(*theirs, 0.4, factors, allowed, n // nkv)
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.data, ref_probs.detach().numpy(), rtol=1e-5, atol=1e-7)
    g_out, g_probs = normal(4, out.shape), normal(5, probs.shape)
    loss = (out * g_out).sum() + ((probs * g_probs).sum() if probs_used else 0.0)
    loss.backward()
    ref_loss = (ref_out * torch.from_numpy(g_out)).sum()
    if probs_used:
        ref_loss = ref_loss + (ref_probs * torch.from_numpy(g_probs)).sum()
    ref_loss.backward()
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, ref.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rate,return_probs,causal", [(0.4, False, False), (0.4, True, True), (0.0, True, False)])
def test_central_differences(rate, return_probs, causal):
    q, k, v = normal(8, (2, 3, 2, 3), np.float64), normal(9, (2, 4, 2, 3), np.float64), normal(10, (2, 4, 2, 2), np.float64)
    allowed = None if causal else np.array([[True, False, True, True], [False, False, True, False],
                                            [True, True, True, False]])

    def fn(a, b, c):
        res = attention_with_dropout(a, b, c, mask=allowed, is_causal=causal, rate=rate, seed=(3, 0),
                                     return_probs=return_probs)
        if not return_probs:
            return res
        return dg.concatenate([res[0].reshape(-1), res[1].reshape(-1)], axis=0)

    check_gradients(fn, [q, k, v], rtol=1e-6, atol=1e-8)


def test_draws_are_those_of_dropout():
    """The global generator advances as ``ops.dropout`` of the probabilities advances it, and a
    fixed seed gives the same factors."""
    q, k, v = normal(11, (2, 6, 3, 4)), normal(12, (2, 5, 3, 4)), normal(13, (2, 5, 3, 4))
    dg.utils.set_random_seed(5)
    out, probs = attention_with_dropout(q, k, v, rate=0.5, return_probs=True)
    after_ours = dg.random.uniform((3,)).data
    dg.utils.set_random_seed(5)
    dropped = dg.dropout(probs, 0.5, training=True)
    after_dropout = dg.random.uniform((3,)).data
    np.testing.assert_array_equal(after_ours, after_dropout)
    expected = np.swapaxes(dropped.data @ np.swapaxes(v, 1, 2), 1, 2)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    assert (dropped.data == 0).mean() > 0.3


def test_rejects_rows_without_keys_and_bad_rates():
    q, k, v = normal(14, (1, 2, 1, 2)), normal(15, (1, 3, 1, 2)), normal(16, (1, 3, 1, 2))
    with pytest.raises(ValueError, match="attention_with_dropout: a row of the mask allows no key"):
        attention_with_dropout(q, k, v, mask=np.array([[True, True, False], [False, False, False]]))
    with pytest.raises(ValueError, match="attention_with_dropout: rate"):
        attention_with_dropout(q, k, v, rate=1.0)
