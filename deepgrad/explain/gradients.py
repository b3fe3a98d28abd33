"""Gradient explanations: saliency, integrated gradients and SmoothGrad.

- saliency (Simonyan et al. 2013): ``d f_t(x) / dx``, its absolute value by default;
- integrated gradients (Sundararajan et al. 2017):
  ``IG_i(x) = (x_i - x'_i) * integral_0^1 d f_t(x' + a (x - x')) / dx_i da``, the integral
  by quadrature: ``sum_k w_k * grad(x' + a_k (x - x'))`` with Captum's nodes and weights;
- SmoothGrad (Smilkov et al. 2017): the mean gradient over noisy copies
  ``x + N(0, sigma^2)``, ``sigma = noise * (max(x) - min(x))`` per sample.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .core import (check_batch_size, check_count, forward, input_array, per_sample, resolve_targets,
                   sample_and_repeat_chunks, target_gradients, chunks)

METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


def saliency(model, x, target=None, absolute=True, batch_size=None) -> np.ndarray:
    """The gradient of the model's output for class ``target`` with respect to ``x``.

    ``target``: a class index, one per sample, or None for each sample's predicted class.
    Returns an array of x's shape (absolute values unless ``absolute=False``).
    """
    x = input_array("saliency", x, model)
    batch_size = check_batch_size("saliency", batch_size)
    targets = resolve_targets("saliency", model, x, target, batch_size)
    out = np.empty_like(x)
    for s in chunks(len(x), batch_size):
        out[s] = target_gradients("saliency", model, x[s], targets[s])[0]
    return np.abs(out) if absolute else out


def _legendre(n: int, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P_n(u) and P_n'(u): (k + 1) P_{k+1} = (2k + 1) u P_k - k P_{k-1};
    P_n' = n (u P_n - P_{n-1}) / (u^2 - 1)."""
    previous, p = np.ones_like(u), u.copy()
    for k in range(1, n):
        previous, p = p, ((2 * k + 1) * u * p - k * previous) / (k + 1)
    return p, n * (u * p - previous) / (u * u - 1)


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The nodes (ascending) and weights of n-point Gauss-Legendre quadrature on [-1, 1], as
    ``np.polynomial.legendre.leggauss`` gives them, in O(n) memory (leggauss solves a dense
    n x n eigenproblem, 8 MB at n = 1000): Newton's method on P_n from Tricomi's estimates
    ``cos(pi (i - 1/4) / (n + 1/2))``; ``w_i = 2 / ((1 - u_i^2) P_n'(u_i)^2)``."""
    u = np.cos(np.pi * (np.arange(n, 0, -1) - 0.25) / (n + 0.5))
    for _ in range(100):
        p, dp = _legendre(n, u)
        step = p / dp
        u = u - step
        if np.abs(step).max() < 1e-15:
            break
    dp = _legendre(n, u)[1]
    return u, 2.0 / ((1.0 - u * u) * dp * dp)


def approximation_parameters(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(weights w_k, nodes a_k) of the quadrature ``integral_0^1 g(a) da ~ sum_k w_k g(a_k)``,
    as Captum defines each method (its trapezoid rule keeps the weights 1/n with the two end
    weights halved, over nodes linspace(0, 1, n))."""
    if method not in METHODS:
        raise ValueError(f"integrated_gradients(): method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "gausslegendre":
        # Gauss-Legendre on [-1, 1] moved to [0, 1]: a = (u + 1) / 2, w = w_u / 2
        nodes, weights = gauss_legendre(steps)
        return 0.5 * weights, 0.5 * (nodes + 1.0)
    if steps < 2:
        raise ValueError(f"integrated_gradients(): method {method!r} needs steps >= 2, got {steps}")
    weights = np.full(steps, 1.0 / steps)
    kind = method.split("_")[1]
    if kind == "trapezoid":
        weights[[0, -1]] /= 2
        return weights, np.linspace(0.0, 1.0, steps)
    start = {"left": 0.0, "right": 1.0 / steps, "middle": 0.5 / steps}[kind]
    return weights, np.linspace(start, start + 1.0 - 1.0 / steps, steps)


def integrated_gradients(model, x, target=None, baseline=None, steps=50, method="gausslegendre",
                         return_convergence_delta=False, batch_size=None):
    """Integrated gradients of class ``target`` along the straight path from ``baseline`` to ``x``.

    ``baseline``: None (zeros), a number, an array of one sample's shape, or one per sample.
    ``method``: the quadrature, one of ``METHODS`` (Captum's names and meaning).
    Returns an array of x's shape; with ``return_convergence_delta=True``, also the
    completeness error per sample: ``sum_i IG_i - (f_t(x) - f_t(baseline))``.
    """
    name = "integrated_gradients"
    x = input_array(name, x, model)
    batch_size = check_batch_size(name, batch_size)
    steps = check_count(name, "steps", steps)
    weights, alphas = approximation_parameters(method, steps)
    base = per_sample(name, "baseline", 0 if baseline is None else baseline, x)
    targets = resolve_targets(name, model, x, target, batch_size)
    weights, alphas = weights.astype(x.dtype), alphas.astype(x.dtype)
    sample_shape = x.shape[1:]
    total = np.zeros_like(x)   # sum_k w_k grad(x' + a_k (x - x'))
    for r, s in sample_and_repeat_chunks(len(x), steps, batch_size):
        b = base if len(base) == 1 else base[s]
        diff = x[s] - b
        a = alphas[r].reshape((-1, 1) + (1,) * len(sample_shape))
        rows = (b[None] + a * diff[None]).reshape((-1,) + sample_shape)
        g = target_gradients(name, model, rows, np.tile(targets[s], len(a)))[0]
        total[s] += np.tensordot(weights[r], g.reshape((len(a), -1) + sample_shape), axes=1)
    attributions = total * (x - base)
    if not return_convergence_delta:
        return attributions
    ends = forward(name, model, x, batch_size)[np.arange(len(x)), targets]
    starts = forward(name, model, np.broadcast_to(base, x.shape), batch_size)[np.arange(len(x)), targets]
    delta = attributions.reshape(len(x), -1).sum(axis=1) - (ends - starts)
    return attributions, delta


def smoothgrad(model, x, target=None, samples=50, noise=0.15, seed=None, absolute=False, batch_size=None):
    """SmoothGrad: the mean gradient of class ``target`` over ``samples`` noisy copies of ``x``.

    The noise is Gaussian with standard deviation ``noise * (max(x_i) - min(x_i))`` for sample
    i (the paper's "noise level"). The draws come from ``np.random.default_rng(seed)`` (from
    deepgrad's seeded random state when ``seed`` is None): copy k of every sample uses the
    k-th draw of an array of x's shape, whatever the batch size. ``absolute=True`` averages
    absolute gradients (Captum's default for ``NoiseTunnel(Saliency)``).
    """
    name = "smoothgrad"
    x = input_array(name, x, model)
    batch_size = check_batch_size(name, batch_size)
    samples = check_count(name, "samples", samples)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{name}(): noise must be a number >= 0, got {noise!r}")
    rng = backend.rng() if seed is None else np.random.default_rng(seed)
    targets = resolve_targets(name, model, x, target, batch_size)
    axes = tuple(range(1, x.ndim))
    sigma = (noise * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True))).astype(x.dtype)
    total = np.zeros_like(x)
    per_block = min(len(x), batch_size)
    draws_per_block = max(1, batch_size // per_block)
    for r in chunks(samples, draws_per_block):
        # all samples' noise for these draws at once, so the draws do not depend on batch_size
        z = rng.standard_normal((r.stop - r.start,) + x.shape).astype(x.dtype)
        for s in chunks(len(x), per_block):
            rows = (x[s][None] + sigma[s][None] * z[:, s]).reshape((-1,) + x.shape[1:])
            g = target_gradients(name, model, rows, np.tile(targets[s], len(z)))[0]
            g = g.reshape((len(z), -1) + x.shape[1:])
            total[s] += (np.abs(g) if absolute else g).sum(axis=0)
    return total / np.asarray(samples, x.dtype)
