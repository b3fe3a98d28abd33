"""Patterns of the Keras preprocessing, text, time-series, structured-data and recipe examples
that deepgrad had wrong: each checked against Keras 3 on its PyTorch backend where Keras runs
there, and against the formula TensorFlow's documented behaviour gives where it needs TF
(string tensors, ``tf.data``)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402

FRAMEWORKS = [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")]

DOCS = ["the brain is wider than the sky", "for put them side by side",
        "the one the other will contain", "with ease and you beside"]


# ----------------------------------------------------------------- text layers and text tensors
def test_tf_idf_spelled_with_a_hyphen_is_the_tf_idf_mode():
    # Keras maps its deprecated "tf-idf" onto "tf_idf"; the weights are log(1 + N / (1 + df))
    layer = dg.layers.TextVectorization(output_mode="tf-idf")
    layer.adapt(DOCS)
    assert layer.get_config()["output_mode"] == "tf_idf"
    vocab = layer.get_vocabulary()
    out = np.asarray(layer(["the brain the sea"]))
    df = {w: sum(w in d.split() for d in DOCS) for w in vocab[1:]}
    idf = {w: np.log(1 + len(DOCS) / (1 + n)) for w, n in df.items()}
    assert out.shape == (1, len(vocab))
    np.testing.assert_allclose(out[0, vocab.index("the")], 2 * idf["the"], rtol=1e-6)
    np.testing.assert_allclose(out[0, vocab.index("brain")], idf["brain"], rtol=1e-6)
    assert out[0, vocab.index("sky")] == 0
    # "sea" is out of vocabulary: index 0 holds the OOV count times the mean idf
    np.testing.assert_allclose(out[0, 0], np.mean(list(idf.values())), rtol=1e-6)
    with pytest.raises(ValueError, match="output_mode"):
        dg.layers.TextVectorization(output_mode="tfidf")


def test_convert_to_tensor_keeps_text_and_converts_numbers_as_keras_does():
    text = dg.ops.convert_to_tensor([["this message is about graphics"]])
    assert isinstance(text, np.ndarray) and text.dtype.kind == "U" and text.shape == (1, 1)
    with pytest.raises(TypeError, match="string"):
        dg.ops.convert_to_tensor([1.5], dtype="string")
    for value in ([1, 2], [1.5, 2.0], True, np.arange(3, dtype="int16")):
        ours, theirs = dg.ops.convert_to_tensor(value), keras.ops.convert_to_tensor(value)
        assert dg.backend.standardize_dtype(ours.dtype) == keras.backend.standardize_dtype(theirs.dtype)
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


def test_end_to_end_model_reads_a_converted_string_tensor():
    dg.utils.set_random_seed(1)
    vectorizer = dg.layers.TextVectorization(output_sequence_length=6)
    vectorizer.adapt(DOCS)
    inputs = dg.Input(shape=(None,), dtype="int64")
    x = dg.layers.Embedding(vectorizer.vocabulary_size(), 4)(inputs)
    outputs = dg.layers.Dense(2)(dg.layers.GlobalAveragePooling1D()(x))
    model = dg.Model(inputs, outputs)
    string_input = dg.Input(shape=(1,), dtype="string")
    end_to_end = dg.Model(string_input, model(vectorizer(string_input)))
    sentence = [["the one the other will absorb"]]
    got = np.asarray(end_to_end(dg.ops.convert_to_tensor(sentence)))
    want = np.asarray(model(vectorizer(np.array(sentence))))
    assert got.shape == (1, 2)
    np.testing.assert_allclose(got, want, rtol=1e-6)


# ----------------------------------------------------------------- tf.data
def test_shuffle_of_batches_with_a_short_last_batch():
    # 560 rows in batches of 64: eight full batches and one of 48, mapped then shuffled, as the
    # translation example's pipeline does; every batch comes out once, whole
    rows = np.arange(560 * 3, dtype="int64").reshape(560, 3)
    ds = tf.data.Dataset.from_tensor_slices((rows, rows[:, 0])).batch(64)
    ds = ds.map(lambda x, y: ({"a": x, "b": x[:, :-1]}, y)).shuffle(2048, seed=3)
    firsts, sizes = [], []
    for inputs, y in ds:
        x = np.asarray(inputs["a"])
        np.testing.assert_array_equal(np.asarray(inputs["b"]), x[:, :-1])
        np.testing.assert_array_equal(np.asarray(y), x[:, 0])
        np.testing.assert_array_equal(np.diff(x[:, 0]), 3)  # a batch keeps its rows in order
        firsts.append(int(x[0, 0]) // (64 * 3))
        sizes.append(len(x))
    assert sorted(firsts) == list(range(9))
    assert sorted(sizes) == [48] + [64] * 8
    # over seeds the short batch lands in every position (a buffer as large as the data)
    positions = set()
    for seed in range(60):
        ds = tf.data.Dataset.from_tensor_slices(rows).batch(64).shuffle(16, seed=seed)
        positions.add([len(np.asarray(b)) for b in ds].index(48))
    assert positions == set(range(9))


def test_shuffle_with_a_small_buffer_switches_to_elements_of_another_shape():
    # a buffer of 2 over batches of 4, 4, 4, 3, 3: TF's buffer rule element by element, so the
    # i-th element out is drawn from the first i + 3 in, and none is lost
    rows = np.arange(18, dtype="int64")
    ds = tf.data.Dataset.from_tensor_slices(rows).batch(4)
    ds = ds.concatenate(tf.data.Dataset.from_tensor_slices(rows[:6] + 100).batch(3))
    for seed in range(20):
        out = [tuple(np.asarray(b)) for b in ds.shuffle(2, seed=seed)]
        want = [tuple(np.asarray(b)) for b in ds]
        assert sorted(out) == sorted(want)
        for i, b in enumerate(out):
            assert want.index(b) <= i + 2


def test_text_line_dataset_reads_lines_as_tf_does(tmp_path):
    import gzip
    a, b = tmp_path / "a.txt", tmp_path / "b.txt.gz"
    a.write_bytes("3\teu\trejects\tlamb\t3\t0\t0\nsecond line\r\n\nlast without ending".encode())
    b.write_bytes(gzip.compress("ζ line\n".encode()))
    lines = list(tf.data.TextLineDataset(str(a)).as_numpy_iterator())
    # TF strips "\n" and "\r\n", keeps an empty line, and gives UTF-8 bytes
    assert lines == [b"3\teu\trejects\tlamb\t3\t0\t0", b"second line", b"", b"last without ending"]
    assert int(tf.data.TextLineDataset(str(a)).cardinality()) == -2
    assert list(tf.data.TextLineDataset(str(b), compression_type="GZIP").as_numpy_iterator()) == ["ζ line".encode()]
    assert len(list(tf.data.TextLineDataset([str(a), str(a)]))) == 8
    with pytest.raises(FileNotFoundError, match="TextLineDataset"):
        tf.data.TextLineDataset(str(tmp_path / "missing.txt"))


def test_record_split_into_tokens_and_tags_then_padded_batches(tmp_path):
    # the NER example's pipeline: a line "n<TAB>tokens...<TAB>tags..." split, parsed, looked up
    path = tmp_path / "train.txt"
    path.write_text("3\tEU\trejects\tlamb\t3\t0\t0\n2\tjohn\tsaid\t1\t0\n")
    lookup = dg.layers.StringLookup(vocabulary=["eu", "rejects", "lamb", "john"])

    def to_example(record):
        record = tf.strings.split(record, sep="\t")
        length = tf.strings.to_number(record[0], out_type=tf.int32)
        tokens, tags = record[1:length + 1], tf.strings.to_number(record[length + 1:], out_type=tf.int64)
        return lookup(tf.strings.lower(tokens)), tags + 1

    batches = list(tf.data.TextLineDataset(str(path)).map(to_example).padded_batch(2))
    assert len(batches) == 1
    ids, tags = batches[0]
    np.testing.assert_array_equal(np.asarray(ids), [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(np.asarray(tags), [[4, 1, 1], [2, 1, 0]])
    assert np.asarray(tags).dtype == np.int64


def test_strings_split_and_to_number_follow_tf():
    np.testing.assert_array_equal(tf.strings.split("  a  b c "), ["a", "b", "c"])
    np.testing.assert_array_equal(tf.strings.split("a,,b", sep=","), ["a", "", "b"])
    np.testing.assert_array_equal(tf.strings.split("a b c", maxsplit=1), ["a", "b c"])
    np.testing.assert_array_equal(tf.strings.split(np.array(["a b", "c d"])), [["a", "b"], ["c", "d"]])
    # a batch splits into a ragged tensor, as TF's: rows of different lengths pad with ""
    ragged = tf.strings.split(np.array(["a b", "c"]))
    assert ragged.to_list() == [["a", "b"], ["c"]]
    np.testing.assert_array_equal(ragged.to_tensor(), [["a", "b"], ["c", ""]])
    with pytest.raises(ValueError, match="different lengths"):
        np.asarray(ragged)
    numbers = tf.strings.to_number(np.array([b"1.5", b" -2", b"3e2"]))
    assert numbers.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(numbers), np.float32([1.5, -2, 300]))
    assert tf.strings.to_number("7", out_type="int64").dtype == np.int64
    with pytest.raises(ValueError, match="cannot convert 'x'"):
        tf.strings.to_number(np.array(["1", "x"]), out_type=tf.int32)


def test_as_numpy_iterator_gives_bytes_and_fit_still_reads_text():
    ds = tf.data.Dataset.from_tensor_slices((np.array(DOCS), np.arange(4.0)))
    first = next(ds.as_numpy_iterator())
    assert first[0] == DOCS[0].encode() and isinstance(first[0], bytes)
    batch = next(ds.batch(2).as_numpy_iterator())
    assert batch[0].dtype == object and list(batch[0]) == [d.encode() for d in DOCS[:2]]
    assert next(iter(ds.batch(2)))[0].numpy().tolist() == [d.encode() for d in DOCS[:2]]
    # a model that takes raw text trains from such a dataset
    vectorizer = dg.layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(DOCS)
    inputs = dg.Input(shape=(1,), dtype="string")
    model = dg.Model(inputs, dg.layers.Dense(1)(vectorizer(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    text_ds = tf.data.Dataset.from_tensor_slices((np.array(DOCS)[:, None], np.arange(4.0)[:, None])).batch(2)
    history = model.fit(text_ds, epochs=2, verbose=0, shuffle=False).history["loss"]
    assert len(history) == 2 and np.isfinite(history).all()


def test_review_bytes_from_a_numpy_dataset_are_sliced_joined_and_vectorized_per_element():
    # tfds.as_numpy gives reviews as an object array of bytes: tf.concat joins them, tf.data
    # slices them, and TextVectorization maps each (scalar) review to one row
    reviews = np.array([b"great fun", b"dull <br />", "ζ great".encode(), b"fun fun fun"], dtype=object)
    labels = np.array([1, 0, 1, 1], dtype="int64")
    joined = tf.concat((reviews[:2], reviews[2:]), 0)
    assert joined.shape == (4,) and joined[2] == "ζ great".encode()
    vectorizer = dg.layers.TextVectorization(10, output_sequence_length=5)
    ds = tf.data.Dataset.from_tensor_slices((joined, labels))
    vectorizer.adapt(ds.map(lambda x, y: x).batch(2))
    assert vectorizer.get_vocabulary()[:4] == ["", "[UNK]", "fun", "great"]
    one = vectorizer(np.array("great fun"))
    assert tuple(one.shape) == (5,)
    np.testing.assert_array_equal(np.asarray(one), [3, 2, 0, 0, 0])
    rows = [np.asarray(x) for x, _ in ds.map(lambda x, y: (vectorizer(x), y))]
    assert all(r.shape == (5,) for r in rows)
    batches = list(ds.map(lambda x, y: (vectorizer(x), y)).batch(4))
    assert tuple(batches[0][0].shape) == (4, 5)
    np.testing.assert_array_equal(np.asarray(batches[0][0])[3], [2, 2, 2, 0, 0])
    # a scalar into a bag-of-words mode is one vector too
    bag = dg.layers.TextVectorization(output_mode="count")
    bag.adapt(["a b b", "b c"])
    np.testing.assert_array_equal(np.asarray(bag(np.array("b b a"))), [0, 2, 0, 1])


def test_string_lookup_adapts_to_and_encodes_ragged_label_lists():
    # the multi-label example: lists of subject terms of different lengths, multi-hot encoded
    terms = [["cs.LG"], ["cs.CV", "cs.LG"], ["cs.LG", "stat.ML"], ["cs.CL"], ["cs.CV", "cs.LG", "cs.AI"]]
    ragged = tf.ragged.constant(terms)
    assert ragged.shape == (5, None) and ragged.to_list() == terms
    np.testing.assert_array_equal(np.asarray(ragged.row_lengths()), [1, 2, 2, 1, 3])
    np.testing.assert_array_equal(ragged.to_tensor(), [["cs.LG", "", ""], ["cs.CV", "cs.LG", ""],
                                                       ["cs.LG", "stat.ML", ""], ["cs.CL", "", ""],
                                                       ["cs.CV", "cs.LG", "cs.AI"]])
    lookup = dg.layers.StringLookup(output_mode="multi_hot")
    lookup.adapt(ragged)
    # by count, ties by token from high to low: cs.LG 4, cs.CV 2, then stat.ML > cs.CL > cs.AI
    assert lookup.get_vocabulary() == ["[UNK]", "cs.LG", "cs.CV", "stat.ML", "cs.CL", "cs.AI"]
    labels = tf.ragged.constant([["cs.CV", "cs.LG"], ["q-bio"], ["cs.AI", "cs.AI", "stat.ML"]])
    got = np.asarray(lookup(labels))
    np.testing.assert_array_equal(got, [[0, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 1]])
    # the same rows one at a time (rectangular inputs) give the same rows
    for row, want in zip(labels, got):
        np.testing.assert_array_equal(np.asarray(lookup([list(row)]))[0], want)
    # pandas' object column of lists is ragged too
    column = np.empty(3, dtype=object)
    column[:] = [["cs.CV", "cs.LG"], ["q-bio"], ["cs.AI", "cs.AI", "stat.ML"]]
    np.testing.assert_array_equal(np.asarray(lookup(column)), got)
    counts = dg.layers.StringLookup(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(np.asarray(counts(tf.ragged.constant([["a", "a", "b"], ["z"]]))),
                                  [[0, 2, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="ragged"):
        dg.layers.StringLookup(vocabulary=["a"])(tf.ragged.constant([["a", "a"], ["a"]]))


def test_integer_lookup_of_ragged_ids_and_its_mask():
    ids = tf.ragged.constant([[10, 0, 0], [30, 99]])
    # by default 0 is an ordinary out-of-vocabulary value (index 0), as 99 is
    plain = dg.layers.IntegerLookup(output_mode="multi_hot", vocabulary=[10, 20, 30])
    np.testing.assert_array_equal(np.asarray(plain(ids)), [[1, 1, 0, 0], [1, 0, 0, 1]])
    # a mask token has no column in the bag encodings (Keras indexes it only in the int mode)
    masked = dg.layers.IntegerLookup(output_mode="multi_hot", vocabulary=[10, 20, 30], mask_token=0)
    np.testing.assert_array_equal(np.asarray(masked(ids)), [[0, 1, 0, 0], [1, 0, 0, 1]])


def test_verbose_2_epoch_line_is_keras_3s(capsys):
    import re
    lines = {}
    for k in (keras, dg):
        k.utils.set_random_seed(0)
        model = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
        model.compile("sgd", "mse", metrics=["mae"])
        capsys.readouterr()
        model.fit(np.ones((64, 3), "float32"), np.ones((64, 1), "float32"), epochs=1, verbose=2,
                  validation_split=0.25)
        out = capsys.readouterr().out.splitlines()
        # times and values vary; the layout must not
        lines[k.__name__] = [re.sub(r"N(us|ms|s)/step", "T/step", re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", line))
                             for line in out]
    assert lines["deepgrad"] == lines["keras"] == [
        "N/N - Ns - T/step - loss: N - mae: N - val_loss: N - val_mae: N"]


def test_zip_of_two_timeseries_datasets_pairs_their_batches():
    # the traffic example: inputs and targets windows from two timeseries_dataset_from_array calls
    data = np.arange(40, dtype="float32").reshape(20, 2)
    inputs = dg.utils.timeseries_dataset_from_array(data[:-3, :, None], None, sequence_length=4, batch_size=5)
    targets = dg.utils.timeseries_dataset_from_array(data[6:], None, sequence_length=1, batch_size=5)
    zipped = tf.data.Dataset.zip((inputs, targets))
    batches = list(zipped.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(5, 4, 2, 1), (5, 4, 2, 1), (4, 4, 2, 1)]
    assert [b[1].shape for b in batches] == [(5, 1, 2), (5, 1, 2), (4, 1, 2)]
    for x, y in batches:  # window i starts at row i; its target is row i + 6
        np.testing.assert_array_equal(y[:, 0], x[:, 0, :, 0] + 12)
    assert int(zipped.cardinality()) == 3
    joined = tf.data.Dataset.range(2).batch(1).concatenate(
        dg.utils.timeseries_dataset_from_array(np.arange(3), None, sequence_length=1, batch_size=1))
    assert [int(np.asarray(b).reshape(-1)[0]) for b in joined] == [0, 1, 0, 1, 2]


def test_unsorted_segment_mean_and_a_graph_convolution_trains():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(7, 3, 2)).astype("float32")
    ids = np.array([0, 2, 2, 4, 0, -1, 2])
    got = np.asarray(tf.math.unsorted_segment_mean(data, ids, num_segments=5))
    want = np.zeros((5, 3, 2), "float32")
    for s in range(5):
        if (ids == s).any():
            want[s] = data[ids == s].mean(axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)   # segments 1 and 3 are empty: 0
    # its gradient: each row gets 1 / (its segment's count); the dropped row gets 0
    x = dg.Variable(data)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.math.unsorted_segment_mean(x, ids, num_segments=5))
    grad = np.asarray(tape.gradient(loss, x))
    np.testing.assert_allclose(grad[:, 0, 0], [0.5, 1 / 3, 1 / 3, 1, 0.5, 0, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_a_list_holding_the_one_input_array_is_that_input(k):
    k.utils.set_random_seed(0)
    inputs = k.Input((3,))
    model = k.Model(inputs, k.layers.Dense(2)(inputs))
    x = np.arange(15, dtype="float32").reshape(5, 3)
    np.testing.assert_allclose(model.predict([x], verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    model.compile("sgd", "mse")
    assert model.evaluate([x], [np.ones((5, 2), "float32")], verbose=0) == pytest.approx(
        model.evaluate(x, np.ones((5, 2), "float32"), verbose=0), rel=1e-6)


def _dict_input_model(k):
    """A layer called on a dict of tensors, one of them an intermediate tensor serving as an input
    (the structured-data example's pattern)."""
    class Classifier(k.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = k.layers.Dense(1, kernel_initializer="ones")

        def call(self, inputs):
            return self.dense(k.layers.concatenate(list(inputs.values())))

        def build(self, input_shape):
            self.built = True

    age = k.Input(name="age", shape=(1,))
    inputs = {"age": k.layers.Normalization(mean=10.0, variance=4.0)(age),
              "thal": k.Input(name="thal", shape=(3,), dtype="int64")}
    out = Classifier()(inputs)
    return k.Model(inputs, out), out


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_layer_on_a_dict_of_tensors_and_a_dataset_of_rank_one_features(k):
    model, out = _dict_input_model(k)
    assert tuple(out.shape) == (None, 1)
    assert [tuple(t.shape) for t in model.inputs] == [(None, 1), (None, 3)]
    x = {"age": np.array([10.0, 12.0, 9.0], "float32"), "thal": np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])}
    # the intermediate tensor is the input: the data goes past the Normalization, as in Keras
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)).ravel(), [11, 13, 10], rtol=1e-6)


