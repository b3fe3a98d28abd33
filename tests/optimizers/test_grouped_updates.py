"""The built-in optimisers update small variables of one dtype together, as one flat array.

That fast path (``elementwise_update``, see ``deepgrad/optimizers/flat_group.py``) must
change nothing: every value and every piece of state equals the one-variable-at-a-time
update bit for bit, when the set of variables with a gradient changes from step to step,
across get_state/set_state; and a subclass's own update_step is grouped only when the
subclass declares it element-wise.
"""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optimizers

SHAPES = [(3, 4), (5,), (2, 3, 2), (1,), (7, 3)]
MAKERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "adamax": lambda: optimizers.Adamax(0.01),
    "nadam": lambda: optimizers.Nadam(0.01),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adadelta": lambda: optimizers.Adadelta(1.0),
}


def make_variables(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [dg.Variable(rng.standard_normal(s).astype(dtype), name=f"w{i}") for i, s in enumerate(SHAPES)]


def gradients(step, dtype=np.float32, missing=()):
    rng = np.random.default_rng(step + 10)
    return [None if i in missing else rng.standard_normal(s).astype(dtype) for i, s in enumerate(SHAPES)]


def run(make, monkeypatch, grouped, steps=4, missing_at=None):
    monkeypatch.setattr(optimizers.Optimizer, "flat_group_max_size", 1 << 15 if grouped else 0)
    opt, variables = make(), make_variables()
    for step in range(steps):
        missing = (1, 3) if step == missing_at else ()
        opt.apply(gradients(step, missing=missing), variables)
    return opt, variables


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_grouped_update_is_bit_identical(name, monkeypatch):
    opt_one, one = run(MAKERS[name], monkeypatch, grouped=False)
    opt_all, grouped = run(MAKERS[name], monkeypatch, grouped=True)
    if MAKERS[name]().elementwise_update:
        assert opt_all._groups, "the small variables were not grouped"
    for a, b in zip(one, grouped):
        np.testing.assert_array_equal(a.data, b.data)
    state_one, state_all = opt_one.get_state(), opt_all.get_state()
    assert state_one.keys() == state_all.keys()
    for key in state_one:
        np.testing.assert_array_equal(state_one[key], state_all[key], err_msg=key)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "momentum"])
def test_a_step_with_fewer_gradients_regroups_without_losing_state(name, monkeypatch):
    # step 2 updates only some variables (a different group); steps 3-5 the first group again
    _, one = run(MAKERS[name], monkeypatch, grouped=False, steps=6, missing_at=2)
    _, grouped = run(MAKERS[name], monkeypatch, grouped=True, steps=6, missing_at=2)
    for a, b in zip(one, grouped):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_restored_into_a_grouped_optimizer_continues_exactly(monkeypatch):
    opt, variables = run(MAKERS["adam"], monkeypatch, grouped=True, steps=3)
    saved_state, saved_values = opt.get_state(), [v.data.copy() for v in variables]
    opt.apply(gradients(3), variables)
    expected = [v.data.copy() for v in variables]
    for v, value in zip(variables, saved_values):
        v.assign(value)
    opt.set_state(saved_state)  # writes into the slots, which are views of the group's arrays
    opt.apply(gradients(3), variables)
    for v, value in zip(variables, expected):
        np.testing.assert_array_equal(v.data, value)


def test_variables_of_two_dtypes_form_two_groups(monkeypatch):
    def mixed_run(grouped):
        monkeypatch.setattr(optimizers.Optimizer, "flat_group_max_size", 1 << 15 if grouped else 0)
        rng = np.random.default_rng(1)
        mixed = [dg.Variable(rng.standard_normal(3), dtype=d) for d in (np.float32, np.float64) * 2]
        opt = optimizers.Adam(0.1)
        for step in range(3):
            opt.apply([np.random.default_rng(step).standard_normal(3).astype(v.dtype) for v in mixed], mixed)
        return opt, mixed

    opt, grouped = mixed_run(True)
    assert len(opt._groups) == 2
    assert [v.dtype for v in grouped] == [np.float32, np.float64] * 2
    for a, b in zip(mixed_run(False)[1], grouped):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_custom_update_step_sees_each_variable(monkeypatch):
    monkeypatch.setattr(optimizers.Optimizer, "flat_group_max_size", 1 << 15)
    seen = []

    class Recording(optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(variable.name)
            super().update_step(gradient, variable, learning_rate)

    variables = make_variables()
    Recording(0.1).apply(gradients(0), variables)
    assert seen == [v.name for v in variables]


class SignDescent(optimizers.Optimizer):
    """An element-wise update defined outside the package: w -= lr sign(g) |w|^0.5."""

    elementwise_update = True

    def update_step(self, gradient, variable, learning_rate):
        variable.data -= learning_rate * np.sign(gradient) * np.sqrt(np.abs(variable.data))


def test_the_fast_path_is_what_the_class_declares(monkeypatch):
    def sign_run(grouped):
        monkeypatch.setattr(optimizers.Optimizer, "flat_group_max_size", 1 << 15 if grouped else 0)
        opt, variables = SignDescent(0.1), make_variables()
        for step in range(3):
            opt.apply(gradients(step), variables)
        return opt, variables

    opt, grouped = sign_run(True)
    assert len(opt._groups) == 1 and len(next(iter(opt._groups.values())).variables) == len(SHAPES)
    for a, b in zip(sign_run(False)[1], grouped):
        np.testing.assert_array_equal(a.data, b.data)

    class Plain(SignDescent):  # its own update_step, not declared element-wise
        def update_step(self, gradient, variable, learning_rate):
            assert variable.shape in SHAPES
            super().update_step(gradient, variable, learning_rate)

    class Declared(Plain):
        elementwise_update = True

    assert not Plain.elementwise_update and Declared.elementwise_update
    assert all(cls.elementwise_update for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW,
                                                  optimizers.Nadam, optimizers.Adamax, optimizers.RMSprop,
                                                  optimizers.Adagrad, optimizers.Adadelta))
    plain = Plain(0.1)
    plain.apply(gradients(0), make_variables())
    assert not plain._groups
