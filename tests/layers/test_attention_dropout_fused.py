"""MultiHeadAttention and GroupedQueryAttention with dropout in training and with the scores
returned take the fused attention op: the same outputs, scores and gradients as the explicit
path (softmax, ``ops.dropout``, matmul) with the same draws; rows with no key keep Keras's zeros."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers.attention import _HeadsAttention

RNG = np.random.default_rng(21)


def _run(layer, q, v, w, ws, calls=2, **call_kwargs):
    """Outputs, scores and every gradient of ``calls`` calls (the dropout seed advances per call)."""
    qt, vt = dg.Variable(q, dtype=q.dtype), dg.Variable(v, dtype=v.dtype)
    loss, found = 0.0, []
    for _ in range(calls):
        res = layer(qt, vt, **call_kwargs)
        out, scores = res if isinstance(res, tuple) else (res, None)
        loss = loss + (out * dg.Tensor(w)).sum()
        found.append(out.data)
        if scores is not None:
            loss = loss + (scores * dg.Tensor(ws)).sum()
            found.append(scores.data)
    loss.backward()
    found += [qt.grad, vt.grad] + [t.grad for t in layer.trainable_variables]
    for t in layer.trainable_variables:
        t.grad = None
    return found


def _build(cls, kwargs, shape, dtype="float64"):
    layer = cls(**kwargs, dtype=dtype)
    q, v = RNG.standard_normal(shape).astype(dtype), RNG.standard_normal(shape).astype(dtype)
    layer(q, v)
    for t in layer.trainable_variables:
        t.assign(RNG.standard_normal(t.shape) * 0.5)
    return layer, q, v


@pytest.mark.parametrize("cls,kwargs", [
    (layers.MultiHeadAttention, dict(num_heads=2, key_dim=3, dropout=0.4, seed=5)),
    (layers.MultiHeadAttention, dict(num_heads=3, key_dim=4, value_dim=2, dropout=0.3)),  # global generator
    (layers.MultiHeadAttention, dict(num_heads=2, key_dim=3)),
    (layers.GroupedQueryAttention, dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, dropout=0.5, seed=1)),
])
@pytest.mark.parametrize("call", [dict(training=True), dict(training=True, return_attention_scores=True),
                                  dict(training=True, use_causal_mask=True, return_attention_scores=True),
                                  dict(training=True, mask=True), dict(training=False, return_attention_scores=True)])
def test_fused_equals_explicit_path(cls, kwargs, call, monkeypatch):
    shape = (3, 6, 8)
    layer, q, v = _build(cls, kwargs, shape)
    call = dict(call)
    if call.pop("mask", False):  # random padding, every query keeping one key
        m = RNG.random((shape[0], shape[1], shape[1])) > 0.4
        m[..., 0] = True
        call["attention_mask"] = m
    w = RNG.standard_normal(shape)
    heads = kwargs.get("num_heads", kwargs.get("num_query_heads"))
    ws = RNG.standard_normal((shape[0], heads, shape[1], shape[1]))
    generator = layer._seed_generator()   # its state counts the seeded draws (none without dropout)
    start = None if generator is None else generator.state.data.copy()
    dg.utils.set_random_seed(9)
    fused = _run(layer, q, v, w, ws, **call)
    if generator is not None:
        generator.state.assign(start)  # the same seeds again
    monkeypatch.setattr(_HeadsAttention, "_fused_attend", lambda *args: None)
    dg.utils.set_random_seed(9)
    plain = _run(layer, q, v, w, ws, **call)
    assert len(fused) == len(plain)
    for i, (a, b) in enumerate(zip(fused, plain)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11, err_msg=f"entry {i}")
    if call.get("training") and layer.dropout > 0:  # dropout did act: the two calls differ
        assert np.abs(fused[0] - fused[2 if call.get("return_attention_scores") else 1]).max() > 1e-3


def test_fused_path_is_taken_and_rows_without_keys_fall_back(monkeypatch):
    layer, q, v = _build(layers.MultiHeadAttention, dict(num_heads=2, key_dim=3, dropout=0.2, seed=2), (2, 4, 6),
                         "float32")
    taken = []
    fused = _HeadsAttention._fused_attend
    monkeypatch.setattr(_HeadsAttention, "_fused_attend", lambda self, *a: taken.append(fused(self, *a))
                        or taken[-1])
    layer(q, v, training=True)
    assert taken[-1] is not None
    m = np.ones((2, 4, 4), bool)
    m[1, 2] = False  # query 2 of sample 1 may attend to nothing: Keras's explicit path gives zeros
    out, scores = layer(q, v, attention_mask=m, return_attention_scores=True, training=True)
    assert taken[-1] is None
    np.testing.assert_array_equal(scores.data[1, :, 2], 0.0)


def test_scores_match_torch_multihead_attention():
    batch, steps, width, heads = 3, 7, 8, 2
    layer = layers.MultiHeadAttention(heads, width // heads, dropout=0.1)
    x = RNG.standard_normal((batch, steps, width)).astype(np.float32)
    layer(x, x)
    for t in layer.trainable_variables:
        t.assign(RNG.standard_normal(t.shape).astype(np.float32) * 0.4)
    ref = torch.nn.MultiheadAttention(width, heads, batch_first=True, dropout=0.1).eval()
    qd, kd, vd, od = layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense
    with torch.no_grad():  # Keras kernels (in, heads, dim) are PyTorch's weights transposed
        ref.in_proj_weight.copy_(torch.from_numpy(np.concatenate(
            [d.kernel.numpy().reshape(width, width).T for d in (qd, kd, vd)])))
        ref.in_proj_bias.copy_(torch.from_numpy(np.concatenate([d.bias.numpy().ravel() for d in (qd, kd, vd)])))
        ref.out_proj.weight.copy_(torch.from_numpy(od.kernel.numpy().reshape(width, width).T))
        ref.out_proj.bias.copy_(torch.from_numpy(od.bias.numpy()))
    w, ws = RNG.standard_normal((batch, steps, width)), RNG.standard_normal((batch, heads, steps, steps))
    xt = dg.Variable(x)
    out, scores = layer(xt, xt, return_attention_scores=True, training=False)
    ((out * dg.Tensor(w.astype(np.float32))).sum() + (scores * dg.Tensor(ws.astype(np.float32))).sum()).backward()
    xs = torch.tensor(x, requires_grad=True)
    ref_out, ref_scores = ref(xs, xs, xs, need_weights=True, average_attn_weights=False)
    ((ref_out * torch.from_numpy(w).float()).sum() + (ref_scores * torch.from_numpy(ws).float()).sum()).backward()
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), **tol)
    np.testing.assert_allclose(scores.data, ref_scores.detach().numpy(), **tol)
    np.testing.assert_allclose(xt.grad, xs.grad.numpy(), **tol)
    dk = [d.kernel.grad.reshape(width, width).T for d in (qd, kd, vd)]
    np.testing.assert_allclose(np.concatenate(dk), ref.in_proj_weight.grad.numpy(), **tol)
