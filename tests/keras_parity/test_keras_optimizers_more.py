"""Adafactor, Ftrl, Lamb, Lion, Muon, ScheduleFreeAdamW, the base options (use_ema,
gradient_accumulation_steps, loss_scale_factor) and the wrappers (LossScaleOptimizer,
MultiOptimizer): six updates from the same gradients move a Keras variable and a deepgrad
Variable to the same values (float64 variables; Keras keeps its learning rate in float32,
which bounds the agreement at about 1e-8 of a step)."""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy

STEPS = 6


def _run(k_opt, d_opt, shapes=((3, 4), (4,)), names=None, steps=STEPS, grads=None, tol=1e-7):
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s) for s in shapes]
    names = names or [f"v{i}" for i in range(len(shapes))]
    k_vars = [keras.Variable(v.copy(), dtype="float64", name=n) for v, n in zip(init, names)]
    d_vars = [dg.Variable(v.copy(), name=n) for v, n in zip(init, names)]
    g_rng = np.random.default_rng(0)
    for step in range(steps):
        gs = grads[step] if grads is not None else [g_rng.standard_normal(s) for s in shapes]
        k_opt.apply_gradients([(torch.from_numpy(np.array(g, dtype="float64")), v) for g, v in zip(gs, k_vars)])
        d_opt.apply_gradients([(np.array(g, dtype="float64"), v) for g, v in zip(gs, d_vars)])
        for i, (d, k) in enumerate(zip(d_vars, k_vars)):
            np.testing.assert_allclose(d.data, to_numpy(k), rtol=tol, atol=tol,
                                       err_msg=f"{type(d_opt).__name__} variable {i} after step {step + 1}")
    assert int(to_numpy(k_opt.iterations)) == int(d_opt.iterations)
    return k_vars, d_vars


CASES = [
    ("Lion", dict()),
    ("Lion", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, weight_decay=0.1)),
    ("Lamb", dict(learning_rate=0.01)),
    ("Lamb", dict(learning_rate=0.05, beta_1=0.8, epsilon=1e-4, clipnorm=0.5)),
    ("Ftrl", dict(learning_rate=0.1)),
    ("Ftrl", dict(learning_rate=0.1, learning_rate_power=-0.3, l1_regularization_strength=0.01,
                  l2_regularization_strength=0.1, l2_shrinkage_regularization_strength=0.05, beta=0.2)),
    ("Adafactor", dict(learning_rate=0.01)),
    ("Adafactor", dict(learning_rate=0.5, relative_step=False, clip_threshold=0.5, beta_2_decay=-0.5)),
    ("Muon", dict(learning_rate=0.01)),
    ("Muon", dict(learning_rate=0.01, nesterov=False, rms_rate=None, adam_lr_ratio=0.5, momentum=0.8,
                  ns_steps=3, weight_decay=0.1)),
    ("Adam", dict(learning_rate=0.01, use_ema=True)),
    ("Lion", dict(learning_rate=0.01, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=2)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, gradient_accumulation_steps=2)),
    ("Adam", dict(learning_rate=0.1, gradient_accumulation_steps=3, global_clipnorm=1.0, weight_decay=0.1)),
    ("Lamb", dict(learning_rate=0.1, loss_scale_factor=4.0, clipvalue=0.5)),
    ("Ftrl", dict(learning_rate=0.1, use_ema=True, gradient_accumulation_steps=2)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_updates_match_keras(name, kwargs):
    tol = 1e-6 if kwargs.get("learning_rate", 0.001) >= 0.1 else 1e-7
    _run(getattr(keras.optimizers, name)(**kwargs), getattr(dg.optimizers, name)(**kwargs), tol=tol)


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_higher_rank_and_mixed_variables(name):
    """Adafactor factors the last two axes of a rank-3 kernel; Muon orthogonalises both a
    tall and a wide matrix (the tall one transposed) and leaves the vector to AdamW."""
    kwargs = dict(learning_rate=0.1 if name == "Adafactor" else 0.01)
    shapes = ((2, 3, 4), (5, 3), (4,)) if name == "Adafactor" else ((5, 3), (3, 5), (4,))
    _run(getattr(keras.optimizers, name)(**kwargs), getattr(dg.optimizers, name)(**kwargs), shapes=shapes,
         tol=1e-6)


def test_muon_sends_excluded_and_embedding_variables_to_adamw():
    kwargs = dict(learning_rate=0.01, exclude_layers=["dense.*"], weight_decay=0.2, adam_weight_decay=0.05)
    names = ["dense_kernel", "embedding_table", "mlp_kernel"]
    _run(keras.optimizers.Muon(**kwargs), dg.optimizers.Muon(**kwargs), shapes=((4, 3), (6, 3), (3, 5)),
         names=names)
    opt = dg.optimizers.Muon(**kwargs)
    variables = [dg.Variable(np.zeros(s), name=n) for s, n in zip(((4, 3), (6, 3), (3, 5)), names)]
    assert [opt._should_use_adamw(v) for v in variables] == [True, True, False]


class _KerasScheduleFreeWithValueSemantics(keras.optimizers.ScheduleFreeAdamW):
    """Keras's ScheduleFreeAdamW reads z_{t-1} as ``momentum.value`` and then assigns z_t; on
    the torch backend that tensor is updated in place, so the recovered x uses z_t. On JAX
    and TensorFlow, and in the paper, it is z_{t-1}: here assignments replace the tensor."""

    def build(self, var_list):
        super().build(var_list)
        for m in self._momentums:
            m._direct_assign = (lambda var: lambda value: setattr(var, "_value", torch.as_tensor(value).clone()))(m)


@pytest.mark.parametrize("kwargs", [dict(learning_rate=0.01), dict(learning_rate=0.01, warmup_steps=3, beta_1=0.8),
                                    dict(learning_rate=0.01, weight_decay=0.1, epsilon=1e-4)])
def test_schedule_free_adamw_matches_keras(kwargs):
    _run(_KerasScheduleFreeWithValueSemantics(**kwargs), dg.optimizers.ScheduleFreeAdamW(**kwargs))


@pytest.mark.parametrize("growth", [2, 2000])
def test_loss_scale_optimizer_matches_keras_through_overflows(growth):
    """Steps 3 and 5 carry an inf and a NaN: the update is skipped and the scale halved; the
    scale doubles after ``dynamic_growth_steps`` finite steps in a row."""
    rng = np.random.default_rng(5)
    grads = [[rng.standard_normal((3, 4)) * 100, rng.standard_normal(4) * 100] for _ in range(STEPS)]
    grads[2][0][0, 0] = np.inf
    grads[4][1][1] = np.nan
    k_opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01), initial_scale=8.0,
                                                dynamic_growth_steps=growth)
    d_opt = dg.optimizers.LossScaleOptimizer(dg.optimizers.Adam(0.01), initial_scale=8.0,
                                             dynamic_growth_steps=growth)
    k_scales, d_scales = [], []
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s) for s in ((3, 4), (4,))]
    k_vars = [keras.Variable(v.copy(), dtype="float64") for v in init]
    d_vars = [dg.Variable(v.copy()) for v in init]
    for gs in grads:
        k_opt.apply_gradients([(torch.from_numpy(g.copy()), v) for g, v in zip(gs, k_vars)])
        d_opt.apply_gradients([(g.copy(), v) for g, v in zip(gs, d_vars)])
        k_scales.append(float(to_numpy(k_opt.dynamic_scale)))
        d_scales.append(d_opt.dynamic_scale)
        for d, k in zip(d_vars, k_vars):
            np.testing.assert_allclose(d.data, to_numpy(k), rtol=1e-7, atol=1e-7)
    assert d_scales == k_scales
    assert int(to_numpy(k_opt.iterations)) == d_opt.iterations == STEPS - 2
    assert float(np.asarray(d_opt.scale_loss(dg.Tensor(np.float32(2.0))).data)) == 2.0 * d_scales[-1]


