"""The recorded graph of layer calls: layer.input/output, Input layers, symbolic masks,
structures, Model subclasses built from inputs and outputs, and their files."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers


def test_a_shared_layer_keeps_every_call_and_answers_with_the_first():
    a, b = layers.Input((3,), name="left"), layers.Input((3,), name="right")
    shared = layers.Dense(2, name="shared")
    out_a, out_b = shared(a), shared(b)
    assert len(shared._inbound_nodes) == 2
    assert shared.input is a and shared.output is out_a
    assert shared._inbound_nodes[1].input_tensors == [b] and shared._inbound_nodes[1].output_tensors == [out_b]
    model = dg.Model([a, b], layers.Subtract()([out_a, out_b]))
    x = np.arange(6, dtype="float32").reshape(2, 3)
    kernel, bias = shared.get_weights()
    expected = (x @ kernel + bias) - ((x + 1) @ kernel + bias)
    np.testing.assert_allclose(model.predict([x, x + 1], verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_the_input_layer_outputs_the_input_tensor():
    x = layers.Input((4,), name="pixels")
    model = dg.Model(x, layers.Dense(2)(x))
    input_layer = model.get_layer("pixels")
    assert input_layer.output is x is model.input and input_layer.input == []
    assert model.layers[0] is input_layer and x.input_layer is input_layer


def test_a_batch_size_survives_layers_and_the_config():
    x = layers.Input(batch_shape=(4, 3), name="fixed")
    h = layers.Dense(5)(x)
    assert h.shape == (4, 5) and layers.Flatten()(layers.Reshape((5, 1))(h)).shape == (4, 5)
    model = dg.Model(x, h)
    rebuilt = type(model).from_config(model.get_config())
    assert rebuilt.inputs[0].shape == (4, 3) and rebuilt.output_shape == (4, 5)


def test_a_sequential_built_by_its_first_call_has_a_graph():
    model = dg.Sequential([layers.Dense(4, activation="relu", name="hidden"), layers.Dense(2, name="head")])
    x = np.random.default_rng(0).random((3, 5)).astype("float32")
    full = model.predict(x, verbose=0)
    assert model.inputs[0].shape == (None, 5) and model.get_layer("head").input is model.get_layer("hidden").output
    features = dg.Model(model.inputs, model.get_layer("hidden").output)
    kernel, bias = model.get_layer("head").get_weights()
    np.testing.assert_allclose(features.predict(x, verbose=0) @ kernel + bias, full, rtol=1e-5, atol=1e-6)
    assert model.input is model.inputs[0] and model.output is model.outputs[0]
    model.pop()
    assert model.output is model.get_layer("hidden").output


def test_dict_structures_flatten_by_sorted_key_and_train():
    b, a = layers.Input((2,), name="b"), layers.Input((3,), name="a")
    joined = layers.Concatenate()([a, b])
    model = dg.Model({"b": b, "a": a}, {"z": layers.Dense(1, name="zed")(joined),
                                        "y": layers.Dense(2, name="why")(joined)})
    # Keras names the outputs after their layers, in the sorted-key order of the dict
    assert model.input_names == ["a", "b"] and model.output_names == ["why", "zed"]
    assert [t.shape for t in model.outputs] == [(None, 2), (None, 1)]
    rng = np.random.default_rng(3)
    xs = {"a": rng.random((16, 3)).astype("float32"), "b": rng.random((16, 2)).astype("float32")}
    ys = {"y": rng.random((16, 2)).astype("float32"), "z": rng.random((16, 1)).astype("float32")}
    out = model(xs)
    w_z, b_z = model.get_layer("zed").get_weights()
    np.testing.assert_allclose(out["z"].data, np.concatenate([xs["a"], xs["b"]], 1) @ w_z + b_z, rtol=1e-5, atol=1e-6)
    model.compile(optimizer=dg.optimizers.SGD(0.1), loss={"y": "mse", "z": "mae"})
    history = model.fit(xs, ys, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_masks_are_symbolic_and_replayed():
    ids = layers.Input((5,), dtype="int32")
    embedded = layers.Embedding(9, 3, mask_zero=True)(ids)
    projected = layers.Dense(2)(embedded)
    pooled = layers.GlobalAveragePooling1D()(projected)
    assert embedded._keras_mask.shape == (None, 5) and embedded._keras_mask.dtype == np.dtype(bool)
    assert projected._keras_mask.shape == (None, 5) and pooled._keras_mask is None
    model = dg.Model(ids, [projected, pooled])
    data = np.array([[4, 2, 0, 0, 0], [1, 1, 1, 1, 7]], "int32")
    seq, mean = model(data)
    np.testing.assert_array_equal(seq._keras_mask, data != 0)
    weights = (data != 0)[..., None].astype("float32")
    np.testing.assert_allclose(mean.data, (seq.data * weights).sum(1) / weights.sum(1), rtol=1e-6, atol=1e-7)


class Scaled(dg.Model):
    """A functional model with one method of its own and a counting train_step."""

    def doubled(self, x):
        return 2 * self.predict(x, verbose=0)

    def train_step(self, data):
        self.steps_seen = getattr(self, "steps_seen", 0) + 1
        return super().train_step(data)


def test_a_model_subclass_given_inputs_and_outputs_is_functional_and_round_trips(tmp_path):
    x = layers.Input((3,), name="x")
    model = Scaled(inputs=x, outputs=layers.Dense(2, name="out")(x), name="scaled")
    assert isinstance(model, Scaled) and type(model).__name__ == "Scaled" and model.name == "scaled"
    assert [layer.name for layer in model.layers] == ["x", "out"]
    data = np.ones((4, 3), "float32")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.zeros((4, 2), "float32"), batch_size=2, epochs=1, verbose=0)
    assert model.steps_seen == 2
    path = tmp_path / "scaled.deepgrad"
    model.save(path)
    loaded = dg.models.load_model(path, custom_objects={"Scaled": Scaled})
    assert isinstance(loaded, Scaled)
    np.testing.assert_allclose(loaded.doubled(data), model.doubled(data), rtol=1e-6)


class Pair(dg.Model):
    """Two positional arguments that are sub-models, not (inputs, outputs): stays subclassed."""

    def __init__(self, first, second):
        super().__init__()
        self.first, self.second = first, second

    def call(self, x):
        return self.second(self.first(x))


def test_a_subclass_with_two_arguments_of_its_own_stays_subclassed():
    model = Pair(layers.Dense(3), layers.Dense(1))
    assert type(model) is Pair and model(np.ones((2, 4), "float32")).shape == (2, 1)
    with pytest.raises(AttributeError, match="never been called"):
        model.output  # noqa: B018


def test_multi_output_model_of_intermediate_outputs_saves_and_loads(tmp_path):
    x = layers.Input((6, 6, 1), name="img")
    conv = layers.Conv2D(2, 3, activation="relu", name="conv")(x)
    out = layers.Dense(3, name="head")(layers.Flatten()(conv))
    base = dg.Model(x, out)
    two = dg.Model(base.inputs, [base.get_layer("conv").output, base.output])
    path = tmp_path / "two.deepgrad"
    two.save(path)
    loaded = dg.models.load_model(path)
    data = np.random.default_rng(4).random((2, 6, 6, 1)).astype("float32")
    for got, want in zip(loaded.predict(data, verbose=0), two.predict(data, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert [t.shape for t in loaded.outputs] == [(None, 4, 4, 2), (None, 3)]
