"""Edge cases that used to give None, stale results, NaN or silent truncation."""
import numpy as np
import pytest

import deepgrad as dg


def small_model(classes=None):
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(classes or 2,
                                                                  activation="softmax" if classes else None)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy" if classes else "mse")
    return model


X = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
Y = np.zeros((8, 2), "float32")
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


# ----------------------------------------------------------------- fit and evaluate
def test_fit_with_0_epochs_returns_a_fresh_empty_history():
    model = small_model()
    first = model.fit(X, Y, epochs=1, verbose=0)
    assert first is not None and len(first.history["loss"]) == 1
    none = model.fit(X, Y, epochs=0, verbose=0)
    assert none is not None and none is not first
    assert none.history == {} and none.epoch == []
    assert model.history is none
    w = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(w, model.get_weights()))


def test_a_fresh_model_fit_with_0_epochs_returns_a_history():
    history = small_model().fit(X, Y, epochs=0, verbose=0)
    assert isinstance(history, dg.callbacks.History) and history.history == {}


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_empty_data_is_a_clear_error(call):
    model = small_model()
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        getattr(model, call)(X[:0], Y[:0], verbose=0)


def test_evaluate_on_an_empty_generator_is_an_error_not_zeros():
    model = small_model()
    with pytest.raises(ValueError, match="empty"):
        model.evaluate(iter([]), verbose=0)


