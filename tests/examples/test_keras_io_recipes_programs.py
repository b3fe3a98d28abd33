"""The patterns of the keras-io recipes and guides (reproducibility, float8 training, custom
layers holding private sub-layers, the training mode nested calls inherit), each checked against
Keras 3 on its torch backend."""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")
ml_dtypes = pytest.importorskip("ml_dtypes")

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.quantizers.float8 import round_to_bfloat16, round_to_float8  # noqa: E402


# ----------------------------------------------------------------- float8 numerics
@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_rounding_is_the_cast_of_ml_dtypes_and_torch(name):
    rng = np.random.default_rng(1)
    top = float(ml_dtypes.finfo(getattr(ml_dtypes, name)).max)
    x = (rng.normal(size=50_000) * 10.0 ** rng.uniform(-12, 5, 50_000)).astype(np.float32)
    grid = np.arange(256, dtype=np.uint8).view(getattr(ml_dtypes, name)).astype(np.float32)
    grid = np.unique(grid[np.isfinite(grid)])
    ties = ((grid[1:].astype(np.float64) + grid[:-1]) / 2).astype(np.float32)  # exact midpoints: ties to even
    x = np.concatenate([np.clip(x, -top, top), grid, ties, [0.0, -0.0]]).astype(np.float32)
    ours = round_to_float8(x, name)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, x.astype(getattr(ml_dtypes, name)).astype(np.float32))
    np.testing.assert_array_equal(ours, torch.from_numpy(x).to(getattr(torch, name)).float().numpy())
    assert len(np.unique(ours[-len(ties) - 2:-2])) < len(ties)  # the ties did round onto the grid


def test_bfloat16_rounding_is_the_cast_of_ml_dtypes():
    x = (np.random.default_rng(2).normal(size=20_000) * 10.0 ** np.random.default_rng(3).uniform(-30, 30, 20_000))
    x = x.astype(np.float32)
    np.testing.assert_array_equal(round_to_bfloat16(x), x.astype(ml_dtypes.bfloat16).astype(np.float32))


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_quantize_and_dequantize_matches_keras(name):
    x = np.random.default_rng(4).normal(size=(7, 9)).astype(np.float32) * 300
    for scale in (1.0, 0.37, 2.5):
        ref = keras.ops.convert_to_numpy(keras.quantizers.quantize_and_dequantize(x, scale, name, "float32"))
        ours = dg.quantizers.quantize_and_dequantize(x, np.float32(scale), name, "float32")
        np.testing.assert_array_equal(np.asarray(ours.data), ref)


# ----------------------------------------------------------------- float8 training
def _attention_model(lib):
    inp = lib.layers.Input((6, 8))
    x = lib.layers.MultiHeadAttention(2, 4, name="mha")(inp, inp)
    x = lib.layers.GlobalAveragePooling1D()(x)
    x = lib.layers.Dense(5, activation="relu", name="d1")(x)
    return lib.Model(inp, lib.layers.Dense(1, name="d2")(x))


