"""Patterns of the Keras structured-data examples (and the embedding recipe) that deepgrad had
wrong or lacked: each checked against Keras 3 on its PyTorch backend where Keras runs there, and
against TensorFlow's documented behaviour where Keras needs TF (string tensors, ``tf.lookup``)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402

WORDS = np.array([["ash", "oak"], ["elm", "ash"], ["fir", "oak"]])


# ----------------------------------------------------------------- string tensors through keras.ops
@pytest.mark.parametrize("op, args, kwargs", [
    ("expand_dims", (-1,), {}), ("expand_dims", (0,), {}), ("reshape", ((6, 1),), {}),
    ("transpose", (), {}), ("squeeze", (), {}), ("tile", ((2, 1),), {}), ("repeat", (2,), {"axis": 0}),
    ("take", ([1, 0],), {"axis": 1}), ("flatten", (), {}), ("broadcast_to", ((2, 3, 2),), {}),
])
def test_shape_ops_move_text_as_numpy_moves_it(op, args, kwargs):
    # Keras's TF backend moves string tensors through its shape ops; deepgrad's text is a NumPy array
    x = WORDS if op != "squeeze" else WORDS[:, :1]
    out = getattr(dg.ops, op)(x, *args, **kwargs)
    reference = getattr(np, op if op != "flatten" else "ravel")(x, *args, **kwargs)
    assert isinstance(out, np.ndarray) and out.dtype.kind == "U"
    np.testing.assert_array_equal(out, reference)


def test_text_joins_and_indexing():
    np.testing.assert_array_equal(dg.ops.concatenate([WORDS, WORDS[:1]], axis=0), np.concatenate([WORDS, WORDS[:1]]))
    np.testing.assert_array_equal(dg.ops.stack([WORDS[0], WORDS[1]], axis=1), np.stack([WORDS[0], WORDS[1]], 1))
    objects = WORDS.astype(object)
    np.testing.assert_array_equal(dg.ops.expand_dims(objects, 1), objects[:, None])
    assert WORDS[1:, 0].tolist() == dg.ops.getitem(WORDS, (slice(1, None), 0)).tolist()
    # numbers still become tensors with their gradient
    assert isinstance(dg.ops.expand_dims(np.ones(3, "float32"), -1), dg.Tensor)


@pytest.mark.parametrize("op, args", [("expand_dims", (-1,)), ("reshape", ((-1, 1),)), ("expand_dims", (0,))])
def test_symbolic_shape_of_string_inputs_is_keras_s(op, args):
    theirs = getattr(keras.ops, op)(keras.Input(shape=(), dtype="string"), *args)
    ours = getattr(dg.ops, op)(dg.layers.Input(shape=(), dtype="string"), *args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert dg.backend.standardize_dtype(ours.dtype) == "string" == keras.backend.standardize_dtype(theirs.dtype)


def test_string_input_expanded_into_lookup_in_a_functional_model():
    # the wide/deep pattern: Input(shape=(), dtype="string") -> expand_dims -> StringLookup(binary),
    # concatenated with an expanded float column
    vocab = ["area_1", "area_2", "area_3"]
    text = dg.layers.Input(name="area", shape=(), dtype="string")
    number = dg.layers.Input(name="slope", shape=(), dtype="float32")
    lookup = dg.layers.StringLookup(vocabulary=vocab, mask_token=None, num_oov_indices=0, output_mode="binary")
    joined = dg.layers.concatenate([lookup(dg.ops.expand_dims(text, -1)), dg.ops.expand_dims(number, -1)])
    assert tuple(joined.shape) == (None, 4)
    model = dg.Model({"area": text, "slope": number}, joined)
    out = np.asarray(model({"area": np.array(["area_3", "area_1"]), "slope": np.array([0.5, 2.0], "float32")}))
    np.testing.assert_array_equal(out, [[0, 0, 1, 0.5], [1, 0, 0, 2.0]])


# ----------------------------------------------------------------- tf.lookup's static tables
def test_static_hash_table_maps_keys_elementwise_with_a_default():
    keys = ["movie_3", "movie_1", "movie_7", "movie_2"]
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, [0, 0, 1, 2]), default_value=-1)
    assert (table.key_dtype, table.value_dtype) == ("string", "int32")
    queries = np.array([["movie_7", "movie_9"], ["movie_1", "movie_2"], ["", "movie_3"]])
    out = table.lookup(queries)
    assert isinstance(out, dg.Tensor) and out.dtype == np.int32 and out.shape == (3, 2)
    np.testing.assert_array_equal(out.numpy(), [[1, -1], [0, 2], [-1, 0]])
    # TF hands text as UTF-8 bytes; they look up the same keys
    np.testing.assert_array_equal(table.lookup(np.array([b"movie_2", b"x"], dtype=object)).numpy(), [2, -1])
    np.testing.assert_array_equal(table[np.array(["movie_3"])].numpy(), [0])
    assert int(table.size().numpy()) == 4
    exported_keys, exported_values = table.export()
    assert sorted(zip(exported_keys.tolist(), exported_values.numpy().tolist())) == sorted(zip(keys, [0, 0, 1, 2]))


def test_static_hash_table_with_integer_keys_and_float_values():
    init = tf.lookup.KeyValueTensorInitializer(np.array([10, 20, 30], "int64"), [0.5, 1.5, 2.5])
    table = tf.lookup.StaticHashTable(init, default_value=0.0)
    assert (table.key_dtype, table.value_dtype) == ("int64", "float32")
    out = table.lookup(tf.constant(np.array([30, 11, 10], "int64")))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [2.5, 0.0, 0.5])
    with pytest.raises(TypeError, match="keys are int64"):
        table.lookup(np.array(["a"]))
    with pytest.raises(ValueError, match="two different values"):
        tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a", "a"], [1, 2]), -1)
    with pytest.raises(ValueError, match="pair up"):
        tf.lookup.KeyValueTensorInitializer(["a", "b"], [1])


# ----------------------------------------------------------------- custom layers on string inputs
class _GroupEmbedding(dg.layers.Layer):
    """Text -> index (StringLookup with no OOV index) -> quotient/remainder embeddings, and a
    static table's group number used as a mask, as the memory-efficient embedding recipe does."""

    def __init__(self, vocabulary, groups, **kwargs):
        super().__init__(**kwargs)
        self.lookup = dg.layers.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0)
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(vocabulary, groups), -1)
        self.q = dg.layers.Embedding(3, 4)
        self.r = dg.layers.Embedding(3, 4)

    def call(self, inputs):
        index = self.lookup(inputs)
        group = tf.cast(self.table.lookup(inputs) == 1, "float32")
        return self.q(tf.math.floordiv(index, 3)) * self.r(tf.math.floormod(index, 3)) * tf.expand_dims(group, 1)


