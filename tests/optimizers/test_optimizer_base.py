"""What every optimiser shares: clipping, weight decay, constraints, the learning-rate
property, state save/restore, configs and ``optimizers.get``."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import constraints, optimizers
from deepgrad.optimizers import schedules

RNG = np.random.default_rng(1)


def variables():
    return [dg.Variable(RNG.standard_normal((3, 2))), dg.Variable(RNG.standard_normal(4))]


def grads_for(step):
    g = np.random.default_rng(100 + step)
    return [g.standard_normal((3, 2)), g.standard_normal(4)]


def test_clipnorm_per_variable():
    w = dg.Variable(np.zeros(2))
    opt = optimizers.SGD(1.0, clipnorm=1.0)
    opt.apply([np.array([3.0, 4.0])], [w])
    np.testing.assert_allclose(w.data, [-0.6, -0.8])  # g * 1 / |g|, |g| = 5
    opt.apply([np.array([0.3, 0.4])], [w])  # within the limit: unchanged
    np.testing.assert_allclose(w.data, [-0.9, -1.2])


def test_global_clipnorm_and_clipvalue():
    a, b = dg.Variable(np.zeros(1)), dg.Variable(np.zeros(1))
    optimizers.SGD(1.0, global_clipnorm=1.0).apply([np.array([3.0]), np.array([4.0])], [a, b])
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.6, -0.8])
    w = dg.Variable(np.zeros(3))
    optimizers.SGD(1.0, clipvalue=0.5).apply([np.array([-2.0, 0.1, 3.0])], [w])
    np.testing.assert_allclose(w.data, [0.5, -0.1, -0.5])


def test_clipping_leaves_the_callers_gradient_alone():
    w = dg.Variable(np.zeros(2))
    w.grad = np.array([3.0, 4.0])
    optimizers.SGD(1.0, clipnorm=1.0).step([w])
    np.testing.assert_allclose(w.grad, [3.0, 4.0])


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)


def test_decoupled_weight_decay_before_the_update():
    w = dg.Variable(np.array([2.0, -1.0]))
    optimizers.SGD(0.1, weight_decay=0.5).apply([np.array([1.0, 1.0])], [w])
    # w <- w - lr * wd * w, then w <- w - lr * g
    np.testing.assert_allclose(w.data, np.array([2.0, -1.0]) * (1 - 0.05) - 0.1)


def test_exclude_from_weight_decay():
    w, bias = dg.Variable(np.ones(2), name="kernel"), dg.Variable(np.ones(2), name="dense/bias")
    opt = optimizers.SGD(0.1, weight_decay=1.0)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(2), np.zeros(2)], [w, bias])
    np.testing.assert_allclose(w.data, [0.9, 0.9])
    np.testing.assert_allclose(bias.data, [1.0, 1.0])


def test_constraint_applied_after_the_step():
    w = dg.Variable(np.array([1.0, -1.0]))
    w.constraint = constraints.NonNeg()
    optimizers.SGD(1.0).apply([np.array([0.5, 0.5])], [w])
    np.testing.assert_allclose(w.data, [0.5, 0.0])
    u = dg.Variable(np.array([[3.0], [4.0]]))
    u.constraint = "unit_norm"
    optimizers.SGD(0.0).apply([np.zeros((2, 1))], [u])
    np.testing.assert_allclose(u.data, [[0.6], [0.8]], rtol=1e-6)


def test_none_gradients_are_skipped():
    a, b = dg.Variable(np.ones(2)), dg.Variable(np.ones(2))
    opt = optimizers.SGD(0.5)
    opt.apply_gradients([(None, a), (np.ones(2), b)])
    np.testing.assert_allclose(a.data, [1.0, 1.0])
    np.testing.assert_allclose(b.data, [0.5, 0.5])
    assert opt.iterations == 1


def test_gradient_shape_mismatch_is_named():
    w = dg.Variable(np.ones((2, 3)), name="kernel")
    with pytest.raises(ValueError, match=r"\(3, 2\).*'kernel'.*\(2, 3\)"):
        optimizers.SGD().apply([np.ones((3, 2))], [w])


def test_learning_rate_is_a_variable_that_reads_and_writes_numbers():
    opt = optimizers.Adam(0.01)
    assert isinstance(opt.learning_rate, dg.Variable) and opt.learning_rate.dtype == np.float32
    assert float(opt.learning_rate) == pytest.approx(0.01) and opt.learning_rate is opt.learning_rate
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5 and opt.get_config()["learning_rate"] == 0.5
    opt.learning_rate = np.float32(0.25)
    assert float(opt.learning_rate) == 0.25
    opt.learning_rate.assign(0.125)
    assert opt._current_learning_rate() == 0.125 and opt.get_config()["learning_rate"] == 0.125
    with pytest.raises(ValueError, match="non-negative"):
        opt.learning_rate = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        opt.learning_rate.assign(-1.0)
    assert float(opt.learning_rate) == 0.125


def test_iterations_is_an_int_variable_counted_by_the_update():
    opt = optimizers.SGD(0.1)
    w = dg.Variable(np.zeros(2))
    assert isinstance(opt.iterations, dg.Variable) and opt.iterations.dtype.kind == "i"
    opt.apply([np.ones(2)], [w])
    opt.apply([np.ones(2)], [w])
    assert int(opt.iterations) == 2 and opt.iterations.numpy() == 2 and opt.variables[0] is opt.iterations
    opt.iterations.assign(10)
    assert opt.get_state()["iterations"] == 10


def test_schedule_is_evaluated_at_iterations():
    schedule = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(schedule)
    w = dg.Variable(np.zeros(1))
    seen = []
    for _ in range(3):
        seen.append(opt.learning_rate)
        opt.apply([np.ones(1)], [w])
    assert seen == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(w.data, [-1.75])
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(clone._learning_rate, schedules.ExponentialDecay) and clone.learning_rate == 1.0


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"])
def test_state_round_trip_continues_identically(name):
    def make():
        opt = optimizers.get(name)
        if name == "sgd":
            opt = optimizers.SGD(0.1, momentum=0.9)
        if name == "rmsprop":
            opt = optimizers.RMSprop(momentum=0.5, centered=True)
        return opt

    base = variables()
    reference, ref_vars = make(), [dg.Variable(v.data.copy()) for v in base]
    for step in range(10):
        reference.apply(grads_for(step), ref_vars)

    first, vars_a = make(), [dg.Variable(v.data.copy()) for v in base]
    for step in range(5):
        first.apply(grads_for(step), vars_a)
    state = {k: v.copy() for k, v in first.get_state().items()}
    assert int(state["iterations"]) == 5

    second = make()  # state given before build is applied when the variables arrive
    second.set_state(state)
    vars_b = [dg.Variable(v.data.copy()) for v in vars_a]
    for step in range(5, 10):
        second.apply(grads_for(step), vars_b)
    assert second.iterations == 10
    for got, want in zip(vars_b, ref_vars):
        np.testing.assert_array_equal(got.data, want.data)


def test_state_keys_and_mismatch_errors():
    opt = optimizers.Adam()
    vs = variables()
    opt.build(vs)
    state = opt.get_state()
    assert {"iterations", "0/m", "0/v", "1/m", "1/v"} <= set(state)
    assert state["0/m"].shape == (3, 2)
    bad = dict(state, **{"1/v": np.zeros(5)})
    with pytest.raises(ValueError, match=r"1/v.*\(4,\).*\(5,\)"):
        opt.set_state(bad)
    with pytest.raises(ValueError, match="missing keys"):
        opt.set_state({"iterations": np.asarray(0)})


def test_adagrad_accumulator_starts_at_initial_value():
    opt = optimizers.Adagrad(initial_accumulator_value=0.3)
    opt.build([dg.Variable(np.zeros(3, np.float32))])
    np.testing.assert_array_equal(opt.get_state()["0/accumulator"], np.full(3, 0.3, np.float32))


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"])
def test_get_config_round_trip(name):
    opt = optimizers.get(name)
    clone = type(opt).from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert optimizers.get({"class_name": type(opt).__name__, "config": opt.get_config()}).get_config() == \
        opt.get_config()


def test_get_names_defaults_and_errors():
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    adam = optimizers.Adam()
    assert optimizers.get(adam) is adam
    assert adam.learning_rate == 0.001 and adam.epsilon == 1e-7
    assert optimizers.get("sgd").learning_rate == 0.01
    assert optimizers.get("adamw").weight_decay == 0.004
    assert optimizers.get("adagrad").initial_accumulator_value == 0.1
    assert optimizers.get("adadelta").rho == 0.95
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        optimizers.get("adamm")
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):  # Keras 3 ignores it
        assert optimizers.SGD(decay=0.1).learning_rate == 0.01
    with pytest.raises(ValueError, match="not recognized: {'lr': 0.1}"):
        optimizers.RMSprop(lr=0.1)


def test_step_uses_dot_grad_and_the_built_variables():
    w = dg.Variable(np.array([1.0, 2.0]))
    opt = optimizers.SGD(0.5)
    opt.build([w])
    w.grad = np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_allclose(w.data, [0.5, 2.5])
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="no variables"):
        optimizers.SGD().step()


def test_callable_learning_rate_and_lr_alias():
    current = {"lr": 0.5}
    opt = optimizers.SGD(lambda: current["lr"])
    w = dg.Variable(np.zeros(1))
    opt.apply([np.ones(1)], [w])
    current["lr"] = 0.25
    opt.apply([np.ones(1)], [w])
    np.testing.assert_allclose(w.data, [-0.75])
    plain = optimizers.SGD(0.1)
    plain.lr = 0.2
    assert plain.learning_rate == 0.2 and plain.lr == 0.2


def test_state_keeps_a_learning_rate_set_during_training():
    opt = optimizers.Adam(0.01)
    opt.build(variables())
    opt.learning_rate = 0.003  # what ReduceLROnPlateau does
    restored = optimizers.Adam(0.01)
    restored.build(variables())
    restored.set_state(opt.get_state())
    assert restored.learning_rate == 0.003
