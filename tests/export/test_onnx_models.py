"""Whole models exported to ONNX: the seeds' models, functional graphs (several inputs and outputs,
merging, shared layers, nested models), attention and recurrent states; and the errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.cli import build_model
from deepgrad.export import ExportError, register_converter
from deepgrad.export.runtime import OnnxPredictor

from onnx_helpers import assert_exports, randomize


def _x(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_cli_seed_models(kind, tmp_path):
    model = build_model(kind, (28, 28, 1), 10)
    randomize(model)
    assert_exports(model, _x((4, 28, 28, 1)), tmp_path / "m.onnx")


def test_batch_dimension_is_dynamic(tmp_path):
    model = build_model("cnn", (28, 28, 1), 10)
    randomize(model)
    path = tmp_path / "m.onnx"
    model.export(str(path), format="onnx")
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [28, 28, 1]
    predictor = OnnxPredictor(str(path))
    for n in (1, 7):
        x = _x((n, 28, 28, 1), n)
        np.testing.assert_allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_seed_003_mlp_and_002_cifar_cnn(tmp_path):
    mlp = dg.Sequential([layers.Dense(128, activation="relu", input_shape=(784,)),
                         layers.Dense(10, activation="softmax")])
    assert_exports(mlp, _x((5, 784)), tmp_path / "mlp.onnx")
    cnn = dg.Sequential()
    cnn.add(layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(32, 32, 3)))
    cnn.add(layers.MaxPooling2D(pool_size=(2, 2)))
    cnn.add(layers.Dropout(0.25))
    cnn.add(layers.Conv2D(64, kernel_size=(3, 3), activation="relu"))
    cnn.add(layers.MaxPooling2D(pool_size=(2, 2)))
    cnn.add(layers.Dropout(0.25))
    cnn.add(layers.Flatten())
    cnn.add(layers.Dense(64, activation="relu"))
    cnn.add(layers.Dropout(0.5))
    cnn.add(layers.Dense(10, activation="softmax"))
    randomize(cnn)
    assert_exports(cnn, _x((3, 32, 32, 3)), tmp_path / "cnn.onnx")


def test_functional_several_inputs_outputs_merges_and_shared_layer(tmp_path):
    a, b = layers.Input(shape=(6,), name="a"), layers.Input(shape=(6,), name="b")
    shared = layers.Dense(6, activation="tanh")
    ha, hb = shared(a), shared(b)
    merged = [layers.Add()([ha, hb]), layers.Subtract()([ha, hb]), layers.Multiply()([ha, hb, a]),
              layers.Average()([ha, hb]), layers.Maximum()([ha, hb]), layers.Minimum()([ha, hb]),
              layers.Dot(axes=1)([ha, hb]), layers.Dot(axes=1, normalize=True)([a, b])]
    cat = layers.Concatenate()(merged)
    model = dg.Model([a, b], [layers.Dense(3, activation="softmax", name="probs")(cat), layers.Dense(1)(cat)])
    randomize(model)
    assert_exports(model, [_x((4, 6), 1), _x((4, 6), 2)], tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert proto.graph.output[0].name == "probs"


def test_nested_models(tmp_path):
    inner = dg.Sequential([layers.Input(shape=(8,)), layers.Dense(5, activation="relu"), layers.BatchNormalization()])
    x_in = layers.Input(shape=(4,))
    block = dg.Model(x_in, layers.Dense(8)(x_in))
    outer_in = layers.Input(shape=(4,))
    h = block(outer_in)
    model = dg.Model(outer_in, [inner(h), layers.Dense(2)(h)])
    wrapper = dg.Sequential([layers.Input(shape=(4,)), block, inner, layers.Dense(3)])
    for m in (model, wrapper):
        randomize(m)
        assert_exports(m, _x((3, 4)), tmp_path / "m.onnx")


def test_multi_head_attention(tmp_path):
    q_in, v_in = layers.Input(shape=(5, 8)), layers.Input(shape=(7, 6))
    self_att = layers.MultiHeadAttention(num_heads=2, key_dim=3)(q_in, q_in)
    causal = layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=2)(q_in, q_in, use_causal_mask=True)
    cross = layers.MultiHeadAttention(num_heads=2, key_dim=4, output_shape=5)(q_in, v_in, v_in)
    model = dg.Model([q_in, v_in], [self_att, causal, cross])
    randomize(model)
    assert_exports(model, [_x((2, 5, 8), 1), _x((2, 7, 6), 2)], tmp_path / "m.onnx")


def test_recurrent_states(tmp_path):
    x = layers.Input(shape=(6, 3))
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x)
    gru_out, gh = layers.GRU(4, return_state=True)(seq, initial_state=[h])
    rnn_out = layers.SimpleRNN(4)(seq, initial_state=[gh])
    lstm2 = layers.LSTM(4)(seq, initial_state=[h, c])
    bi = layers.Bidirectional(layers.LSTM(2, return_sequences=True, return_state=True), merge_mode=None)(x)
    model = dg.Model(x, [seq, h, c, gru_out, rnn_out, lstm2, *bi])
    randomize(model)
    assert_exports(model, _x((3, 6, 3)), tmp_path / "m.onnx")


def test_opset_versions(tmp_path):
    model = dg.Sequential([layers.Input(shape=(5, 4)), layers.LayerNormalization(), layers.GlobalMaxPooling1D(),
                           layers.Dense(3)])
    randomize(model)
    for opset in (17, 21):
        assert_exports(model, _x((2, 5, 4)), tmp_path / f"m{opset}.onnx", opset_version=opset)
        assert onnx.load(str(tmp_path / f"m{opset}.onnx")).opset_import[0].version == opset
    with pytest.raises(ValueError, match="opset_version must be between 17"):
        model.export(str(tmp_path / "x.onnx"), format="onnx", opset_version=9)


def test_layer_without_converter_is_named(tmp_path):
    class Doubling(layers.Layer):
        def call(self, x):
            return x * 2.0

    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2), Doubling(name="doubler")])
    with pytest.raises(ExportError, match=r"layer 'doubler' of class Doubling has no ONNX converter"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()

    @register_converter(Doubling)
    def doubling(b, c):
        return b.op("Mul", [c.inputs[0], b.const(np.float32(2.0))], c.name)

    assert_exports(model, _x((2, 3)), tmp_path / "m.onnx")


def test_a_subclass_with_its_own_call_needs_its_own_converter(tmp_path):
    class Dense2(layers.Dense):
        def call(self, x):
            return super().call(x) * 2.0

    model = dg.Sequential([layers.Input(shape=(3,)), Dense2(2, name="d2")])
    with pytest.raises(ExportError, match="'d2' of class Dense2"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")


def test_unsupported_options_and_models_are_named(tmp_path):
    path = str(tmp_path / "m.onnx")
    stateful = dg.Sequential([layers.Input(shape=(4, 2), batch_size=2), layers.LSTM(3, stateful=True, name="mem")])
    with pytest.raises(ExportError, match="'mem' .*stateful"):
        stateful.export(path, format="onnx")
    masked = dg.Sequential([layers.Input(shape=(4,), dtype="int32"), layers.Embedding(5, 2, mask_zero=True),
                            layers.Conv1D(2, 2, name="conv"), layers.LSTM(2)])
    masked.export(path, format="onnx")   # Conv1D drops the mask, as in predict
    hashed = dg.Sequential([layers.Input(shape=(4,)), layers.Hashing(8, name="hash")])
    with pytest.raises(ExportError, match="'hash' .*not exported: FarmHash"):
        hashed.export(path, format="onnx")

    class Sub(dg.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.zeros((1, 3), "float32"))
    with pytest.raises(ExportError, match="subclassed model"):
        sub.export(path, format="onnx")
    with pytest.raises(ExportError, match="not built"):
        dg.Sequential([layers.Dense(2)]).export(path, format="onnx")
    with pytest.raises(ValueError, match="format 'openvino' is not available"):
        stateful.export(path, format="openvino")
    dense = dg.Sequential([layers.Input(shape=(4, 3)), layers.Dense(2, activation=lambda t: t * 2, name="d")])
    with pytest.raises(ExportError, match="'d' \\(Dense\\): activation .* has no ONNX converter"):
        dense.export(path, format="onnx")


def test_unknown_time_length_stays_dynamic(tmp_path):
    model = dg.Sequential([layers.Input(shape=(None, 3)), layers.Conv1D(4, 3, strides=2, padding="same"),
                           layers.MaxPooling1D(2, padding="same"), layers.LSTM(5, return_sequences=True),
                           layers.TimeDistributed(layers.Dense(2)), layers.GlobalAveragePooling1D()])
    randomize(model)
    path = tmp_path / "m.onnx"
    model.export(str(path), format="onnx")
    predictor = OnnxPredictor(str(path))
    for steps in (7, 10):
        x = _x((2, steps, 3), steps)
        np.testing.assert_allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
