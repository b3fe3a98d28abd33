"""The fused attention op (ops/attention.py) and the fused layer norm: every fast path against
PyTorch, against the plain formula it replaces, and against float64 central differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracle import check_gradients, compare_with_torch

import deepgrad as dg
from deepgrad.autograd import grad
from deepgrad.ops import attention as attention_op
from deepgrad.ops import normalization


def normal(seed, shape, dtype=np.float32, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def qkv(seed, b=2, t=5, s=7, heads=4, kv_heads=4, dim=8, dim_v=8, dtype=np.float32, scale=1.0):
    return (normal(seed, (b, t, heads, dim), dtype, scale), normal(seed + 1, (b, s, kv_heads, dim), dtype, scale),
            normal(seed + 2, (b, s, kv_heads, dim_v), dtype))


def keras_reference(q, k, v, scale, allowed=None, groups=1):
    """Keras's formula in float64: logits, -0.7 * max float on masked ones, max-shifted softmax."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    kh, vh = (np.repeat(np.swapaxes(a, 1, 2), groups, axis=1) for a in (k, v))
    logits = np.swapaxes(q, 1, 2) @ np.swapaxes(kh, -1, -2) * scale
    if allowed is not None:
        logits = logits + np.where(allowed, 0.0, -0.7 * 3.38953e38)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.swapaxes(p / p.sum(axis=-1, keepdims=True) @ vh, 1, 2)


def torch_attention(q, k, v, scale, allowed=None, groups=1):
    qh, kh, vh = (a.transpose(1, 2) for a in (q, k, v))
    if groups > 1:
        kh, vh = kh.repeat_interleave(groups, 1), vh.repeat_interleave(groups, 1)
    mask = None if allowed is None else torch.from_numpy(np.ascontiguousarray(allowed))
    return F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, scale=scale).transpose(1, 2)


@pytest.mark.parametrize("shape", [
    dict(b=2, t=5, s=7, heads=4, kv_heads=4, dim=8, dim_v=8),
    dict(b=3, t=6, s=4, heads=2, kv_heads=2, dim=5, dim_v=3),   # value head size != key head size
    dict(b=1, t=9, s=9, heads=6, kv_heads=2, dim=4, dim_v=6),   # grouped-query, 3 heads a group
    dict(b=2, t=1, s=3, heads=3, kv_heads=1, dim=2, dim_v=2),
])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_matches_torch(shape, masked):
    q, k, v = qkv(0, **shape)
    groups = shape["heads"] // shape["kv_heads"]
    allowed = None
    if masked:  # random keys off, every row keeps one (PyTorch gives NaN on a row with none)
        allowed = np.random.default_rng(3).random((shape["b"], 1, shape["t"], shape["s"])) > 0.4
        allowed[..., 0] = True
    compare_with_torch(lambda a, b, c: dg.dot_product_attention(a, b, c, mask=allowed, scale=0.4),
                       lambda a, b, c: torch_attention(a, b, c, 0.4, allowed, groups), [q, k, v],
                       rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 40.0])  # logits within the shift-free bound, and far beyond it
def test_shift_free_and_shifted_softmax_agree(monkeypatch, scale):
    q, k, v = qkv(1, t=6, s=6, scale=scale)
    causal = np.tril(np.ones((6, 6), bool))
    outs, grads = [], []
    for bound in (attention_op.SHIFT_FREE, 0.0):  # 0: every call takes the max shift
        monkeypatch.setattr(attention_op, "SHIFT_FREE", bound)
        ts = [dg.Tensor(a, requires_grad=True) for a in (q, k, v)]
        out = dg.dot_product_attention(*ts, is_causal=True)
        out.backward(normal(9, out.shape))
        outs.append(out.data)
        grads.append([t.grad for t in ts])
    np.testing.assert_allclose(outs[0], outs[1], rtol=2e-6, atol=2e-6)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    expected = keras_reference(q, k, v, 1 / np.sqrt(8), causal)
    np.testing.assert_allclose(outs[0], expected, rtol=1e-4, atol=1e-5)
    assert np.isfinite(outs[0]).all()


