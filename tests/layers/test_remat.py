"""``RematScope`` and ``keras.remat`` on layers: Keras's rule for which calls are rematerialized,
the plain call's values and gradients (and Keras torch's), training in ``fit`` with the same
weights bit for bit, and a training step's memory lower."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
import torch.utils.checkpoint as torch_checkpoint  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import backend, layers  # noqa: E402
from deepgrad.autograd.checkpoint import Checkpoint  # noqa: E402
from deepgrad.ops import workspace  # noqa: E402


def _owner(f) -> str:
    """The layer whose call is rematerialized, or the activation function's name."""
    owner = getattr(f, "__self__", None)
    return owner.name if owner is not None else f.__name__


MODES = [("full", {}), ("activations", {}), ("larger_than", {"output_size_threshold": 100}),
         ("list_of_layers", {"layer_names": ["d2", "drop"]}), (None, {})]


def _rematerialized_calls(fw, mode, kwargs, monkeypatch) -> list:
    seen = []
    if fw is keras:
        real = torch_checkpoint.checkpoint

        def spy(f, *args, **kw):
            seen.append(_owner(f))
            return real(f, *args, **kw)

        monkeypatch.setattr(torch_checkpoint, "checkpoint", spy)
    else:
        real = backend._checkpoint

        def spy(f, *args, **kw):
            seen.append(_owner(f))
            return real(f, *args, **kw)

        monkeypatch.setattr(backend, "_checkpoint", spy)
    with fw.RematScope(mode=mode, **kwargs):
        inputs = fw.Input((6,))
        x = fw.layers.Dense(16, activation="relu", name="d1")(inputs)
        x = fw.layers.Dropout(0.2, name="drop")(x)
        x = fw.layers.Activation("tanh", name="act")(x)
        x = fw.layers.Dense(4, name="d2")(x)
    model = fw.Model(inputs, x)
    seen.clear()
    model(np.ones((8, 6), "float32"), training=True)
    return seen


@pytest.mark.parametrize("mode,kwargs", MODES)
def test_the_calls_rematerialized_are_those_keras_rematerializes(mode, kwargs, monkeypatch):
    want = _rematerialized_calls(keras, mode, kwargs, monkeypatch)
    got = _rematerialized_calls(dg, mode, kwargs, monkeypatch)
    assert got == want
    expected = {"full": ["d1", "drop", "act", "d2"], "activations": ["relu", "tanh", "linear"],
                "larger_than": ["d1", "drop", "act"], "list_of_layers": ["drop", "d2"], None: []}
    assert got == expected[mode]


def test_the_scope_at_construction_counts_not_the_one_at_call():
    outside = layers.Dense(3)
    with dg.RematScope("full"):
        inside = layers.Dense(3)
        with dg.RematScope(None):
            switched_off = layers.Dense(3)
        y_outside = outside(np.ones((2, 2), "float32"))
    y_inside = inside(np.ones((2, 2), "float32"))
    assert not isinstance(y_outside._ctx, Checkpoint) and "call" not in outside.__dict__
    assert isinstance(y_inside._ctx, Checkpoint)
    assert not isinstance(switched_off(np.ones((2, 2), "float32"))._ctx, Checkpoint)


def _cnn(mode, dtype="float64"):
    dg.utils.set_random_seed(1)
    with dg.RematScope(mode=mode):
        return dg.Sequential([
            layers.Input((8, 8, 2)),
            layers.Conv2D(4, 3, activation="relu", dtype=dtype), layers.BatchNormalization(dtype=dtype),
            layers.Dropout(0.25, seed=3, dtype=dtype), layers.Conv2D(3, 3, padding="same", dtype=dtype),
            layers.Flatten(dtype=dtype), layers.Dropout(0.3, dtype=dtype),
            layers.Dense(5, activation="softmax", dtype=dtype)])


