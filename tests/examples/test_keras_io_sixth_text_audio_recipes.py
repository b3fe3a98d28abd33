"""Patterns of the Keras documentation's text, audio and recipe programs and guides (keras-team/
keras-io: TF-Keras's ``Tokenizer`` feeding an LSTM, a BERT-style masked language model on
``layers.experimental.preprocessing.TextVectorization``, a GPT with a ``GradientTape`` train step,
TFRecord files of ``tf.train.Example`` records, ``STFTSpectrogram`` front ends, the JAX guide's
stateless training pieces, multi-output metric lists), written here in small form and checked
against Keras 3 (torch backend) where Keras gives the number."""
from __future__ import annotations

import gzip
import os
import re
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.compat.tf_record import crc32c, masked_crc32c  # noqa: E402
from deepgrad.preprocessing import text as dg_text  # noqa: E402


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x)) if not isinstance(x, dg.Tensor) else x.numpy()


# ----------------------------------------------------------------- TF-Keras's Tokenizer
def _keras_text():
    from keras._tf_keras.keras.preprocessing import text
    return text


_TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "Cat, dog; and THE bird?", "", "a a a b b c"]


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 5}, {"num_words": 5, "oov_token": "<OOV>"}, {"char_level": True},
                                    {"lower": False, "oov_token": "?"}, {"filters": "", "split": ","}])
def test_tokenizer_numbers_words_converts_and_serializes_as_tf_keras(kwargs):
    theirs, ours = _keras_text().Tokenizer(**kwargs), dg_text.Tokenizer(**kwargs)
    for t in (theirs, ours):
        t.fit_on_texts(_TEXTS)
        t.fit_on_texts([["x", "Y"]])     # a list is taken as tokens already
    new = ["the cat and the unknown zebra", "bird bird"]
    assert ours.word_index == theirs.word_index and ours.index_word == theirs.index_word
    assert dict(ours.word_docs) == dict(theirs.word_docs) and dict(ours.index_docs) == dict(theirs.index_docs)
    assert ours.texts_to_sequences(new) == theirs.texts_to_sequences(new)
    sequences = theirs.texts_to_sequences(_TEXTS + new) + [[0, 99, 1]]
    assert ours.sequences_to_texts(sequences) == theirs.sequences_to_texts(sequences)
    for mode in ("binary", "count", "freq", "tfidf"):
        np.testing.assert_allclose(ours.texts_to_matrix(_TEXTS + new, mode), theirs.texts_to_matrix(_TEXTS + new, mode))
    assert ours.to_json() == theirs.to_json()
    back = dg_text.tokenizer_from_json(theirs.to_json())
    assert back.texts_to_sequences(new) == theirs.texts_to_sequences(new) and back.word_index == theirs.word_index


def test_text_helpers_match_tf_keras():
    text = _keras_text()
    assert dg_text.text_to_word_sequence("Hello, World!\ta-b  c") == text.text_to_word_sequence("Hello, World!\ta-b  c")
    assert dg_text.hashing_trick("the cat the", 10, "md5") == text.hashing_trick("the cat the", 10, "md5")
    assert dg_text.one_hot("the cat the bat", 7) == text.one_hot("the cat the bat", 7)
    with pytest.raises(ValueError, match="Unknown vectorization mode"):
        dg_text.Tokenizer(num_words=4).texts_to_matrix(["a"], mode="bogus")
    with pytest.raises(ValueError, match="fit on some text"):
        dg_text.Tokenizer().sequences_to_matrix([[1]])
    assert tf.keras.preprocessing.text.Tokenizer is dg_text.Tokenizer


def test_imdb_lstm_pattern_trains_on_tokenizer_sequences():
    """Tokenizer(num_words) -> pad_sequences(maxlen) -> Embedding + LSTM(dropout) -> sigmoid."""
    dg.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(300)]
    reviews, labels = [], []
    for _ in range(160):
        positive = bool(rng.integers(0, 2))
        words = list(rng.choice(vocab, int(rng.integers(5, 40)))) + (["great", "loved"] if positive else ["awful", "bad"]) * 3
        rng.shuffle(words)
        reviews.append(" ".join(words) + "."), labels.append(int(positive))
    tokenizer = dg_text.Tokenizer(num_words=200)
    tokenizer.fit_on_texts(reviews)
    x = dg.utils.pad_sequences(tokenizer.texts_to_sequences(reviews), maxlen=40)
    assert x.shape == (160, 40) and x.max() < 200
    model = dg.Sequential([layers.Embedding(200, 16, input_shape=(40,)), layers.LSTM(16, dropout=0.2),
                           layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=dg.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, np.array(labels), epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8


# ----------------------------------------------------------------- TF 2's import paths and names
def test_tf2_layers_experimental_preprocessing_path_gives_the_same_classes():
    from deepgrad.layers.experimental.preprocessing import Normalization, TextVectorization
    assert TextVectorization is layers.TextVectorization and Normalization is layers.Normalization
    assert tf.keras.layers.experimental.preprocessing.StringLookup is layers.StringLookup
    assert tf.keras.layers.experimental.EinsumDense is layers.EinsumDense


def test_loss_reduction_names_of_tf_keras_reduce_as_keras_strings():
    r = tf.keras.losses.Reduction
    assert (r.NONE, r.SUM, r.SUM_OVER_BATCH_SIZE, r.AUTO) == ("none", "sum", "sum_over_batch_size", "sum_over_batch_size")
    y, p = np.array([[1, 2]]), np.random.default_rng(0).normal(size=(1, 2, 4)).astype("float32")
    ours = dg.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=r.NONE)(y, p)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(y, p)
    np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-6)
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        r.validate("mean_everything")


