"""The symbolic surface of Keras programs, built in Keras and in deepgrad on the same weights:
intermediate outputs (Grad-CAM, feature extraction), layers on several tensors, dicts,
masks, a Model subclass built from inputs and outputs, inputs with a batch size."""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy


def cnn_functional(K):
    L = K.layers
    x = K.Input((12, 12, 3), name="image")
    h = L.Conv2D(4, 3, activation="relu", name="conv")(x)
    h = L.Conv2D(6, 3, activation="relu", name="last_conv")(h)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    return K.Model(x, L.Dense(5, activation="softmax", name="predictions")(h))


def cnn_sequential(K):
    L = K.layers
    return K.Sequential([K.Input((12, 12, 3)), L.Conv2D(4, 3, activation="relu", name="conv"),
                         L.Conv2D(6, 3, activation="relu", name="last_conv"), L.MaxPooling2D(2, name="pool"),
                         L.Flatten(name="flat"), L.Dense(5, activation="softmax", name="predictions")])


def pair(build):
    k_model, d_model = build(keras), build(dg)
    d_model.set_weights(k_model.get_weights())
    return k_model, d_model


def images(n=2, seed=0):
    return np.random.default_rng(seed).random((n, 12, 12, 3)).astype("float32")


def heatmap(conv_out, grads):
    """The Grad-CAM map of the first image: channels weighted by their mean gradient, relu, scaled to [0, 1]."""
    pooled = grads.mean(axis=(0, 1, 2))
    cam = np.maximum(conv_out[0] @ pooled, 0)
    return cam / cam.max()


def keras_grad_cam(grad_model, img, index):
    conv_out, preds = grad_model(torch.as_tensor(img))
    conv_out.retain_grad()
    preds[:, index].sum().backward()
    return to_numpy(conv_out.detach()), to_numpy(preds.detach()), conv_out.grad.numpy()


