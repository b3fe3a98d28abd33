"""Patterns of the Keras guides (functional API, built-in training, serialization, masking) that
deepgrad had wrong, each checked against Keras 3 on its PyTorch backend: the same program written
twice, once per framework, and their shapes, masks, logs and configs compared."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

FRAMEWORKS = [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")]


def _endpoint_model(k):
    """A layer called on two symbolic tensors, ``layer(targets, logits)``, adding its loss."""
    class Endpoint(k.layers.Layer):
        def call(self, targets, logits):
            self.add_loss(k.ops.mean(k.ops.square(targets - logits)))
            return k.ops.softmax(logits)

    inputs = k.Input((3,), name="inputs")
    targets = k.Input((10,), name="targets")
    logits = k.layers.Dense(10)(inputs)
    out = Endpoint(name="endpoint")(targets, logits)
    return k.Model([inputs, targets], out), out


def test_layer_called_on_two_symbolic_tensors_gets_the_output_shape_keras_gives():
    shapes = {}
    for k in (keras, dg):
        model, out = _endpoint_model(k)
        shapes[k.__name__] = tuple(out.shape)
        x = {"inputs": np.ones((4, 3), "float32"), "targets": np.zeros((4, 10), "float32")}
        assert tuple(model.predict(x, verbose=0).shape) == (4, 10)
    assert shapes["deepgrad"] == shapes["keras"] == (None, 10)


def test_compiled_without_loss_the_added_loss_trains():
    dg.utils.set_random_seed(0)
    model, _ = _endpoint_model(dg)
    model.compile(optimizer=dg.optimizers.Adam(0.05))
    rng = np.random.default_rng(0)
    x = {"inputs": rng.random((64, 3)).astype("float32"), "targets": rng.random((64, 10)).astype("float32")}
    history = model.fit(x, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_unknown_time_dimension_stays_none_through_a_custom_layer(k):
    class Twice(k.layers.Layer):
        def call(self, x):
            return k.ops.concatenate([x, x], axis=1)

    x = k.Input((None, 8))
    assert tuple(Twice()(x).shape) == (None, None, 8)
    y = k.Input((5, 8))
    assert tuple(Twice()(y).shape) == (None, 10, 8)


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_mask_reaches_a_custom_layers_call_in_a_functional_model(k):
    class TemporalSoftmax(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            m = k.ops.expand_dims(k.ops.cast(mask, "float32"), -1)
            e = k.ops.exp(inputs) * m
            return e / (k.ops.sum(e, axis=1, keepdims=True) + 1e-9)

    inputs = k.Input(shape=(None,), dtype="int32")
    x = k.layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(inputs)
    assert tuple(x._keras_mask.shape) == (None, None)
    x = k.layers.Dense(1)(x)
    out = TemporalSoftmax()(x)
    assert tuple(out.shape) == (None, None, 1)
    model = k.Model(inputs, out)
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], "int32")
    y = k.ops.convert_to_numpy(model.predict(ids, verbose=0))[..., 0]
    np.testing.assert_allclose(y.sum(axis=1), [1.0, 1.0], rtol=1e-5)
    assert np.all(y[ids == 0] == 0.0)


def _two_output_history(k, loss):
    a = k.Input((4,), name="a")
    model = k.Model(a, [k.layers.Dense(1, name="score")(a), k.layers.Dense(3, name="cls")(a)])
    model.compile(optimizer="sgd", loss=loss, metrics=[["mae"], ["accuracy"]])
    rng = np.random.default_rng(0)
    x, y1, y2 = rng.random((8, 4), "float32"), rng.random((8, 1), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2, 0, 1]]
    return model.fit(x, [y1, y2], verbose=0).history


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("loss", [["mse", "categorical_crossentropy"], [None, "categorical_crossentropy"]],
                         ids=["two-losses", "one-loss-none"])
def test_per_output_loss_entries_are_those_keras_logs(loss):
    assert sorted(_two_output_history(dg, loss)) == sorted(_two_output_history(keras, loss))


def _registered_dense(k, package):
    @k.saving.register_keras_serializable(package=package, name="KernelMult")
    class MyDense(k.layers.Layer):
        def __init__(self, units, *, kernel_regularizer=None, nested=None, **kwargs):
            super().__init__(**kwargs)
            self.units, self.kernel_regularizer, self.nested = units, kernel_regularizer, nested

        def get_config(self):
            return {**super().get_config(), "units": self.units, "kernel_regularizer": self.kernel_regularizer,
                    "nested": self.nested}

    return MyDense


def _without_dtype(config):
    """Keras adds its dtype policy to every layer config; deepgrad writes it only when one is set."""
    if isinstance(config, dict):
        return {key: _without_dtype(value) for key, value in config.items() if key != "dtype"}
    return config


def test_layers_serialize_writes_kerass_dict_and_deserialize_finds_the_registered_name():
    configs = {}
    for k in (keras, dg):
        MyDense = _registered_dense(k, "TextProgramsTest")
        inner = MyDense(3, kernel_regularizer="l1")
        outer = MyDense(4, nested=inner, kernel_regularizer=k.regularizers.L1L2(l1=1e-5, l2=1e-4))
        config = k.layers.serialize(outer)
        rebuilt = k.layers.deserialize(config)
        assert type(rebuilt).__name__ == "MyDense" and rebuilt.units == 4
        assert dict(rebuilt.nested)["registered_name"] == "TextProgramsTest>KernelMult"
        configs[k.__name__] = config
    assert _without_dtype(configs["deepgrad"]) == _without_dtype(configs["keras"])
    assert configs["deepgrad"]["module"] == __name__ and configs["deepgrad"]["config"]["kernel_regularizer"] == {
        "module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 1e-05, "l2": 0.0001},
        "registered_name": None}


def test_functional_model_config_holds_a_sublayer_a_custom_from_config_rebuilds():
    MyDense = _registered_dense(dg, "TextProgramsTest2")

    @dg.saving.register_keras_serializable(package="TextProgramsTest2")
    class Outer(dg.layers.Layer):
        def __init__(self, first_layer, **kwargs):
            super().__init__(**kwargs)
            self.first_layer = first_layer

        def get_config(self):
            return {**super().get_config(), "first_layer": self.first_layer}

        @classmethod
        def from_config(cls, config):
            config["first_layer"] = dg.layers.deserialize(config["first_layer"])
            return cls(**config)

        def call(self, x):
            return x * 2.0 + float(self.first_layer.units)

    inputs = dg.Input((3,))
    model = dg.Model(inputs, Outer(MyDense(5))(inputs))
    rebuilt = dg.Model.from_config(model.get_config())
    np.testing.assert_allclose(rebuilt.predict(np.ones((2, 3), "float32"), verbose=0), np.full((2, 3), 7.0))


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_layer_repr_is_kerass(k):
    layer = k.layers.Dense(3, name="d3")
    assert repr(layer) == "<Dense name=d3, built=False>"
    layer.build((None, 2))
    assert repr(layer) == "<Dense name=d3, built=True>"


def _review_folders(root, n=8):
    """text_classification_from_scratch's layout: <root>/{pos,neg}/<i>.txt."""
    for label, word in (("pos", "great"), ("neg", "awful")):
        (root / label).mkdir(parents=True)
        for i in range(n):
            (root / label / f"{i}_7.txt").write_text(f"The film was {word}.<br /><br />Really {word.upper()}!")