def test_tf_strings_as_string_formats_numbers_as_tensorflow():
    s = tf.strings.as_string
    assert s(np.array([[1, -22]])).tolist() == [["1", "-22"]]
    assert s(np.array([1.5, -2.25], "float32")).tolist() == ["1.500000", "-2.250000"]   # C's %f
    assert s(np.array([3.14159]), precision=2, width=8, fill="0").tolist() == ["00003.14"]
    assert s(np.array([12345.678]), shortest=True).tolist() == ["12345.7"]
    assert s(np.array([12345.678]), scientific=True).tolist() == ["1.234568e+04"]
    assert s(np.array([True, False])).tolist() == ["true", "false"]
    assert s(np.array([7]), width=3).tolist() == ["  7"]
    with pytest.raises(ValueError):
        s(np.array([1.0]), scientific=True, shortest=True)
    # the migration guide's model: numbers to text and back, no weights to train
    back = tf.strings.to_number(s(np.array([[1, 2, 3]])))
    np.testing.assert_array_equal(back.numpy(), [[1.0, 2.0, 3.0]])


def test_tf_pad_pads_strings_with_a_string():
    padded = tf.pad(["ab"], [[0, 3]], constant_values="<p>")
    assert padded.tolist() == ["ab", "<p>", "<p>", "<p>"]
    assert str(tf.strings.reduce_join(padded, separator="")) == "ab<p><p><p>"
    assert tf.pad(np.array(["a", "b", "c"]), [[2, 2]], mode="REFLECT").tolist() == ["c", "b", "a", "b", "c", "b", "a"]
    assert tf.pad(np.array([["a"]]), [[1, 0], [0, 1]], constant_values="").tolist() == [["", ""], ["a", ""]]
    with pytest.raises(TypeError, match="string constant_values"):
        tf.pad(["ab"], [[0, 1]])
    np.testing.assert_array_equal(tf.pad(np.array([1.0, 2.0]), [[1, 1]]).numpy(), [0, 1, 2, 0])


# ----------------------------------------------------------------- models, metrics, warnings
def test_unnamed_weights_are_numbered_as_keras_names_them():
    def names(lib):
        class Weights(lib.layers.Layer):
            def build(self, shape):
                self.a = self.add_weight(shape=(2,))
                self.b = self.add_weight(shape=(2,))
                self.c = self.add_weight(shape=(1,), name="c")
        layer = Weights()
        layer.build((2,))
        return [w.name for w in layer.weights], [w.path for w in layer.weights], layer.name

    for lib in (dg, keras):
        (a, b, c), (pa, pb, pc), owner = names(lib)
        assert re.fullmatch(r"variable(_\d+)?", a) and re.fullmatch(r"variable_\d+", b) and a != b, lib
        assert c == "c" and (pa, pb, pc) == (f"{owner}/{a}", f"{owner}/{b}", f"{owner}/c")
        if a != "variable":   # the session's counter runs on: the second is the next number
            assert int(b.rsplit("_", 1)[1]) == int(a.rsplit("_", 1)[1]) + 1


_METRIC_SPECS = [["mae", "mse"], [["mae", "mse"], "mape"], ["mae", ["mse"]], [None, "mae"], (["mae"], ["mse"]),
                 {"a": "mae"}, {"a": ["mae", "mse"], "b": "mape"}]


@pytest.mark.parametrize("spec", _METRIC_SPECS, ids=str)
def test_a_metric_list_with_one_entry_per_output_goes_output_by_output_as_keras(spec):
    def logs(lib):
        inp = lib.Input(shape=(3,))
        model = lib.Model(inp, [lib.layers.Dense(2, name="a")(inp), lib.layers.Dense(2, name="b")(inp)])
        model.set_weights([np.full(w.shape, 0.1 * (i + 1), "float32") for i, w in enumerate(model.get_weights())])
        model.compile("sgd", "mse", metrics=spec)
        x, y = np.linspace(0, 1, 12).reshape(4, 3).astype("float32"), np.ones((4, 2), "float32")
        return model.evaluate(x, [y, 2 * y], verbose=0, return_dict=True)
    ours, theirs = logs(dg), logs(keras)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)


