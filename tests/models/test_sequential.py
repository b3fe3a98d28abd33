"""Sequential: forward = composition, building from an input shape, add/pop, config, summary."""
import json

import numpy as np
import pytest
from model_helpers import Linear

import deepgrad as dg
from deepgrad import layers


def test_forward_equals_manual_composition():
    model = dg.Sequential([Linear(5), Linear(3, softmax=True)])
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    out = model(x)
    first, second = model.layers
    h = x @ first.w.data + first.b.data
    z = h @ second.w.data + second.b.data
    expected = np.exp(z - z.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32
    assert model.count_params() == 6 * 5 + 5 + 5 * 3 + 3


def test_input_builds_immediately_and_reports_shapes():
    model = dg.Sequential([layers.Input(shape=(7,)), Linear(4), Linear(2)])
    assert model.built
    assert model.input_shape == (None, 7) and model.output_shape == (None, 2)
    assert model.count_params() == 7 * 4 + 4 + 4 * 2 + 2
    assert [w.shape for w in model.weights] == [(7, 4), (4,), (4, 2), (2,)]


def test_input_shape_on_first_layer_builds_immediately():
    model = dg.Sequential([layers.Dense(3, input_shape=(5,)), layers.Dense(1)])
    assert model.built and model.output_shape == (None, 1)
    assert model.count_params() == 5 * 3 + 3 + 3 + 1


def test_built_on_first_call_without_input():
    model = dg.Sequential()
    model.add(Linear(3))
    with pytest.raises(AttributeError, match="has no defined inputs yet"):
        model.inputs  # noqa: B018 - Keras raises until the input is known
    model(np.zeros((2, 4), "float32"))
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)


def test_adding_an_incompatible_layer_names_layer_and_shapes():
    model = dg.Sequential([layers.Input(shape=(4, 5)), layers.Flatten()])
    with pytest.raises(ValueError, match=r"reshape.*\(None, 20\)"):
        model.add(layers.Reshape((3, 3), name="reshape"))


def test_input_after_layers_is_rejected():
    model = dg.Sequential([Linear(2)])
    with pytest.raises(ValueError, match="first item"):
        model.add(layers.Input(shape=(3,)))


def test_pop_removes_the_last_layer_and_updates_the_output():
    model = dg.Sequential([layers.Input(shape=(3,)), Linear(4), Linear(2)])
    popped = model.pop()
    assert isinstance(popped, Linear) and popped.units == 2
    assert len(model.layers) == 1 and model.output_shape == (None, 4)
    assert model(np.ones((2, 3), "float32")).shape == (2, 4)


def test_get_weights_set_weights_round_trip():
    a = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
    b = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
    b.set_weights(a.get_weights())
    x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    with pytest.raises(ValueError, match="expects 4 weight arrays"):
        b.set_weights(a.get_weights()[:2])


def test_config_round_trip_gives_same_architecture():
    model = dg.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                           layers.Dense(3, activation="softmax")], name="mlp")
    config = json.loads(model.to_json())
    assert config["class_name"] == "Sequential"
    assert [entry["class_name"] for entry in config["config"]["layers"]] == ["InputLayer", "Dense", "Dense"]
    clone = dg.models.model_from_json(model.to_json())
    assert clone.name == "mlp" and clone.output_shape == (None, 3)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(2).normal(size=(4, 6)).astype("float32")
    np.testing.assert_allclose(clone(x).data, model(x).data, rtol=1e-6)


def test_get_layer_by_name_and_index():
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2, name="hidden"), layers.Dense(1, name="out")])
    assert model.get_layer("out") is model.layers[1]
    assert model.get_layer(index=0).name == "hidden"
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


def _summary_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def test_summary_of_the_seed_mlp():
    model = dg.Sequential([layers.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    lines = _summary_lines(model)
    text = "\n".join(lines)
    # 784*128 + 128 = 100,480 ; 128*10 + 10 = 1,290
    assert 784 * 128 + 128 + 128 * 10 + 10 == 101_770
    assert "100,480" in text and "1,290" in text and "(None, 128)" in text
    assert " Total params: 101,770 (397.54 KB)" in lines
    assert " Trainable params: 101,770 (397.54 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines
    assert lines[0] == f'Model: "{model.name}"'
    assert all(len(line) == len(lines[1]) for line in lines[1:-3])  # a rectangular table


def test_summary_of_the_seed_cnn():
    model = dg.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    conv = 3 * 3 * 1 * 32 + 32                 # 320
    dense1 = (13 * 13 * 32) * 128 + 128         # 692,352
    dense2 = 128 * 10 + 10                      # 1,290
    assert conv + dense1 + dense2 == 693_962
    text = "\n".join(_summary_lines(model))
    assert "(None, 26, 26, 32)" in text and "(None, 13, 13, 32)" in text and "(None, 5408)" in text
    assert "692,352" in text
    assert " Total params: 693,962 (2.65 MB)" in text
    assert model.count_params() == 693_962


def test_summary_marks_non_trainable_params():
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
    model.layers[0].trainable = False
    lines = _summary_lines(model)
    assert " Total params: 26 (104.00 B)" in lines
    assert " Trainable params: 10 (40.00 B)" in lines
    assert " Non-trainable params: 16 (64.00 B)" in lines


def test_summary_show_trainable_column():
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(4, name="frozen"), layers.Dense(2, name="head")])
    model.get_layer("frozen").trainable = False
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True)
    rows = {line.split()[1]: line for line in lines if line.startswith("│")}
    assert "Trainable" in lines[2]
    assert rows["frozen"].rstrip("│ ").endswith("N") and rows["head"].rstrip("│ ").endswith("Y")
    assert len({len(line) for line in lines[1:-3]}) == 1


def test_input_layer_instance_and_input_dim_build_the_model():
    model = dg.Sequential([layers.InputLayer(shape=(5,)), layers.Dense(2)])
    assert model.input_shape == (None, 5) and model.count_params() == 12
    model = dg.Sequential([layers.Dense(3, input_dim=4)])
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
