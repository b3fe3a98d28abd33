"""The seeds' models built in Keras and in deepgrad: same parameter counts, same predictions on the same weights."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy


def seed_001(L):
    return [L.Conv2D(32, (3, 3), activation="relu", input_shape=(224, 224, 3)), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(128, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]


def seed_002(L):
    return [L.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(32, 32, 3)),
            L.MaxPooling2D(pool_size=(2, 2)), L.Dropout(0.25),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"), L.MaxPooling2D(pool_size=(2, 2)), L.Dropout(0.25),
            L.Flatten(), L.Dense(64, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")]


def seed_003(L):
    return [L.Dense(128, activation="relu", input_shape=(784,)), L.Dense(10, activation="softmax")]


def seed_004(L):
    return [L.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(pool_size=(2, 2)), L.Flatten(), L.Dense(128, activation="relu"),
            L.Dense(10, activation="softmax")]


SEEDS = [(seed_001, 11_170_250, 1), (seed_002, 167_562, 4), (seed_003, 101_770, 8), (seed_004, 693_962, 4)]


@pytest.mark.filterwarnings("ignore")  # Keras warns that input_shape= in a layer is legacy
@pytest.mark.parametrize("build, params, batch", SEEDS, ids=["seed_001", "seed_002", "seed_003", "seed_004"])
def test_seed_model(build, params, batch):
    k_model = keras.Sequential(build(keras.layers))
    d_model = dg.Sequential(build(dg.layers))
    assert k_model.count_params() == params
    assert d_model.count_params() == params
    k_weights = k_model.get_weights()
    assert [w.shape for w in d_model.get_weights()] == [w.shape for w in k_weights]
    d_model.set_weights(k_weights)
    x = np.random.default_rng(0).random((batch,) + tuple(k_model.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(d_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert d_model.output_shape == k_model.output_shape


def test_functional_model_with_merges():
    def build(K, L):
        image = K.Input((8, 8, 2), name="image")
        seq = K.Input((5, 3), name="seq")
        a = L.Conv2D(4, 3, padding="same", activation="relu")(image)
        a = L.BatchNormalization()(a)
        a = L.GlobalAveragePooling2D()(a)
        b = L.LSTM(4)(seq)
        merged = L.Concatenate()([a, b, L.Add()([a, b]), L.Multiply()([a, b])])
        out = L.Dense(3, activation="softmax")(L.LayerNormalization()(merged))
        return K.Model([image, seq], out)

    k_model, d_model = build(keras, keras.layers), build(dg, dg.layers)
    assert d_model.count_params() == k_model.count_params()
    d_model.set_weights(k_model.get_weights())
    rng = np.random.default_rng(0)
    x = [rng.random((3, 8, 8, 2)).astype("float32"), rng.random((3, 5, 3)).astype("float32")]
    np.testing.assert_allclose(d_model.predict(x, verbose=0), to_numpy(k_model(x)), rtol=1e-5, atol=1e-6)


def test_sequential_text_model():
    def build(K, L):
        return K.Sequential([K.Input((6,), dtype="int32"), L.Embedding(20, 4, mask_zero=True),
                             L.Bidirectional(L.GRU(3, return_sequences=True)), L.TimeDistributed(L.Dense(2)),
                             L.Flatten(), L.RepeatVector(2), L.SimpleRNN(3), L.Dense(1, activation="sigmoid")])

    k_model, d_model = build(keras, keras.layers), build(dg, dg.layers)
    assert d_model.count_params() == k_model.count_params()
    d_model.set_weights(k_model.get_weights())
    ids = np.array([[1, 5, 3, 0, 0, 0], [7, 2, 9, 4, 1, 3], [0, 0, 0, 0, 0, 0]], dtype="int32")
    ids[2, 0] = 4
    np.testing.assert_allclose(d_model.predict(ids, verbose=0), to_numpy(k_model(ids)), rtol=1e-5, atol=1e-6)


def summary_rows(model):
    """(output shape, param count) per layer row, and the three totals lines, from model.summary()."""
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.extend(str(line).splitlines()))
    rows = []
    for line in lines:
        fields = [f.strip() for f in line.split("│")[1:-1]]
        if len(fields) >= 3 and fields[-1]:
            rows.append((fields[1], fields[2]) if len(fields) == 3 else tuple(fields[1:]))
    totals = [line.split("(")[0].strip() for line in lines if "params:" in line]
    return rows, totals


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("build", [seed_002, seed_004], ids=["seed_002", "seed_004"])
def test_summary_matches_keras(build):
    k_rows, k_totals = summary_rows(keras.Sequential(build(keras.layers)))
    d_rows, d_totals = summary_rows(dg.Sequential(build(dg.layers)))
    assert d_rows == k_rows
    assert d_totals == k_totals and len(k_totals) == 3


def test_summary_counts_non_trainable_weights():
    def build(K):
        L = K.layers
        return K.Sequential([K.Input((5, 4)), L.LSTM(6, return_sequences=True), L.LayerNormalization(),
                             L.GRU(3), L.BatchNormalization(), L.Dense(2)])

    k_rows, k_totals = summary_rows(build(keras))
    d_rows, d_totals = summary_rows(build(dg))
    assert d_rows == k_rows
    assert d_totals == k_totals
