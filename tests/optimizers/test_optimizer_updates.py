"""Every optimiser, 20 steps on a small least-squares problem, against torch.optim (float64)
where the formulas coincide and against Keras's formula written out where they differ."""
import math

import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import optimizers

STEPS = 20
RNG = np.random.default_rng(0)
A = RNG.standard_normal((6, 4))
B = RNG.standard_normal(6)
W0 = RNG.standard_normal(4)
V0 = RNG.standard_normal((2, 3))


def gradients(w, v):
    """d/dw of 0.5 |A w - b|^2 and d/dv of 0.5 |v|^4-ish: gradients depend on the current weights,
    so every difference in the update compounds over the steps."""
    return A.T @ (A @ w - B), v * np.sum(v * v) + 0.1


def run_deepgrad(opt, steps=STEPS, dtype=np.float64):
    w, v = dg.Variable(W0.astype(dtype)), dg.Variable(V0.astype(dtype))
    for _ in range(steps):
        gw, gv = gradients(w.data, v.data)
        opt.apply_gradients([(gw.astype(dtype), w), (gv.astype(dtype), v)])
    return w.data, v.data


def run_torch(make, steps=STEPS):
    w, v = torch.tensor(W0, requires_grad=True), torch.tensor(V0, requires_grad=True)
    opt = make([w, v])
    for _ in range(steps):
        gw, gv = gradients(w.detach().numpy(), v.detach().numpy())
        w.grad, v.grad = torch.tensor(gw), torch.tensor(gv)
        opt.step()
    return w.detach().numpy(), v.detach().numpy()


# (deepgrad optimiser, the torch optimiser with the same mathematics)
SAME_AS_TORCH = {
    "sgd": (lambda: optimizers.SGD(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd_momentum": (lambda: optimizers.SGD(0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": (lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    # Keras adds epsilon inside the square root, PyTorch after it: equal with epsilon 0
    "rmsprop": (lambda: optimizers.RMSprop(0.01, rho=0.8, epsilon=0.0),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=0.0)),
    "rmsprop_momentum_centered": (
        lambda: optimizers.RMSprop(0.01, rho=0.9, momentum=0.5, centered=True, epsilon=0.0),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, eps=0.0)),
    "adam_eps0": (lambda: optimizers.Adam(0.01, epsilon=0.0), lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0)),
    "adam_amsgrad_eps0": (lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.9, epsilon=0.0, amsgrad=True),
                          lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9), eps=0.0, amsgrad=True)),
    "adamw_eps0": (lambda: optimizers.AdamW(0.01, weight_decay=0.1, epsilon=0.0),
                   lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0)),
    "adagrad_eps0": (lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0.0),
                     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
    "adadelta": (lambda: optimizers.Adadelta(1.0, rho=0.9, epsilon=1e-6),
                 lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6)),
    # Keras takes max(b2 u, |g|) and adds epsilon to u; PyTorch takes max(b2 u, |g| + eps)
    "adamax_eps0": (lambda: optimizers.Adamax(0.02, epsilon=0.0), lambda p: torch.optim.Adamax(p, lr=0.02, eps=0.0)),
    # PyTorch's mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras's is momentum_decay = 1
    "nadam": (lambda: optimizers.Nadam(0.01, epsilon=1e-7),
              lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0)),
}


@pytest.mark.parametrize("case", sorted(SAME_AS_TORCH))
def test_matches_torch(case):
    ours, theirs = SAME_AS_TORCH[case]
    w, v = run_deepgrad(ours())
    tw, tv = run_torch(theirs)
    assert not np.allclose(w, W0)  # the problem really moved
    np.testing.assert_allclose(w, tw, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(v, tv, rtol=1e-6, atol=1e-9)


def keras_adam(lr, b1, b2, eps, steps=STEPS):
    w, v = W0.copy(), V0.copy()
    state = [[np.zeros_like(w), np.zeros_like(w)], [np.zeros_like(v), np.zeros_like(v)]]
    for t in range(1, steps + 1):
        for x, g, s in zip((w, v), gradients(w, v), state):
            s[0] = b1 * s[0] + (1 - b1) * g
            s[1] = b2 * s[1] + (1 - b2) * g * g
            lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            x -= lr_t * s[0] / (np.sqrt(s[1]) + eps)
    return w, v


def test_adam_keras_epsilon_placement():
    # a large epsilon makes Keras's placement (beside sqrt(v), outside the bias correction) visible
    w, v = run_deepgrad(optimizers.Adam(0.01, beta_1=0.9, beta_2=0.99, epsilon=0.1))
    kw, kv = keras_adam(0.01, 0.9, 0.99, 0.1)
    np.testing.assert_allclose(w, kw, rtol=1e-12)
    np.testing.assert_allclose(v, kv, rtol=1e-12)
    tw, _ = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.99), eps=0.1))
    assert np.max(np.abs(w - tw)) > 1e-4  # PyTorch's eps differs, as documented


