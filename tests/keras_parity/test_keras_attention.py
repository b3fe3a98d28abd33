"""Attention and the newer normalisation layers against Keras 3 (PyTorch backend): signatures,
config keys, weights (names, shapes, order), outputs after ``set_weights``, and the gradients of
the inputs and of every weight (PyTorch autograd on Keras's variables)."""
import inspect

import keras
import numpy as np
import pytest
import torch
from keras.src.backend import set_keras_mask

import deepgrad as dg
from conftest import to_numpy

RTOL, ATOL = 1e-5, 1e-5
NAMES = ["Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention", "EinsumDense",
         "GroupNormalization", "UnitNormalization", "RMSNormalization", "SpectralNormalization",
         "LayerNormalization"]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_keras(name):
    def params(cls):
        return {n: p.default for n, p in inspect.signature(cls).parameters.items() if n != "kwargs"}

    assert params(getattr(dg.layers, name)) == params(getattr(keras.layers, name))


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def assert_same(k_layer, d_layer, inputs, masks=None, call=None, randomize=True, rows=None, **kwargs):
    """Outputs, input gradients and weight gradients of ``call(layer, *inputs, **kwargs)`` agree.

    ``masks``: Keras masks to attach to the inputs (None entries attach none). ``rows``: a
    ``(batch, time)`` bool array; the gradients are those of the outputs at these rows only.
    """
    call = call or (lambda layer, *xs, **kw: layer(*xs, **kw))
    masks = masks or [None] * len(inputs)

    def torch_inputs():
        ts = [torch.tensor(a, requires_grad=True) for a in inputs]
        for t, m in zip(ts, masks):
            if m is not None:
                set_keras_mask(t, torch.tensor(m))
        return ts

    def dg_inputs():
        ts = [dg.Tensor(a, requires_grad=True) for a in inputs]
        for t, m in zip(ts, masks):
            if m is not None:
                t._keras_mask = m
        return ts

    call(k_layer, *torch_inputs(), **kwargs)
    call(d_layer, *dg_inputs(), **kwargs)
    k_weights = k_layer.get_weights()
    assert [w.shape for w in d_layer.get_weights()] == [w.shape for w in k_weights]
    assert [w.name.split("/")[-1] for w in d_layer.weights] == [w.name for w in k_layer.weights]
    assert [w.trainable for w in d_layer.weights] == [w.trainable for w in k_layer.weights]
    if randomize:  # away from the initial values (zero biases, unit gammas)
        k_weights = [w + 0.3 * rand(*w.shape, seed=i + 11) for i, w in enumerate(k_weights)]
        k_layer.set_weights(k_weights)
    d_layer.set_weights(k_weights)

    k_in, d_in = torch_inputs(), dg_inputs()
    k_out, d_out = _as_list(call(k_layer, *k_in, **kwargs)), _as_list(call(d_layer, *d_in, **kwargs))
    assert len(k_out) == len(d_out)
    for i, (k, d) in enumerate(zip(k_out, d_out)):
        np.testing.assert_allclose(to_numpy(d), to_numpy(k), rtol=RTOL, atol=ATOL, err_msg=f"output {i}")
    # gradients of sum(out_i * r_i)
    rs = [rand(*d.shape, seed=20 + i) for i, d in enumerate(d_out)]
    if rows is not None:
        rs[0] = rs[0] * rows.reshape(rows.shape + (1,) * (rs[0].ndim - 2))
    k_loss = sum((k * torch.from_numpy(r)).sum() for k, r in zip(k_out, rs))
    k_vars = [w.value for w in k_layer.trainable_weights]
    k_grads = torch.autograd.grad(k_loss, k_in + k_vars, allow_unused=True)
    d_loss = sum(dg.sum(d * dg.Tensor(r)) for d, r in zip(d_out, rs))
    d_loss.backward()
    for i, (d, k) in enumerate(zip(d_in, k_grads[:len(k_in)])):
        expected = np.zeros(d.shape, "float32") if k is None else k.numpy()
        got = np.zeros(d.shape, "float32") if d.grad is None else d.grad
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=f"gradient of input {i}")
    assert len(d_layer.trainable_weights) == len(k_vars)
    for d_w, k_w, k_g in zip(d_layer.trainable_weights, k_layer.trainable_weights, k_grads[len(k_in):]):
        expected = np.zeros(d_w.shape, "float32") if k_g is None else k_g.numpy()
        np.testing.assert_allclose(d_w.grad, expected, rtol=1e-4, atol=1e-5, err_msg=k_w.path)
    return k_out, d_out


