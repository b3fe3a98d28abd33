"""``optimizer.stateless_apply(optimizer_variables, grads, trainable_variables)`` against Keras's
torch backend: the same new values over chained steps, nothing changed in the optimiser, the
model or the values given, and the same autograd behaviour (no gradient through the update to
``grads``; a new value's gradient goes to the value given for it)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
import torch  # noqa: E402

import deepgrad as dg  # noqa: E402


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(getattr(x, "data", x))


CASES = [("SGD", {"momentum": 0.9, "nesterov": True}), ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 0.1}),
         ("RMSprop", {"momentum": 0.5}), ("Adagrad", {}), ("Nadam", {}), ("Adamax", {}), ("Adadelta", {}),
         ("Lion", {}), ("Ftrl", {}), ("Lamb", {})]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_new_values_are_keras_s_and_nothing_changes(name, kwargs):
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    steps = [[rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=3).astype("float32")] for _ in range(3)]
    theirs = getattr(keras.optimizers, name)(learning_rate=0.05, **kwargs)
    theirs.build([keras.Variable(v) for v in values])
    model_vars = [dg.Variable(v.copy()) for v in values]
    ours = getattr(dg.optimizers, name)(learning_rate=0.05, **kwargs)
    ours.build(model_vars)
    state_before = [a.copy() for a in ours._state_arrays()]
    k_state = [torch.tensor(_numpy(v.value)) for v in theirs.variables]
    d_state = [dg.Tensor(a, dtype=a.dtype) for a in ours._state_arrays()]
    assert len(d_state) == len(k_state)
    k_values, d_values = [torch.tensor(v) for v in values], [dg.Tensor(v) for v in values]
    for grads in steps:  # each step from the values the previous one returned
        given = [t.data.copy() for t in d_values + d_state]
        k_values, k_state = theirs.stateless_apply(k_state, [torch.tensor(g) for g in grads],
                                                   [t.clone() for t in k_values])
        d_values, d_state = ours.stateless_apply(d_state, grads, d_values)
        assert all(isinstance(t, dg.Tensor) for t in d_values + d_state)
        for a, b in zip(d_values + d_state, list(k_values) + list(k_state)):
            np.testing.assert_allclose(_numpy(a).astype(np.float64), _numpy(b).astype(np.float64),
                                       rtol=2e-5, atol=1e-6, err_msg=name)
        for before, t in zip(given, d_values + d_state):  # the values given were not written
            assert not np.shares_memory(before, t.data)
    for v, original in zip(model_vars, values):
        np.testing.assert_array_equal(v.data, original)
    for a, b in zip(state_before, ours._state_arrays()):
        np.testing.assert_array_equal(a, b)


def test_gradients_through_it_are_keras_torch_s():
    values = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    grads = np.full((2, 3), 0.5, "float32")
    theirs = keras.optimizers.AdamW(0.1, weight_decay=0.5)
    theirs.build([keras.Variable(values)])
    ours = dg.optimizers.AdamW(0.1, weight_decay=0.5)
    ours.build([dg.Variable(values.copy())])
    k_state = [torch.tensor(_numpy(v.value), requires_grad=v.dtype.startswith("float")) for v in theirs.variables]
    k_grad, k_value = torch.tensor(grads, requires_grad=True), torch.tensor(values, requires_grad=True)
    k_new, k_new_state = theirs.stateless_apply(k_state, [k_grad], [k_value])
    weights = [torch.tensor(np.arange(1.0, 1.0 + t.numel(), dtype=np.float32).reshape(t.shape)) for t in
               [k_new[0], *k_new_state]]
    (sum((t.float() * w).sum() for t, w in zip([k_new[0], *k_new_state], weights))).backward()
    d_state = [dg.Tensor(a, dtype=a.dtype, requires_grad=a.dtype.kind == "f") for a in ours._state_arrays()]
    d_grad, d_value = dg.Tensor(grads, requires_grad=True), dg.Tensor(values, requires_grad=True)
    d_new, d_new_state = ours.stateless_apply(d_state, [d_grad], [d_value])
    total = sum(((t.astype("float32") * w.numpy()).sum() for t, w in zip([d_new[0], *d_new_state], weights)),
                dg.Tensor(np.float32(0)))
    found = dg.grad(total, [d_value, d_grad] + [t for t in d_state if t.requires_grad])
    assert k_grad.grad is None and found[1] is None
    np.testing.assert_array_equal(found[0], k_value.grad.numpy())
    for ours_g, t in zip(found[2:], [t for t in k_state if t.requires_grad]):
        np.testing.assert_array_equal(ours_g, t.grad.numpy())
