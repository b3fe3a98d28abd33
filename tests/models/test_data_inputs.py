"""fit/evaluate/predict on a torch DataLoader and on pandas objects train exactly as on the
same NumPy arrays, and refuse what Keras refuses for them."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import deepgrad as dg
from deepgrad import layers, optimizers
from deepgrad.models import data_adapter as da


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype("int64")
    return x, y


def _model():
    dg.utils.set_random_seed(3)
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit_weights(*args, **kwargs):
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(*args, verbose=0, **kwargs)
    return model, history


def _same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert not np.allclose(a.get_weights()[0], _model().get_weights()[0])  # it did train


# ----------------------------------------------------------------- torch DataLoader
def _loader(x, y, batch_size=8, **kwargs):
    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size, **kwargs)


def test_fit_on_a_dataloader_equals_fit_on_the_arrays():
    x, y = _data(44)
    arrays, _ = _fit_weights(x, y, batch_size=8, epochs=3, shuffle=False)
    loader, history = _fit_weights(_loader(x, y), epochs=3)
    _same_weights(arrays, loader)
    assert len(history.history["loss"]) == 3
    # evaluate and predict read it too, batch by batch, with the last partial batch
    np.testing.assert_allclose(loader.evaluate(_loader(x, y), verbose=0), loader.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(loader.predict(_loader(x, y, batch_size=5), verbose=0),
                               loader.predict(x, verbose=0), rtol=1e-6)
    assert loader.predict(DataLoader(torch.from_numpy(x), batch_size=16), verbose=0).shape == (44, 2)


def test_dataloader_as_validation_data_and_steps_per_epoch_continue_across_epochs():
    x, y = _data(48)
    vx, vy = _data(16, seed=1)
    _, h_arrays = _fit_weights(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(vx, vy))
    _, h_loader = _fit_weights(_loader(x, y), epochs=2, validation_data=_loader(vx, vy))
    np.testing.assert_allclose(h_arrays.history["val_loss"], h_loader.history["val_loss"], rtol=1e-6)
    # 6 batches, 2 per epoch over 3 epochs: the same 6 updates as one epoch over all of them
    one_epoch, _ = _fit_weights(x, y, batch_size=8, epochs=1, shuffle=False)
    three, _ = _fit_weights(_loader(x, y), epochs=3, steps_per_epoch=2)
    _same_weights(one_epoch, three)


def test_dataloader_refuses_what_keras_refuses():
    x, y = _data(16)
    model = _model()
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(_loader(x, y), y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weights` should not be passed"):
        model.fit(_loader(x, y), sample_weight=np.ones(16), verbose=0)
    with pytest.raises(ValueError, match="class_weight` is not supported for torch DataLoader"):
        model.fit(_loader(x, y), class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="validation_split` is only supported for tensors or NumPy arrays"):
        model.fit(_loader(x, y), validation_split=0.25, verbose=0)
    with pytest.warns(UserWarning, match="shuffle=True` was passed, but will be ignored"):
        model.fit(_loader(x, y), epochs=1, verbose=0)


def test_torch_is_detected_by_module_name_only():
    class DataLoader:  # a class of that name elsewhere is not torch's
        pass
    assert not da.is_torch_dataloader(DataLoader())
    assert da.is_torch_dataloader(_loader(*_data(8)))
    assert da.stream_batches(da.DataSpec("m", ("o",)), np.zeros((3, 2))) is None


# ----------------------------------------------------------------- pandas
def test_fit_on_a_dataframe_and_series_equals_fit_on_the_arrays():
    x, y = _data(40)
    frame = pd.DataFrame(x.astype("float64"), columns=["a", "b", "c"])
    series = pd.Series(y, name="label")
    arrays, h_arrays = _fit_weights(x, y, batch_size=8, epochs=2, validation_split=0.25)
    pandas, h_pandas = _fit_weights(frame, series, batch_size=8, epochs=2, validation_split=0.25)
    _same_weights(arrays, pandas)   # shuffled the same way: the same seed, the same rows
    np.testing.assert_allclose(h_arrays.history["val_loss"], h_pandas.history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose(pandas.predict(frame, verbose=0), pandas.predict(x, verbose=0), rtol=1e-6)
    assert pandas.predict(frame, verbose=0).dtype == np.float32
    np.testing.assert_allclose(pandas.evaluate(frame, series, verbose=0), pandas.evaluate(x, y, verbose=0),
                               rtol=1e-6)


def test_class_weight_and_a_series_of_sample_weights_apply_to_pandas_as_to_arrays():
    x, y = _data(40)
    w = np.linspace(0.5, 1.5, 40).astype("float32")
    cw = {0: 1.0, 1: 3.0}
    arrays, _ = _fit_weights(x, y, sample_weight=w, class_weight=cw, batch_size=8, epochs=2)
    pandas, _ = _fit_weights(pd.DataFrame(x), pd.Series(y), sample_weight=pd.Series(w), class_weight=cw,
                             batch_size=8, epochs=2)
    _same_weights(arrays, pandas)


# ----------------------------------------------------------------- input ranks
def test_a_missing_or_extra_last_axis_of_one_is_adjusted_as_keras_does():
    x, y = _data(40)
    dg.utils.set_random_seed(3)
    inputs = {"a": layers.Input(shape=(1,), name="a"), "b": layers.Input(shape=(2,), name="b")}
    merged = layers.Concatenate()([inputs["a"], inputs["b"]])
    model = dg.Model(inputs, layers.Dense(2, activation="softmax")(merged))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    columns = {"a": x[:, 0:1], "b": x[:, 1:]}
    flat = {"a": x[:, 0], "b": x[:, 1:]}                      # rank 1 for an input declared (None, 1)
    np.testing.assert_allclose(model.predict(flat, verbose=0), model.predict(columns, verbose=0))
    np.testing.assert_allclose(model.evaluate(flat, y, verbose=0), model.evaluate(columns, y, verbose=0))
    extra = {"a": x[:, 0:1, None], "b": x[:, 1:]}           # an extra last axis of 1
    np.testing.assert_allclose(model.predict(extra, verbose=0), model.predict(columns, verbose=0))
    with pytest.raises(ValueError, match=r"input 'b' expects samples of shape \(2,\)"):
        model.predict({"a": x[:, 0], "b": x[:, 1]}, verbose=0)  # (None, 2) cannot come from rank 1