def test_migration_guide_multi_output_metrics_match_keras():
    def run(lib):
        inputs = lib.Input(shape=(10,))
        x1 = lib.layers.Dense(5, activation="relu")(inputs)
        x2 = lib.layers.Dense(5, activation="relu")(x1)
        out1 = lib.layers.Dense(5, activation="softmax", name="output_1")(x1)
        out2 = lib.layers.Dense(5, activation="softmax", name="output_2")(x2)
        model = lib.Model(inputs=inputs, outputs=[out1, out2])
        model.set_weights([np.full(w.shape, 0.05 * (i + 1), "float32") for i, w in enumerate(model.get_weights())])
        x, y = np.random.default_rng(0).uniform(size=(10, 10)), np.random.default_rng(1).uniform(size=(10, 5))
        model.compile(optimizer="adam", loss="categorical_crossentropy",
                      metrics=["categorical_crossentropy", "categorical_crossentropy"])
        first = model.evaluate(x, [y, y], verbose=0, return_dict=True)
        model.compile(optimizer="adam", loss="categorical_crossentropy",
                      metrics={"output_1": "categorical_crossentropy", "output_2": "categorical_crossentropy"})
        return first, model.evaluate(x, [y, y], verbose=0, return_dict=True)
    for ours, theirs in zip(run(dg), run(keras)):
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)