def test_multi_optimizer_matches_keras():
    def make(module):
        o = module.optimizers
        mapping = o.OptimizerMap(o.SGD(0.1, momentum=0.9), {"dense.*": o.Adam(0.01), "bias": o.Lion(0.01)})
        return o.MultiOptimizer(mapping)

    k_opt, d_opt = make(keras), make(dg)
    _run(k_opt, d_opt, shapes=((3, 4), (4,), (2, 2)), names=["dense_kernel", "bias", "other"])
    assert [type(o).__name__ for o in d_opt.optimizers] == [type(o).__name__ for o in k_opt.optimizers]
    with pytest.raises(AttributeError, match="inner optimizers"):
        d_opt.learning_rate


@pytest.mark.parametrize("name", ["Adafactor", "Ftrl", "Lamb", "Lion", "Muon", "ScheduleFreeAdamW"])
def test_config_matches_keras(name):
    k_config = getattr(keras.optimizers, name)().get_config()
    d_config = getattr(dg.optimizers, name)().get_config()
    assert set(d_config) == set(k_config)
    for key in set(k_config) - {"name"}:
        assert d_config[key] == pytest.approx(k_config[key]) if isinstance(k_config[key], float) else \
            d_config[key] == k_config[key], key


def test_wrapper_configs_match_keras():
    k = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5), initial_scale=4.0).get_config()
    d = dg.optimizers.LossScaleOptimizer(dg.optimizers.SGD(0.5), initial_scale=4.0).get_config()
    assert set(d) == set(k) and d["initial_scale"] == k["initial_scale"]
    assert d["dynamic_growth_steps"] == k["dynamic_growth_steps"] == 2000
    assert d["inner_optimizer"]["class_name"] == k["inner_optimizer"]["class_name"] == "SGD"


def test_legacy_names_refuse_as_keras_does():
    assert sorted(n for n in dir(keras.optimizers.legacy) if not n.startswith("_")) == \
        sorted(dg.optimizers.legacy.__all__)
    with pytest.raises(ImportError):
        keras.optimizers.legacy.Adam()
    with pytest.raises(ImportError, match="deepgrad.optimizers.Adam"):
        dg.optimizers.legacy.Adam(learning_rate=0.1)