@pytest.mark.parametrize("mode", ["full", "activations", "larger_than"])
def test_gradients_in_a_tape_equal_the_plain_model_s_in_float64(mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 8, 2))
    labels = rng.integers(0, 5, 6)
    results = []
    for m in (None, mode):
        model = _cnn(m)
        dg.utils.set_random_seed(5)
        with dg.GradientTape() as tape:
            probs = model(x, training=True)
            loss = dg.losses.sparse_categorical_crossentropy(labels, probs).mean()
        grads = tape.gradient(loss, model.trainable_weights)
        results.append((probs.data, grads, [w.data.copy() for w in model.non_trainable_weights]))
    (p0, g0, s0), (p1, g1, s1) = results
    np.testing.assert_array_equal(p0, p1)
    for a, b in zip(g0 + s0, g1 + s1):  # the moving statistics were updated once, as in the plain call
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_fit_trains_to_the_same_weights_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 5, 48)
    weights, losses = [], []
    for mode in (None, "full"):
        model = _cnn(mode, dtype=None)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        losses.append(model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"])
        weights.append(model.get_weights())
    assert losses[0] == losses[1]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_layers_rematerialize_with_the_plain_gradients():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    results = []
    for mode in (None, "full"):
        dg.utils.set_random_seed(0)
        with dg.RematScope(mode):
            dense = layers.Dense(5, activation="relu", dtype="mixed_float16")
        with dg.GradientTape() as tape:
            y = dense(x)
            loss = (y.astype("float32") ** 2).sum()
        assert isinstance(y._ctx, Checkpoint) == (mode == "full")
        results.append(tape.gradient(loss, dense.trainable_weights))
    for a, b in zip(*results):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_gradients_match_keras_torch_with_remat():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 10, 10, 3)).astype("float32")

    def stack(fw):
        with fw.RematScope("full"):
            return fw.Sequential([fw.Input((10, 10, 3)), fw.layers.Conv2D(6, 3, activation="relu"),
                                  fw.layers.Conv2D(4, 3, activation="tanh"), fw.layers.Flatten(),
                                  fw.layers.Dense(3, activation="sigmoid")])

    ours, theirs = stack(dg), stack(keras)
    ours.set_weights(theirs.get_weights())
    out = theirs(x)
    (out ** 2).mean().backward()
    want = [v.value.grad.numpy() for v in theirs.trainable_weights]
    with dg.GradientTape() as tape:
        loss = (ours(x) ** 2).mean()
    got = tape.gradient(loss, ours.trainable_weights)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-6)


def _step_memory(mode, monkeypatch) -> float:
    """Peak bytes above what is held before one train_on_batch of a six-convolution CNN (large
    temporaries from malloc, not the reuse pool, so what is freed is counted as freed)."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 1 << 62)
    # one thread: with two, when each half's temporaries are alive depends on the machine's load
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    dg.utils.set_random_seed(0)
    with dg.RematScope(mode):
        model = dg.Sequential([layers.Input((16, 16, 1))] +
                              [layers.Conv2D(16, 3, padding="same", activation="relu") for _ in range(6)] +
                              [layers.Flatten(), layers.Dense(4, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 16, 16, 1)).astype("float32"), rng.integers(0, 4, 16)
    model.train_on_batch(x, y)
    tracemalloc.start()
    try:
        held = tracemalloc.get_traced_memory()[0]
        model.train_on_batch(x, y)
        return tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()


def test_a_training_step_needs_less_memory(monkeypatch):
    plain = _step_memory(None, monkeypatch)
    rematerialized = _step_memory("full", monkeypatch)
    # each convolution keeps its unfolded input (16 x 256 x 144 floats, 2.4 MB) for backward in
    # the plain step; rematerialized only its output (0.26 MB), and one unfolding lives at a time
    assert plain > 6 * 2.36e6
    assert rematerialized < 0.6 * plain, (plain, rematerialized)  # measured 0.46


def test_remat_of_a_layer_keeps_one_node_and_the_plain_gradients():
    dense = layers.Dense(4, activation="tanh", dtype="float64")
    x = dg.Tensor(np.random.default_rng(0).normal(size=(3, 5)), requires_grad=True)
    plain = dense(x)
    gp = dg.grad(plain.sum(), [x] + dense.trainable_weights)
    y = dg.remat(dense)(x)
    assert isinstance(y._ctx, Checkpoint)
    np.testing.assert_array_equal(y.data, plain.data)
    for a, b in zip(gp, dg.grad(y.sum(), [x] + dense.trainable_weights)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="remat: the argument must be a callable"):
        dg.remat(3)


def test_activity_losses_made_inside_flow_back_and_are_not_added_again_by_the_recomputation():
    x = np.random.default_rng(0).normal(size=(4, 5))
    results = []
    for mode in (None, "full"):
        dg.utils.set_random_seed(0)
        with dg.RematScope(mode):
            model = dg.Sequential([layers.Dense(6, activation="tanh", activity_regularizer="l2", dtype="float64"),
                                   layers.Dense(3, dtype="float64")])
        with dg.GradientTape() as tape:
            y = model(x)
            loss = (y ** 2).sum() + sum(model.losses)
        results.append(tape.gradient(loss, model.trainable_weights))
        assert len(model.losses) == 1  # the recomputation's own penalty is not kept
    # the first kernel's gradient sums its two paths (output and penalty) in another order: a last-bit difference
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-14, atol=1e-15)