def test_rmsprop_keras_epsilon_inside_sqrt():
    eps, lr, rho = 0.5, 0.01, 0.9
    w, v = W0.copy(), V0.copy()
    vel = [np.zeros_like(w), np.zeros_like(v)]
    for _ in range(STEPS):
        for i, (x, g) in enumerate(zip((w, v), gradients(w, v))):
            vel[i] = rho * vel[i] + (1 - rho) * g * g
            x -= lr * g / np.sqrt(vel[i] + eps)
    ow, ov = run_deepgrad(optimizers.RMSprop(lr, rho=rho, epsilon=eps))
    np.testing.assert_allclose(ow, w, rtol=1e-12)
    np.testing.assert_allclose(ov, v, rtol=1e-12)


def test_adagrad_and_adamax_keras_epsilon():
    eps = 0.3
    w, v = W0.copy(), V0.copy()
    acc = [np.full_like(w, 0.1), np.full_like(v, 0.1)]
    for _ in range(STEPS):
        for i, (x, g) in enumerate(zip((w, v), gradients(w, v))):
            acc[i] += g * g
            x -= 0.1 * g / np.sqrt(acc[i] + eps)
    ow, _ = run_deepgrad(optimizers.Adagrad(0.1, epsilon=eps))
    np.testing.assert_allclose(ow, w, rtol=1e-12)

    w, v = W0.copy(), V0.copy()
    m, u = [np.zeros_like(w), np.zeros_like(v)], [np.zeros_like(w), np.zeros_like(v)]
    for t in range(1, STEPS + 1):
        for i, (x, g) in enumerate(zip((w, v), gradients(w, v))):
            m[i] = 0.9 * m[i] + 0.1 * g
            u[i] = np.maximum(0.999 * u[i], np.abs(g))
            x -= 0.02 * m[i] / ((1 - 0.9 ** t) * (u[i] + eps))
    ow, ov = run_deepgrad(optimizers.Adamax(0.02, epsilon=eps))
    np.testing.assert_allclose(ow, w, rtol=1e-12)
    np.testing.assert_allclose(ov, v, rtol=1e-12)


def test_sgd_keras_momentum_formula():
    lr, mom = 0.05, 0.9
    w, v = W0.copy(), V0.copy()
    vel = [np.zeros_like(w), np.zeros_like(v)]
    for _ in range(STEPS):
        for i, (x, g) in enumerate(zip((w, v), gradients(w, v))):
            vel[i] = mom * vel[i] - lr * g
            x += mom * vel[i] - lr * g  # Nesterov
    ow, ov = run_deepgrad(optimizers.SGD(lr, momentum=mom, nesterov=True))
    np.testing.assert_allclose(ow, w, rtol=1e-12)
    np.testing.assert_allclose(ov, v, rtol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"])
def test_float32_stays_float32_and_tracks_float64(name):
    opt32 = optimizers.get(name)
    opt32.learning_rate = 0.01
    w32, v32 = run_deepgrad(opt32, dtype=np.float32)
    assert w32.dtype == np.float32 and v32.dtype == np.float32
    assert all(a.dtype == np.float32 for k, a in opt32.get_state().items() if "/" in k)
    opt64 = optimizers.get(name)
    opt64.learning_rate = 0.01
    w64, v64 = run_deepgrad(opt64)
    np.testing.assert_allclose(w32, w64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v32, v64, rtol=1e-4, atol=1e-5)


def test_adam_reduces_a_loss_with_autograd():
    x_np = np.random.default_rng(3).standard_normal((32, 3)).astype(np.float32)
    x, y = dg.Tensor(x_np), dg.Tensor(x_np @ np.diag([1.0, -2.0, 0.5]).astype(np.float32))
    w = dg.Variable(np.zeros((3, 3), np.float32))
    opt = optimizers.Adam(0.05)
    losses = []
    for _ in range(60):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step([w])
        opt.zero_grad()
        losses.append(loss.item())
    assert w.grad is None
    assert losses[-1] < 0.05 * losses[0]
