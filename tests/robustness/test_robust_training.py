"""compile/fit/evaluate/predict with bad names, data and settings: training or a clear error."""
import numpy as np
from hypothesis import given, strategies as st

import deepgrad as dg
from robust_support import cases, outcome

L = dg.layers
TRAIN_NAMES = ("fit", "evaluate", "predict", "batch_size", "epochs", "validation_split", "x", "y", "label",
               "sample", "length", "shape", "nan", "finite", "class", "empty", "loss", "target", "input",
               "verbose", "shuffle", "steps", "rank", "dense", "expected", "number")


def _model(classes=3, loss="sparse_categorical_crossentropy"):
    model = dg.Sequential([L.Input((4,)), L.Dense(classes, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    return model


@cases(0.5)
@given(loss=st.sampled_from(["mse", "sparse_categorical_crossentropy", "bogus_loss", 3, None, "MSE"]),
       optimizer=st.sampled_from(["sgd", "adam", "bogus_opt", 0.1, None, "Adam"]),
       metrics=st.sampled_from([None, ["accuracy"], ["bogus_metric"], "accuracy", [3], {"out": "mae"}]))
def test_compile_with_unknown_names(loss, optimizer, metrics):
    model = dg.Sequential([L.Input((4,)), L.Dense(3)])
    outcome(lambda: model.compile(optimizer=optimizer, loss=loss, metrics=metrics),
            ("loss", "optimizer", "metric", "bogus", "compile", "unknown", "could not interpret"))


lengths = st.integers(0, 9)


@cases(0.6)
@given(nx=lengths, ny=lengths, batch_size=st.one_of(st.none(), st.integers(-2, 12), st.just(2.5), st.just("4")),
       epochs=st.one_of(st.integers(-1, 2), st.just(1.5), st.just("1")),
       validation_split=st.one_of(st.floats(-0.5, 1.5), st.just(float("nan")), st.just("0.1")),
       nan_label=st.booleans(), label_high=st.integers(1, 5), same=st.booleans())
def test_fit_with_bad_data_and_settings(nx, ny, batch_size, epochs, validation_split, nan_label, label_high, same):
    ny = nx if same else ny  # half the cases have matching lengths, so the settings are reached
    rng = np.random.default_rng(0)
    x = rng.normal(size=(nx, 4)).astype("float32")
    y = rng.integers(0, label_high, size=ny).astype("float32")
    if nan_label and ny:
        y[0] = np.nan
    model = _model()
    history = outcome(lambda: model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                                        validation_split=validation_split), TRAIN_NAMES)
    if history is not None:
        # only consistent data and settings train, and then the loss is a finite number
        assert nx == ny and nx > 0 and not nan_label and label_high <= 3, (nx, ny, nan_label, label_high)
        for values in history.history.values():
            assert np.isfinite(values).all()


@cases(0.6)
@given(nx=lengths, ny=lengths, batch_size=st.one_of(st.none(), st.integers(-2, 12), st.just(2.5)),
       features=st.integers(1, 6), rank=st.integers(1, 3), label_low=st.integers(-2, 0),
       call=st.sampled_from(["evaluate", "predict"]), same=st.booleans())
def test_evaluate_and_predict_with_bad_data(nx, ny, batch_size, features, rank, label_low, call, same):
    ny = nx if same else ny
    rng = np.random.default_rng(1)
    x = rng.normal(size=(nx,) + (features,) * rank).astype("float32")
    y = rng.integers(label_low, 3, size=ny)
    model = _model()
    if call == "predict":
        out = outcome(lambda: model.predict(x, batch_size=batch_size, verbose=0), TRAIN_NAMES)
        if out is not None:
            assert rank == 1 and features == 4 and out.shape == (nx, 3)
            np.testing.assert_allclose(out.sum(axis=-1), 1, rtol=1e-5)
    else:
        out = outcome(lambda: model.evaluate(x, y, batch_size=batch_size, verbose=0), TRAIN_NAMES)
        if out is not None:
            assert rank == 1 and features == 4 and nx == ny and nx > 0 and (y >= 0).all()
            assert np.isfinite(out).all()


@cases(0.3)
@given(labels=st.lists(st.integers(-3, 6), min_size=1, max_size=6), from_logits=st.booleans())
def test_sparse_loss_labels_out_of_range(labels, from_logits):
    y = np.array(labels)
    pred = np.full((len(labels), 3), 1 / 3, "float32")
    loss = dg.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    out = outcome(lambda: loss(y, pred), ("label", "class", "range", "sparse_categorical_crossentropy", "target"))
    if out is not None:
        assert ((y >= 0) & (y < 3)).all(), f"labels {labels} out of range gave {out}"
        expected = np.log(3.0) if not from_logits else np.log(3.0)  # uniform softmax: both are log 3
        np.testing.assert_allclose(float(out.numpy()), expected, rtol=1e-5)
