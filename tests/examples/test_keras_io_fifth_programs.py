"""Patterns of the Keras documentation's time series, text and generative examples (keras-team/
keras-io: an EEG transformer built under ``set_image_data_format("channels_first")``, stock
windows from TF-Keras's ``TimeseriesGenerator``, fraud events resampled with tf.data's
``rejection_resample``, top-k sampling from mixed-precision logits, ...), written here in small
form and checked against Keras 3 (torch backend) where Keras gives the number."""
import contextlib
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.preprocessing.sequence import TimeseriesGenerator  # noqa: E402


@contextlib.contextmanager
def _image_data_format(value):
    saved = (dg.backend.image_data_format(), keras.config.image_data_format())
    dg.backend.set_image_data_format(value)
    keras.config.set_image_data_format(value)
    try:
        yield
    finally:
        dg.backend.set_image_data_format(saved[0])
        keras.config.set_image_data_format(saved[1])


# ------------------------------------------------------------------ set_image_data_format
_LAYERS = [("Conv1D", (2, 1)), ("Conv2D", (2, 1)), ("Conv3D", (2, 1)), ("Conv2DTranspose", (2, 1)),
           ("DepthwiseConv2D", (1,)), ("SeparableConv1D", (2, 1)), ("Flatten", ()), ("ConvLSTM2D", (2, 1)),
           ("STFTSpectrogram", ()), ("RandomFlip", ()), ("Resizing", (2, 2)), ("MaxPooling2D", ()),
           ("UpSampling2D", ()), ("ZeroPadding2D", ()), ("SpatialDropout2D", (0.1,)),
           ("GlobalAveragePooling1D", ()), ("CenterCrop", (2, 2))]


@pytest.mark.parametrize("fmt", ["channels_first", "channels_last"])
def test_layers_given_no_data_format_take_the_global_image_data_format_as_keras(fmt):
    with _image_data_format(fmt):
        for name, args in _LAYERS:
            ours, theirs = getattr(layers, name)(*args), getattr(keras.layers, name)(*args)
            assert ours.data_format == theirs.data_format == fmt, name
        # a format given explicitly wins over the global one
        assert layers.Conv1D(2, 1, data_format="channels_last").data_format == "channels_last"


def test_a_channels_first_eeg_block_matches_keras():
    """rfft over the samples, a 1x1 Conv1D mixing the electrodes, LayerNorm, Flatten and Dense,
    all under the global channels_first format (the SSVEP transformer's first blocks)."""
    x = np.random.default_rng(0).normal(size=(3, 4, 32)).astype("float32")  # (batch, electrodes, samples)

    def build(lib):
        class Spectrum(lib.layers.Layer):
            def call(self, x):
                real, imag = lib.ops.rfft(x, fft_length=64)
                return lib.ops.concatenate((real[:, :, 2:12] / 32, imag[:, :, 2:12] / 32), axis=-1)

        return lib.Sequential([lib.Input((4, 32)), Spectrum(), lib.layers.Conv1D(8, 1, padding="same"),
                               lib.layers.LayerNormalization(), lib.layers.Conv1D(8, 3, padding="same"),
                               lib.layers.Flatten(), lib.layers.Dense(5)])

    with _image_data_format("channels_first"):
        ours, theirs = build(dg), build(keras)
        assert ours.layers[1].output.shape == (None, 8, 20)
        assert ours.count_params() == theirs.count_params()
        ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
        np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs(x)),
                                   rtol=1e-4, atol=1e-5)


def test_image_ops_given_no_data_format_take_the_global_one_but_tf_image_stays_nhwc():
    x = np.random.default_rng(1).uniform(size=(1, 3, 6, 4)).astype("float32")
    with _image_data_format("channels_first"):
        got = dg.ops.image.resize(x, (3, 2)).numpy()
        want = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (3, 2)))
        assert got.shape == want.shape == (1, 3, 3, 2)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        # TensorFlow's image functions read NHWC whatever Keras is set to
        nhwc = np.moveaxis(x, 1, -1)
        assert tf.image.resize(nhwc, (3, 2)).shape == (1, 3, 2, 3)
        assert np.isfinite(float(tf.image.ssim(nhwc[:, :, :4], nhwc[:, :, :4], 1.0, filter_size=3)[0]))


# --------------------------------------------------------------- loader datasets as tf.data
def test_timeseries_dataset_iterates_as_tf_data_with_tensors():
    data = np.arange(40, dtype="float32").reshape(20, 2)
    ds = tf.keras.preprocessing.timeseries_dataset_from_array(data, np.arange(20), sequence_length=4, batch_size=5)
    inputs, targets = next(iter(ds))
    assert isinstance(inputs, dg.Tensor) and inputs.numpy().shape == (5, 4, 2)
    np.testing.assert_array_equal(inputs.numpy()[1], data[1:5])
    np.testing.assert_array_equal(targets.numpy(), np.arange(5))
    batches = [x.numpy() for x, _ in ds]
    assert [b.shape[0] for b in batches] == [5, 5, 5, 2]  # 17 windows
    # a shuffled loader (the directory loaders) gives a new order on each pass, as a new epoch does
    from deepgrad.preprocessing.dataset_utils import BatchDataset

    shuffled = BatchDataset((np.arange(30),), batch_size=30, shuffle=True, seed=3)
    orders = [np.concatenate([b.numpy() for b in shuffled]) for _ in range(3)]
    assert sorted(orders[1]) == list(range(30))
    assert not np.array_equal(orders[1], orders[2]) and not np.array_equal(orders[0], orders[1])


