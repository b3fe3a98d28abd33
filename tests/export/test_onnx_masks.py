"""Keras masks in exported models: Embedding(mask_zero) and Masking feeding recurrent layers
(masks with holes anywhere, not only right padding), attention with every kind of mask, the masked
mean of GlobalAveragePooling1D; onnxruntime equals predict within 1e-5 at two batch sizes."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.export import ExportError

from onnx_helpers import assert_exports, randomize


def _ids(seed=0):
    ids = np.random.default_rng(seed).integers(1, 5, (4, 7)).astype("int32")
    ids[0, :3] = 0      # left padding
    ids[1, 4:] = 0      # right padding
    ids[2, [1, 4]] = 0  # holes
    ids[3, 6] = 0
    return ids


RNNS = {
    "lstm_sequences": lambda: layers.LSTM(4, return_sequences=True),
    "lstm_states": lambda: layers.LSTM(3, return_state=True),
    "gru_backwards": lambda: layers.GRU(3, go_backwards=True),
    "gru_reset_before_zero_output": lambda: layers.GRU(3, reset_after=False, return_sequences=True,
                                                       zero_output_for_mask=True),
    "simple_rnn_backwards_sequences": lambda: layers.SimpleRNN(3, return_sequences=True, go_backwards=True,
                                                               activation="relu"),
    "bidirectional_lstm": lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
    "bidirectional_gru_states": lambda: layers.Bidirectional(layers.GRU(2, return_state=True), merge_mode="sum"),
}


@pytest.mark.parametrize("name", sorted(RNNS))
def test_embedding_mask_zero_into_recurrent(name, tmp_path):
    ids = layers.Input((7,), dtype="int32")
    model = dg.Model(ids, RNNS[name]()(layers.Embedding(5, 3, mask_zero=True)(ids)))
    randomize(model)
    assert_exports(model, _ids(), tmp_path / "m.onnx")


def test_masking_into_stacked_recurrent_and_initial_state(tmp_path):
    x, h = layers.Input((6, 3)), layers.Input((4,))
    seq = layers.LSTM(4, return_sequences=True)(layers.Masking(0.0)(x))
    y = layers.GRU(4, return_sequences=True)(layers.Dense(2)(seq), initial_state=h)
    model = dg.Model([x, h], layers.GlobalAveragePooling1D()(y))
    randomize(model)
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(3, 6, 3)).astype("float32")
    xs[0, 2] = 0.0
    xs[1, 4:] = 0.0
    xs[2, :2] = 0.0
    assert_exports(model, [xs, rng.normal(size=(3, 4)).astype("float32")], tmp_path / "m.onnx")


def _masked_attention(make, **kwargs):
    ids = layers.Input((7,), dtype="int32")
    q = layers.Embedding(5, 8, mask_zero=True)(ids)
    v = layers.Embedding(5, 8, mask_zero=True)(ids)
    key = kwargs.pop("key", False)
    y = make()(q, v, v, **kwargs) if key else make()(q, v, **kwargs)
    return dg.Model(ids, y)


ATTENTION = {
    "mha": lambda: _masked_attention(lambda: layers.MultiHeadAttention(2, 3)),
    "mha_key": lambda: _masked_attention(lambda: layers.MultiHeadAttention(2, 3), key=True),
    "mha_dropout_causal": lambda: _masked_attention(lambda: layers.MultiHeadAttention(2, 3, dropout=0.2),
                                                    use_causal_mask=True),
    "mha_scores": lambda: _masked_attention(lambda: layers.MultiHeadAttention(2, 3), return_attention_scores=True),
    "gqa": lambda: _masked_attention(lambda: layers.GroupedQueryAttention(3, 4, 2)),
    "gqa_gate_window_causal": lambda: _masked_attention(
        lambda: layers.GroupedQueryAttention(3, 4, 2, use_gate=True, sliding_window=2), use_causal_mask=True),
    "gqa_scores": lambda: _masked_attention(lambda: layers.GroupedQueryAttention(3, 4, 4, dropout=0.1),
                                            return_attention_scores=True),
}


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_attention_with_keras_masks(name, tmp_path):
    model = ATTENTION[name]()
    randomize(model)
    assert_exports(model, _ids(1), tmp_path / "m.onnx")


@pytest.mark.parametrize("dtype", ["bool", "int32", "float32"])
def test_attention_mask_input(dtype, tmp_path):
    x, mask = layers.Input((5, 4)), layers.Input((5, 5), dtype=dtype)
    model = dg.Model([x, mask], layers.MultiHeadAttention(2, 3)(x, x, attention_mask=mask, use_causal_mask=True))
    randomize(model)
    rng = np.random.default_rng(2)
    allowed = (rng.random((3, 5, 5)) > 0.4).astype(dtype)
    assert_exports(model, [rng.normal(size=(3, 5, 4)).astype("float32"), allowed], tmp_path / "m.onnx")


@pytest.mark.parametrize("shape,axes", [((3, 4, 5), (1, 2)), ((3, 4, 5), (2,)), ((3, 4, 5), None),
                                        ((2, 3, 4, 5), (2, 3))])
def test_multi_head_attention_axes(shape, axes, tmp_path):
    x = layers.Input(shape)
    out, scores = layers.MultiHeadAttention(2, 3, attention_axes=axes)(x, x, return_attention_scores=True)
    model = dg.Model(x, [out, scores, layers.MultiHeadAttention(2, 2, attention_axes=axes)(x, x)])
    randomize(model)
    assert_exports(model, np.random.default_rng(4).normal(size=(3,) + shape).astype("float32"), tmp_path / "m.onnx")


@pytest.mark.parametrize("kind", ["Attention", "AdditiveAttention"])
def test_attention_layers_with_masks(kind, tmp_path):
    ids = layers.Input((7,), dtype="int32")
    q = layers.Embedding(5, 8, mask_zero=True)(ids)
    v = layers.Embedding(5, 8, mask_zero=True)(ids)
    y = getattr(layers, kind)()([q, v], use_causal_mask=kind == "Attention")
    model = dg.Model(ids, layers.GlobalAveragePooling1D()(y))
    randomize(model)
    assert_exports(model, _ids(2), tmp_path / "m.onnx")


def test_masked_merge_is_refused_by_name(tmp_path):
    ids = layers.Input((7,), dtype="int32")
    a = layers.Embedding(5, 3, mask_zero=True)(ids)
    model = dg.Model(ids, layers.Add(name="joined")([a, layers.Embedding(5, 3, mask_zero=True)(ids)]))
    with pytest.raises(ExportError, match="'joined'.*Keras mask"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
