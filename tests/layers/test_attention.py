"""Attention layers and EinsumDense: the Keras layer checks, formulas, masks, gradients by
central differences, dropout and saving."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test
from oracle import check_gradients


def rand(*shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------- EinsumDense
@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape, kernel, out", [
    ("ab,bc->ac", 4, "c", (3, 5), (5, 4), (3, 4)),
    ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5), (5, 2, 3), (2, 4, 2, 3)),
    ("abcd,cde->abe", (None, 6), "e", (2, 4, 2, 3), (2, 3, 6), (2, 4, 6)),
    ("...b,bc->...c", 4, None, (2, 3, 5), (5, 4), (2, 3, 4)),
    ("abc,cd->abd", (4, 7), "d", (2, 4, 5), (5, 7), (2, 4, 7)),
    ("abc,cdb->adb", (3, 4), "d", (2, 4, 5), (5, 3, 4), (2, 3, 4)),
])
def test_einsum_dense_layer_checks(equation, output_shape, bias_axes, input_shape, kernel, out):
    layer, y = run_layer_test(layers.EinsumDense, dict(equation=equation, output_shape=output_shape,
                                                       bias_axes=bias_axes), input_shape=input_shape,
                              expected_output_shape=out)
    assert layer.kernel.shape == kernel
    # the value is NumPy's einsum of the same equation
    x = rand(*input_shape)
    expected = np.einsum(equation, x, layer.kernel.data)
    if layer.bias is not None:
        expected = expected + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-5)


def test_einsum_dense_bias_shape_and_errors():
    layer = layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="d")
    layer.build((None, 4, 5))
    assert layer.bias.shape == (2, 1)  # Keras's bias spans from its first axis to the end
    with pytest.raises(ValueError, match="equation must be a string"):
        layers.EinsumDense("ab,bc", 3)
    with pytest.raises(ValueError, match="invalid einsum equation"):
        layers.EinsumDense("a...b,bc->ac", 3).build((None, 4, 5))
    with pytest.raises(ValueError, match="bias axis"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="z").build((None, 4))


def test_einsum_dense_gradients_central_differences():
    layer = layers.EinsumDense("abc,cdb->adb", (3, 4), bias_axes="d", dtype="float64")
    layer.build((None, 4, 2))

    def fn(x, k, b):  # the layer with its weights swapped for the checked tensors
        layer.kernel, layer.bias = k, b
        return layer(x)

    check_gradients(fn, [rand(2, 4, 2, dtype="float64"), layer.kernel.data, layer.bias.data], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- Attention, AdditiveAttention
def test_attention_layer_checks():
    run_layer_test(layers.Attention, {}, input_shape=[(2, 4, 3), (2, 5, 3)], expected_output_shape=(2, 4, 3),
                   expected_num_trainable_weights=0)
    run_layer_test(layers.AdditiveAttention, {}, input_shape=[(2, 4, 3), (2, 5, 3), (2, 5, 3)],
                   expected_output_shape=(2, 4, 3), expected_weight_shapes=[(3,)])


def test_attention_scalar_weights():
    # run_layer_test's wrong-shape check cannot grow a scalar, so the scalar weights are checked here
    q, v = rand(2, 4, 3), rand(2, 5, 3, seed=1)
    layer = layers.Attention(use_scale=True, score_mode="concat")
    out = layer([q, v])
    assert [(w.name.split("/")[-1], w.shape) for w in layer.weights] == [("scale", ()), ("concat_score_weight", ())]
    layer.set_weights([np.float32(0.7), np.float32(1.3)])
    s = 1.3 * np.tanh(0.7 * (q[:, :, None] + v[:, None])).sum(-1)
    np.testing.assert_allclose(layer([q, v]).data, softmax(s) @ v, rtol=1e-5, atol=1e-6)
    clone = layers.deserialize(layers.serialize(layer))
    clone([q, v])
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone([q, v]).data, layer([q, v]).data)
    dg.sum(layer([q, v]) * rand(*out.shape, seed=3)).backward()
    assert all(w.grad is not None and w.grad != 0 for w in layer.trainable_weights)
    dot = layers.Attention(use_scale=True)
    dot([q, v])
    dot.set_weights([np.float32(0.5)])
    np.testing.assert_allclose(dot([q, v]).data, softmax(0.5 * q @ v.transpose(0, 2, 1)) @ v, rtol=1e-5, atol=1e-6)


def test_attention_formula_masks_and_scores():
    q, v, k = rand(2, 4, 3), rand(2, 5, 3, seed=1), rand(2, 5, 3, seed=2)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    out, scores = layers.Attention()([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True)
    logits = q @ k.transpose(0, 2, 1) - 1e9 * ~v_mask[:, None, :]
    p = softmax(logits)
    np.testing.assert_allclose(scores.data, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.data, (p @ v) * q_mask[..., None], rtol=1e-5, atol=1e-6)
    assert out._keras_mask is q_mask
    # causal: position i sees keys j <= i only
    _, scores = layers.Attention()([q, q], use_causal_mask=True, return_attention_scores=True)
    assert np.all(scores.data[:, np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] < 1e-6)
    np.testing.assert_allclose(scores.data.sum(-1), 1, rtol=1e-6)


def test_attention_reads_keras_masks_of_inputs():
    ids = np.array([[3, 4, 0, 0], [1, 2, 5, 0]])
    emb = layers.Embedding(8, 3, mask_zero=True)
    x = emb(ids)
    out, scores = layers.Attention()([x, x], return_attention_scores=True)
    assert np.all(scores.data[0, :, 2:] < 1e-6) and np.all(scores.data[1, :, 3] < 1e-6)
    np.testing.assert_array_equal(out.data[0, 2:], 0)
    np.testing.assert_array_equal(out._keras_mask, ids != 0)


def test_additive_attention_formula():
    q, v = rand(2, 4, 3), rand(2, 5, 3, seed=1)
    layer = layers.AdditiveAttention()
    out = layer([q, v])
    s = (layer.scale.data * np.tanh(q[:, :, None, :] + v[:, None, :, :])).sum(-1)
    np.testing.assert_allclose(out.data, softmax(s) @ v, rtol=1e-5, atol=1e-6)


def test_attention_dropout_statistics_and_seed():
    q, v = 0.1 * rand(4, 6, 3), rand(4, 50, 3, seed=1)  # small queries: spread-out probabilities
    layer = layers.Attention(dropout=0.5, seed=3)
    _, ref = layer([q, v], return_attention_scores=True)
    a = layers.Attention(dropout=0.5, seed=3)([q, v], training=True)
    b = layers.Attention(dropout=0.5, seed=3)([q, v], training=True)
    np.testing.assert_array_equal(a.data, b.data)  # a seed repeats
    assert not np.allclose(a.data, layer([q, v]).data)
    # E[dropout(p) @ v] = p @ v: the mean over many draws approaches the inference output
    many = np.mean([layer([q, v], training=True).data for _ in range(400)], axis=0)
    np.testing.assert_allclose(many, layer([q, v]).data, atol=0.05)


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="add")
    with pytest.raises(ValueError, match="list"):
        layers.Attention()(rand(2, 3, 4))


# ----------------------------------------------------------------- MultiHeadAttention, GroupedQueryAttention
def check_heads_layer(cls, kwargs, q_shape, v_shape, weight_shapes, call_kwargs=None, seed=0):
    """The run_layer_test checks for a layer called as ``layer(query, value)``."""
    call_kwargs = dict(call_kwargs or {})
    q, v = rand(*q_shape, seed=seed), rand(*v_shape, seed=seed + 1)
    layer = cls(**kwargs)
    out = layer(q, v, **call_kwargs)
    out = out[0] if isinstance(out, tuple) else out
    assert [w.shape for w in layer.weights] == [tuple(s) for s in weight_shapes]
    assert tuple(layer.compute_output_shape((None,) + q_shape[1:], (None,) + v_shape[1:])) == \
        (None,) + tuple(out.shape[1:])
    # symbolic
    fresh = cls(**kwargs)
    sq, sv = layers.Input(q_shape[1:]), layers.Input(v_shape[1:])
    sym = fresh(sq, sv, **call_kwargs)
    sym = sym[0] if isinstance(sym, (list, tuple)) else sym
    assert tuple(sym.shape) == (None,) + tuple(out.shape[1:])
    assert [w.shape for w in fresh.weights] == [w.shape for w in layer.weights]
    # config round trip
    config = layer.get_config()
    json.dumps(config)
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is cls
    clone(q, v, **call_kwargs)
    clone.set_weights(layer.get_weights())
    again = clone(q, v, **call_kwargs)
    again = again[0] if isinstance(again, tuple) else again
    np.testing.assert_allclose(again.data, out.data, rtol=1e-6, atol=1e-6)
    # every weight receives a gradient
    y = layer(q, v, training=True, **call_kwargs)
    y = y[0] if isinstance(y, tuple) else y
    dg.sum(y * rand(*y.shape, seed=9)).backward()
    for w in layer.trainable_weights:
        assert w.grad is not None and np.all(np.isfinite(w.grad)) and np.any(w.grad != 0), w.name
    return layer, out


@pytest.mark.parametrize("kwargs, call_kwargs", [
    (dict(num_heads=2, key_dim=3), {}),
    (dict(num_heads=2, key_dim=3, value_dim=4, output_shape=5, use_gate=True), {}),
    (dict(num_heads=3, key_dim=2, use_bias=False), dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=3), dict(return_attention_scores=True)),
])
def test_multi_head_attention_layer_checks(kwargs, call_kwargs):
    n, kd = kwargs["num_heads"], kwargs["key_dim"]
    vd, out = kwargs.get("value_dim", kd), kwargs.get("output_shape", 6)
    proj = [(6, n, kd), (n, kd), (7, n, kd), (n, kd)]
    if kwargs.get("use_gate"):
        proj += [(6, n, vd), (n, vd)]
    proj += [(7, n, vd), (n, vd), (n, vd, out), (out,)]
    if not kwargs.get("use_bias", True):
        proj = [s for s in proj if len(s) == 3]
    check_heads_layer(layers.MultiHeadAttention, kwargs, (2, 5, 6), (2, 4, 7), proj, call_kwargs)


def test_grouped_query_attention_layer_checks():
    shapes = [(6, 4, 3), (4, 3), (6, 2, 3), (2, 3), (6, 2, 3), (2, 3), (4, 3, 6), (6,)]
    for call_kwargs in ({}, dict(use_causal_mask=True), dict(return_attention_scores=True)):
        check_heads_layer(layers.GroupQueryAttention, dict(head_dim=3, num_query_heads=4, num_key_value_heads=2),
                          (2, 5, 6), (2, 4, 6), shapes, call_kwargs)
    assert layers.GroupQueryAttention is layers.GroupedQueryAttention


def mha_reference(layer, q, v, mask=None):
    """Multi-head attention written out in NumPy from the layer's weights."""
    w = [a.astype(np.float64) for a in layer.get_weights()]
    qp = np.einsum("btd,dnh->btnh", q, w[0]) + w[1]
    kp = np.einsum("bsd,dnh->bsnh", v, w[2]) + w[3]
    vp = np.einsum("bsd,dnh->bsnh", v, w[4]) + w[5]
    s = np.einsum("btnh,bsnh->bnts", qp, kp) / np.sqrt(qp.shape[-1])
    if mask is not None:
        s = np.where(mask[:, None], s, -1e9)
    p = softmax(s)
    return np.einsum("bnts,bsnh->btnh", p, vp).reshape(*q.shape[:2], -1) @ w[6].reshape(-1, w[6].shape[-1]) + w[7], p