@pytest.mark.parametrize("build", [cnn_functional, cnn_sequential], ids=["functional", "sequential"])
def test_grad_cam_through_an_intermediate_output(build):
    k_model, d_model = pair(build)
    k_grad = keras.Model(k_model.inputs, [k_model.get_layer("last_conv").output, k_model.outputs[0]])
    d_grad = dg.Model(d_model.inputs, [d_model.get_layer("last_conv").output, d_model.output])
    assert [t.shape for t in d_grad.outputs] == [tuple(t.shape) for t in k_grad.outputs]
    assert [layer.name for layer in d_grad.layers][1:] == [layer.name for layer in k_grad.layers][1:]
    img = images(1)
    k_conv, k_preds, k_grads = keras_grad_cam(k_grad, img, 3)
    with dg.GradientTape() as tape:
        conv_out, preds = d_grad(img)
        class_channel = preds[:, 3]
    grads = tape.gradient(class_channel, conv_out)
    np.testing.assert_allclose(conv_out.data, k_conv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(preds.data, k_preds, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads, k_grads, rtol=1e-4, atol=1e-7)
    assert np.abs(grads).max() > 0
    np.testing.assert_allclose(heatmap(conv_out.data, grads), heatmap(k_conv, k_grads), rtol=1e-4, atol=1e-6)


def test_feature_extraction_from_base_input():
    k_model, d_model = pair(cnn_functional)
    k_features = keras.Model(inputs=k_model.input, outputs=k_model.get_layer("conv").output)
    d_features = dg.Model(inputs=d_model.input, outputs=d_model.get_layer("conv").output)
    x = images(3)
    np.testing.assert_allclose(d_features.predict(x, verbose=0), to_numpy(k_features(x)), rtol=1e-5, atol=1e-6)
    assert d_features.output_shape == k_features.output_shape == (None, 10, 10, 4)
    assert d_features.count_params() == k_features.count_params()


def test_layer_input_and_output_are_its_first_call():
    k_model, d_model = pair(cnn_sequential)
    for name in ("conv", "last_conv", "pool", "flat", "predictions"):
        k_layer, d_layer = k_model.get_layer(name), d_model.get_layer(name)
        assert d_layer.input.shape == tuple(k_layer.input.shape)
        assert d_layer.output.shape == tuple(k_layer.output.shape)
    for name in ("conv", "predictions"):
        build_config = d_model.get_layer(name).get_build_config()
        assert build_config == k_model.get_layer(name).get_build_config() and build_config["input_shape"][0] is None
    assert d_model.get_layer("conv").output is d_model.get_layer("last_conv").input
    assert d_model.inputs[0].shape == tuple(k_model.inputs[0].shape)
    with pytest.raises(AttributeError, match="has never been called"):
        dg.layers.Dense(2).output  # noqa: B018
    with pytest.raises(AttributeError):
        keras.layers.Dense(2).output  # noqa: B018


def test_sequential_without_input_has_no_graph():
    d_model = dg.Sequential([dg.layers.Dense(3, name="d1")])
    k_model = keras.Sequential([keras.layers.Dense(3, name="d1")])
    for attribute in ("inputs", "outputs"):
        with pytest.raises(AttributeError):
            getattr(k_model, attribute)
        with pytest.raises(AttributeError, match=f"has no defined {attribute} yet"):
            getattr(d_model, attribute)
    with pytest.raises(AttributeError, match="never been called"):
        d_model.get_layer("d1").output  # noqa: B018


class Mix(keras.layers.Layer):
    """a * b + a, from a list of two tensors (the same class body serves both frameworks)."""

    def call(self, inputs):
        a, b = inputs
        return a * b + a


class DgMix(dg.layers.Layer):
    def call(self, inputs):
        a, b = inputs
        return a * b + a


def test_layer_on_a_list_and_dict_inputs_and_outputs():
    def build(K, mix):
        L = K.layers
        a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
        mixed = mix(name="mix")([a, L.Dense(4, name="proj")(b)])
        return K.Model({"a": a, "b": b}, {"mixed": mixed, "head": L.Dense(2, name="head")(mixed)})

    k_model, d_model = build(keras, Mix), build(dg, DgMix)
    d_model.set_weights(k_model.get_weights())
    mixed = d_model.get_layer("mix")
    assert [t.shape for t in mixed.input] == [(None, 4), (None, 4)]
    rng = np.random.default_rng(1)
    data = {"a": rng.random((3, 4)).astype("float32"), "b": rng.random((3, 4)).astype("float32")}
    k_out, d_out = k_model(data), d_model(data)
    assert set(d_out) == set(k_out) == {"mixed", "head"}
    for key in k_out:
        np.testing.assert_allclose(d_out[key].data, to_numpy(k_out[key]), rtol=1e-5, atol=1e-6)
    assert set(d_model.input) == {"a", "b"} and d_model.input["a"] is d_model.get_layer("a").output


def test_masks_travel_symbolically_as_keras():
    def build(K):
        L = K.layers
        ids = K.Input((6,), dtype="int32", name="ids")
        e = L.Embedding(12, 4, mask_zero=True, name="emb")(ids)
        d = L.Dense(3, name="dense")(e)
        s = L.LSTM(5, return_sequences=True, name="seq")(d)
        last = L.LSTM(2, name="last")(s)
        return K.Model(ids, [s, last]), (e, d, s, last)

    (k_model, k_tensors), (d_model, d_tensors) = build(keras), build(dg)
    for k_t, d_t in zip(k_tensors, d_tensors):
        k_mask = getattr(k_t, "_keras_mask", None)
        if k_mask is None:
            assert d_t._keras_mask is None
        else:
            assert d_t._keras_mask.shape == tuple(k_mask.shape) and d_t._keras_mask.dtype == np.dtype("bool")
    assert d_tensors[-1]._keras_mask is None and d_tensors[0]._keras_mask.shape == (None, 6)
    d_model.set_weights(k_model.get_weights())
    ids = np.array([[3, 1, 7, 0, 0, 0], [5, 2, 9, 11, 4, 8]], "int32")
    for k_out, d_out in zip(k_model(ids), d_model(ids)):
        np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=1e-5, atol=1e-6)


def make_counting_model(K, steps: list):
    class CountingModel(K.Model):
        """The custom train_step pattern: note the step, then train as usual."""

        def train_step(self, *args, **kwargs):
            steps.append(self.name)
            return super().train_step(*args, **kwargs)

    return CountingModel