def test_directory_texts_take_the_tf_data_calls_of_the_text_classification_example(tmp_path, capsys):
    from deepgrad.compat import tensorflow as tf
    _review_folders(tmp_path)
    train = dg.utils.text_dataset_from_directory(tmp_path, batch_size=4, validation_split=0.25, subset="training",
                                                 seed=1337, class_names=["pos", "neg"])
    assert "Found 16 files belonging to 2 classes.\nUsing 12 files for training." in capsys.readouterr().out
    assert int(train.cardinality()) == 3 and train.cardinality().dtype == np.int64
    (texts, labels), = list(train.take(1))
    assert texts.shape == (4,) and isinstance(texts.numpy()[0], bytes)  # a tf.string batch's numpy(): bytes
    assert tuple(labels.shape) == (4,)

    def standardize(x):  # the example's custom standardization
        return tf.strings.regex_replace(tf.strings.regex_replace(tf.strings.lower(x), "<br />", " "), r"[!.]", "")

    vectorize = dg.layers.TextVectorization(standardize=standardize, output_mode="int", output_sequence_length=6)
    vectorize.adapt(train.map(lambda x, y: x))
    assert set(vectorize.get_vocabulary()) == {"", "[UNK]", "the", "film", "was", "really", "great", "awful"}
    batches = train.map(lambda x, y: (vectorize(tf.expand_dims(x, -1)), y)).cache().prefetch(buffer_size=10)
    ids, _ = next(iter(batches))
    assert tuple(ids.shape) == (4, 6) and ids.dtype == np.int64

    # the end-to-end model on raw strings reads the same batches as the model on ids
    inputs = dg.Input(shape=(None,), dtype="int64")
    model = dg.Model(inputs, dg.layers.Dense(1, activation="sigmoid")(
        dg.layers.GlobalAveragePooling1D()(dg.layers.Embedding(10, 4)(inputs))))
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    text_in = dg.Input(shape=(1,), dtype="string")
    end_to_end = dg.Model(text_in, model(vectorize(text_in)))
    end_to_end.compile(loss="binary_crossentropy", metrics=["accuracy"])
    np.testing.assert_allclose(end_to_end.evaluate(train, verbose=0), model.evaluate(batches, verbose=0), rtol=1e-6)


def test_tf_strings_ops_of_standardization_functions():
    from deepgrad.compat import tensorflow as tf
    x = np.array([b"Hello <br />World!", "ÉTÉ.. a.b"], dtype=object)
    assert tf.strings.lower(x).tolist() == ["hello <br />world!", "été.. a.b"]
    assert tf.strings.upper(np.array(["ab"])).tolist() == ["AB"]
    assert tf.strings.regex_replace(x, r"[.!]", "").tolist() == ["Hello <br />World", "ÉTÉ ab"]
    assert tf.strings.regex_replace(x, r"\.", "-", replace_global=False).tolist() == ["Hello <br />World!",
                                                                                      "ÉTÉ-. a.b"]
    assert tf.strings.regex_replace(np.array(["ab12"]), r"([a-z]+)(\d+)", r"\2\1").tolist() == ["12ab"]
    assert tf.strings.strip(np.array(["  a b "])).tolist() == ["a b"]
    np.testing.assert_array_equal(tf.strings.length(x).numpy(), [18, 11])   # bytes: É is two
    np.testing.assert_array_equal(tf.strings.length(x, unit="UTF8_CHAR").numpy(), [18, 9])
