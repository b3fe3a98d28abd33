"""Splitting and rebalancing datasets: train/test split, random over/under-sampling, class weights.

Labels may be class indices ``(N,)``, ``(N, 1)``, or one-hot rows ``(N, C)``. Randomness comes
from ``np.random.default_rng(seed)`` when a seed is given, otherwise from deepgrad's
generator, so ``set_random_seed`` makes every split repeat.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend


def _generator(seed) -> np.random.Generator:
    return backend.rng() if seed is None else np.random.default_rng(seed)


def class_labels(y) -> np.ndarray:
    """Class index per sample from ``(N,)``, ``(N, 1)`` or one-hot ``(N, C)`` labels."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y
    if y.ndim == 2:
        return y[:, 0] if y.shape[1] == 1 else np.argmax(y, axis=1)
    raise ValueError(f"labels must have shape (N,), (N, 1) or one-hot (N, C), got {y.shape}")


def _check_lengths(x, y, who: str) -> None:
    if y is not None and len(x) != len(y):
        raise ValueError(f"{who}: x and y must have the same number of samples, got {len(x)} and {len(y)}")


def _stratified_test_counts(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Split ``n_test`` among classes in proportion to ``counts`` (largest remainders get the rest)."""
    ideal = counts * n_test / counts.sum()
    take = np.floor(ideal).astype(np.int64)
    order = np.argsort(-(ideal - take), kind="stable")
    for k in order[: n_test - take.sum()]:
        take[k] += 1
    return np.minimum(take, counts)


def train_test_split(x, y=None, test_size: float | int = 0.2, stratify=False, seed: int | None = None,
                     random_state: int | None = None):
    """Shuffle and split into train and test parts, as scikit-learn does.

    ``test_size`` is a fraction in (0, 1) (the test part gets ``ceil(test_size * N)``
    samples) or a sample count. ``stratify=True`` keeps each class's share of ``y`` in both
    parts; an array of labels stratifies by those instead. Returns
    ``x_train, x_test, y_train, y_test`` (or ``x_train, x_test`` when ``y`` is None).
    ``random_state`` is scikit-learn's name for ``seed``.
    """
    if random_state is not None:
        if seed is not None and seed != random_state:
            raise ValueError("train_test_split: give seed or random_state, not both")
        seed = random_state
    x = np.asarray(x)
    _check_lengths(x, y, "train_test_split")
    n = len(x)
    if isinstance(test_size, float) and 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool) and 0 < test_size < n:
        n_test = int(test_size)
    else:
        raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1) or a count in "
                         f"[1, {n - 1}], got {test_size!r}")
    if n_test >= n:
        raise ValueError(f"train_test_split: test_size={test_size} leaves no training samples out of {n}")
    rng = _generator(seed)

    if stratify is False or stratify is None:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        if stratify is True:
            if y is None:
                raise ValueError("train_test_split: stratify=True needs y")
            strata = class_labels(y)
        else:
            strata = class_labels(stratify)
            _check_lengths(x, strata, "train_test_split (stratify)")
        classes, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
        take = _stratified_test_counts(counts, n_test)
        test_parts, train_parts = [], []
        for k in range(len(classes)):
            members = rng.permutation(np.flatnonzero(inverse == k))
            test_parts.append(members[: take[k]])
            train_parts.append(members[take[k]:])
        test_idx = rng.permutation(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))

    if y is None:
        return x[train_idx], x[test_idx]
    y = np.asarray(y)
    return x[train_idx], x[test_idx], y[train_idx], y[test_idx]


def _resample(x, y, seed, who: str, grow: bool):
    x, y = np.asarray(x), np.asarray(y)
    _check_lengths(x, y, who)
    labels = class_labels(y)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) == 0:
        raise ValueError(f"{who}: no samples")
    target = counts.max() if grow else counts.min()
    rng = _generator(seed)
    picks = []
    for k in range(len(classes)):
        members = np.flatnonzero(inverse == k)
        if grow:  # keep every sample, add copies drawn with replacement
            picks.append(np.concatenate([members, rng.choice(members, target - len(members), replace=True)]))
        else:     # keep a random subset without replacement
            picks.append(rng.choice(members, target, replace=False))
    idx = rng.permutation(np.concatenate(picks))
    return x[idx], y[idx]


def random_oversample(x, y, seed: int | None = None):
    """Repeat random samples of the smaller classes until every class has as many as the largest."""
    return _resample(x, y, seed, "random_oversample", grow=True)


def random_undersample(x, y, seed: int | None = None):
    """Drop random samples of the larger classes until every class has as many as the smallest."""
    return _resample(x, y, seed, "random_undersample", grow=False)


def compute_class_weight(class_weight="balanced", classes=None, y=None) -> dict:
    """Per-class weights as a dict, ready for ``model.fit(..., class_weight=...)``.

    ``"balanced"`` gives ``w_c = N / (n_classes * N_c)`` (scikit-learn's formula), so every class
    contributes equally to the loss; ``None`` gives 1.0 for every class; a dict fills
    classes it does not name with 1.0.
    """
    if y is None:
        raise ValueError("compute_class_weight needs y, the training labels")
    labels = class_labels(y)
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    unknown = np.setdiff1d(np.unique(labels), classes)
    if unknown.size:
        raise ValueError(f"compute_class_weight: y contains labels {unknown.tolist()} not in classes")
    keys = [c.item() if hasattr(c, "item") else c for c in classes]
    if class_weight is None:
        return {c: 1.0 for c in keys}
    if isinstance(class_weight, dict):
        return {c: float(class_weight.get(c, 1.0)) for c in keys}
    if class_weight != "balanced":
        raise ValueError(f"compute_class_weight: class_weight must be 'balanced', None or a dict, "
                         f"got {class_weight!r}")
    counts = np.array([np.sum(labels == c) for c in classes])
    if np.any(counts == 0):
        missing = [k for k, n in zip(keys, counts) if n == 0]
        raise ValueError(f"compute_class_weight: classes {missing} have no samples in y, so "
                         f"'balanced' weights are undefined for them")
    weights = len(labels) / (len(classes) * counts)
    return {c: float(w) for c, w in zip(keys, weights)}
