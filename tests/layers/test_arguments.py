"""layers/arguments.py: the weight triples every layer takes, and keyword forwarding."""
import inspect

import numpy as np
import pytest

from deepgrad import constraints, initializers, layers, regularizers
from deepgrad.layers.arguments import (add_weight_from_arguments, forwarded_arguments, set_weight_arguments,
                                       weight_arguments_config)


def test_set_weight_arguments_resolves_all_three():
    layer = layers.Layer(name="holder")
    set_weight_arguments(layer, "kernel", "he_normal", {"class_name": "L2", "config": {"l2": 0.5}}, "non_neg")
    assert type(layer.kernel_initializer) is initializers.HeNormal
    assert type(layer.kernel_regularizer) is regularizers.L2 and layer.kernel_regularizer.l2 == 0.5
    assert type(layer.kernel_constraint) is constraints.NonNeg
    set_weight_arguments(layer, "bias")
    assert (layer.bias_initializer, layer.bias_regularizer, layer.bias_constraint) == (None, None, None)


def test_add_weight_from_arguments_uses_them():
    layer = layers.Layer(name="holder")
    set_weight_arguments(layer, "gamma", initializers.Constant(-2.0), regularizers.L1(0.25), "non_neg")
    w = add_weight_from_arguments(layer, "gamma", (3,))
    np.testing.assert_array_equal(w.data, [-2.0, -2.0, -2.0])
    assert w.name == "gamma" and w.path == "holder/gamma" and w.constraint is layer.gamma_constraint
    assert float(layer.losses[0].data) == pytest.approx(0.25 * 6.0)   # l1 * sum|w|
    other = add_weight_from_arguments(layer, "gamma", (2,), name="other", initializer="ones")
    np.testing.assert_array_equal(other.data, [1.0, 1.0])


def test_weight_arguments_config_in_keras_form():
    layer = layers.Layer(name="holder")
    set_weight_arguments(layer, "kernel", "glorot_uniform", "l2", None)
    set_weight_arguments(layer, "bias", "zeros")
    config = weight_arguments_config(layer, "kernel", "bias")
    assert list(config) == ["kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                            "kernel_constraint", "bias_constraint"]
    assert config["kernel_initializer"] == initializers.serialize(initializers.GlorotUniform())
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["kernel_regularizer"] == {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
                                           "registered_name": None}
    assert config["bias_regularizer"] is None and config["kernel_constraint"] is None


@pytest.mark.parametrize("make, prefixes", [
    (lambda: layers.Dense(3, kernel_regularizer="l2", bias_constraint="non_neg"), ("kernel", "bias")),
    (lambda: layers.Conv2D(2, 3, kernel_initializer="he_uniform", bias_regularizer="l1"), ("kernel", "bias")),
    (lambda: layers.Embedding(5, 2, embeddings_constraint="unit_norm"), ("embeddings",)),
    (lambda: layers.BatchNormalization(gamma_regularizer="l2", beta_constraint="non_neg"), ("beta", "gamma")),
    (lambda: layers.LayerNormalization(gamma_initializer="zeros"), ("beta", "gamma")),
    (lambda: layers.LSTM(2, recurrent_regularizer="l1", recurrent_constraint="max_norm"),
     ("kernel", "recurrent", "bias")),
])
def test_every_layer_with_weights_round_trips_its_triples(make, prefixes):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    for prefix in prefixes:
        for suffix in ("initializer", "regularizer", "constraint"):
            key = f"{prefix}_{suffix}"
            assert config[key] == clone.get_config()[key], key
            assert type(getattr(clone, key)) is type(getattr(layer, key)), key


def test_forwarded_arguments_passes_everything_by_name():
    class Base:
        def __init__(self, units, *, b=2, a=1, **kwargs):
            self.seen = {"units": units, "a": a, "b": b, **kwargs}

    class Child(Base):
        def __init__(self, units, a=10, b=20, extra=None, **kwargs):  # another order than the base
            super().__init__(**forwarded_arguments(locals(), exclude=("extra",)))
            self.extra = extra

    child = Child(5, 11, extra="x", name="n")
    assert child.seen == {"units": 5, "a": 11, "b": 20, "name": "n"} and child.extra == "x"
    assert list(inspect.signature(Child).parameters) == ["units", "a", "b", "extra", "kwargs"]


def test_recurrent_layers_take_their_arguments_positionally_as_keras_orders_them():
    # SimpleRNN puts seed last, LSTM and GRU put it after recurrent_dropout, as Keras does
    rnn = layers.SimpleRNN(4, "relu", False, "ones", "zeros", "zeros", None, None, None, None, None, None, None,
                           0.25, 0.0, True, False, True, False, False, 7)
    assert (rnn.activation.__name__, rnn.use_bias, rnn.dropout, rnn.return_sequences, rnn.go_backwards,
            rnn.seed) == ("relu", False, 0.25, True, True, 7)
    lstm = layers.LSTM(3, "tanh", "hard_sigmoid", True, "ones", "zeros", "zeros", False)
    assert lstm.recurrent_activation.__name__ == "hard_sigmoid" and lstm.unit_forget_bias is False
    gru = layers.GRU(3, reset_after=False, use_cudnn=False)
    assert gru.reset_after is False and gru.use_cudnn is False and gru.get_config()["reset_after"] is False
