"""MultiHeadAttention's fast paths (EinsumDense as one GEMM, the fused attention op) give what
the plain paths give, and what torch.nn.MultiheadAttention gives, outputs and every gradient."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers.einsum_dense import linear_plan

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("equation,kernel_shape,bias_shape,plan", [
    ("abc,cd->abd", (4, 5), (5,), (4, (5,), True)),
    ("abc,cde->abde", (4, 2, 3), (2, 3), (4, (2, 3), True)),
    ("abc,cde->abde", (4, 2, 3), (3,), (4, (2, 3), False)),       # bias on part of the kept axes
    ("abcd,cde->abe", (2, 3, 6), (6,), (6, (6,), True)),           # two summed axes
    ("abc,cd->abd", (4, 5), None, (4, (5,), False)),
    ("abc,acd->abd", (2, 4, 5), None, None),                       # a shared (batched) axis
    ("ab,cb->ac", (5, 4), None, None),                             # kernel's summed axis last
    ("abc,cd->adb", (4, 5), None, None),                           # output axes reordered
    ("abcd,dce->abe", (3, 2, 6), None, None),                      # summed axes in another order
])
def test_linear_plan(equation, kernel_shape, bias_shape, plan):
    inp, rest = equation.split(",")
    ker, out = rest.split("->")
    assert linear_plan((inp, ker, out), list(kernel_shape), bias_shape) == plan


def test_right_elided_axes_keep_the_general_contraction():
    layer = layers.EinsumDense("ab...,bc->ac...", 5, dtype="float64")
    layer.build((2, 4, 3))
    assert layer._linear_plan is None
    x = RNG.standard_normal((2, 4, 3))
    np.testing.assert_allclose(layer(x).data, np.einsum("abk,bc->ack", x, layer.kernel.numpy()), rtol=1e-12)


def _grads(layer, x, w):
    xt = dg.Variable(x, dtype=x.dtype)
    out = layer(xt)
    (out * dg.Tensor(w)).sum().backward()
    return [out.data, xt.grad] + [v.grad for v in layer.trainable_variables]


@pytest.mark.parametrize("equation,output_shape,bias_axes,shape", [
    ("abc,cd->abd", (None, 5), "d", (3, 4, 6)),
    ("abc,cde->abde", (None, 2, 3), "de", (3, 4, 6)),
    ("abc,cde->abde", (None, 2, 3), "e", (3, 4, 6)),
    ("abcd,cde->abe", (None, 7), "e", (3, 4, 2, 5)),
    ("abc,cd->abd", (None, 5), None, (2, 3, 4)),
    ("...b,bc->...c", (5,), "c", (2, 3, 4)),
])
def test_einsum_dense_one_gemm_equals_contract(equation, output_shape, bias_axes, shape):
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh", dtype="float64")
    x = RNG.standard_normal(shape)
    layer.build(shape)
    for v in layer.trainable_variables:  # a non-zero bias, so that its path is checked too
        v.assign(RNG.standard_normal(v.shape))
    assert layer._linear_plan is not None
    w = RNG.standard_normal(layer.compute_output_shape(shape))
    fast = _grads(layer, x, w)
    for v in layer.trainable_variables:
        v.grad = None
    layer._linear_plan = None  # the general contraction
    plain = _grads(layer, x, w)
    assert len(fast) == 2 + len(layer.trainable_variables)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _mha_run(layer, q, v, w, **call_kwargs):
    qt, vt = dg.Variable(q, dtype=q.dtype), dg.Variable(v, dtype=v.dtype)
    out = layer(qt, vt, **call_kwargs)
    out = out[0] if isinstance(out, tuple) else out
    (out * dg.Tensor(w)).sum().backward()
    grads = [out.data, qt.grad, vt.grad] + [t.grad for t in layer.trainable_variables]
    for t in layer.trainable_variables:
        t.grad = None
    return grads


@pytest.mark.parametrize("kwargs,shape,call", [
    (dict(num_heads=2, key_dim=3), (2, 5, 6), dict()),
    (dict(num_heads=3, key_dim=4, value_dim=2), (2, 6, 5), dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=3, value_dim=5, output_shape=(4,)), (3, 4, 6), dict(mask=True)),
    (dict(num_heads=2, key_dim=3, attention_axes=(2,)), (2, 3, 4, 6), dict()),
    (dict(num_heads=2, key_dim=2, attention_axes=(1, 2)), (2, 3, 2, 4), dict()),
])
def test_multi_head_attention_fast_paths_equal_plain(kwargs, shape, call, monkeypatch):
    layer = layers.MultiHeadAttention(**kwargs, dtype="float64")
    q, v = RNG.standard_normal(shape), RNG.standard_normal(shape)
    layer(q, v)
    for t in layer.trainable_variables:
        t.assign(RNG.standard_normal(t.shape) * 0.5)
    if call.pop("mask", False):  # random padding, every query keeping one key
        m = RNG.random((shape[0], shape[1], shape[1])) > 0.4
        m[..., 0] = True
        call["attention_mask"] = m
    w = RNG.standard_normal(layer.compute_output_shape(shape))
    fast = _mha_run(layer, q, v, w, **call)
    subs = [layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense]
    assert all(s._linear_plan is not None for s in subs)
    for s in subs:
        s._linear_plan = None
    # the general contraction and, with the scores returned and the fused op off, the explicit softmax path
    monkeypatch.setattr(type(layer), "_fused_attend", lambda *args: None)
    plain = _mha_run(layer, q, v, w, return_attention_scores=True, **call)
    for i, (a, b) in enumerate(zip(fast, plain)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11, err_msg=f"entry {i}")


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch(causal):
    batch, steps, width, heads = 3, 7, 8, 2
    layer = layers.MultiHeadAttention(heads, width // heads)
    x = RNG.standard_normal((batch, steps, width)).astype(np.float32)
    layer(x, x)
    for t in layer.trainable_variables:
        t.assign(RNG.standard_normal(t.shape).astype(np.float32) * 0.4)
    ref = torch.nn.MultiheadAttention(width, heads, batch_first=True)
    qd, kd, vd, od = layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense
    with torch.no_grad():  # Keras kernels (in, heads, dim) are PyTorch's weights transposed
        ref.in_proj_weight.copy_(torch.from_numpy(np.concatenate(
            [d.kernel.numpy().reshape(width, width).T for d in (qd, kd, vd)])))
        ref.in_proj_bias.copy_(torch.from_numpy(np.concatenate([d.bias.numpy().ravel() for d in (qd, kd, vd)])))
        ref.out_proj.weight.copy_(torch.from_numpy(od.kernel.numpy().reshape(width, width).T))
        ref.out_proj.bias.copy_(torch.from_numpy(od.bias.numpy()))
    w = RNG.standard_normal((batch, steps, width)).astype(np.float32)
    xt = dg.Variable(x)
    out = layer(xt, xt, use_causal_mask=causal)
    (out * dg.Tensor(w)).sum().backward()
    xs = torch.tensor(x, requires_grad=True)
    mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if causal else None
    ref_out = ref(xs, xs, xs, attn_mask=mask, need_weights=False)[0]
    (ref_out * torch.from_numpy(w)).sum().backward()
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), **tol)
    np.testing.assert_allclose(xt.grad, xs.grad.numpy(), **tol)
    dk = [d.kernel.grad.reshape(width, width).T for d in (qd, kd, vd)]
    np.testing.assert_allclose(np.concatenate(dk), ref.in_proj_weight.grad.numpy(), **tol)
    np.testing.assert_allclose(np.concatenate([d.bias.grad.ravel() for d in (qd, kd, vd)]),
                               ref.in_proj_bias.grad.numpy(), **tol)
    np.testing.assert_allclose(od.kernel.grad.reshape(width, width).T, ref.out_proj.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(od.bias.grad, ref.out_proj.bias.grad.numpy(), **tol)