def assert_same_config_keys(k_layer, d_layer):
    skip = {"dtype", "build_config"}
    assert set(d_layer.get_config()) - skip == set(k_layer.get_config()) - skip


# ----------------------------------------------------------------- MultiHeadAttention
MHA_CASES = [
    (dict(num_heads=2, key_dim=3), {}),
    (dict(num_heads=2, key_dim=3), dict(return_attention_scores=True)),
    (dict(num_heads=3, key_dim=2, value_dim=4, output_shape=5), {}),
    (dict(num_heads=2, key_dim=3, use_bias=False, use_gate=True), dict(return_attention_scores=True)),
    (dict(num_heads=2, key_dim=3), dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=3), dict(use_causal_mask=True, return_attention_scores=True)),
    (dict(num_heads=2, key_dim=3, sliding_window=2), dict(use_causal_mask=True)),
]


@pytest.mark.parametrize("kwargs, call_kwargs", MHA_CASES)
def test_multi_head_attention(kwargs, call_kwargs):
    q = rand(2, 5, 6)
    v = q if call_kwargs.get("use_causal_mask") else rand(2, 4, 7, seed=1)
    k_layer, d_layer = keras.layers.MultiHeadAttention(**kwargs), dg.layers.MultiHeadAttention(**kwargs)
    assert_same(k_layer, d_layer, [q, v], **call_kwargs)
    assert_same_config_keys(k_layer, d_layer)


@pytest.mark.parametrize("scores", [False, True])
def test_multi_head_attention_masks(scores):
    q, v, k = rand(2, 5, 6), rand(2, 4, 7, seed=1), rand(2, 4, 3, seed=2)
    attention_mask = np.random.default_rng(3).random((2, 5, 4)) > 0.3
    q_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool)
    kw = dict(num_heads=2, key_dim=3)

    def call(layer, q, v, k, **c):
        return layer(q, v, key=k, **c)

    assert_same(keras.layers.MultiHeadAttention(**kw), dg.layers.MultiHeadAttention(**kw), [q, v, k],
                call=call, attention_mask=attention_mask, return_attention_scores=scores)
    # Keras masks of query and value, with and without the causal mask. A padded query row sees
    # no key: Keras's fused path outputs the mean of the values there, its explicit path zeros,
    # and the fused path's gradient there is not the explicit one's, so the gradients are taken
    # from the outputs at valid query rows only
    x = rand(2, 5, 6, seed=4)
    for causal in (False, True):
        assert_same(keras.layers.MultiHeadAttention(**kw), dg.layers.MultiHeadAttention(**kw), [x, x],
                    masks=[q_mask, q_mask], use_causal_mask=causal, return_attention_scores=scores, rows=q_mask)
    assert_same(keras.layers.MultiHeadAttention(**kw), dg.layers.MultiHeadAttention(**kw), [q, v, k],
                masks=[q_mask, v_mask, None], call=call, return_attention_scores=scores, rows=q_mask)


def test_multi_head_attention_output_mask():
    x = rand(2, 5, 6)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    kt = torch.tensor(x)
    set_keras_mask(kt, torch.tensor(mask))
    k_out = keras.layers.MultiHeadAttention(2, 3)(kt, kt)
    dt = dg.Tensor(x)
    dt._keras_mask = mask
    d_out = dg.layers.MultiHeadAttention(2, 3)(dt, dt)
    np.testing.assert_array_equal(np.asarray(d_out._keras_mask), k_out._keras_mask.numpy())


