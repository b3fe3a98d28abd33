"""Adafactor, Ftrl, Lamb, Lion, Muon, ScheduleFreeAdamW and the base options on their own:
state round trips, configs, the flat-group path, PyTorch's Muon, and use in ``fit``
(compile by name, use_ema finalised at the end, loss scaling)."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import optimizers

NEW = ["adafactor", "ftrl", "lamb", "lion", "muon", "schedulefreeadamw"]


def variables(seed=1):
    rng = np.random.default_rng(seed)
    return [dg.Variable(rng.standard_normal((3, 2)), name="dense/kernel"),
            dg.Variable(rng.standard_normal(4), name="b")]


def grads_for(step):
    g = np.random.default_rng(100 + step)
    return [g.standard_normal((3, 2)), g.standard_normal(4)]


def make(name, **kwargs):
    return optimizers.get({"class_name": name, "config": kwargs}) if kwargs else optimizers.get(name)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("extra", [{}, {"use_ema": True, "gradient_accumulation_steps": 2}])
def test_state_round_trip_continues_identically(name, extra):
    reference, ref_vars = make(name, **extra), variables()
    for step in range(8):
        reference.apply(grads_for(step), ref_vars)
    first, vars_a = make(name, **extra), variables()
    for step in range(5):
        first.apply(grads_for(step), vars_a)
    state = {k: v.copy() for k, v in first.get_state().items()}
    second = make(name, **extra)
    second.set_state(state)
    vars_b = [dg.Variable(v.data.copy(), name=v.name) for v in vars_a]
    for step in range(5, 8):
        second.apply(grads_for(step), vars_b)
    assert second.iterations == reference.iterations == (4 if extra else 8)
    for got, want in zip(vars_b, ref_vars):
        np.testing.assert_array_equal(got.data, want.data)
    assert np.any(vars_b[0].data != variables()[0].data)


@pytest.mark.parametrize("name", NEW)
def test_config_round_trip(name):
    opt = make(name)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()


@pytest.mark.parametrize("name", ["Lion", "Ftrl", "ScheduleFreeAdamW"])
def test_flat_group_path_equals_one_variable_at_a_time(name):
    """Element-wise optimisers update small variables as one flat array: the same bits."""
    grouped = getattr(optimizers, name)(learning_rate=0.05)
    single = getattr(optimizers, name)(learning_rate=0.05)
    single.flat_group_max_size = 0
    vars_a, vars_b = variables(), variables()
    for step in range(4):
        grouped.apply(grads_for(step), vars_a)
        single.apply(grads_for(step), vars_b)
    assert grouped._groups and not single._groups
    for a, b in zip(vars_a, vars_b):
        np.testing.assert_array_equal(a.data, b.data)


def test_muon_against_pytorch():
    """PyTorch's Muon runs Newton-Schulz in bfloat16 and scales its momentum by (1 - μ), which
    the normalisation removes: with adjust_lr_fn="match_rms_adamw" the steps agree to
    bfloat16 precision (a wrong RMS scale, 0.2 √max(m, n), would be off by half)."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 3))
    theirs = torch.nn.Parameter(torch.tensor(w0.copy()))
    torch_opt = torch.optim.Muon([theirs], lr=0.01, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    ours = dg.Variable(w0.copy(), name="kernel")
    opt = optimizers.Muon(learning_rate=0.01, weight_decay=0.1)
    g = np.random.default_rng(0)
    for _ in range(6):
        grad = g.standard_normal((5, 3))
        theirs.grad = torch.tensor(grad.copy())
        torch_opt.step()
        opt.apply_gradients([(grad.copy(), ours)])
    moved = np.abs(ours.data - w0).max()
    assert moved > 0.01
    assert np.abs(ours.data - theirs.detach().numpy()).max() < 0.02 * moved


def test_newton_schulz_makes_singular_values_near_one():
    x = np.random.default_rng(0).standard_normal((6, 4)) @ np.diag([10.0, 1.0, 0.1, 3.0])
    s = np.linalg.svd(optimizers.Muon().zeropower_via_newtonschulz5(x, 5), compute_uv=False)
    assert np.all((s > 0.6) & (s < 1.25)), s
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        optimizers.Muon().zeropower_via_newtonschulz5(np.ones(3), 5)


def test_adafactor_keeps_factored_state():
    opt = optimizers.Adafactor()
    opt.build([dg.Variable(np.zeros((2, 5, 7))), dg.Variable(np.zeros(3))])
    state = opt.get_state()
    assert state["0/r"].shape == (2, 5) and state["0/c"].shape == (2, 7) and state["0/velocity"].shape == (2, 5, 7)
    assert state["1/r"].shape == () and state["1/velocity"].shape == (3,)


def test_argument_errors_name_the_optimizer_and_argument():
    with pytest.raises(ValueError, match="Lion: beta_1"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="Ftrl: learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="gradient_accumulation_steps must be an integer >= 2"):
        optimizers.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="ema_momentum"):
        optimizers.SGD(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="does not support clipnorm"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="keeps no moving averages"):
        optimizers.SGD().moving_averages()


def _model(optimizer, seed=0):
    dg.utils.set_random_seed(seed)
    model = dg.Sequential([dg.layers.Input((4,)), dg.layers.Dense(8, activation="tanh"), dg.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 0.0], "float32"))[:, None]


@pytest.mark.parametrize("name", NEW)
def test_compile_by_name_trains(name):
    x, y = _data()
    model = _model(name)
    assert type(model.optimizer).__name__.lower() == name
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


def test_fit_with_use_ema_ends_on_the_averages():
    x, y = _data()
    model = _model(optimizers.Adam(0.01, use_ema=True, ema_momentum=0.5))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    averages = [a.copy() for _, a in model.optimizer.moving_averages()]
    for var, average in zip(model.trainable_weights, averages):
        np.testing.assert_array_equal(var.data, average)


def test_fit_with_loss_scaling_equals_fit_without():
    """A power-of-two loss scale is exact in floating point: the same weights either way."""
    x, y = _data()
    plain = _model(optimizers.SGD(0.05))
    scaled = _model(optimizers.LossScaleOptimizer(optimizers.SGD(0.05), initial_scale=1024.0))
    factor = _model(optimizers.SGD(0.05, loss_scale_factor=256.0))
    for m in (plain, scaled, factor):
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b, c in zip(plain.get_weights(), scaled.get_weights(), factor.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-7)
    assert scaled.optimizer.iterations == 8


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (4,)])
def test_adafactor_against_pytorch(shape):
    """PyTorch's Adafactor is the same algorithm: six steps agree to float64 rounding."""
    w0 = np.random.default_rng(1).standard_normal(shape)
    theirs = torch.nn.Parameter(torch.tensor(w0.copy()))
    torch_opt = torch.optim.Adafactor([theirs], lr=0.1)
    ours = dg.Variable(w0.copy())
    opt = optimizers.Adafactor(learning_rate=0.1)
    g = np.random.default_rng(0)
    for _ in range(6):
        grad = g.standard_normal(shape)
        theirs.grad = torch.tensor(grad.copy())
        torch_opt.step()
        opt.apply_gradients([(grad.copy(), ours)])
    assert np.abs(ours.data - w0).max() > 0.2
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
