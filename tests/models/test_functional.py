"""Functional and subclassed models: graph replay, several inputs/outputs, shared layers, nesting."""
import numpy as np
import pytest
from model_helpers import Linear

import deepgrad as dg
from deepgrad import layers


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_functional_forward_equals_manual_composition():
    inputs = layers.Input(shape=(4,))
    hidden = Linear(6)
    out_layer = Linear(2)
    model = dg.Model(inputs, out_layer(hidden(inputs)))
    x = _x(3, 4)
    expected = (x @ hidden.w.data + hidden.b.data) @ out_layer.w.data + out_layer.b.data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-5, atol=1e-6)
    assert isinstance(model, dg.models.Functional) and isinstance(model, dg.Model)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Linear", "Linear"]


def test_several_inputs_and_outputs_as_lists_and_dicts():
    a, b = layers.Input(shape=(3,), name="a"), layers.Input(shape=(2,), name="b")
    la, lb = Linear(4, name="la"), Linear(4, name="lb")
    merged = layers.Add()([la(a), lb(b)])
    head1, head2 = Linear(1, name="head1"), Linear(2, name="head2")
    model = dg.Model([a, b], [head1(merged), head2(merged)])
    xa, xb = _x(5, 3), _x(5, 2, seed=1)
    h = xa @ la.w.data + la.b.data + xb @ lb.w.data + lb.b.data
    y1, y2 = model([xa, xb])
    np.testing.assert_allclose(y1.data, h @ head1.w.data + head1.b.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y2.data, h @ head2.w.data + head2.b.data, rtol=1e-5, atol=1e-6)
    # the same model fed by input name
    y1_named, _ = model({"a": xa, "b": xb})
    np.testing.assert_array_equal(y1_named.data, y1.data)
    assert model.output_names == ["head1", "head2"]

    by_name = dg.Model({"a": a, "b": b}, {"score": head1(merged)})
    out = by_name({"a": xa, "b": xb})
    np.testing.assert_array_equal(out["score"].data, y1.data)


def test_shared_layer_uses_one_set_of_weights():
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
    shared = Linear(2)
    model = dg.Model([a, b], layers.Subtract()([shared(a), shared(b)]))
    assert model.count_params() == 3 * 2 + 2
    xa, xb = _x(4, 3), _x(4, 3, seed=1)
    np.testing.assert_allclose(model([xa, xb]).data, (xa - xb) @ shared.w.data, rtol=1e-5, atol=1e-6)
    # gradient flows into the shared weights from both branches: d sum(W^T (xa - xb)) / dW
    loss = model([xa, xb]).sum()
    (g_w, g_b) = dg.grad(loss, [shared.w, shared.b])
    np.testing.assert_allclose(g_w, np.tile((xa - xb).sum(0)[:, None], (1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g_b, np.zeros(2), atol=1e-6)


def test_model_nests_as_a_layer_on_tensors_and_keras_tensors():
    inner_in = layers.Input(shape=(3,))
    inner = dg.Model(inner_in, Linear(2)(inner_in), name="inner")
    outer_in = layers.Input(shape=(3,))
    outer = dg.Model(outer_in, Linear(1)(inner(outer_in)))
    x = _x(4, 3)
    expected = outer.layers[-1](inner(x)).data
    np.testing.assert_allclose(outer(x).data, expected, rtol=1e-6)
    assert inner in outer.layers and outer.count_params() == 3 * 2 + 2 + 2 + 1
    seq = dg.Sequential([layers.Input(shape=(3,)), inner, Linear(5)])
    assert seq.output_shape == (None, 5)


def test_functional_config_round_trip_rebuilds_shared_graph():
    a, b = layers.Input(shape=(3,), name="in_a"), layers.Input(shape=(3,), name="in_b")
    shared = layers.Dense(2, name="shared")
    out = layers.Dense(1, name="out")(layers.Concatenate()([shared(a), shared(b)]))
    model = dg.Model([a, b], out, name="siamese")
    clone = dg.models.model_from_json(model.to_json())
    assert clone.name == "siamese" and clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    xa, xb = _x(4, 3), _x(4, 3, seed=3)
    np.testing.assert_allclose(clone([xa, xb]).data, model([xa, xb]).data, rtol=1e-6)
    assert len(clone.get_layer("shared")._weights) == 2


def test_disconnected_graph_is_reported():
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
    out = layers.Add()([Linear(2)(a), Linear(2)(b)])
    with pytest.raises(ValueError, match="Graph disconnected"):
        dg.Model(a, out)


def test_functional_summary_has_connections():
    a = layers.Input(shape=(4,), name="features")
    hidden = layers.Dense(3, name="hidden")(a)
    model = dg.Model(a, layers.Concatenate(name="both")([layers.Dense(2, name="logits")(hidden), hidden]))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "features (InputLayer)" in text and "features[0][0]" in text
    assert "logits[0][0], hidden[0][0]" in text and " Total params: 23 (92.00 B)" in lines


def test_a_plain_stack_of_calls_prints_as_keras_does_without_connections():
    a = layers.Input(shape=(4,), name="features")
    model = dg.Model(a, layers.Dense(2, name="logits")(layers.Dense(3, name="hidden")(a)))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" not in text and "features (InputLayer)" in text and "hidden (Dense)" in text
    assert len(lines[1]) == 89 and " Total params: 23 (92.00 B)" in lines  # the 88-wide Sequential table


class TwoLayer(dg.Model):
    def __init__(self):
        super().__init__()
        self.hidden = Linear(5)
        self.blocks = [Linear(4), Linear(3)]
        self.dropout = layers.Dropout(0.5)

    def call(self, x, training=None):
        x = self.dropout(self.hidden(x), training=training)
        for block in self.blocks:
            x = block(x)
        return x


def test_subclassed_model_tracks_layers_and_runs_call():
    model = TwoLayer()
    x = _x(2, 6)
    out = model(x)  # training=None: dropout off
    h = x @ model.hidden.w.data + model.hidden.b.data
    for block in model.blocks:
        h = h @ block.w.data + block.b.data
    np.testing.assert_allclose(out.data, h, rtol=1e-5, atol=1e-6)
    assert len(model.layers) == 4 and len(model.trainable_weights) == 6
    assert model.count_params() == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    model.hidden.trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2


def test_subclassed_model_without_call_says_so():
    class NoCall(dg.Model):
        pass

    with pytest.raises(NotImplementedError, match="NoCall must implement call"):
        NoCall()(np.zeros((1, 2), "float32"))
