"""``Optimizer.apply`` keeps an update plan for the next step (``UpdatePlan`` in
``deepgrad/optimizers/base.py``): the same variables with one array gradient each, of their
shapes and dtypes, skip ``build``, ``_as_array`` and the grouping of the flat-group path.

It must change nothing: every weight and every piece of optimiser state equals the plain
path's bit for bit over many steps (through ``train_on_batch`` and ``fit`` with metrics, class
weights and a callback), and anything else (another set of variables, a gradient of None, of
another dtype or a Tensor, a variable of another shape, a frozen layer, a recompile) takes the
plain path and gives the same numbers as it.
"""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optimizers
from deepgrad.optimizers.base import Optimizer

MAKERS = {
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "momentum": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "nadam": lambda: optimizers.Nadam(0.01),
    "clipped": lambda: optimizers.Adam(0.01, global_clipnorm=0.5),
}
# a kernel of 40 x 1,000 elements is above the flat-group bound (updated alone), the rest are grouped
SHAPES = [(40, 1000), (1000,), (3, 4), (5,)]


def no_plan(monkeypatch):
    monkeypatch.setattr(Optimizer, "_plannable", lambda self: False)


def make_variables(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [dg.Variable(rng.standard_normal(s).astype(dtype), name=f"w{i}") for i, s in enumerate(SHAPES)]


def gradient(step, i, shape, dtype=np.float32):
    return np.random.default_rng(100 * step + i).standard_normal(shape).astype(dtype)


def run_apply(make, steps=12, change=None):
    opt, variables = make(), make_variables()
    for step in range(steps):
        grads = [gradient(step, i, v.shape) for i, v in enumerate(variables)]
        used = variables
        if change is not None:
            grads, used = change(step, grads, variables)
        opt.apply(grads, used)
    return opt, variables


def assert_same(a_opt, a_vars, b_opt, b_vars):
    for a, b in zip(a_vars, b_vars):
        np.testing.assert_array_equal(a.data, b.data)
    sa, sb = a_opt.get_state(), b_opt.get_state()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_planned_steps_equal_the_plain_path(name, monkeypatch):
    fits = []
    original = optimizers.base.UpdatePlan.fits
    monkeypatch.setattr(optimizers.base.UpdatePlan, "fits", lambda self, g, v: fits.append(original(self, g, v)) or fits[-1])
    planned = run_apply(MAKERS[name])
    assert fits == [True] * 11  # every step after the first went through the plan
    monkeypatch.undo()
    no_plan(monkeypatch)
    plain = run_apply(MAKERS[name])
    assert plain[0]._plan is None
    assert_same(*planned, *plain)


def _changes(step, grads, variables):
    """Every kind of step the plan must not take: then the plain path runs (and plans again)."""
    if step == 3:   # a gradient of None: that variable is skipped
        grads[1] = None
    elif step == 5:  # a float64 gradient: cast to the variable's dtype
        grads[2] = grads[2].astype(np.float64)
    elif step == 6:  # a Tensor gradient
        grads[3] = dg.Tensor(grads[3])
    elif step == 8:  # fewer variables (a layer frozen), then all of them again
        return grads[1:], variables[1:]
    elif step == 10:  # another order
        return grads[::-1], variables[::-1]
    return grads, variables


@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_changed_steps_fall_back_to_the_plain_path(name, monkeypatch):
    calls = []
    original = Optimizer.build
    monkeypatch.setattr(Optimizer, "build", lambda self, v: calls.append(len(v)) or original(self, v))
    planned = run_apply(MAKERS[name], steps=12, change=_changes)
    # build runs on the first step and on each changed step (0, 3, 5, 6, 8, 9, 10, 11); a step that
    # cannot be planned (3, 5, 6) keeps the last plan, a new set of variables (8, 9, 10, 11) plans anew
    assert calls == [4, 4, 4, 4, 3, 4, 4, 4]
    monkeypatch.undo()
    no_plan(monkeypatch)
    plain = run_apply(MAKERS[name], steps=12, change=_changes)
    assert_same(*planned, *plain)


def test_a_variable_of_another_shape_is_not_planned():
    opt, variables = optimizers.Adam(0.01), make_variables()
    for step in range(2):
        opt.apply([gradient(step, i, v.shape) for i, v in enumerate(variables)], variables)
    variables[2].data = np.zeros((4, 3), np.float32)  # replaced: the gradients no longer fit
    with pytest.raises(ValueError, match="does not match variable"):
        opt.apply([gradient(2, i, s) for i, s in enumerate(SHAPES)], variables)


def mlp(seed, dtype="float32"):
    dg.utils.set_random_seed(seed)
    return dg.Sequential([dg.layers.Input((20,)), dg.layers.Dense(64, activation="relu", dtype=dtype),
                          dg.layers.Dense(5, activation="softmax", dtype=dtype)])


def data(n=96):
    rng = np.random.default_rng(3)
    return rng.random((n, 20), dtype=np.float32), rng.integers(0, 5, n)


def train(monkeypatch, plan: bool):
    """Steps through train_on_batch and fit, a layer frozen and recompiled midway, batches of
    two sizes: the final weights and optimiser state."""
    if not plan:
        no_plan(monkeypatch)
    x, y = data()
    model = mlp(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for i in range(6):
        model.train_on_batch(x[:32 + 8 * (i % 2)], y[:32 + 8 * (i % 2)])
    seen = []
    cb = dg.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, class_weight={0: 2.0, 1: 0.5}, callbacks=[cb])
    model.layers[0].trainable = False
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=48, epochs=2, verbose=0)
    model.layers[0].trainable = True
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    for _ in range(4):
        model.train_on_batch(x, y)
    monkeypatch.undo()
    return model, seen


def test_training_with_the_plan_is_bit_identical(monkeypatch):
    planned, seen_planned = train(monkeypatch, plan=True)
    assert planned.optimizer._plan is not None and len(planned.optimizer._plan.ids) == 4
    plain, seen_plain = train(monkeypatch, plan=False)
    assert seen_planned == seen_plain and len(seen_plain) == 6
    for a, b in zip(planned.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    sa, sb = planned.optimizer.get_state(), plain.optimizer.get_state()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


def test_a_frozen_layer_after_compile_drops_its_variables_from_the_plan():
    x, y = data()
    model = mlp(1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    assert len(model.optimizer._plan.ids) == 4
    frozen = [w.data.copy() for w in model.layers[0].weights]
    model.layers[0].trainable = False
    model.train_on_batch(x, y)
    assert len(model.optimizer._plan.ids) == 2
    for before, w in zip(frozen, model.layers[0].weights):
        np.testing.assert_array_equal(before, w.data)