# ------------------------------------------------------------------- TimeseriesGenerator
def test_timeseries_generator_windows_and_targets():
    data, targets = np.arange(20) * 10, np.arange(20)
    gen = TimeseriesGenerator(data, targets, length=3, batch_size=4)
    # samples at rows 3..19, 17 of them: batches of 4, 4, 4, 4, 1
    assert len(gen) == 5
    x, y = gen[0]
    np.testing.assert_array_equal(x, [[0, 10, 20], [10, 20, 30], [20, 30, 40], [30, 40, 50]])
    np.testing.assert_array_equal(y, [3, 4, 5, 6])
    np.testing.assert_array_equal(gen[4][1], [19])
    # sampling_rate, stride, start_index, end_index and reverse
    gen = TimeseriesGenerator(data, targets, length=4, sampling_rate=2, stride=3, start_index=1, end_index=15,
                              reverse=True, batch_size=2)
    rows = list(range(5, 16, 3))  # 5, 8, 11, 14
    assert len(gen) == 2
    x, y = gen[0]
    np.testing.assert_array_equal(y, rows[:2])
    np.testing.assert_array_equal(x, [data[r - 4:r:2][::-1] for r in rows[:2]])
    np.testing.assert_array_equal(gen[1][1], rows[2:])
    # shuffle draws batch_size rows from the whole range
    gen = TimeseriesGenerator(data, targets, length=2, shuffle=True, batch_size=6)
    x, y = gen[0]
    assert x.shape == (6, 2) and set(y) <= set(range(2, 20))
    np.testing.assert_array_equal(x[:, 1], (y - 1) * 10)
    with pytest.raises(ValueError, match="same length"):
        TimeseriesGenerator(data, targets[:-1], length=2)
    with pytest.raises(ValueError, match="end_index"):
        TimeseriesGenerator(data, targets, length=10, end_index=8)
    assert tf.keras.preprocessing.sequence.TimeseriesGenerator is TimeseriesGenerator
    assert isinstance(gen, dg.utils.PyDataset)


def test_a_stock_lstm_trains_on_a_timeseries_generator():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3)).astype("float32")
    train = TimeseriesGenerator(features, features[:, 0], length=5, batch_size=8)
    model = tf.keras.Sequential([tf.keras.layers.LSTM(8, input_shape=(5, 3), return_sequences=True),
                                 tf.keras.layers.LeakyReLU(alpha=0.5), tf.keras.layers.LSTM(4),
                                 tf.keras.layers.Dense(1)])
    model.compile(loss=tf.losses.MeanSquaredError(), optimizer=tf.optimizers.Adam(0.01),
                  metrics=[tf.metrics.MeanAbsoluteError()])
    history = model.fit(train, epochs=3, validation_data=train, shuffle=False, verbose=0)
    assert set(history.history) == {"loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"}
    assert model.predict(train, verbose=0).shape == (55, 1)


# -------------------------------------------------------------------- rejection_resample
def _classes(ds):
    return np.array([int(c) for c, _ in ds])


def test_rejection_resample_with_initial_dist_reaches_the_target_shares():
    labels = (np.arange(6000) % 20 == 0).astype("int64")  # 5 % positives
    ds = tf.data.Dataset.from_tensor_slices({"x": np.arange(6000.0), "label": labels})
    out = ds.rejection_resample(lambda e: tf.cast(e["label"], tf.int32), target_dist=[0.8, 0.2],
                                initial_dist=[0.95, 0.05], seed=1)
    pairs = list(out)
    classes = np.array([int(c) for c, _ in pairs])
    assert abs(classes.mean() - 0.2) < 0.03
    # each pair is (class, element), the class as class_func gives it
    cls, element = pairs[0]
    assert cls.dtype == np.int32 and set(element) == {"x", "label"}
    assert all(int(c) == int(e["label"]) for c, e in pairs[:200])
    # a share m = min(target / initial) of the outputs comes from the data as it is, the rest from
    # the filtered pass, which here keeps the 300 positives only: it runs out after ~300 / (1 - m)
    m = 0.8 / 0.95
    assert 0.8 * 300 / (1 - m) < len(pairs) < 1.25 * 300 / (1 - m)
    # it goes on through the usual pipeline (the fraud example's map, batch, map)
    batched = out.map(lambda _, e: e).batch(32).map(lambda e: (e["x"], e["label"]))
    x, y = next(iter(batched))
    assert x.shape == (32,) and y.shape == (32,)