def test_dataset_of_dicts_with_rank_one_features_trains_a_dict_model():
    dg.utils.set_random_seed(0)
    model, _ = _dict_input_model(dg)
    model.compile("sgd", "mse")
    x = {"age": np.array([10.0, 12.0, 9.0, 11.0], "float32"), "thal": np.eye(3, dtype="int64")[[0, 1, 2, 0]]}
    ds = tf.data.Dataset.from_tensor_slices((x, np.ones(4, "float32"))).batch(2)
    # each batch's "age" is (2,): Keras's rank adjustment makes it (2, 1) for the Input of shape (1,)
    first = model.evaluate(ds, verbose=0)
    np.testing.assert_allclose(first, np.mean((np.array([11, 13, 10, 12]) - 1.0) ** 2), rtol=1e-6)
    history = model.fit(ds, epochs=3, verbose=0, shuffle=False).history["loss"]
    assert np.isfinite(history).all()


def test_string_components_report_tf_string_dtype():
    ds = tf.data.Dataset.from_tensor_slices({"thal": np.array(["fixed", "normal"]), "ca": np.array([0, 3])})
    for element in ds:
        assert element["thal"].dtype == "string" and element["thal"].dtype == tf.string
        assert element["ca"].dtype != "string" and element["ca"].dtype != tf.string
        assert element["thal"].numpy() in (b"fixed", b"normal")
    batch = next(iter(ds.batch(2)))
    assert batch["thal"].dtype == "string" and batch["thal"].numpy().tolist() == [b"fixed", b"normal"]
    # the structured-data example's per-element encoding: one string, one multi-hot row
    lookup = dg.layers.StringLookup(vocabulary=["fixed", "normal"], num_oov_indices=0, output_mode="binary")
    rows = [np.asarray(lookup(e["thal"])) for e in ds]
    np.testing.assert_array_equal(rows, [[1, 0], [0, 1]])
    # a rank-1 batch is one sample's bag in Keras's multi_hot encoding
    np.testing.assert_array_equal(np.asarray(lookup(batch["thal"])), [1, 1])


