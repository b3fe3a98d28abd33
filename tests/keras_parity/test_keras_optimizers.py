"""Five updates from the same gradients move a Keras variable and a deepgrad Variable to the same values.

The variables are float64 so that a difference in a formula is not hidden by float32
rounding (in float32 Adam at learning rate 0.1 already differs by a few ulp from one
order of operations to another). Keras keeps its learning rate and evaluates its
schedules in float32, which bounds the agreement at about 1e-8 of a step.
"""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy

STEPS = 5

CASES = [
    ("SGD", dict(learning_rate=0.1)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.01)),
    ("RMSprop", dict()),
    ("RMSprop", dict(learning_rate=0.01, rho=0.8)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("Adam", dict()),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-5)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("AdamW", dict(learning_rate=0.01)),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict(learning_rate=0.1)),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", dict(learning_rate=1.0)),
    ("Adadelta", dict(learning_rate=0.5, rho=0.9)),
    ("Adamax", dict(learning_rate=0.01)),
    ("Nadam", dict(learning_rate=0.01)),
    ("Nadam", dict(learning_rate=0.01, beta_1=0.8)),
    ("Adam", dict(learning_rate=0.01, clipnorm=0.5)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, clipnorm=0.5)),
    ("SGD", dict(learning_rate=0.1, clipvalue=0.3)),
    ("Adam", dict(learning_rate=0.01, global_clipnorm=0.7)),
]


def gradient_sequence(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype("float64") for s in shapes] for _ in range(STEPS)]


def run_both(name, k_kwargs, d_kwargs, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s).astype("float64") for s in shapes]
    k_vars = [keras.Variable(v.copy(), dtype="float64") for v in init]
    d_vars = [dg.Variable(v.copy()) for v in init]
    k_opt = getattr(keras.optimizers, name)(**k_kwargs)
    d_opt = getattr(dg.optimizers, name)(**d_kwargs)
    for step, grads in enumerate(gradient_sequence(shapes)):
        k_opt.apply_gradients([(torch.from_numpy(g.copy()), v) for g, v in zip(grads, k_vars)])
        d_opt.apply_gradients([(g.copy(), v) for g, v in zip(grads, d_vars)])
        for i, (d, k) in enumerate(zip(d_vars, k_vars)):
            np.testing.assert_allclose(d.data, to_numpy(k), rtol=1e-7, atol=1e-7,
                                       err_msg=f"{name}({d_kwargs}) variable {i} after step {step + 1}")
    assert int(to_numpy(k_opt.iterations)) == int(np.asarray(d_opt.iterations)) == STEPS


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimizer_updates(name, kwargs):
    run_both(name, kwargs, kwargs)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_schedule(staircase):
    def schedule(module):
        return module.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=staircase)

    for step in range(6):
        np.testing.assert_allclose(float(np.asarray(schedule(dg)(step))),
                                   float(to_numpy(schedule(keras)(step))), rtol=1e-6)
    run_both("SGD", dict(learning_rate=schedule(keras), momentum=0.9),
             dict(learning_rate=schedule(dg), momentum=0.9))
    run_both("Adam", dict(learning_rate=schedule(keras), clipnorm=1.0), dict(learning_rate=schedule(dg), clipnorm=1.0))


@pytest.mark.parametrize("name", ["PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay",
                                  "CosineDecayRestarts"])
def test_other_schedules(name):
    args = {"PiecewiseConstantDecay": ([2, 4], [0.1, 0.05, 0.01]), "PolynomialDecay": (0.1, 5),
            "InverseTimeDecay": (0.1, 2, 0.5), "CosineDecay": (0.1, 5), "CosineDecayRestarts": (0.1, 3)}[name]
    k_schedule = getattr(keras.optimizers.schedules, name)(*args)
    d_schedule = getattr(dg.optimizers.schedules, name)(*args)
    for step in range(8):
        np.testing.assert_allclose(float(np.asarray(d_schedule(step))), float(to_numpy(k_schedule(step))),
                                   rtol=1e-6, atol=1e-8, err_msg=f"step {step}")


def _state_story(K):
    """An optimizer's iterations and learning rate read and set the Keras ways between steps."""
    opt = K.optimizers.SGD(0.5, name="sgd")
    var = K.Variable(np.ones(3, np.float32))
    grad = K.ops.convert_to_tensor(np.full(3, 0.5, np.float32))
    seen = [type(opt.iterations).__name__, type(opt.learning_rate).__name__,
            np.dtype(K.ops.convert_to_numpy(opt.learning_rate).dtype).name,
            np.dtype(K.ops.convert_to_numpy(opt.iterations).dtype).kind,
            [v.path for v in opt.variables]]
    opt.apply_gradients([(grad, var)])
    opt.learning_rate = 0.25                     # set as a number: the next step uses it
    opt.apply_gradients([(grad, var)])
    opt.learning_rate.assign(0.125)              # assigned: the next step uses it
    opt.apply_gradients([(grad, var)])
    seen += [int(opt.iterations), float(opt.learning_rate), opt.iterations.numpy().item(),
             K.ops.convert_to_numpy(var).tolist()]
    opt.iterations.assign(7)
    seen.append(int(opt.iterations.value))
    schedule = K.optimizers.SGD(K.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5))
    schedule.apply_gradients([(grad, K.Variable(np.ones(3, np.float32)))])
    seen += [type(schedule._learning_rate).__name__, np.float32(float(schedule.learning_rate)).item()]
    with pytest.raises(TypeError):
        schedule.learning_rate = 0.1
    return seen


def test_iterations_and_learning_rate_are_kerass_variables():
    """Both are Variables (the learning rate float32), set as numbers or assigned, and the next
    update uses the new rate; a schedule stays a schedule, evaluated at the iterations."""
    ours, theirs = _state_story(dg), _state_story(keras)
    assert theirs[:2] == ["Variable", "Variable"]
    assert ours[2:] == theirs[2:]