@pytest.mark.parametrize("kwargs, name", [
    (dict(steps_per_epoch=0), "steps_per_epoch"),
    (dict(steps_per_epoch=-1), "steps_per_epoch"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=-5), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(validation_split=1.0), "validation_split"),
    (dict(validation_split=-0.1), "validation_split"),
    (dict(validation_split=1.5), "validation_split"),
    (dict(validation_split=0.25, validation_freq=0), "validation_freq"),
    (dict(epochs=-1), "epochs"),
    (dict(epochs=1.5), "epochs"),
])
def test_bad_fit_arguments_are_clear_errors(kwargs, name):
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=name):
        model.fit(X, Y, verbose=0, **{"epochs": 1, **kwargs})
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_evaluate_batch_size_0_is_an_error():
    with pytest.raises(ValueError, match="batch_size"):
        small_model().evaluate(X, Y, batch_size=0, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_sample_weight_is_an_error(bad):
    sw = np.ones(8)
    sw[3] = bad
    model = small_model()
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, Y, sample_weight=sw, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(X, Y, sample_weight=sw, verbose=0)


def test_non_finite_sample_weight_in_a_generator_batch_is_an_error():
    model = small_model()
    sw = np.ones(8)
    sw[0] = np.nan
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(iter([(X, Y, sw)]), epochs=1, verbose=0)


@pytest.mark.parametrize("class_weight, match", [
    ({0: 1.0, 1: np.nan}, "finite"),
    ({0: np.inf}, "finite"),
    ({-1: 2.0}, "not a class"),
    ({5: 2.0}, "not a class"),       # the output has 3 classes
    ({0.5: 2.0}, "integer"),
    ({"a": 2.0}, "integer"),
    ({True: 2.0}, "integer"),
])
def test_bad_class_weight_is_an_error(class_weight, match):
    model = small_model(classes=3)
    with pytest.raises(ValueError, match=match):
        model.fit(X, LABELS, class_weight=class_weight, epochs=1, verbose=0)


def test_bad_class_weight_with_validation_split_and_one_hot_labels():
    model = small_model(classes=3)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    one_hot = np.eye(3, dtype="float32")[LABELS]
    with pytest.raises(ValueError, match="not a class"):
        model.fit(X, one_hot, class_weight={3: 1.0}, validation_split=0.25, epochs=1, verbose=0)


def test_good_class_weight_still_weighs_the_loss():
    model = small_model(classes=3)
    weights = model.get_weights()
    h1 = model.fit(X, LABELS, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, epochs=1, verbose=0, shuffle=False)
    model.set_weights(weights)
    h2 = model.fit(X, LABELS, class_weight={0: 2.0, 1: 2.0, 2: 2.0}, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(h2.history["loss"][0], 2 * h1.history["loss"][0], rtol=1e-5)


# ----------------------------------------------------------------- non-numeric data
Tensor = dg.Tensor


@pytest.mark.parametrize("make, match", [
    (lambda: Tensor(None), "None"),
    (lambda: Tensor(None, dtype="float32"), "None"),
    (lambda: Tensor(np.array([1.0, None], dtype=object)), "None at index \\(1,\\)"),
    (lambda: Tensor([[1.0, None]]), "None"),
    (lambda: Tensor([1.0]) + None, "None"),
    (lambda: None * Tensor([1.0]), "None"),
    (lambda: Tensor(1 + 2j), "Complex"),
    (lambda: Tensor(np.array([1 + 1j, 2.0])), "Complex"),
    (lambda: Tensor(np.array([1 + 1j]), dtype="float32"), "Complex"),
    (lambda: Tensor(["a", "b"]), "text"),
    (lambda: Tensor(np.array([1, "a"], dtype=object)), "object"),
    (lambda: Tensor([1.0]).astype(str), "hold numbers"),
    (lambda: Tensor([1.0]).astype(object), "hold numbers"),
    (lambda: Tensor([1.0], dtype="U3"), "hold numbers"),
])
def test_non_numeric_data_is_a_type_error(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_numeric_data_still_converts_as_before():
    assert Tensor(3).data.dtype == np.float32 and Tensor([1, 2]).data.dtype == np.float32
    assert Tensor(np.arange(3.0)).data.dtype == np.float64  # float arrays keep their dtype
    np.testing.assert_array_equal(Tensor(np.array([1.5, 2], dtype=object)).data, [1.5, 2.0])
    assert Tensor([1.7], dtype="int32").data.tolist() == [1]
    assert Tensor([1.0]).astype("int64").data.dtype == np.int64
    # complex only by name: view_as_complex and friends ask for it
    assert Tensor(np.array([1 + 2j]), dtype="complex64").data.tolist() == [1 + 2j]


@pytest.mark.parametrize("x", [np.array([[1, None], [2, 3]], dtype=object), np.array([[1j, 2], [2, 3]])])
def test_fit_and_predict_refuse_non_numeric_arrays(x):
    model = dg.Sequential([dg.layers.Input((2,)), dg.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError):
        model.fit(x, np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError):
        model.predict(x, verbose=0)
    with pytest.raises(TypeError):
        model.fit(x.real.astype("float32") if x.dtype.kind == "c" else np.zeros((2, 2)),
                  np.array([[None], [1.0]], dtype=object), verbose=0)


def test_numeric_object_arrays_train_like_float_arrays():
    x = np.array([[1, 2], [2, 3]], dtype=object)
    model = dg.Sequential([dg.layers.Input((2,)), dg.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x.astype("float32"), verbose=0))


# ----------------------------------------------------------------- layers on integer inputs
L = dg.layers
IMAGES = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3) % 7   # int64
SEQUENCES = np.arange(2 * 5 * 3).reshape(2, 5, 3) % 4      # int64


@pytest.mark.parametrize("make, x", [
    (lambda: L.LayerNormalization(), IMAGES),
    (lambda: L.BatchNormalization(), IMAGES),
    (lambda: L.AveragePooling2D(2), IMAGES),
    (lambda: L.AveragePooling2D(3, strides=1, padding="same"), IMAGES),
    (lambda: L.GlobalAveragePooling2D(), IMAGES),
    (lambda: L.MaxPooling2D(2), IMAGES),
    (lambda: L.Dense(2), IMAGES),
    (lambda: L.Conv2D(2, 3), IMAGES),
    (lambda: L.AveragePooling1D(2), SEQUENCES),
    (lambda: L.SimpleRNN(4), SEQUENCES),
    (lambda: L.LSTM(4), SEQUENCES),
    (lambda: L.GRU(4, return_sequences=True), SEQUENCES),
])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_float_layers_on_integer_inputs_compute_in_float32(make, x, as_tensor):
    layer = make()
    got = layer(dg.Tensor(x, dtype=x.dtype) if as_tensor else x)
    want = layer(x.astype("float32"))
    assert got.dtype == np.float32
    assert np.isfinite(got.data).all()
    np.testing.assert_array_equal(got.data, want.data)


@pytest.mark.slow  # importing keras takes seconds
def test_integer_layer_norm_matches_keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = IMAGES.astype("int32")
    # Keras's own moments of an int32 tensor are truncated ([0, 1, 2] -> [-1, 0, 1]); the
    # reference is its result on the same values as floats, which is what casting gives
    want = keras.ops.convert_to_numpy(keras.layers.LayerNormalization()(x.astype("float32")))
    np.testing.assert_allclose(L.LayerNormalization()(x).data, want, rtol=1e-5, atol=1e-5)
    want = keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(2)(x.astype("float32")))
    np.testing.assert_allclose(L.AveragePooling2D(2)(x).data, want, rtol=1e-6)
    assert L.AveragePooling2D(2)(np.array([[[[1], [2]], [[2], [2]]]])).data.item() == 1.75


def test_embedding_still_reads_integer_inputs():
    layer = L.Embedding(10, 3)
    out = layer(np.array([[1, 2, 9]]))
    np.testing.assert_array_equal(out.data[0], layer.get_weights()[0][[1, 2, 9]])


# ----------------------------------------------------------------- atomic writes
import os  # noqa: E402
import signal  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from deepgrad.files import atomic  # noqa: E402

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and signals")


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077])
def test_atomic_files_get_the_mode_the_umask_gives(tmp_path, umask, mask):
    umask(mask)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic.write_bytes_atomic(tmp_path / "atomic.bin", b"x")
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "atomic.bin").stat().st_mode) == want