def test_rejection_resample_special_cases_and_checks():
    ds = tf.data.Dataset.from_tensor_slices(np.array([0, 1, 2, 1, 0, 2, 2, 1] * 50, "int64"))
    same = ds.rejection_resample(lambda c: c, target_dist=[0.3, 0.3, 0.4], initial_dist=[0.3, 0.3, 0.4], seed=0)
    # nothing to change: every element once, in order
    np.testing.assert_array_equal([int(e) for _, e in same], [0, 1, 2, 1, 0, 2, 2, 1] * 50)
    # a class given no share never comes out
    drop = ds.rejection_resample(lambda c: c, target_dist=[0.5, 0.5, 0.0], initial_dist=[0.25, 0.375, 0.375],
                                 seed=0)
    classes = _classes(drop)
    assert 2 not in classes and abs((classes == 0).mean() - 0.5) < 0.1
    # without initial_dist, the shares are estimated on the way
    est = _classes(ds.rejection_resample(lambda c: c, target_dist=[0.6, 0.2, 0.2], seed=0))
    assert abs((est == 0).mean() - 0.6) < 0.1
    with pytest.raises(ValueError, match="sum to 1"):
        ds.rejection_resample(lambda c: c, target_dist=[0.5, 0.6, 0.1])
    with pytest.raises(ValueError, match="3 classes"):
        list(tf.data.Dataset.from_tensor_slices(np.array([3])).rejection_resample(lambda c: c, [0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="int scalar"):
        list(tf.data.Dataset.from_tensor_slices(np.array([0.5])).rejection_resample(lambda c: c, [0.5, 0.5]))


def test_a_fraud_classifier_trains_on_resampled_event_dicts():
    rng = np.random.default_rng(2)
    names = ["sum_7", "count_7", "calendar_hour"]
    fraud = (rng.random(800) < 0.1).astype("int64")
    columns = {"TX_FRAUD": fraud, **{k: (rng.normal(size=800) + fraud).astype("float32") for k in names}}
    train = (tf.data.Dataset.from_tensor_slices(columns).shuffle(1000)
             .rejection_resample(class_func=lambda e: tf.cast(e["TX_FRAUD"], tf.int32), target_dist=[0.7, 0.3],
                                 initial_dist=[0.9, 0.1], seed=0)
             .map(lambda _, e: e).batch(16)
             .map(lambda e: ({k: e[k] for k in names}, tf.cast(e["TX_FRAUD"], tf.int32))))
    inputs = [dg.Input(shape=(1,), name=name) for name in names]
    x = dg.layers.Dense(4, activation="sigmoid")(dg.layers.concatenate(inputs))
    model = dg.Model(inputs, dg.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer=dg.optimizers.Adam(0.01), loss=dg.losses.BinaryCrossentropy(),
                  metrics=[dg.metrics.AUC()])
    history = model.fit(train, epochs=2, verbose=0)
    auc = [key for key in history.history if key.startswith("auc")]  # "auc_1" after other AUCs, as Keras names
    assert np.isfinite(history.history["loss"]).all() and len(auc) == 1 and 0 <= history.history[auc[0]][-1] <= 1


# --------------------------------------------------------------------- float16 softmax
def test_float16_softmax_is_computed_in_float32_and_rounded_once_as_keras():
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 8.0):
        logits = (rng.normal(size=(4, 10)) * scale).astype("float16")
        got = dg.activations.softmax(logits).numpy()
        want = keras.ops.convert_to_numpy(keras.activations.softmax(keras.ops.convert_to_tensor(logits)))
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, (np.exp(logits.astype("float32") - logits.max(-1, keepdims=True))
                                            / np.exp(logits.astype("float32") - logits.max(-1, keepdims=True))
                                            .sum(-1, keepdims=True)).astype("float16"))
        got = dg.ops.log_softmax(logits).numpy()
        want = keras.ops.convert_to_numpy(keras.ops.log_softmax(keras.ops.convert_to_tensor(logits)))
        assert got.dtype == np.float16
        np.testing.assert_allclose(got.astype("float32"), want.astype("float32"), rtol=1e-3, atol=2e-3)


def test_top_k_sampling_from_mixed_precision_logits_sums_to_one_for_numpy():
    """TopKTextGenerator's ``np.random.choice(indices, p=softmax(top_k logits))`` on float16."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        logits = rng.normal(size=(30,)).astype("float16")
        top, indices = tf.math.top_k(logits, k=10)
        preds = np.asarray(dg.activations.softmax(tf.expand_dims(top, 0))[0]).astype("float32")
        np.random.default_rng(0).choice(np.asarray(indices), p=preds)  # raises when the sum is off
    # the gradient of a float16 softmax stays float16
    x = dg.Variable(rng.normal(size=(2, 5)).astype("float16"))
    with tf.GradientTape() as tape:
        y = dg.ops.sum(dg.ops.softmax(x) * np.arange(5, dtype="float16"))
    assert tape.gradient(y, x).dtype == np.float16
