"""The data adapter: everything fit/evaluate/predict are given is prepared once, on one road,
and the trainer only iterates the ready batches."""
import numpy as np
import pytest
from model_helpers import separable_data

import deepgrad as dg
from deepgrad import layers, optimizers
from deepgrad.models import data_adapter as da

SPEC = da.DataSpec("m", ("output",), ("x",), ((None, 2),), False, (2,))


def _classifier():
    dg.backend.seed(0)
    model = dg.Sequential([layers.Input(shape=(2,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    return model


def test_fit_prepares_the_arrays_once_and_batches_are_views_of_them(monkeypatch):
    calls = []
    prepare = da.prepare

    def counting(*args, **kwargs):
        out = prepare(*args, **kwargs)
        calls.append(out)
        return out

    monkeypatch.setattr(da, "prepare", counting)
    x, y = separable_data(40)
    _classifier().fit(x.astype("float64"), y, batch_size=8, epochs=3, validation_split=0.25, verbose=0)
    assert len(calls) == 1   # three epochs, a training and a validation part: one preparation
    assert calls[0][0].dtype == np.float32

    train, _ = da.fit_batches(SPEC, x.astype("float64"), y, batch_size=8, shuffle=False, validation_split=0.25)
    prepared = train.x
    for bx, by, bw in train:
        assert np.shares_memory(bx, prepared) and bx.dtype == np.float32 and by.dtype == y.dtype and bw is None


def test_validation_split_takes_the_last_fraction_and_class_weight_weighs_training_only():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0])
    sw = np.linspace(1.0, 2.0, 10).astype("float32")
    train, val = da.fit_batches(SPEC, x, y, sw, {0: 0.5, 1: 4.0}, batch_size=3, shuffle=False,
                                validation_split=0.3)
    np.testing.assert_array_equal(train.x, x[:7])
    np.testing.assert_array_equal(val.x, x[7:])
    np.testing.assert_allclose(train.sample_weight, sw[:7] * np.where(y[:7] == 0, 0.5, 4.0))
    np.testing.assert_allclose(val.sample_weight, sw[7:])   # no class weight on validation data
    assert train.num_batches == 3 and val.batch_size == 3


def test_checks_cover_the_whole_data_before_the_split():
    x = np.zeros((10, 2), "float32")
    y = np.zeros(10, "int64")
    y[9] = 2   # in the held-out part, out of range for 2 classes
    with pytest.raises(ValueError, match=r"Labels out of range.*0 to 2.*2 classes"):
        da.fit_batches(SPEC, x, y, validation_split=0.2)
    x[8, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN at index \(8, 1\)"):
        da.fit_batches(SPEC, x, np.zeros(10, "int64"), validation_split=0.2)


def test_class_weight_weighs_generator_batches_as_it_weighs_arrays():
    x, y = separable_data(32)
    class_weight = {0: 0.25, 1: 3.0}

    def generator():
        for i in range(0, 32, 8):
            yield x[i:i + 8], y[i:i + 8]

    from_arrays = list(da.batches(SPEC, x, y, class_weight=class_weight, batch_size=8))
    from_generator = list(da.batches(SPEC, generator(), class_weight=class_weight))
    assert len(from_arrays) == len(from_generator) == 4
    for (ax, ay, aw), (gx, gy, gw) in zip(from_arrays, from_generator):
        np.testing.assert_array_equal(ax, gx)
        np.testing.assert_array_equal(ay, gy)
        np.testing.assert_allclose(gw, np.where(gy == 0, 0.25, 3.0))
        np.testing.assert_array_equal(aw, gw)

    # and in fit: the same first step from both sources
    def first_loss(data, **kwargs):
        model = _classifier()
        return model.fit(data, epochs=1, verbose=0, shuffle=False, class_weight=class_weight, **kwargs
                         ).history["loss"][0]
    np.testing.assert_allclose(first_loss(generator()), first_loss(x, y=y, batch_size=8), rtol=1e-6)


def test_batches_of_several_inputs_and_outputs_keep_their_structure():
    spec = da.DataSpec("m", ("a", "b"), ("p", "q"), ((None, 2), (None, 1)), False, (None, 3))
    x = {"p": np.ones((6, 2), "int64"), "q": np.zeros((6, 1))}
    y = [np.zeros((6, 1)), np.array([0, 1, 2, 0, 1, 2])]
    (bx, by, bw), = list(da.batches(spec, x, y, batch_size=6))
    assert set(bx) == {"p", "q"} and bx["p"].dtype == np.float32 and bx["q"].dtype == np.float32
    assert isinstance(by, list) and by[0].dtype == np.float32 and by[1].dtype == np.int64 and bw is None
    with pytest.raises(ValueError, match=r"Labels out of range.*1 to 3.*3 classes"):
        da.batches(spec, x, [y[0], y[1] + 1])
    with pytest.raises(ValueError, match="y must be None"):
        da.batches(spec, iter([]), y)