@pytest.mark.parametrize("axes, scores", [((1, 2), False), ((2,), True), ((1,), True)])
def test_multi_head_attention_attention_axes(axes, scores):
    x = rand(2, 3, 4, 6)
    kw = dict(num_heads=2, key_dim=3, attention_axes=axes)
    k_layer, d_layer = keras.layers.MultiHeadAttention(**kw), dg.layers.MultiHeadAttention(**kw)
    assert_same(k_layer, d_layer, [x, x], return_attention_scores=scores)
    assert d_layer.get_config()["attention_axes"] == list(k_layer.get_config()["attention_axes"])


# ----------------------------------------------------------------- GroupQueryAttention
@pytest.mark.parametrize("kwargs, call_kwargs", [
    (dict(head_dim=3, num_query_heads=4, num_key_value_heads=2), {}),
    (dict(head_dim=3, num_query_heads=4, num_key_value_heads=2), dict(return_attention_scores=True)),
    (dict(head_dim=2, num_query_heads=3, num_key_value_heads=1, use_gate=True), dict(use_causal_mask=True)),
    (dict(head_dim=2, num_query_heads=4, num_key_value_heads=4, use_bias=False),
     dict(use_causal_mask=True, return_attention_scores=True)),
])
def test_group_query_attention(kwargs, call_kwargs):
    q = rand(2, 5, 6)
    v = q if call_kwargs.get("use_causal_mask") else rand(2, 4, 6, seed=1)
    k_layer, d_layer = keras.layers.GroupQueryAttention(**kwargs), dg.layers.GroupQueryAttention(**kwargs)
    assert_same(k_layer, d_layer, [q, v], **call_kwargs)
    assert_same_config_keys(k_layer, d_layer)


def test_group_query_attention_masks():
    x = rand(2, 5, 6)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    kw = dict(head_dim=3, num_query_heads=4, num_key_value_heads=2)
    attention_mask = np.random.default_rng(3).random((2, 5, 5)) > 0.3
    assert_same(keras.layers.GroupQueryAttention(**kw), dg.layers.GroupQueryAttention(**kw), [x, x],
                attention_mask=attention_mask)
    for scores in (False, True):
        assert_same(keras.layers.GroupQueryAttention(**kw), dg.layers.GroupQueryAttention(**kw), [x, x],
                    masks=[mask, mask], return_attention_scores=scores, rows=mask)


# ----------------------------------------------------------------- Attention, AdditiveAttention
def _list_call(layer, *xs, **kw):
    return layer(list(xs), **kw)


@pytest.mark.parametrize("name, kwargs", [("Attention", {}), ("Attention", dict(use_scale=True)),
                                          ("Attention", dict(score_mode="concat", use_scale=True)),
                                          ("AdditiveAttention", {}), ("AdditiveAttention", dict(use_scale=False))])
@pytest.mark.parametrize("call_kwargs", [{}, dict(return_attention_scores=True), dict(use_causal_mask=True)])
def test_luong_and_bahdanau_attention(name, kwargs, call_kwargs):
    q, v, k = rand(2, 4, 3), rand(2, 4, 3, seed=1), rand(2, 4, 3, seed=2)
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    assert_same(k_layer, d_layer, [q, v, k], call=_list_call, **call_kwargs)
    assert_same_config_keys(k_layer, d_layer)


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
def test_attention_masks(name):
    q, v = rand(2, 4, 3), rand(2, 5, 3, seed=1)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    k_layer, d_layer = getattr(keras.layers, name)(), getattr(dg.layers, name)()
    assert_same(k_layer, d_layer, [q, v], call=_list_call, mask=[q_mask, v_mask], return_attention_scores=True)
    # the same masks read from the inputs
    assert_same(getattr(keras.layers, name)(), getattr(dg.layers, name)(), [q, v], masks=[q_mask, v_mask],
                call=_list_call, use_causal_mask=True)