def test_float8_training_matches_keras():
    rng = np.random.default_rng(0)
    xs = (rng.normal(size=(16, 6, 8)) * 3).astype(np.float32)
    ys = rng.normal(size=(16, 1)).astype(np.float32)
    keras.utils.set_random_seed(3)  # Keras's initial weights, which both models start from
    ref, ours = _attention_model(keras), _attention_model(dg)
    ours.set_weights(ref.get_weights())
    for m in (ref, ours):
        m.quantize("float8")
    assert [v.path for v in ours.trainable_variables] == [v.path for v in ref.trainable_variables]
    assert [v.path for v in ours.weights] == [v.path for v in ref.weights]
    assert ([(layer.name, layer.dtype_policy.name) for layer in ours._flatten_layers()
             if "float8" in str(layer.dtype_policy)]
            == [(layer.name, layer.dtype_policy.name) for layer in ref._flatten_layers()
                if "float8" in str(layer.dtype_policy)])
    d2 = ours.get_layer("d2")
    assert d2.inputs_amax_history.shape == (1024,) and d2.inputs_scale.shape == ()
    assert d2.inputs_scale.overwrite_with_gradient and d2.inputs_scale.trainable
    # untrained: every scale is 1, so the forward is float8 rounding of inputs and kernels
    np.testing.assert_allclose(ours.predict(xs, verbose=0), keras.ops.convert_to_numpy(ref.predict(xs, verbose=0)),
                               rtol=1e-5, atol=1e-5)
    # an inference call leaves the scales alone
    assert float(d2.inputs_scale.numpy()) == 1.0 and not d2.inputs_amax_history.numpy().any()
    for m, lib in ((ref, keras), (ours, dg)):
        m.compile(optimizer=lib.optimizers.SGD(0.02), loss="mse")
    h_ref = ref.fit(xs, ys, batch_size=8, epochs=3, verbose=0, shuffle=False).history["loss"]
    h_ours = ours.fit(xs, ys, batch_size=8, epochs=3, verbose=0, shuffle=False).history["loss"]
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-5)
    assert h_ours[-1] < h_ours[0]
    for a, b, v in zip(ours.get_weights(), ref.get_weights(), ours.weights):
        if "scale" in v.path or "amax_history" in v.path:  # the delayed-scaling state, step by step
            np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-6, err_msg=v.path)
        else:
            np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), atol=1e-4, err_msg=v.path)
    history = d2.outputs_grad_amax_history.numpy()
    assert history[0] > 0 and np.count_nonzero(history) == 6  # 2 steps x 3 epochs, newest first
    assert float(d2.inputs_scale.numpy()) != 1.0


def test_float8_model_files_interchange_with_keras(tmp_path):
    def dense_model(lib):
        return lib.Sequential([lib.layers.Input((6,)), lib.layers.Dense(4, activation="relu", name="a"),
                               lib.layers.Dense(1, name="b")])

    x = np.random.default_rng(5).normal(size=(8, 6)).astype(np.float32)
    ref = dense_model(keras)
    ref.quantize("float8")
    ref.compile(optimizer="adam", loss="mse")
    ref.fit(x, np.ones((8, 1), np.float32), epochs=1, verbose=0)
    ref.save(str(tmp_path / "keras.keras"))
    ours = dg.models.load_model(str(tmp_path / "keras.keras"))  # the optimizer has no slots for the scales
    assert ours.layers[0].dtype_policy.name == "float8_from_float32"
    by_path = {v.path: keras.ops.convert_to_numpy(v) for v in ref.weights}
    for v in ours.weights:
        np.testing.assert_array_equal(v.numpy(), by_path[v.path], err_msg=v.path)
    np.testing.assert_array_equal(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(ref.predict(x, verbose=0)))
    ours.fit(x, np.ones((8, 1), np.float32), epochs=1, verbose=0)
    ours.save(str(tmp_path / "ours.keras"))
    back = keras.models.load_model(str(tmp_path / "ours.keras"))
    by_name = {v.path.split("/", 1)[1]: v.numpy() for v in ours.weights}  # "sequential/a/kernel" -> "a/kernel"
    assert len(back.weights) == len(by_name) == 16
    for v in back.weights:  # Keras's loaded model lists the scales first, and without the model's name
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), by_name["/".join(v.path.split("/")[-2:])],
                                      err_msg=v.path)


def test_float8_leaves_embedding_float_with_a_warning():
    model = dg.Sequential([dg.layers.Input((4,), dtype="int32"), dg.layers.Embedding(10, 3), dg.layers.Dense(2)])
    with pytest.warns(UserWarning, match="float8"):
        model.quantize("float8")
    assert model.layers[0].dtype_policy.name == "float32"
    assert model.layers[1].dtype_policy.name == "float8_from_float32"