def test_model_subclass_built_from_inputs_and_outputs():
    def build(K, steps):
        x = K.Input((3,))
        cls = make_counting_model(K, steps)
        return cls(inputs=x, outputs=K.layers.Dense(2, name="out")(K.layers.Dense(4, activation="tanh", name="hid")(x))), cls

    k_steps, d_steps = [], []
    (k_model, k_cls), (d_model, d_cls) = build(keras, k_steps), build(dg, d_steps)
    assert isinstance(d_model, d_cls) and isinstance(d_model, dg.Model) and type(d_model).__name__ == "CountingModel"
    assert [layer.name for layer in d_model.layers][1:] == [layer.name for layer in k_model.layers][1:]
    d_model.set_weights(k_model.get_weights())
    rng = np.random.default_rng(2)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 2)).astype("float32")
    for model, K in ((k_model, keras), (d_model, dg)):
        model.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert len(d_steps) == len(k_steps) == 4 and set(d_steps) == {d_model.name}
    for d_w, k_w in zip(d_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(d_w, k_w, rtol=1e-5, atol=1e-6)


def test_input_batch_shape_dtype_and_layer_order():
    for K in (keras, dg):
        assert tuple(K.Input(batch_shape=(8, 4)).shape) == (8, 4)
        assert tuple(K.layers.Dense(3)(K.Input(batch_shape=(8, 4))).shape) == (8, 3)
        assert np.dtype(K.Input((4,), dtype="int32").dtype) == np.dtype("int32")

    def build(K):
        L = K.layers
        a, b = K.Input((4,), name="in_a"), K.Input((2,), name="in_b")
        h = L.Dense(3, name="h")(a)
        g = L.Dense(3, name="g")(b)
        merged = L.Concatenate(name="cat")([h, g])
        return K.Model([a, b], [L.Dense(1, name="o1")(merged), L.Dense(2, name="o2")(h)])

    k_model, d_model = build(keras), build(dg)
    assert [layer.name for layer in d_model.layers] == [layer.name for layer in k_model.layers]
    assert d_model.output_names == k_model.output_names == ["o1", "o2"]
    assert [t.shape for t in d_model.inputs] == [tuple(t.shape) for t in k_model.inputs]
    assert d_model.output_shape == k_model.output_shape


def test_multi_output_summary_and_save_load(tmp_path):
    k_model, d_model = pair(cnn_functional)
    k_two = keras.Model(k_model.inputs, [k_model.get_layer("conv").output, k_model.output])
    d_two = dg.Model(d_model.inputs, [d_model.get_layer("conv").output, d_model.output])

    def rows(model):
        lines = []
        model.summary(print_fn=lambda line, *a, **k: lines.extend(str(line).splitlines()))
        cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines]
        return [c[:3] for c in cells if len(c) >= 3 and c[0]], [line for line in lines if "params:" in line]

    assert rows(d_two) == rows(k_two)
    path = tmp_path / "two.keras"
    d_two.save(path)
    loaded = dg.models.load_model(path)
    assert loaded.output_names == d_two.output_names
    x = images(2)
    for k_out, d_out in zip(k_two(x), loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(d_out, to_numpy(k_out), rtol=1e-5, atol=1e-6)


def test_a_mask_given_with_the_call_reaches_the_layers():
    def build(K):
        x = K.Input((4, 2))
        return K.Model(x, K.layers.GlobalAveragePooling1D()(K.layers.Dense(3, name="per_step")(x)))

    k_model, d_model = pair(build)
    x = np.random.default_rng(5).random((2, 4, 2)).astype("float32")
    mask = np.array([[True, True, False, False], [True, False, True, True]])
    want = to_numpy(k_model(x, mask=torch.as_tensor(mask)))
    np.testing.assert_allclose(d_model(x, mask=mask).data, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(d_model(x).data, want)


def test_a_layer_output_as_model_input_cuts_the_graph():
    def build(K):
        L = K.layers
        x = K.Input((4,), name="x")
        hidden = L.Dense(3, name="hidden")(x)
        return K.Model(x, L.Dense(2, name="head")(hidden)), hidden

    (k_model, k_hidden), (d_model, d_hidden) = build(keras), build(dg)
    d_model.set_weights(k_model.get_weights())
    k_head = keras.Model(k_hidden, k_model.output)
    d_head = dg.Model(d_hidden, d_model.output)
    assert [type(layer).__name__ for layer in d_head.layers] == [type(layer).__name__ for layer in k_head.layers]
    assert d_head.layers[0].name.endswith("CLONE") and d_head.input_shape == k_head.input_shape == (None, 3)
    assert d_head.count_params() == k_head.count_params() == 8
    h = np.random.default_rng(6).random((3, 3)).astype("float32")
    np.testing.assert_allclose(d_head.predict(h, verbose=0), to_numpy(k_head(h)), rtol=1e-5, atol=1e-6)
    rebuilt = type(d_head).from_config(d_head.get_config())
    assert rebuilt.input_shape == (None, 3) and [layer.name for layer in rebuilt.layers] == \
        [layer.name for layer in d_head.layers]


@pytest.mark.parametrize("declared, given", [((None, 1), (2, 5, 3)), ((None, 1), (2, 5)), ((3, 1), (2, 5, 3)),
                                             ((4,), (2, 6)), ((4,), (2, 4, 6)), ((None, 1), (2, 5, 3, 2))])
def test_functional_input_shape_check_is_kerass(declared, given):
    """A declared last axis of 1 takes any size (Keras squeezes it before comparing); every other
    declared size and the rank are checked, by Keras and deepgrad alike."""
    x = np.ones(given, "float32")

    def outcome(lib):
        inputs = lib.Input(declared)
        model = lib.Model(inputs, lib.layers.Lambda(lambda t: t * 2.0)(inputs))
        try:
            return to_numpy(model.predict(x, verbose=0)).shape
        except ValueError:
            return "refused"

    assert outcome(dg) == outcome(keras)