@posix_only
def test_saved_model_and_run_files_share_one_mode(tmp_path, umask):
    umask(0o022)
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(2)])
    model.save(str(tmp_path / "model.deepgrad"))
    (tmp_path / "history.csv").write_text("epoch\n")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert set(modes.values()) == {0o644}, modes


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@posix_only
def test_a_later_save_removes_temporary_files_of_killed_writers(tmp_path):
    target = tmp_path / "model.deepgrad"
    leftovers = [tmp_path / f".model.deepgrad.{dead_pid()}.tmp", tmp_path / f".model.deepgrad.{dead_pid()}.abc123.tmp"]
    for f in leftovers:
        f.write_bytes(b"half")
    other = tmp_path / f".other.json.{dead_pid()}.tmp"    # another file's: not ours to judge
    other.write_bytes(b"half")
    live = tmp_path / f".model.deepgrad.{os.getppid()}.tmp"  # a writer still running: left alone
    live.write_bytes(b"busy")
    atomic.write_bytes_atomic(target, b"good")
    assert target.read_bytes() == b"good"
    assert not any(f.exists() for f in leftovers)
    assert other.exists() and live.exists()


@posix_only
def test_kill_9_during_model_save_leaves_no_tmp_after_the_next_save(tmp_path):
    target = tmp_path / "model.deepgrad"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {root!r})\n"
        "from deepgrad.files import atomic\n"
        f"with atomic.atomic_write({str(target)!r}) as f:\n"
        "    f.write(b'half'); f.flush(); print('writing', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert [p.name for p in tmp_path.iterdir()] == [f".model.deepgrad.{child.pid}.tmp"]
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(2)])
    for _ in range(3):
        model.save(str(target))
    assert [p.name for p in tmp_path.iterdir()] == ["model.deepgrad"]
    np.testing.assert_array_equal(dg.models.load_model(str(target)).get_weights()[0], model.get_weights()[0])


def test_a_failed_write_leaves_no_tmp_and_the_old_file(tmp_path):
    target = tmp_path / "x.bin"
    atomic.write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_write(target) as f:
            f.write(b"new")
            raise RuntimeError("stop")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_text_reaches_a_text_layer_and_is_refused_by_a_numeric_one():
    text_model = dg.Sequential([dg.layers.Input((1,), dtype=str), dg.layers.Hashing(num_bins=4)])
    assert text_model.predict(np.array([["a"], ["b"]]), verbose=0).shape == (2, 1)
    model = dg.Sequential([dg.layers.Input((2,)), dg.layers.Dense(1)])
    with pytest.raises(TypeError, match="text"):
        model.predict(np.array([["a", "b"]]), verbose=0)