# ----------------------------------------------------------------- custom layers as keras_hub writes them
def _decoder_class(lib):
    class Block(lib.layers.Layer):
        """Sub-layers in private attributes, made in build, called without ``training``."""

        def build(self, input_shape):
            self._attention = lib.layers.MultiHeadAttention(2, 4, name="self_attention")
            self._dense = lib.layers.Dense(input_shape[-1], name="ffn")
            self._dropout = lib.layers.Dropout(0.5, seed=1)

        def call(self, x):
            return self._dropout(self._dense(self._attention(x, x)))

    return Block


def _decoder_model(lib):
    inp = lib.layers.Input((5, 8))
    return lib.Model(inp, lib.layers.Dense(1, name="head")(_decoder_class(lib)(name="block")(inp)))


def test_private_sub_layers_are_tracked_and_named_under_their_parent_as_in_keras():
    ref, ours = _decoder_model(keras), _decoder_model(dg)
    assert [v.path for v in ours.trainable_weights] == [v.path for v in ref.trainable_weights]
    assert ours.count_params() == ref.count_params() == 369
    named = {"block", "head", "self_attention", "ffn", "query", "key", "value", "attention_output"}

    def names(model, **kwargs):
        return [layer.name for layer in model._flatten_layers(**kwargs) if layer.name in named]

    assert names(ours, include_self=False) == names(ref, include_self=False) == [
        "block", "ffn", "self_attention", "attention_output", "value", "key", "query", "head"]
    assert names(ours, recursive=False) == names(ref, recursive=False) == ["block", "head"]


def test_nested_calls_inherit_the_training_mode_as_in_keras():
    x = np.ones((4, 5, 8), np.float32)
    for lib, model in ((keras, _decoder_model(keras)), (dg, _decoder_model(dg))):
        block = model.get_layer("block")
        probe = lib.Model(model.inputs, block.output)

        def zeros(out):
            return int((np.asarray(lib.ops.convert_to_numpy(out)) == 0).sum())

        assert zeros(probe(x, training=True)) > 20       # the inner Dropout drops in training
        assert zeros(probe(x, training=False)) == 0
        assert zeros(probe(x)) == 0                      # no mode given: inference
        assert zeros(block(x, training=True)) > 20
    # and in fit: the nested Dropout's mask differs from step to step, so the loss does too
    model = _decoder_model(dg)
    model.compile(optimizer=dg.optimizers.SGD(0.0), loss="mse")
    losses = [model.train_on_batch(x, np.zeros((4, 5, 1), np.float32)) for _ in range(3)]
    assert len(set(np.round(losses, 7))) > 1
    assert dg.layers.base.call_training() is None  # nothing leaks out of the calls


def test_attention_sub_layers_follow_the_mixed_policy_as_in_keras():
    previous = dg.dtype_policies._global_policy  # None (floatx) unless a test set one: restored as it was
    for lib in (keras, dg):
        lib.config.set_dtype_policy("mixed_bfloat16")
        try:
            layer = lib.layers.MultiHeadAttention(2, 4)
            layer(np.ones((1, 3, 8), np.float32), np.ones((1, 3, 8), np.float32))
            assert layer.query_dense.dtype_policy.name == "mixed_bfloat16"
        finally:
            lib.config.set_dtype_policy("float32")
    dg.dtype_policies._global_policy = previous


# ----------------------------------------------------------------- reproducibility
def _train_seeded(seed):
    dg.utils.set_random_seed(seed)
    model = dg.Sequential([
        dg.layers.Conv2D(4, (3, 3), activation="relu"), dg.layers.MaxPooling2D((2, 2)), dg.layers.Dropout(0.2),
        dg.layers.GlobalAveragePooling2D(), dg.layers.Dense(8, activation="relu"), dg.layers.Dropout(0.2),
        dg.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (48, 12, 12)).astype("uint8"), rng.integers(0, 3, 48)
    data = (tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(48).batch(16)
            .map(lambda x, y: (tf.expand_dims(tf.cast(x, tf.float32) / 255.0, -1), y)))
    history = model.fit(data, epochs=2, verbose=0).history
    return model.get_weights(), history


def test_one_seed_makes_training_repeat_bit_for_bit():
    (w1, h1), (w2, h2), (w3, _) = _train_seeded(812), _train_seeded(812), _train_seeded(813)
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))
    # an initializer with a seed gives the same values on every call and in every instance
    init = dg.initializers.GlorotNormal(seed=42)
    np.testing.assert_array_equal(init((3, 5)), init((3, 5)))
    np.testing.assert_array_equal(init((3, 5)), dg.initializers.GlorotNormal(seed=42)((3, 5)))
    assert not np.array_equal(dg.initializers.GlorotNormal()((3, 5)), dg.initializers.GlorotNormal()((3, 5)))