@pytest.mark.parametrize("k", FRAMEWORKS)
def test_input_layer_takes_the_deprecated_input_shape(k):
    with pytest.warns(UserWarning, match="input_shape"):
        layer = k.layers.InputLayer(input_shape=(28, 28, 1))
    model = k.Sequential([layer, k.layers.Flatten(), k.layers.Dense(3)])
    assert tuple(model.output_shape) == (None, 3)
    assert tuple(k.layers.InputLayer(batch_input_shape=(4, 5)).batch_shape) == (4, 5)


def _standardized_conv(k, override):
    class WithOverride(k.layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean = k.ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
            var = k.ops.var(kernel, axis=(0, 1, 2), keepdims=True)
            return k.ops.conv(inputs, (kernel - mean) / k.ops.sqrt(var + 1e-10), padding="valid")

    class WithCall(k.layers.Conv2D):
        def call(self, inputs):
            mean = k.ops.mean(self.kernel, axis=(0, 1, 2), keepdims=True)
            var = k.ops.var(self.kernel, axis=(0, 1, 2), keepdims=True)
            out = self.convolution_op(inputs, (self.kernel - mean) / k.ops.sqrt(var + 1e-10))
            return out + self.bias if self.use_bias else out

    return (WithOverride if override else WithCall)(4, 3, activation="relu")


@pytest.mark.parametrize("override", [True, False])
def test_conv_subclass_with_its_own_convolution_op_matches_keras(override):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 7, 3)).astype("float32")
    weights = [rng.normal(size=(3, 3, 3, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
    outs = {}
    for k in (keras, dg):
        layer = _standardized_conv(k, override)
        layer.build((None, 7, 7, 3))
        layer.set_weights(weights)
        outs[k.__name__] = np.asarray(layer(x)) if k is dg else layer(x).detach().cpu().numpy()
    np.testing.assert_allclose(outs["deepgrad"], outs["keras"], rtol=1e-4, atol=1e-5)
    plain = dg.layers.Conv2D(4, 3, activation="relu")
    plain.build((None, 7, 7, 3))
    plain.set_weights(weights)
    assert not np.allclose(np.asarray(plain(x)), outs["deepgrad"])  # the standardization took effect


def test_make_csv_dataset_types_columns_by_defaults_and_batches(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("Elevation,Aspect,Wilderness_Area,Cover_Type\n10,2.5,area_1,3\n,1.0,,0\n7,3,area_2,1\n")
    header = ["Elevation", "Aspect", "Wilderness_Area", "Cover_Type"]
    ds = tf.data.experimental.make_csv_dataset(str(path), batch_size=2, column_names=header,
                                               column_defaults=[[0], [0.0], ["NA"], [0]], label_name="Cover_Type",
                                               num_epochs=1, header=True, shuffle=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2
    features, label = batches[0]
    assert list(features) == ["Elevation", "Aspect", "Wilderness_Area"]   # file order, label removed
    np.testing.assert_array_equal(features["Elevation"], np.int32([10, 0]))  # the empty field took the default
    assert features["Elevation"].dtype == np.int32 and features["Aspect"].dtype == np.float32
    np.testing.assert_array_equal(features["Aspect"], np.float32([2.5, 1.0]))
    assert list(features["Wilderness_Area"]) == [b"area_1", b"NA"]
    np.testing.assert_array_equal(label, np.int32([3, 0]))
    np.testing.assert_array_equal(batches[1][1], np.int32([1]))
    # without defaults the types come from the values; num_epochs=2 reads the file twice
    twice = tf.data.experimental.make_csv_dataset(str(path), batch_size=6, num_epochs=2, shuffle=True,
                                                  shuffle_seed=1, column_defaults=[[0], [0.0], ["NA"], [0]])
    (features,) = list(twice.as_numpy_iterator())
    assert sorted(features["Cover_Type"].tolist()) == [0, 0, 1, 1, 3, 3]
    with pytest.raises(ValueError, match="empty field"):
        tf.data.experimental.make_csv_dataset(str(path), batch_size=2)