def test_multi_head_attention_formula_and_masks():
    q, v = rand(2, 5, 6), rand(2, 4, 7, seed=1)
    mask = np.random.default_rng(2).random((2, 5, 4)) > 0.3
    layer = layers.MultiHeadAttention(2, 3)
    layer.build(q.shape, v.shape)
    layer.set_weights([rand(*w.shape, seed=i + 5) * 0.5 for i, w in enumerate(layer.get_weights())])
    for kw, m in ((dict(), None), (dict(attention_mask=mask), mask)):
        expected, p = mha_reference(layer, q, v, m)
        out, scores = layer(q, v, return_attention_scores=True, **kw)
        np.testing.assert_allclose(out.data, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(scores.data, p, rtol=1e-4, atol=1e-6)
        # the fused path (no scores asked) gives the same
        np.testing.assert_allclose(layer(q, v, **kw).data, expected, rtol=1e-4, atol=1e-5)


def test_multi_head_attention_keras_masks_and_causal():
    ids = np.array([[3, 4, 2, 0, 0], [1, 2, 5, 6, 0]])
    x = layers.Embedding(8, 6, mask_zero=True)(ids)
    layer = layers.MultiHeadAttention(2, 3)
    out, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    keys_allowed = (ids != 0)[:, None, None, :] & np.tril(np.ones((5, 5), bool))
    valid_rows = (ids != 0)[:, None, :, None]
    assert np.all(np.where(keys_allowed | ~valid_rows, 0, scores.data) < 1e-6)
    # the fused path agrees at valid query rows (padded rows: the mean of the values there,
    # zeros on the explicit path, as Keras's two paths give)
    valid = ids != 0
    np.testing.assert_allclose(layer(x, x, use_causal_mask=True).data[valid], out.data[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out.data[~valid], 0)
    # causal only, without Keras masks: the fused is_causal path equals the explicit one
    plain = rand(2, 5, 6)
    fused = layer(plain, plain, use_causal_mask=True)
    explicit, s = layer(plain, plain, use_causal_mask=True, return_attention_scores=True)
    np.testing.assert_allclose(fused.data, explicit.data, rtol=1e-5, atol=1e-6)
    assert np.all(s.data[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] < 1e-6)


def test_multi_head_attention_attention_axes():
    x = rand(2, 3, 4, 6)
    layer = layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    out, scores = layer(x, x, return_attention_scores=True)
    assert out.shape == (2, 3, 4, 6) and scores.shape == (2, 2, 3, 4, 3, 4)
    np.testing.assert_allclose(scores.data.reshape(2, 2, 12, 12).sum(-1), 1, rtol=1e-5)
    _, scores = layers.MultiHeadAttention(2, 3, attention_axes=2)(x, x, return_attention_scores=True)
    assert scores.shape == (2, 3, 2, 4, 4)


@pytest.mark.parametrize("cls, args", [(layers.MultiHeadAttention, (2, 2)),
                                       (layers.GroupQueryAttention, (2, 4, 2))])
def test_heads_attention_central_differences(cls, args):
    layer = cls(*args, dtype="float64")
    q, v = rand(2, 3, 4, dtype="float64"), rand(2, 3, 4, seed=1, dtype="float64")
    layer(q, v)
    mask = np.array([[[1, 1, 0]] * 3, [[1, 0, 1]] * 3], bool)
    for kw in (dict(attention_mask=mask), dict(use_causal_mask=True), dict(return_attention_scores=False)):
        check_gradients(lambda q, v: layer(q, v, **kw), [q, v], rtol=1e-6, atol=1e-8)
    sub = [layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense]

    def fn(q, v, *kernels):  # the kernels swapped for the checked tensors
        for d, k in zip(sub, kernels):
            d.kernel = k
        return layer(q, v, attention_mask=mask)

    check_gradients(fn, [q, v] + [d.kernel.data for d in sub], indices=[2, 3, 4, 5], rtol=1e-6, atol=1e-8)


def test_multi_head_attention_dropout():
    q = rand(2, 5, 6)
    a, b = (layers.MultiHeadAttention(2, 3, dropout=0.5, seed=1) for _ in range(2))
    ref = a(q, q)
    b(q, q)
    b.set_weights(a.get_weights())
    first = a(q, q, training=True)
    assert not np.allclose(first.data, ref.data)
    np.testing.assert_array_equal(b(q, q, training=True).data, first.data)  # a seed repeats
    np.testing.assert_array_equal(a(q, q, training=False).data, ref.data)
    # E[dropout(P)] = P: the mean over many draws approaches the inference output
    many = np.mean([a(q, q, training=True).data for _ in range(300)], axis=0)
    np.testing.assert_allclose(many, ref.data, atol=0.1)


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match="query and value"):
        layers.MultiHeadAttention(2, 3)(rand(2, 3, 4))
    with pytest.raises(ValueError, match="divisible"):
        layers.GroupQueryAttention(2, 3, 2)


@pytest.mark.parametrize("make", [lambda: layers.MultiHeadAttention(2, 4),
                                  lambda: layers.GroupQueryAttention(4, 4, 2)])
def test_attention_model_save_and_load(tmp_path, make):
    inputs = layers.Input((5, 8))
    attended = make()(inputs, inputs, use_causal_mask=True)
    x = layers.LayerNormalization()(layers.Add()([inputs, attended]))
    outputs = layers.Dense(3)(layers.GlobalAveragePooling1D()(x))
    model = dg.Model(inputs, outputs)
    data = rand(4, 5, 8)
    before = model.predict(data, verbose=0)
    path = tmp_path / "model.deepgrad"
    model.save(str(path))
    loaded = dg.models.load_model(str(path))
    np.testing.assert_allclose(loaded.predict(data, verbose=0), before, rtol=1e-6, atol=1e-6)


def test_attention_model_trains():
    inputs = layers.Input((6, 4))
    seq = layers.Attention()([inputs, inputs])
    outputs = layers.Dense(1)(layers.GlobalAveragePooling1D()(seq))
    model = dg.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    x, y = rand(32, 6, 4), rand(32, 1, seed=1)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