def test_dict_inputs_whose_keys_differ_from_the_tensor_names_warn_as_keras():
    for lib in (dg, keras):
        with pytest.warns(UserWarning, match="all keys in the dict must match the names"):
            inputs = {"foo": lib.Input(shape=(1,), name="foo"), "baz": lib.Input(shape=(1,), name="bar")}
            lib.Model(inputs, inputs["foo"] + inputs["baz"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            inputs = {"foo": lib.Input(shape=(1,), name="foo"), "bar": lib.Input(shape=(1,), name="bar")}
            lib.Model(inputs, inputs["foo"] + inputs["bar"])


def test_fitting_a_model_without_trainable_weights_warns_as_keras():
    for lib in (dg, keras):
        class Doubler(lib.Model):
            def call(self, x):
                return x * 2.0
        model = Doubler()
        model.compile(optimizer="sgd", loss="mse")
        x = np.ones((4, 3), "float32")
        with pytest.warns(UserWarning, match="does not have any trainable weights"):
            history = model.fit(x, 2 * x, epochs=1, verbose=0)
        assert history.history["loss"] == [0.0]


def test_the_jax_guide_stateless_pieces_match_keras():
    """compute_loss_and_updates (stateless_call + stateless_compute_loss), optimizer.stateless_apply
    and the metrics' stateless_update_state / stateless_result, loss tracker included."""
    def run(lib):
        lib.utils.set_random_seed(0)
        inputs = lib.Input(shape=(4,))
        outputs = lib.layers.Dense(1, kernel_initializer="ones")(lib.layers.BatchNormalization()(inputs))
        model = lib.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        x = np.linspace(0, 1, 32).reshape(8, 4).astype("float32")
        y = np.linspace(1, 0, 8).reshape(8, 1).astype("float32")
        model.evaluate(x, y, verbose=0)
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        mv = [v.value for v in model.metrics_variables]
        y_pred, ntv2 = model.stateless_call(tv, ntv, x, training=True)
        loss, (_, _, mv2) = model.stateless_compute_loss(tv, ntv, mv, x=x, y=y, y_pred=y_pred, training=True)
        grads = [lib.ops.convert_to_tensor(np.full(v.shape, 0.1, "float32")) for v in model.trainable_variables]
        model.optimizer.build(model.trainable_variables)
        tv3, ov3 = model.optimizer.stateless_apply([v.value for v in model.optimizer.variables], grads, tv)
        results, seen = [], 0
        for metric in model.metrics:
            own = mv2[seen:seen + len(metric.variables)]
            seen += len(metric.variables)
            if metric.name == "loss":
                own = metric.stateless_update_state(own, loss)
                results.append(float(_np(metric.stateless_result(own))))
            else:
                own = metric.stateless_update_state(own, y, y_pred)
                result = metric.stateless_result(own)
                results.append(float(_np(next(iter(result.values())) if isinstance(result, dict) else result)))
        return ([float(_np(loss))] + results, [_np(v) for v in ntv2], [_np(v) for v in tv3], [_np(v) for v in ov3])
    ours, theirs = run(dg), run(keras)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    for a, b in zip(ours[1] + ours[2] + ours[3], theirs[1] + theirs[2] + theirs[3]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_export_checks_an_input_signature_against_the_model_inputs(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = dg.Sequential([layers.Input((10,)), layers.Dense(4, activation="relu"), layers.Dense(3, activation="softmax")])
    model.export(str(tmp_path / "m.onnx"), format="onnx", input_signature=[layers.InputSpec(shape=(None, 10), dtype="float32")])
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x = np.random.default_rng(0).normal(size=(3, 10)).astype("float32")
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0], model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    model.export(str(tmp_path / "k.onnx"), format="onnx", input_signature=[dg.KerasTensor((None, 10))])
    with pytest.raises(ValueError, match=r"does not match the model's input shape \(None, 10\)"):
        model.export(str(tmp_path / "bad.onnx"), format="onnx", input_signature=[layers.InputSpec(shape=(None, 11))])
    with pytest.raises(ValueError, match="1 input"):
        model.export(str(tmp_path / "bad.onnx"), format="onnx",
                     input_signature=[layers.InputSpec(shape=(None, 10)), layers.InputSpec(shape=(None, 10))])


# ----------------------------------------------------------------- ~ & | ^
def test_bitwise_and_logical_operators_on_tensors_follow_torch_eager_tensors():
    rng = np.random.default_rng(0)
    b1, b2 = rng.random(6) < 0.5, rng.random(6) < 0.5
    i1, i2 = rng.integers(-5, 9, 6), rng.integers(0, 9, 6)
    for a, b in ((b1, b2), (i1, i2)):
        ta, tb = dg.Tensor(a, dtype=a.dtype), dg.Tensor(b, dtype=b.dtype)
        pa, pb = torch.from_numpy(a), torch.from_numpy(b)
        for ours, theirs in ((~ta, ~pa), (ta & tb, pa & pb), (ta | tb, pa | pb), (ta ^ tb, pa ^ pb),
                             (ta | b, pa | pb), (a & tb, pa & pb)):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
            assert ours.numpy().dtype == theirs.numpy().dtype
    with pytest.raises(TypeError):
        ~dg.Tensor(np.array([1.0]))


def test_logical_operators_on_keras_tensors_record_logical_ops_as_keras():
    for lib in (dg, keras):
        k = lib.Input((3,), dtype="bool")
        model = lib.Model(k, [~k, k | ~k, k & k, k ^ ~k])
        x = np.array([[True, False, True]])
        outs = [_np(o) for o in model.predict(x, verbose=0)]
        np.testing.assert_array_equal(outs[0], ~x)
        np.testing.assert_array_equal(outs[1], np.ones_like(x))
        np.testing.assert_array_equal(outs[2], x)
        np.testing.assert_array_equal(outs[3], np.ones_like(x))


# ----------------------------------------------------------------- PyDataset in fit
class _Batches(dg.utils.PyDataset):
    def __init__(self, n=6):
        super().__init__()
        self.n, self.seen = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.seen.append(i)
        return np.full((2, 1), float(i), "float32"), np.zeros((2, 1), "float32")


def test_fit_takes_a_pydatasets_batches_in_a_new_order_each_epoch_as_keras():
    dg.utils.set_random_seed(3)
    model = dg.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    data = _Batches()
    model.fit(data, epochs=3, verbose=0)
    epochs = [data.seen[k * 6:(k + 1) * 6] for k in range(3)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert any(e != list(range(6)) for e in epochs) and len({tuple(e) for e in epochs}) > 1
    data = _Batches()
    model.fit(data, epochs=2, shuffle=False, verbose=0)
    assert data.seen == list(range(6)) * 2
    data = _Batches()
    model.evaluate(data, verbose=0)
    assert data.seen == list(range(6))


# ----------------------------------------------------------------- STFTSpectrogram shapes
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_stft_spectrogram_output_shape_is_keras_without_running_the_layer(fmt):
    configs = [dict(mode="log", frame_length=64, frame_step=24), dict(mode="magnitude", frame_length=40, frame_step=15,
               expand_dims=True), dict(mode="stft", frame_length=30, frame_step=10, fft_length=64, padding="same",
               expand_dims=True), dict(mode="psd", frame_length=32, padding="same")]
    for kwargs in configs:
        for shape in ((None, None, 2), (None, 301, 3), (4, 100, 1)):
            shape = shape if fmt == "channels_last" else (shape[0], shape[2], shape[1])
            ours = dg.layers.STFTSpectrogram(data_format=fmt, **kwargs).compute_output_shape(shape)
            assert tuple(ours) == tuple(keras.layers.STFTSpectrogram(data_format=fmt, **kwargs).compute_output_shape(shape))
            if None not in shape[1:]:
                x = np.random.default_rng(0).normal(size=(2, *shape[1:])).astype("float32")
                assert dg.layers.STFTSpectrogram(data_format=fmt, **kwargs)(x).shape[1:] == tuple(ours)[1:]


def test_stft_audio_model_of_unknown_length_builds_and_matches_keras():
    """The STFT example's 1-D model starts from InputLayer((None, 1)): a Sequential builds it
    symbolically, so the spectrogram's shape must come without a signal to run on."""
    def build(lib):
        lib.utils.set_random_seed(0)
        return lib.Sequential([lib.layers.InputLayer((None, 1)),
                               lib.layers.STFTSpectrogram(mode="log", frame_length=64, frame_step=24, trainable=False),
                               lib.layers.Conv1D(4, 3, activation="relu"), lib.layers.GlobalMaxPooling1D(),
                               lib.layers.Dense(3, activation="softmax")])
    ours, theirs = build(dg), build(keras)
    assert ours.output_shape == theirs.output_shape == (None, 3)
    assert ours.count_params() == theirs.count_params()
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    x = np.sin(np.linspace(0, 200, 2 * 400)).reshape(2, 400, 1).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------- TFRecord files and tf.train.Example
def _example_classes():
    """TensorFlow's example.proto messages, made with protobuf itself (the wire-format oracle)."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory
    f = descriptor_pb2.FileDescriptorProto(name="example_test.proto", package="oracle", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, fields):
        m = f.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = m.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
        return m
    message("BytesList", [("value", 1, T.TYPE_BYTES, T.LABEL_REPEATED, None)])
    message("FloatList", [("value", 1, T.TYPE_FLOAT, T.LABEL_REPEATED, None)])
    message("Int64List", [("value", 1, T.TYPE_INT64, T.LABEL_REPEATED, None)])
    feature = message("Feature", [("bytes_list", 1, T.TYPE_MESSAGE, T.LABEL_OPTIONAL, ".oracle.BytesList"),
                                  ("float_list", 2, T.TYPE_MESSAGE, T.LABEL_OPTIONAL, ".oracle.FloatList"),
                                  ("int64_list", 3, T.TYPE_MESSAGE, T.LABEL_OPTIONAL, ".oracle.Int64List")])
    feature.oneof_decl.add(name="kind")
    for field in feature.field:
        field.oneof_index = 0
    features = message("Features", [("feature", 1, T.TYPE_MESSAGE, T.LABEL_REPEATED, ".oracle.Features.FeatureEntry")])
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=T.TYPE_MESSAGE, label=T.LABEL_OPTIONAL, type_name=".oracle.Feature")
    message("Example", [("features", 1, T.TYPE_MESSAGE, T.LABEL_OPTIONAL, ".oracle.Features")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("oracle.Example"))


def _example():
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x00\xff\x00", b""])),
        "bbox": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5, -2.25, 3e-8])),
        "ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[0, -1, 2 ** 62, -2 ** 63, 300])),
        "empty": tf.train.Feature(int64_list=tf.train.Int64List(value=[]))}))


def test_example_wire_format_reads_in_protobuf_and_back():
    Oracle = _example_classes()
    theirs = Oracle.FromString(_example().SerializeToString())
    feature = theirs.features.feature
    assert list(feature["ids"].int64_list.value) == [0, -1, 2 ** 62, -2 ** 63, 300]
    np.testing.assert_array_equal(np.float32(feature["bbox"].float_list.value), np.float32([1.5, -2.25, 3e-8]))
    assert list(feature["image"].bytes_list.value) == [b"\x00\xff\x00", b""]
    assert feature["empty"].WhichOneof("kind") == "int64_list"
    ours = tf.train.Example.FromString(theirs.SerializeToString())
    assert ours == _example()
    assert ours.features.feature["bbox"].WhichOneof("kind") == "float_list"
    assert ours.features.feature["ids"].float_list.value == []      # an unset list reads empty
    # protobuf's unpacked encoding of repeated numbers reads too
    unpacked = b"\x0a\x0d\x0a\x0b\x0a\x01x\x12\x06\x1a\x04\x08\x05\x08\x7f"
    assert tf.train.Example.FromString(unpacked).features.feature["x"].int64_list.value == [5, 127]
    with pytest.raises(TypeError):
        tf.train.BytesList(value=["text, not bytes"])


def test_crc32c_and_the_record_framing_are_tensorflows():
    assert crc32c(b"123456789") == 0xE3069283      # the CRC-32C check value
    assert crc32c(b"") == 0 and masked_crc32c(b"") == 0xA282EAD8


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
def test_tfrecord_files_round_trip_and_catch_corruption(tmp_path, compression):
    records = [_example().SerializeToString(), b"", b"\x00" * 5, os.urandom(300)]
    path = str(tmp_path / "data.tfrec")
    with tf.io.TFRecordWriter(path, options=tf.io.TFRecordOptions(compression_type=compression)) as writer:
        for r in records:
            writer.write(r)
    assert os.listdir(tmp_path) == ["data.tfrec"]      # written beside, moved into place whole
    read = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type=compression)]
    assert read == records
    if compression is None:
        raw = bytearray(open(path, "rb").read())
        assert raw[:8] == len(records[0]).to_bytes(8, "little")
        raw[20] ^= 0xFF
        open(path, "wb").write(bytes(raw))
        with pytest.raises(ValueError, match="corrupted record"):
            list(tf.data.TFRecordDataset(path))
    elif compression == "GZIP":
        assert gzip.decompress(open(path, "rb").read())[:8] == len(records[0]).to_bytes(8, "little")


def test_a_failed_writer_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with tf.io.TFRecordWriter(str(tmp_path / "x.tfrec")) as writer:
            writer.write(b"one")
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []


def test_tfrecord_dataset_interleaves_files_as_tensorflow_does(tmp_path):
    paths = []
    for name, n in (("a", 3), ("b", 1), ("c", 2)):
        paths.append(str(tmp_path / f"{name}.tfrec"))
        with tf.io.TFRecordWriter(paths[-1]) as writer:
            for i in range(n):
                writer.write(f"{name}{i}".encode())
    names = lambda ds: [r.numpy().decode() for r in ds]   # noqa: E731
    assert names(tf.data.TFRecordDataset(paths)) == ["a0", "a1", "a2", "b0", "c0", "c1"]
    assert tf.data.TFRecordDataset(paths).element_spec.shape == ()      # one string per record
    # cycle of 2: a and b open; b ends, c takes its slot
    assert names(tf.data.TFRecordDataset(paths, num_parallel_reads=2)) == ["a0", "b0", "a1", "c0", "a2", "c1"]
    assert names(tf.data.TFRecordDataset(tf.data.Dataset.from_tensor_slices(paths))) == names(tf.data.TFRecordDataset(paths))
    ds = tf.data.TFRecordDataset(paths).apply(tf.data.experimental.assert_cardinality(6))
    assert len(ds) == 6 and len(ds.batch(4, drop_remainder=True)) == 1
    with pytest.raises(ValueError, match="expected to contain 5 elements"):
        list(tf.data.TFRecordDataset(paths).apply(tf.data.experimental.assert_cardinality(5)))
    options = tf.data.Options()
    options.experimental_deterministic = False
    assert tf.data.TFRecordDataset(paths).with_options(options).options().deterministic is False
    assert tf.io.gfile.glob(str(tmp_path / "*.tfrec")) == sorted(paths)


def test_parse_single_example_and_parse_example():
    record = _example().SerializeToString()
    spec = {"image": tf.io.FixedLenFeature([2], tf.string), "bbox": tf.io.VarLenFeature(tf.float32),
            "ids": tf.io.FixedLenFeature([5], tf.int64), "missing": tf.io.FixedLenFeature([], tf.float32, default_value=7.0),
            "pairs": tf.io.FixedLenSequenceFeature([1], tf.int64, allow_missing=True)}
    out = tf.io.parse_single_example(record, spec)
    assert list(out["image"]) == [b"\x00\xff\x00", b""]
    assert out["ids"].dtype == np.int64 and out["ids"].numpy().tolist() == [0, -1, 2 ** 62, -2 ** 63, 300]
    np.testing.assert_allclose(tf.sparse.to_dense(out["bbox"]).numpy(), np.float32([1.5, -2.25, 3e-8]))
    assert float(out["missing"].numpy()) == 7.0 and out["pairs"].shape == (0, 1)
    with pytest.raises(ValueError, match="required"):
        tf.io.parse_single_example(record, {"nope": tf.io.FixedLenFeature([], tf.int64)})
    with pytest.raises(ValueError, match="int64_list"):
        tf.io.parse_single_example(record, {"bbox": tf.io.FixedLenFeature([3], tf.int64)})
    short = tf.train.Example(features=tf.train.Features(feature={
        "bbox": tf.train.Feature(float_list=tf.train.FloatList(value=[4.0])),
        "ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2, 3, 4, 5])),
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"]))})).SerializeToString()
    batch = tf.io.parse_example(np.array([record, short], dtype=object), spec)
    assert batch["ids"].shape == (2, 5) and batch["image"].shape == (2, 2)
    np.testing.assert_allclose(tf.sparse.to_dense(batch["bbox"]).numpy(),
                               np.float32([[1.5, -2.25, 3e-8], [4.0, 0, 0]]))
    assert batch["bbox"].indices.numpy().tolist() == [[0, 0], [0, 1], [0, 2], [1, 0]]


def test_encode_jpeg_and_png_round_trip_through_the_decoders(tmp_path):
    image = (np.arange(24 * 20 * 3) % 251).astype("uint8").reshape(24, 20, 3)
    png = tf.io.encode_png(image)
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), image)
    (tmp_path / "x.png").write_bytes(png.numpy())
    assert tf.io.read_file(str(tmp_path / "x.png")).numpy() == png.numpy()   # the file's bytes, as TF's numpy()
    jpeg = tf.io.encode_jpeg(image, quality=95).numpy()
    assert isinstance(jpeg, bytes) and jpeg[:2] == b"\xff\xd8"
    assert np.abs(tf.io.decode_jpeg(jpeg, channels=3).numpy().astype(int) - image).mean() < 8
    with pytest.raises(ValueError, match="channels"):
        tf.io.encode_jpeg(np.zeros((4, 4, 4), "uint8"))


def test_creating_tfrecords_pattern_writes_parses_and_trains(tmp_path):
    """The recipe's Example of an image, a path, floats, a float list and ints; parsed back with
    FixedLen and VarLen features, decoded, resized and fed to fit."""
    rng = np.random.default_rng(0)
    path = str(tmp_path / "file_00-12.tfrec")
    with tf.io.TFRecordWriter(path) as writer:
        for k in range(12):
            image = rng.integers(0, 255, (int(rng.integers(10, 16)), 12, 3), dtype=np.uint8)
            feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.encode_jpeg(image).numpy()])),
                       "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"img/{k}.jpg".encode()])),
                       "area": tf.train.Feature(float_list=tf.train.FloatList(value=[float(k)])),
                       "bbox": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0, 3.0, float(k)])),
                       "category_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[k % 3]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())

    def parse(example):
        spec = {"image": tf.io.FixedLenFeature([], tf.string), "path": tf.io.FixedLenFeature([], tf.string),
                "area": tf.io.FixedLenFeature([], tf.float32), "bbox": tf.io.VarLenFeature(tf.float32),
                "category_id": tf.io.FixedLenFeature([], tf.int64)}
        example = tf.io.parse_single_example(example, spec)
        example["image"] = tf.io.decode_jpeg(example["image"], channels=3)
        example["bbox"] = tf.sparse.to_dense(example["bbox"])
        return example

    first = next(iter(tf.data.TFRecordDataset(path).map(parse)))
    assert first["image"].shape[2] == 3 and first["bbox"].numpy().tolist() == [1.0, 2.0, 3.0, 0.0]
    assert first["path"].numpy() == b"img/0.jpg" and int(first["category_id"].numpy()) == 0
    dataset = (tf.data.TFRecordDataset(tf.io.gfile.glob(str(tmp_path / "*.tfrec")), num_parallel_reads=tf.data.AUTOTUNE)
               .map(parse).map(lambda f: (tf.image.resize(f["image"], size=(8, 8)), f["category_id"]))
               .shuffle(20).batch(4))
    model = dg.Sequential([layers.Input((8, 8, 3)), layers.Rescaling(1 / 255), layers.Flatten(),
                           layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


# ----------------------------------------------------------------- cut-down programs
def test_mlm_pattern_vectorizes_masks_trains_saves_and_reloads(tmp_path):
    """TextVectorization(standardize=None) with its vocabulary reset to end in "[MASK]", masked
    inputs with per-token sample weights, the Dense/MultiHeadAttention encoder, .h5 round trip."""
    from deepgrad.layers.experimental.preprocessing import TextVectorization
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice([f"t{i}" for i in range(40)], 12)) for _ in range(48)]
    vectorize = TextVectorization(max_tokens=30, output_mode="int", standardize=None, output_sequence_length=16)
    vectorize.adapt(texts)
    vocab = vectorize.get_vocabulary()
    vectorize.set_vocabulary(vocab[2:30 - 1] + ["[MASK]"])
    mask_id = vectorize(["[MASK]"]).numpy()[0][0]
    assert mask_id == len(vectorize.get_vocabulary()) - 1 == 29
    encoded = vectorize(texts).numpy()
    weights = (rng.random(encoded.shape) < 0.15) & (encoded > 2)
    masked = np.where(weights, mask_id, encoded)
    data = tf.data.Dataset.from_tensor_slices((masked, encoded, weights.astype("float64"))).shuffle(100).batch(16)
    inputs = layers.Input((16,), dtype=tf.int64)
    h = layers.Embedding(30, 8)(inputs)
    attn = layers.MultiHeadAttention(num_heads=2, key_dim=4)(layers.Dense(8)(h), layers.Dense(8)(h), layers.Dense(8)(h))
    h = layers.LayerNormalization(epsilon=1e-6)(h + layers.Dropout(0.1)(attn))
    model = dg.Model(inputs, layers.Dense(30)(h), name="mlm_model")
    model.compile(optimizer=dg.optimizers.Adam(1e-2), loss=dg.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(data, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(str(tmp_path / "bert_mlm_model.h5"))
    reloaded = dg.models.load_model(str(tmp_path / "bert_mlm_model.h5"))
    np.testing.assert_allclose(reloaded.predict(masked[:4], verbose=0), model.predict(masked[:4], verbose=0), rtol=1e-5)
    text_in = dg.Input(shape=(1,), dtype="string")
    end_to_end = dg.Model(text_in, reloaded(vectorize(text_in)))
    assert end_to_end.predict(np.array(texts[:2])[:, None], verbose=0).shape == (2, 16, 30)


def test_gpt_pattern_trains_through_a_gradient_tape_train_step():
    """A causal self-attention block in a subclassed model whose train_step returns only
    {"loss": loss}: the loss is the model's own, and the printed loss is the (unused) tracker's 0,
    as in Keras; generation samples with tf.random.categorical and grows with tf.concat."""
    vocab, block = 7, 8

    class TinyGPT(dg.Model):
        def __init__(self):
            super().__init__()
            self.tok = layers.Embedding(vocab, 16)
            self.pos = layers.Embedding(block, 16)
            self.ln = layers.LayerNormalization()
            self.sa = layers.MultiHeadAttention(num_heads=2, key_dim=8)
            self.head = layers.Dense(vocab)

        def call(self, idx, targets=None):
            _, t = idx.shape
            x = self.tok(idx) + self.pos(tf.range(t)[tf.newaxis, :])
            x = x + self.sa(self.ln(x), self.ln(x), use_causal_mask=True)
            logits = self.head(x)
            if targets is None:
                return logits, None
            loss = dg.losses.sparse_categorical_crossentropy(tf.reshape(targets, [-1]),
                                                            tf.reshape(logits, [-1, logits.shape[-1]]), from_logits=True)
            return logits, tf.reduce_mean(loss)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                _, loss = self(x, y)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.losses_seen.append(float(loss))
            return {"loss": loss}

    text = np.tile(np.arange(vocab), 40)
    rng = np.random.default_rng(0)

    def batches():
        while True:
            ix = rng.integers(0, len(text) - block - 1, 8)
            yield np.stack([text[i:i + block] for i in ix]), np.stack([text[i + 1:i + block + 1] for i in ix])
    data = tf.data.Dataset.from_generator(batches, output_signature=(tf.TensorSpec((8, block), tf.int64),
                                                                     tf.TensorSpec((8, block), tf.int64)))
    model = TinyGPT()
    model.losses_seen = []
    model.build((8, block))
    model.compile(optimizer=dg.optimizers.Adam(1e-2))
    history = model.fit(data, epochs=2, steps_per_epoch=15, verbose=0)
    assert history.history["loss"] == [0.0, 0.0]
    assert np.mean(model.losses_seen[-5:]) < 0.5 * np.mean(model.losses_seen[:5])
    idx = np.zeros((1, 1), dtype=np.int64)
    for _ in range(5):
        logits, _ = model(idx[:, -block:])
        idx = tf.concat([idx, tf.random.categorical(logits[:, -1, :], num_samples=1)], axis=1)
    assert tuple(idx.shape) == (1, 6) and idx.numpy().max() < vocab


def test_tf_experimental_numpy_model_trains_as_the_same_model_in_keras_ops():
    """The TNP recipe: weights from add_weight, the forward pass in tnp.matmul / tnp.maximum, a
    tnp loss; one step equals Keras's with keras.ops in the same places."""
    tnp = tf.experimental.numpy
    assert tnp.float32 is np.float32

    def run(lib, np_api):
        class Net(lib.Model):
            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[1], 3), initializer="ones", name="block-0")
                self.b = self.add_weight(shape=(3,), initializer="zeros", name="bias-0")
                self.out = self.add_weight(shape=(3, 1), initializer="ones", name="linear_projector")

            def call(self, x):
                return np_api.matmul(np_api.maximum(np_api.matmul(x, self.w) + self.b, 0.0), self.out)

        model = Net()
        model.compile(optimizer=lib.optimizers.SGD(0.01), metrics=[lib.metrics.MeanAbsolutePercentageError()],
                      loss=lambda y, p: np_api.mean(np_api.square(y - p), axis=0))
        x = np.linspace(-1, 1, 24).reshape(8, 3).astype("float32")
        y = np.linspace(0, 2, 8).reshape(8, 1).astype("float32")
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
        return history.history, [_np(w) for w in model.weights]
    ours, theirs = run(dg, tnp), run(keras, keras.ops)
    for key in theirs[0]:
        np.testing.assert_allclose(ours[0][key], theirs[0][key], rtol=1e-5)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