# ----------------------------------------------------------------- saving a subclassed model (customizing_saving guide)
@dg.saving.register_keras_serializable(package="recipes_test")
class CompiledByItself(dg.Model):
    """A subclassed model whose compile takes its own arguments and saves them itself."""

    def __init__(self):
        super().__init__()
        self.dense1 = dg.layers.Dense(8, activation="relu")
        self.dense2 = dg.layers.Dense(4, activation="softmax")

    def call(self, inputs):
        return self.dense2(self.dense1(inputs))

    def compile(self, optimizer, loss_fn, metrics):
        super().compile(optimizer=optimizer, loss=loss_fn, metrics=metrics)
        self.model_optimizer, self.loss_fn, self.loss_metrics = optimizer, loss_fn, metrics

    def get_compile_config(self):
        return {"model_optimizer": self.model_optimizer, "loss_fn": self.loss_fn, "metric": self.loss_metrics}

    def compile_from_config(self, config):
        self.compile(optimizer=dg.utils.deserialize_keras_object(config["model_optimizer"]),
                     loss_fn=dg.utils.deserialize_keras_object(config["loss_fn"]),
                     metrics=dg.utils.deserialize_keras_object(config["metric"]))


def test_a_subclassed_model_file_keeps_its_name_and_build_shape_and_reloads_its_weights(tmp_path):
    import json
    import zipfile

    model = CompiledByItself()
    model.compile(optimizer="SGD", loss_fn="mse", metrics=["mae"])
    x = np.random.default_rng(6).random((4, 8)).astype(np.float32)
    model.fit(x, np.random.default_rng(7).random((4, 4)).astype(np.float32), verbose=0)
    path = str(tmp_path / "sub.keras")
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    # as Keras writes it: the registered name, the build shape, and no argument __init__ does not take
    assert config["registered_name"] == "recipes_test>CompiledByItself"
    assert config["build_config"] == {"input_shape": [4, 8]}
    assert "dtype" not in config["config"]
    restored = dg.models.load_model(path)
    assert type(restored) is CompiledByItself and restored.model_optimizer == "SGD"
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


# ----------------------------------------------------------------- tf.image.central_crop (distillation recipe)
def test_central_crop_takes_tf_s_centre_window():
    image = np.arange(4 * 4 * 1, dtype=np.float32).reshape(4, 4, 1)
    np.testing.assert_array_equal(tf.image.central_crop(image, 0.5).numpy(), image[1:3, 1:3])  # TF's documented case
    batch = np.random.default_rng(8).random((2, 48, 37, 3)).astype(np.float32)
    out = tf.image.central_crop(batch, 0.875).numpy()
    # start = int((n - n f) / 2): 3 rows of 48, int(2.3125) = 2 columns of 37
    assert out.shape == (2, 42, 33, 3)
    np.testing.assert_array_equal(out, batch[:, 3:45, 2:35])
    assert tf.image.central_crop(batch, 1.0).shape == batch.shape
    with pytest.raises(ValueError, match="central_fraction"):
        tf.image.central_crop(batch, 0.0)


