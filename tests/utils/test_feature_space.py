"""FeatureSpace: each feature type encoded as its preprocessor layer encodes it, columns in
Keras's order (features by name, then crosses), concat and dict outputs, errors."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.utils import FeatureSpace


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 60
    return {"age": rng.uniform(20, 70, n).astype("float32"), "city": rng.choice(["paris", "rome", "oslo"], n),
            "code": rng.integers(0, 4, n), "score": rng.normal(3.0, 2.0, n).astype("float32"),
            "plain": rng.normal(size=n).astype("float32"), "tag": rng.choice(["x", "y"], n)}


def _one_hot(indices, width):
    return np.eye(width, dtype="float32")[np.asarray(indices).reshape(-1)]


def test_concat_is_every_encoding_in_kerass_order(data):
    space = FeatureSpace(features={"age": "float_discretized", "city": "string_categorical",
                                   "code": "integer_categorical", "score": "float_normalized", "plain": "float",
                                   "tag": "string_hashed"},
                         crosses=[("city", "code")], crossing_dim=8, hashing_dim=3, num_discretization_bins=4)
    space.adapt(data)
    out = space(data)
    assert out.dtype == np.float32 and out.shape == (60, 4 + 4 + 5 + 1 + 1 + 3 + 8)
    pre = space.preprocessors
    column = {k: np.asarray(v).reshape(-1, 1) for k, v in data.items()}
    index = {k: np.asarray(pre[k](column[k]).data) for k in ("age", "city", "code", "tag")}
    cross = np.asarray(space.crossers["city_X_code"]([index["city"], index["code"]]).data)
    expected = np.concatenate([
        _one_hot(index["age"], 4),                        # age: 4 quantile bins
        _one_hot(index["city"], 4),                       # city: OOV + 3 cities
        _one_hot(index["code"], 5),                       # code: OOV + 4 codes
        column["plain"],                                  # plain: as it is
        (column["score"] - data["score"].mean()) / data["score"].std(),   # score: standardised
        _one_hot(index["tag"], 3),                        # tag: hashed into 3 bins
        _one_hot(cross, 8),                               # city x code: hashed into 8 bins
    ], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    # the lookups learnt the vocabularies; every row has one 1 per one-hot block
    assert sorted(pre["city"].get_vocabulary()[1:]) == ["oslo", "paris", "rome"]
    assert np.all(out[:, 4:8].sum(axis=1) == 1)
    # one sample of scalars gives one encoded vector
    single = space({k: v[3] for k, v in data.items()})
    np.testing.assert_allclose(single, out[3], rtol=1e-5, atol=1e-5)
    encoded = space.get_encoded_features()
    assert encoded.shape == (None, out.shape[1])
    assert set(space.get_inputs()) == set(data) and space.get_inputs()["city"].dtype == object


def test_dict_output_int_mode_and_rescaled(data):
    space = FeatureSpace(features={"code": FeatureSpace.integer_categorical(output_mode="int"),
                                   "plain": FeatureSpace.float_rescaled(scale=2.0, offset=1.0),
                                   "age": FeatureSpace.float_discretized(num_bins=3, bin_boundaries=[30.0, 50.0])},
                         output_mode="dict")
    space.adapt(data)
    out = space(data)
    assert list(out) == ["age", "code", "plain"]
    np.testing.assert_allclose(out["plain"], 2.0 * data["plain"][:, None] + 1.0, rtol=1e-6)
    np.testing.assert_array_equal(out["age"], _one_hot(np.digitize(data["age"], [30.0, 50.0]), 3))
    assert out["code"].dtype.kind == "i" and out["code"].shape == (60, 1)


def test_errors_and_config(data):
    with pytest.raises(ValueError, match="cannot be None or empty"):
        FeatureSpace(features={})
    with pytest.raises(ValueError, match="invalid feature type 'colour'"):
        FeatureSpace(features={"a": "colour"})
    with pytest.raises(ValueError, match="unknown features"):
        FeatureSpace(features={"a": "float"}, crosses=[("a", "b")])
    space = FeatureSpace(features={"city": "string_categorical"})
    with pytest.raises(ValueError, match=r"call \.adapt\(dataset\)"):
        space(data)
    with pytest.raises(ValueError, match="Cannot concatenate"):
        FeatureSpace(features={"code": FeatureSpace.integer_hashed(4, output_mode="int")})({"code": [1, 2]})
    plain = FeatureSpace(features={"plain": "float", "tag": "string_hashed"}, hashing_dim=4)
    np.testing.assert_array_equal(plain({"plain": [1.5], "tag": ["x"]})[:, 0], [1.5])  # nothing to adapt
    config = FeatureSpace(features={"age": "float_normalized", "tag": "string_hashed"}, crosses=[("age", "tag")],
                          hashing_dim=7).get_config()
    clone = FeatureSpace.from_config(config)
    assert clone.get_config()["crosses"] == config["crosses"] and clone.hashing_dim == 7
    assert type(clone.preprocessors["age"]) is dg.layers.Normalization
    assert clone.features["tag"].preprocessor.num_bins == 7


def test_adapt_takes_batches_and_feeds_a_model(data):
    space = FeatureSpace(features={"city": "string_categorical", "score": "float_normalized"})
    space.adapt([{k: data[k][i:i + 20] for k in ("city", "score")} for i in range(0, 60, 20)])
    x = space(data)
    y = (data["score"] > 3).astype("float32")
    inputs = space.get_encoded_features()
    model = dg.Model(inputs, dg.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(optimizer=dg.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=30, batch_size=20, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.9


def test_encoded_features_are_a_graph_from_the_raw_inputs(data):
    space = FeatureSpace(features={"age": "float_discretized", "city": "string_categorical", "code": "integer_categorical",
                                   "score": "float_normalized", "plain": "float"},
                         crosses=[("city", "code")], crossing_dim=8, num_discretization_bins=4)
    space.adapt(data)
    encoded = space.get_encoded_features()
    assert encoded is space.get_encoded_features() and encoded.shape == (None, 4 + 4 + 5 + 1 + 1 + 8)
    # the graph from the raw inputs computes exactly what calling the FeatureSpace computes
    raw = dg.Model(space.get_inputs(), encoded)
    np.testing.assert_allclose(raw.predict(data, verbose=0), space(data), rtol=1e-5, atol=1e-6)
    # a model trained on the encoded data, and the same layers served on raw data
    dg.utils.set_random_seed(0)
    hidden = dg.layers.Dense(8, activation="relu")(encoded)
    predictions = dg.layers.Dense(1, activation="sigmoid")(hidden)
    training_model = dg.Model(inputs=encoded, outputs=predictions)
    training_model.compile(optimizer=dg.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    inference_model = dg.Model(inputs=space.get_inputs(), outputs=predictions)
    y = ((data["score"] > 3) & (data["city"] != "oslo")).astype("float32")
    x = space(data)
    before = training_model.evaluate(x, y, verbose=0)[0]
    training_model.fit(x, y, epochs=30, batch_size=20, verbose=0)
    loss, accuracy = training_model.evaluate(x, y, verbose=0)
    assert loss < before and accuracy > 0.9
    np.testing.assert_allclose(inference_model.predict(data, verbose=0), training_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_encoded_features_as_a_dict():
    space = FeatureSpace(features={"a": "float", "b": FeatureSpace.integer_categorical(num_oov_indices=0)},
                         output_mode="dict")
    columns = {"a": np.array([0.5, 1.5, 2.5], "float32"), "b": np.array([3, 1, 3])}
    space.adapt(columns)
    encoded = space.get_encoded_features()
    assert sorted(encoded) == ["a", "b"] and encoded["b"].shape == (None, 2)
    out = dg.Model(space.get_inputs(), encoded).predict(columns, verbose=0)
    np.testing.assert_allclose(out["a"], space(columns)["a"])
    np.testing.assert_allclose(out["b"], space(columns)["b"])
