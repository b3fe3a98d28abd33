"""Adam's update as one compiled pass (``deepgrad.loops.adam``) against the NumPy passes: the same bits
in float32 and float64, over several steps, for every variable shape and path (a large variable's
two halves in two threads, the flat group of small ones, a model's training steps); the NumPy path
wherever the compiled one could round differently, the extension is missing or turned off."""
from __future__ import annotations


import numpy as np
import pytest

import deepgrad as dg
from deepgrad import runtime
from deepgrad.optimizers import Adam, AdamW, compiled
from compiled_switch import extension, off_cases

extension("adam")  # skips when not built


@pytest.fixture
def counted(monkeypatch):
    """The compiled Adam kernel, counting its calls; ``off()`` turns it off (the NumPy path)."""
    monkeypatch.setattr(compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    real = compiled.kernel("adam")
    assert real is not None
    calls = []

    def kernel(*args):
        calls.append(args[0].size)
        return real(*args)

    monkeypatch.setitem(compiled.loaded, "adam", kernel)

    def off():
        monkeypatch.setitem(compiled.loaded, "adam", None)

    def on():
        monkeypatch.setitem(compiled.loaded, "adam", kernel)

    kernel.calls, kernel.off, kernel.on = calls, off, on
    return kernel


def _arrays(rng, n, dtype):
    g = (rng.standard_normal(n) * 1e-2).astype(dtype)
    g[:4] = [0.0, 1e30, -1e-30, 3.0]  # zero, huge, tiny (subnormal in float32 once squared) gradients
    w = rng.standard_normal(n).astype(dtype)
    m = (rng.standard_normal(n) * 1e-3).astype(dtype)
    v = (np.abs(rng.standard_normal(n)) * 1e-5).astype(dtype)
    v[:2] = 0.0
    return g, w, m, v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha_type", [float, "same"])
def test_one_pass_is_the_numpy_passes_bit_for_bit(counted, dtype, alpha_type):
    rng = np.random.default_rng(0)
    opt = Adam(3e-3, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    g, *state = _arrays(rng, 200_003, dtype)
    ours, theirs = [a.copy() for a in state], [a.copy() for a in state]
    for step in range(1, 6):
        alpha = 3e-3 * np.sqrt(1 - 0.99 ** step) / (1 - 0.8 ** step)
        alpha = float(alpha) if alpha_type is float else np.dtype(dtype).type(alpha)
        opt._adam(alpha, g, *ours)
        assert len(counted.calls) == step
        counted.off()
        with np.errstate(over="ignore"):  # 1e30 squared overflows float32 to inf, as in the loop
            opt._adam(alpha, g, *theirs)
        counted.on()
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)
        g = (g * -1.3 + rng.standard_normal(g.size).astype(dtype) * 1e-3).astype(dtype)
    assert np.abs(ours[0] - state[0]).max() > 0  # the weights did move


def test_a_float64_step_size_on_float32_arrays_and_strided_arrays_take_numpy(counted):
    """NumPy multiplies float32 arrays by a float64 scalar in float64: the compiled pass (float32
    throughout) would round differently, so those calls, strided arrays and AMSGrad's v_hat take
    the NumPy passes."""
    rng = np.random.default_rng(1)
    opt = Adam()
    g, w, m, v = _arrays(rng, 1000, np.float32)
    with np.errstate(over="ignore"):
        opt._adam(np.float64(1e-3), g, w, m, v)
        opt._adam(1e-3, g[::2], w[::2], m[::2], v[::2])
    with np.errstate(over="ignore"):
        opt._adam(1e-3, g, w, m, v, v_hat=v.copy())
        opt._adam(1e-3, g.astype(np.float64), w, m, v)
    assert counted.calls == []
    opt._adam(1e-3, g, w, m, v)
    assert counted.calls == [1000]


def _train(steps, optimizer, seed=0):
    dg.utils.set_random_seed(seed)
    model = dg.Sequential([dg.layers.Input((40,)), dg.layers.Dense(1000, activation="relu"),
                           dg.layers.Dense(5, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        model.train_on_batch(rng.random((16, 40), dtype=np.float32), rng.integers(0, 5, 16))
    return [w.numpy() for w in model.weights] + [s.numpy() for s in model.optimizer.variables[1:]]


@pytest.mark.parametrize("make", [lambda: Adam(1e-2), lambda: AdamW(1e-2, weight_decay=0.01),
                                  lambda: Adam(dg.optimizers.schedules.ExponentialDecay(1e-2, 3, 0.5))])
def test_training_steps_are_the_numpy_path_bit_for_bit(counted, make):
    ours = _train(4, make())
    # the 40,000-element kernel alone, the three others as one flat group: two calls a step
    assert sorted(counted.calls) == [6_005] * 4 + [40_000] * 4
    counted.off()
    theirs = _train(4, make())
    assert len(ours) == len(theirs) >= 12  # 4 weights, and m and v of each
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_the_halves_of_a_large_variable_run_compiled_in_two_threads(counted, monkeypatch):
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)
    rng = np.random.default_rng(2)
    var = dg.Variable(rng.standard_normal((600, 500)).astype(np.float32))
    twin = dg.Variable(var.numpy().copy())
    grads = [rng.standard_normal((600, 500)).astype(np.float32) for _ in range(3)]
    ours, theirs = Adam(1e-2), Adam(1e-2)
    for g in grads:
        ours.apply_gradients([(g, var)])
    assert counted.calls == [150_000, 150_000] * 3
    counted.off()
    for g in grads:
        theirs.apply_gradients([(g, twin)])
    np.testing.assert_array_equal(var.numpy(), twin.numpy())


def test_turned_off_or_not_built_the_numpy_path_runs(monkeypatch):
    for _ in off_cases(monkeypatch, compiled, "adam"):
        assert compiled.kernel("adam") is None
        rng = np.random.default_rng(3)
        g, w, m, v = _arrays(rng, 100, np.float32)
        expected = w.copy()
        with np.errstate(over="ignore"):
            Adam()._adam(1e-3, g, w, m, v)  # runs, on the NumPy passes
        assert not np.array_equal(w, expected)
    assert compiled.kernel("adam") is not None  # on by default once built


def test_on_by_default_with_the_numpy_passes_bits(monkeypatch):
    """DEEPGRAD_LOOPS unset: Adam updates in one compiled pass, with the NumPy passes' bits."""
    monkeypatch.setattr(compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    assert compiled.kernel("adam") is not None
    rng = np.random.default_rng(4)
    g, *state = _arrays(rng, 1000, np.float32)
    ours, theirs = [a.copy() for a in state], [a.copy() for a in state]
    with np.errstate(over="ignore"):
        Adam()._adam(1e-3, g, *ours)
        monkeypatch.setitem(compiled.loaded, "adam", None)
        Adam()._adam(1e-3, g, *theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