# ----------------------------------------------------------------- int4 (int4_quantization_in_keras guide)
@pytest.mark.parametrize("block_size", [None, 4, 128])
def test_int4_dense_matches_keras_and_files_interchange(block_size, tmp_path):
    def model(lib):
        inputs = lib.Input((10,))
        hidden = lib.layers.Dense(32, activation="relu", name="hidden")(inputs)
        return lib.Model(inputs, lib.layers.Dense(3, name="target")(hidden))

    keras.utils.set_random_seed(0)
    ref, ours = model(keras), model(dg)
    ours.set_weights(ref.get_weights())
    ref.quantize("int4", config=keras.quantizers.Int4QuantizationConfig(block_size=block_size))
    ours.quantize("int4", config=dg.quantizers.Int4QuantizationConfig(block_size=block_size))
    name = f"int4/{-1 if block_size is None else block_size}_from_float32"
    assert ours.get_layer("target").dtype_policy.name == ref.get_layer("target").dtype_policy.name == name
    assert ours.get_layer("target").quantization_mode == "int4"
    assert [v.path for v in ours.weights] == [v.path for v in ref.weights]
    for ours_w, ref_w in zip(ours.get_weights(), ref.get_weights()):  # packed kernel, scales, zero points
        np.testing.assert_array_equal(ours_w, keras.ops.convert_to_numpy(ref_w))
    x = np.random.default_rng(9).random((8, 10)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), keras.ops.convert_to_numpy(ref(x)), rtol=1e-5, atol=1e-6)
    # the input gradient runs through the dequantized kernel
    xt = dg.Tensor(x, requires_grad=True)
    ours(xt).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    ref(xr).sum().backward()
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-5, atol=1e-6)
    ours.save(str(tmp_path / "ours.keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.models.load_model(str(tmp_path / "ours.keras"))(x)),
                               ours(x).numpy(), rtol=1e-6, atol=1e-7)
    ref.save(str(tmp_path / "ref.keras"))
    np.testing.assert_array_equal(dg.models.load_model(str(tmp_path / "ref.keras"))(x).numpy(), ours(x).numpy())


# ----------------------------------------------------------------- customizing_quantization guide
def _half_range_quantizer(lib):
    class HalfRange(lib.quantizers.Quantizer):
        """A user's activation quantizer: abs-max per row onto [-63, 63]."""

        def __call__(self, x, axis, to_numpy=False):
            scale = lib.ops.divide(63.0, lib.ops.add(lib.ops.max(lib.ops.abs(x), axis=axis, keepdims=True), 1e-7))
            q = lib.ops.cast(lib.ops.clip(lib.ops.round(lib.ops.multiply(x, scale)), -63, 63), "int8")
            return q, scale

        def get_config(self):
            return {}

    return HalfRange()


@pytest.mark.parametrize("kind", ["value_range", "user"])
def test_int8_dense_runs_a_config_s_own_activation_quantizer_as_keras(kind):
    def config(lib):
        weights = lib.quantizers.AbsMaxQuantizer(value_range=(-100, 100), axis=0)
        inputs = (lib.quantizers.AbsMaxQuantizer(value_range=(-100, 100), axis=-1) if kind == "value_range"
                  else _half_range_quantizer(lib))
        return lib.quantizers.Int8QuantizationConfig(weight_quantizer=weights, activation_quantizer=inputs)

    keras.utils.set_random_seed(1)
    ref = keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    ours = dg.Sequential([dg.Input(shape=(10,)), dg.layers.Dense(32, activation="relu"), dg.layers.Dense(1)])
    ours.set_weights(ref.get_weights())
    ref.quantize(config=config(keras))
    ours.quantize(config=config(dg))
    kernel = ours.layers[0].kernel.numpy()
    assert kernel.dtype == np.int8 and np.abs(kernel).max() == 100
    np.testing.assert_array_equal(kernel, keras.ops.convert_to_numpy(ref.layers[0].kernel))
    x = np.random.default_rng(10).normal(size=(6, 10)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), keras.ops.convert_to_numpy(ref(x)), rtol=1e-5, atol=1e-6)