def test_custom_layer_on_a_string_input_is_traced_with_text():
    vocab = [f"user_{i}" for i in range(9)]
    dg.utils.set_random_seed(0)
    inputs = dg.layers.Input(shape=(), dtype=tf.string)
    layer = _GroupEmbedding(vocab, [0, 1] * 4 + [1])
    out = layer(inputs)
    assert tuple(out.shape) == (None, 4)
    model = dg.Model(inputs, dg.layers.Dense(1)(out))
    assert model.count_params() == 2 * 3 * 4 + 5
    x = np.array(["user_8", "user_1", "user_0"])
    got = np.asarray(layer(x))
    index = np.array([8, 1, 0])
    q, r = (w.numpy() for w in layer.weights)
    expected = q[index // 3] * r[index % 3] * np.array([[1], [1], [0]])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the placeholder text of the trace is out of the vocabulary; real data still is checked
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layer(np.array(["user_99"]))
    assert model.predict(x, verbose=0).shape == (3, 1)


# ----------------------------------------------------------------- layers written for Keras 3
@pytest.mark.parametrize("framework", [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")])
def test_build_without_a_shape_parameter_is_called_with_none(framework):
    # ``def build(self): self.built = True`` (the GRN/VSN example's way to silence build warnings)
    class Scaled(framework.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = framework.layers.Dense(3, kernel_initializer="ones")
            self.calls = 0

        def build(self):
            self.calls += 1
            self.built = True

        def call(self, inputs):
            return self.dense(inputs) * 2.0

    layer = Scaled()
    out = framework.ops.convert_to_numpy(layer(np.ones((2, 4), "float32")))
    np.testing.assert_allclose(out, np.full((2, 3), 8.0))
    assert layer.calls == 1 and layer.built
    symbolic = Scaled()(framework.Input(shape=(5,)))
    assert tuple(symbolic.shape) == (None, 3)


def test_layer_whose_call_returns_none_is_named_in_the_error():
    class Forgetful(dg.layers.Layer):
        def call(self, inputs):
            inputs["a"] * 2  # no return

    with pytest.raises(TypeError, match="'forgetful'.*returned None"):
        Forgetful(name="forgetful")({"a": dg.Input(shape=(2,))})


def test_tf_cast_to_string_keeps_text_and_refuses_numbers():
    text = np.array(["4", " Private"])
    assert tf.cast(text, "string") is text and tf.cast(text, tf.string) is text
    with pytest.raises(TypeError, match="int64 to string"):
        tf.cast(np.array([1, 2], "int64"), "string")
    np.testing.assert_array_equal(tf.cast(np.array([1.7, -2.2]), "int32").numpy(), [1, -2])


# ----------------------------------------------------------------- tf.strings on batches (ragged results)
def test_split_of_a_batch_is_ragged_and_pads_into_a_tensor():
    # the sequence recommender's parsing: "movie_1,movie_7,movie_3" per row -> ids and targets
    batch = np.array(["movie_1,movie_7,movie_3", "movie_2,movie_5"])
    ids = tf.strings.split(batch, ",")
    assert isinstance(ids, tf.RaggedTensor) and ids.shape == (2, None)
    assert ids.to_list() == [["movie_1", "movie_7", "movie_3"], ["movie_2", "movie_5"]]
    dense = ids.to_tensor()
    np.testing.assert_array_equal(dense[:, -1], ["movie_3", ""])
    ratings = tf.strings.to_number(tf.strings.split(np.array(["4.0,3.5,1", "2"]), ","), tf.dtypes.float32)
    assert isinstance(ratings, tf.RaggedTensor)
    padded = ratings.to_tensor()
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded.numpy(), [[4.0, 3.5, 1.0], [2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(np.asarray(tf.strings.split(np.array(["a b", "c d"]))), [["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="rank 0 or 1"):
        tf.strings.split(np.array([["a b"]]))


# ----------------------------------------------------------------- FeatureSpace on examples, saved and loaded
def _bank_rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"age": rng.integers(18, 90, n), "job": rng.choice(["admin.", "technician", "retired"], n),
            "pdays": np.where(rng.random(n) < 0.7, 999, rng.integers(0, 20, n)),
            "euribor3m": rng.uniform(0.6, 5.0, n), "housing": rng.choice(["yes", "no"], n)}


def test_feature_space_adapts_to_a_dataset_of_single_examples_and_returns_tensors():
    rows = _bank_rows()
    space = dg.utils.FeatureSpace(features={"pdays": dg.utils.FeatureSpace.integer_hashed(num_bins=4,
                                                                                         output_mode="one_hot"),
                                            "euribor3m": dg.utils.FeatureSpace.float_normalized()},
                                  output_mode="dict")
    space.adapt(tf.data.Dataset.from_tensor_slices(rows))  # unbatched: one example per element
    normalizer = space.preprocessors["euribor3m"]
    np.testing.assert_allclose(np.asarray(normalizer.mean).ravel(), [rows["euribor3m"].mean()], rtol=1e-5)
    out = space({"pdays": rows["pdays"][:1][0], "euribor3m": rows["euribor3m"][:1][0]})
    assert isinstance(out["pdays"], dg.Tensor) and out["pdays"].shape == (4,) and out["pdays"].numpy().sum() == 1
    np.testing.assert_allclose(out["euribor3m"].numpy(), (rows["euribor3m"][:1] - rows["euribor3m"].mean())
                               / rows["euribor3m"].std(), rtol=1e-4)


def test_feature_space_saved_as_keras_file_loads_and_encodes_the_same(tmp_path):
    rows = _bank_rows()
    fs = dg.utils.FeatureSpace
    space = fs(features={"age": fs.float_discretized(num_bins=3), "job": fs.string_categorical(num_oov_indices=0),
                         "housing": fs.string_categorical(num_oov_indices=0), "pdays": fs.integer_hashed(num_bins=4),
                         "euribor3m": fs.float_normalized()},
               crosses=[fs.cross(feature_names=("job", "housing"), crossing_dim=5)], output_mode="concat")
    space.adapt(tf.data.Dataset.from_tensor_slices(rows).batch(16))
    expected = space(rows).numpy()
    assert expected.shape == (40, 3 + 3 + 2 + 4 + 1 + 5)
    path = str(tmp_path / "space.keras")
    space.save(path)
    loaded = dg.saving.load_model(path)
    assert type(loaded) is fs
    np.testing.assert_allclose(loaded(rows).numpy(), expected, rtol=1e-6)
    # the end-to-end inference model of the loaded space, on one raw example
    encoded = loaded.get_encoded_features()
    assert tuple(encoded.shape) == (None, 18)
    model = dg.Model(loaded.get_inputs(), dg.layers.Dense(1, kernel_initializer="ones")(encoded))
    one = {k: dg.ops.convert_to_tensor([v[3]]) for k, v in rows.items()}
    np.testing.assert_allclose(model.predict(one, verbose=0).ravel(), [expected[3].sum()], rtol=1e-5)
    assert "dtype=string" in repr(loaded.get_inputs()["job"])


# ----------------------------------------------------------------- Lambda feature engineering on text
def test_lambda_layers_on_a_string_input_keep_its_shape():
    thal = dg.Input(shape=(1,), name="thal", dtype=tf.string)
    age = dg.Input(shape=(1,), name="age", dtype="float32")
    fixed = dg.layers.Lambda(lambda x: tf.cast(x == "fixed", dtype=tf.float32), name="is_fixed")(thal)
    ratio = dg.layers.Lambda(lambda x: x[0] / x[1], name="ratio")((age, age))  # 0 / 0 in the trace: no warning
    assert tuple(fixed.shape) == (None, 1) and tuple(ratio.shape) == (None, 1)
    model = dg.Model({"thal": thal, "age": age}, dg.layers.concatenate([fixed, ratio]))
    out = model.predict({"thal": np.array([["fixed"], ["normal"], ["fixed"]]),
                         "age": np.array([[50.0], [60.0], [2.0]], "float32")}, verbose=0)
    np.testing.assert_array_equal(out, [[1, 1], [0, 1], [1, 1]])


@pytest.mark.parametrize("framework", [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")])
def test_plot_model_refuses_unknown_arguments(framework, tmp_path):
    model = framework.Sequential([framework.Input((3,)), framework.layers.Dense(2)])
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        framework.utils.plot_model(model, input_layer_graph=str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="layer_range"):
        framework.utils.plot_model(model, to_file=str(tmp_path / "x.png"), layer_range=["a", "b"])


@pytest.mark.parametrize("name", ["Concatenate", "Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_merge_of_a_single_input_is_that_input(name):
    # a preprocessing dict with one feature gives ``layers.concatenate([x])``, which Keras 3 accepts
    x = np.arange(6, dtype="float32").reshape(2, 3)
    theirs = keras.ops.convert_to_numpy(getattr(keras.layers, name)()([x]))
    ours = np.asarray(getattr(dg.layers, name)()([x]))
    np.testing.assert_array_equal(ours, theirs)
    assert tuple(getattr(dg.layers, name)()([dg.Input((3,))]).shape) == (None, 3)
    for pair_only in ("Subtract", "Dot"):
        with pytest.raises(ValueError, match="2 inputs"):
            (getattr(dg.layers, pair_only)(axes=1) if pair_only == "Dot" else dg.layers.Subtract())([x])


# ----------------------------------------------------------------- metrics of rank-1 targets
@pytest.mark.parametrize("framework", [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")])
def test_regression_metrics_of_rank_1_targets_average_per_sample(framework):
    # the Boston housing regression: y of shape (N,) against predictions (N, 1), batches of 32 and
    # a short last one; the metrics' mean is over samples, so mse equals the loss
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(152, 13)), rng.normal(size=152) * 5
    model = framework.Sequential([framework.Input((13,)), framework.layers.Dense(1, kernel_initializer="ones")])
    model.compile(loss="mse", optimizer="adam", metrics=["mae", "mse"])
    loss, mae, mse = model.evaluate(x, y, batch_size=32, verbose=0)
    pred = x.sum(axis=1)
    np.testing.assert_allclose([loss, mae, mse], [np.mean((pred - y) ** 2), np.mean(np.abs(pred - y)),
                                                  np.mean((pred - y) ** 2)], rtol=1e-5)
    metric = framework.metrics.MeanAbsoluteError()
    metric.update_state(y[:4], pred[:4, None])
    np.testing.assert_allclose(float(metric.result()), np.mean(np.abs(pred[:4] - y[:4])), rtol=1e-6)


@pytest.mark.parametrize("framework", [pytest.param(keras, id="keras"), pytest.param(dg, id="deepgrad")])
def test_symbolic_call_with_a_plain_object_argument(framework):
    # the tuned GRN's ``grn(v, hp=hp)``: a non-tensor keyword argument reaches call() in the trace
    # and again whenever the model runs
    class Choices:
        def Boolean(self, name, default=False):
            return default

    class Gated(framework.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = framework.layers.Dense(4, kernel_initializer="ones")
            self.norm = framework.layers.LayerNormalization()

        def call(self, inputs, hp):
            x = self.dense(inputs)
            return self.norm(x) if hp.Boolean("use_layernorm", default=True) else x * 2.0

    inputs = framework.Input((3,))
    out = Gated()(inputs, hp=Choices())
    assert tuple(out.shape) == (None, 4)
    model = framework.Model(inputs, out)
    x = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], "float32")
    np.testing.assert_allclose(framework.ops.convert_to_numpy(model(x)), np.zeros((2, 4)), atol=1e-3)


def test_string_dtype_names_and_promotion_follow_keras():
    from keras.src.backend.common.dtypes import result_type as keras_result_type
    for dtype in ("string", np.dtype(object), np.array(["a"]).dtype):
        assert dg.backend.standardize_dtype(dtype) == "string"
    assert dg.ops.dtype(np.array(["oak", "ash"])) == "string"
    assert dg.backend.result_type("string", "string") == keras_result_type("string", "string") == "string"
    for framework_result_type in (dg.backend.result_type, keras_result_type):
        with pytest.raises(ValueError, match="string"):
            framework_result_type("string", "float32")
    text = np.array(["fixed", "normal"])
    assert dg.ops.cast(text, "string") is text
    with pytest.raises(TypeError, match="to 'string'"):
        dg.ops.cast(np.array([1.0]), "string")