def test_large_logits_match_torch():
    # |logits| up to ~1e3: exp without the shift would overflow, so the op must shift
    q, k, v = qkv(2, scale=12.0)
    out = dg.dot_product_attention(q, k, v).data
    assert np.isfinite(out).all()
    compare_with_torch(lambda a, b, c: dg.dot_product_attention(a, b, c),
                       lambda a, b, c: torch_attention(a, b, c, 1 / np.sqrt(8)), [q, k, v], rtol=1e-3, atol=1e-4)


def test_fully_masked_row_is_uniform_as_in_keras():
    # Keras adds -0.7 * max float to masked logits and shifts by the row max: a row with no key
    # left averages every value uniformly
    q, k, v = qkv(3, t=4, s=5)
    allowed = np.ones((2, 1, 4, 5), bool)
    allowed[0, :, 2] = False
    allowed[1, :, :, 3] = False
    out = dg.dot_product_attention(q, k, v, mask=allowed).data
    np.testing.assert_allclose(out, keras_reference(q, k, v, 1 / np.sqrt(8), allowed), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[0, 2], np.broadcast_to(v[0].mean(axis=0), out[0, 2].shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["plain", "masked", "grouped", "bias", "soft_cap"])
def test_attention_central_differences(case):
    q, k, v = qkv(4, b=1, t=3, s=4, heads=2, kv_heads=1 if case == "grouped" else 2, dim=3, dim_v=2,
                  dtype=np.float64)
    allowed = np.array([[True, False, True, True], [False, False, True, False], [True, True, True, False]])
    bias = normal(5, (1, 2, 3, 4), np.float64)
    fns = {"plain": lambda a, b, c: dg.dot_product_attention(a, b, c, scale=0.7),
           "masked": lambda a, b, c: dg.dot_product_attention(a, b, c, mask=allowed),
           "grouped": lambda a, b, c: dg.dot_product_attention(a, b, c, is_causal=True),
           "bias": lambda a, b, c: dg.dot_product_attention(a, b, c, bias=bias),
           "soft_cap": lambda a, b, c: dg.dot_product_attention(a, b, c, attn_logits_soft_cap=1.5)}
    check_gradients(fns[case], [q, k, v], rtol=1e-6, atol=1e-8)


def test_attention_outputs_and_gradients_are_time_major_and_contiguous():
    q, k, v = (dg.Tensor(a, requires_grad=True) for a in qkv(6, dim_v=3))
    out = dg.dot_product_attention(q, k, v)
    assert out.data.flags.c_contiguous and out.shape == (2, 5, 4, 3)
    out.backward(normal(7, out.shape))
    for t in (q, k, v):
        assert t.grad.shape == t.shape and t.grad.flags.c_contiguous


# ------------------------------------------------------------------ layer normalization
@pytest.mark.parametrize("shape,axes", [((4, 6, 10), (-1,)), ((3, 5, 4, 2), (-2, -1)), ((7, 3), (-1,))])
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_layer_norm_matches_torch(shape, axes, center, scale):
    feature_shape = shape[len(shape) - len(axes):]
    x, gamma, beta = normal(0, shape, scale=3.0), normal(1, feature_shape), normal(2, feature_shape)
    x = x + 5.0  # a large mean: the two-pass variance keeps float32 accurate
    arrays, names = [x], ["x"]
    if scale:
        arrays.append(gamma)
        names.append("gamma")
    if center:
        arrays.append(beta)
        names.append("beta")

    def ours(*ts):
        d = dict(zip(names, ts))
        return normalization.layer_norm(d["x"], d.get("gamma"), d.get("beta"), axis=axes, epsilon=1e-3)

    def theirs(*ts):
        d = dict(zip(names, ts))
        return F.layer_norm(d["x"], feature_shape, d.get("gamma"), d.get("beta"), eps=1e-3)

    compare_with_torch(ours, theirs, arrays, rtol=1e-4, atol=1e-4)


def test_layer_norm_fused_equals_general_path():
    x, g = normal(3, (4, 5, 12), np.float64), normal(4, (4, 5, 12), np.float64)
    gamma, beta = normal(5, (12,), np.float64), normal(6, (12,), np.float64)
    results = []
    for fused in (True, False):
        ts = [dg.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        if fused:
            out = normalization.layer_norm(*ts, axis=-1)
            assert isinstance(out._ctx, normalization.LayerNorm)
        else:  # the general op, as for normalised axes that are not trailing
            out = normalization.Normalize.apply(ts[0], ts[1].reshape((1, 1, 12)), ts[2].reshape((1, 1, 12)),
                                                axes=(2,), epsilon=1e-3)
        out.backward(g)
        results.append([out.data] + [t.grad for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_layer_norm_central_differences_and_second_order():
    x, gamma, beta = normal(7, (3, 2, 4), np.float64), normal(8, (2, 4), np.float64), normal(9, (2, 4), np.float64)
    fn = lambda a, b, c: normalization.layer_norm(a, b, c, axis=(1, 2))  # noqa: E731
    check_gradients(fn, [x, gamma, beta])
    # a gradient of a gradient runs graph_backward: against PyTorch's double backward, over two axes
    leaves = [dg.Variable(a, dtype=np.float64) for a in (x, gamma, beta)]
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    w, v = normal(10, x.shape, np.float64), normal(11, x.shape, np.float64)
    dx = grad((dg.tanh(fn(*leaves)) * w).sum(), leaves[0], create_graph=True)
    second = grad((dx * v).sum(), leaves)
    (tdx,) = torch.autograd.grad((torch.tanh(F.layer_norm(tleaves[0], (2, 4), *tleaves[1:], eps=1e-3))
                                  * torch.tensor(w)).sum(), tleaves[0], create_graph=True)
    tsecond = torch.autograd.grad((tdx * torch.tensor(v)).sum(), tleaves)
    np.testing.assert_allclose(dx.data, tdx.detach().numpy(), rtol=1e-9, atol=1e-11)
    for a, b in zip(second, tsecond):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", ["plain", "masked", "bias", "shared_bias", "cap_causal", "grouped"])
def test_batch_halves_in_two_threads_match_one_thread(monkeypatch, case):
    """Large logits run each half of the batch in its own thread: the same numbers bit for bit,
    forward and every gradient (each sample's GEMMs and passes are the same calls on its rows)."""
    from deepgrad import runtime
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    heads, kv_heads = (6, 2) if case == "grouped" else (4, 4)
    b, t, s = 7, 6, 5
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in
              ((b, t, heads, 8), (b, s, kv_heads, 8), (b, s, kv_heads, 4))]
    upstream = rng.standard_normal((b, t, heads, 4)).astype(np.float32)
    kw = {}
    if case == "masked":
        kw["mask"] = rng.random((b, 1, t, s)) > 0.4
        kw["mask"][..., 0] = True
    if case in ("bias", "shared_bias"):
        kw["bias"] = rng.standard_normal((b if case == "bias" else 1, heads, t, s)).astype(np.float32)
    if case == "cap_causal":
        kw.update(attn_logits_soft_cap=1.5, is_causal=True)
    results, splits = {}, []
    original = runtime.for_batch_halves
    monkeypatch.setattr(runtime, "for_batch_halves",
                        lambda fn, length, size: (splits.append(size >= runtime._PARALLEL_MIN_SIZE),
                                                  original(fn, length, size)))
    for min_size in (1 << 62, 1):
        monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", min_size)
        q, k, v = (dg.Tensor(a, requires_grad=True) for a in arrays)
        extra = dict(kw)
        if "bias" in extra:
            extra["bias"] = dg.Tensor(extra["bias"], requires_grad=True)
        out = dg.dot_product_attention(q, k, v, **extra)
        (out * dg.Tensor(upstream)).sum().backward()
        results[min_size] = [out.data, q.grad, k.grad, v.grad] + ([extra["bias"].grad] if "bias" in extra else [])
    assert splits == [False, False, True, True]  # forward and backward, plain then split
    for a, c in zip(results[1 << 62], results[1]):
        np.testing.assert_array_equal(a, c)
