"""The Layer base: custom layers written the Keras way, weights, freezing, names, dtypes, config."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers.base import reset_names


class Linear(layers.Layer):
    """A user's layer as the Keras guide writes it."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.total = self.add_weight(shape=(), initializer="zeros", trainable=False, name="total")

    def call(self, inputs):
        self.total.assign_add(np.float32(inputs.shape[0]))
        return dg.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Block(layers.Layer):
    """Nested layers are tracked as attributes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Linear(3)
        self.norm = layers.BatchNormalization()

    def call(self, inputs, training=None):
        return self.norm(self.inner(inputs), training=training)


def test_custom_layer_builds_lazily_and_gets_gradients():
    reset_names()
    layer = Linear(2)
    assert not layer.built and layer.weights == []
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    out = layer(x)
    assert layer.built and layer.input_shape_built == (5, 3)
    np.testing.assert_allclose(out.data, x @ layer.w.data + layer.b.data, rtol=1e-6)
    assert [w.name for w in layer.weights] == ["w", "b", "total"]
    assert [w.path for w in layer.weights] == ["linear/w", "linear/b", "linear/total"]
    assert len(layer.trainable_weights) == 2 and float(layer.total.data) == 5.0
    dg.sum(out).backward()
    np.testing.assert_allclose(layer.w.grad, np.tile(x.sum(axis=0)[:, None], (1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layer.b.grad, [5.0, 5.0])
    assert layer.total.grad is None


def test_add_weight_keras3_positional_order_and_initializer_callables():
    layer = layers.Layer()
    w = layer.add_weight((2, 3), "ones")
    assert w.shape == (2, 3) and np.all(w.data == 1)
    v = layer.add_weight("v", (2,), initializer=lambda shape, dtype: np.full(shape, 7, dtype))
    np.testing.assert_array_equal(v.data, [7, 7])
    assert v.name == "v" and v.path.endswith("/v") and v.dtype == np.float32
    with pytest.raises(TypeError, match="add_weight"):
        layer.add_weight("x", (1,), bogus=True)


def test_trainable_false_moves_weights_to_non_trainable_including_nested():
    block = Block()
    block(np.ones((4, 2), "float32"))
    assert len(block.trainable_weights) == 4 and len(block.non_trainable_weights) == 3
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 7
    assert not block.inner.trainable
    block.trainable = True
    assert len(block.trainable_weights) == 4
    dense = layers.Dense(2)
    dense(np.ones((1, 3), "float32"))
    dense.trainable = False
    assert dense.trainable_weights == [] and [w.shape for w in dense.non_trainable_weights] == [(3, 2), (2,)]


def test_training_flag_reaches_nested_layers():
    block = Block()
    x = np.random.default_rng(1).standard_normal((8, 2)).astype("float32")
    block(x, training=True)
    assert np.any(block.norm.moving_mean.data != 0)
    before = block.norm.moving_mean.data.copy()
    block(x)
    np.testing.assert_array_equal(block.norm.moving_mean.data, before)


def test_set_weights_checks_count_and_shape_naming_the_layer():
    layer = layers.Dense(2, name="clf")
    layer(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="'clf' expects 2 weight arrays, got 1"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"clf.*\(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])
    layer.set_weights([np.ones((3, 2)), np.arange(2)])
    np.testing.assert_array_equal(layer.get_weights()[1], [0, 1])
    assert layer.get_weights()[1].dtype == np.float32


def test_inputs_are_cast_to_the_layer_dtype_but_integers_pass_through():
    layer = Linear(2)
    assert layer(np.ones((1, 3))).dtype == np.float32  # float64 data enters as float32
    wide = Linear(2, dtype="float64")
    assert wide(np.ones((1, 3), "float32")).dtype == np.float64 and wide.w.dtype == np.float64
    seen = {}

    class Probe(layers.Layer):
        def call(self, inputs):
            seen["dtype"] = inputs.dtype
            return inputs

    Probe()(np.array([[1, 2]], "int64"))
    assert seen["dtype"] == np.int64


def test_config_round_trip_and_unknown_arguments():
    layer = Linear(5, name="mine", trainable=False)
    clone = Linear.from_config(layer.get_config())
    assert clone.name == "mine" and clone.units == 5 and clone.trainable is False
    with pytest.raises(TypeError, match="Linear: unexpected keyword"):
        Linear(2, colour="red")
    assert layers.Dense(3, input_shape=(4,)).get_config()["input_shape"] == [4]


def test_default_compute_output_shape_runs_the_layer():
    assert Linear(6).compute_output_shape((None, 3)) == (None, 6)


def test_layers_get_and_deserialize():
    assert layers.get("Dense") is layers.Dense and layers.get("BatchNormalization") is layers.BatchNormalization
    with pytest.raises(ValueError, match="Unknown layer 'Dnse'"):
        layers.get("Dnse")
    assert layers.get("Linear", custom_objects={"Linear": Linear}) is Linear
    layer = layers.deserialize({"class_name": "Linear", "config": {"units": 2, "name": "l"}},
                               custom_objects={"Linear": Linear})
    assert isinstance(layer, Linear) and layer.units == 2
    for name in ("Conv2D", "MaxPooling2D", "LSTM"):  # present once those modules exist
        try:
            import importlib

            importlib.import_module({"Conv2D": "deepgrad.layers.convolutional", "MaxPooling2D": "deepgrad.layers.pooling",
                                     "LSTM": "deepgrad.layers.recurrent"}[name])
        except ModuleNotFoundError:
            continue
        assert layers.get(name).__name__ == name