# ----------------------------------------------------------------- EinsumDense
@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", [
    ("ab,bc->ac", 4, "c", (3, 5)),
    ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5)),
    ("abc,cde->abde", (None, 2, 3), "d", (2, 4, 5)),
    ("abcd,cde->abe", (None, 6), "e", (2, 4, 2, 3)),
    ("...b,bc->...c", 4, "c", (2, 3, 5)),
    ("abc,cdb->adb", (3, 4), None, (2, 4, 5)),
])
def test_einsum_dense(equation, output_shape, bias_axes, shape):
    kw = dict(equation=equation, output_shape=output_shape, bias_axes=bias_axes, activation="tanh")
    k_layer, d_layer = keras.layers.EinsumDense(**kw), dg.layers.EinsumDense(**kw)
    assert_same(k_layer, d_layer, [rand(*shape)])
    assert_same_config_keys(k_layer, d_layer)
    # Keras leaves an axis given as None in output_shape unknown; deepgrad takes it from the input
    k_shape = k_layer.compute_output_shape((None,) + shape[1:])
    d_shape = d_layer.compute_output_shape((None,) + shape[1:])
    assert all(k is None or k == d for k, d in zip(k_shape, d_shape)) and len(k_shape) == len(d_shape)


# ----------------------------------------------------------------- normalisation
@pytest.mark.parametrize("name, kwargs, shape", [
    ("GroupNormalization", dict(groups=2), (3, 5, 6)),
    ("GroupNormalization", dict(groups=-1, epsilon=1e-5), (2, 4, 3)),
    ("GroupNormalization", dict(groups=3, axis=1, center=False), (2, 6, 4)),
    ("UnitNormalization", {}, (2, 3, 4)),
    ("UnitNormalization", dict(axis=[1, 2]), (2, 3, 4)),
    ("RMSNormalization", {}, (2, 3, 4)),
    ("RMSNormalization", dict(axis=[1, 2], epsilon=1e-3), (2, 3, 4)),
    ("LayerNormalization", dict(rms_scaling=True), (2, 3, 4)),
    ("LayerNormalization", dict(axis=[1, 2]), (2, 3, 4)),
])
def test_normalization(name, kwargs, shape):
    x = rand(*shape) * 2 + 0.5
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    assert_same(k_layer, d_layer, [x])
    assert_same_config_keys(k_layer, d_layer)
    assert d_layer.get_config()["axis"] == k_layer.get_config()["axis"] or name == "LayerNormalization"


@pytest.mark.parametrize("inner, power_iterations", [(lambda m: m.Dense(3), 1), (lambda m: m.Conv1D(3, 2), 3),
                                                     (lambda m: m.Embedding(10, 4), 2)])
def test_spectral_normalization(inner, power_iterations):
    x = rand(2, 5, 4) if power_iterations != 2 else np.array([[1, 2, 3], [4, 5, 9]], "int32")
    k_layer = keras.layers.SpectralNormalization(inner(keras.layers), power_iterations=power_iterations)
    d_layer = dg.layers.SpectralNormalization(inner(dg.layers), power_iterations=power_iterations)
    if x.dtype == np.int32:
        # Keras casts the wrapper's output to the input's dtype (int32 ids give int32 zeros), so
        # for Embedding the weights are compared, not the output
        k_layer(x)
        d_layer(x)
        d_layer.set_weights(k_layer.get_weights())
    else:
        assert_same(k_layer, d_layer, [x])
    assert_same_config_keys(k_layer, d_layer)
    # training: the kernel is divided by the power-iteration estimate of its spectral norm, u updated
    before = d_layer.get_weights()[0]
    k_train, d_train = k_layer(x, training=True), d_layer(x, training=True)
    assert not np.allclose(d_layer.get_weights()[0], before)
    if x.dtype != np.int32:
        np.testing.assert_allclose(d_train.data, to_numpy(k_train), rtol=RTOL, atol=ATOL)
    for d, k in zip(d_layer.get_weights(), k_layer.get_weights()):
        np.testing.assert_allclose(d, k, rtol=RTOL, atol=1e-6)
