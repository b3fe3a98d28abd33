"""Plots and metrics of a finished run: curves, confusion matrix, prediction grids.

Matplotlib is imported lazily (Agg backend) so the core stays NumPy-only.
"""
from __future__ import annotations

import numpy as np


def have_matplotlib() -> bool:
    """Whether the plots can be drawn (matplotlib comes with the ``io`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    """Write the figure atomically: a crash never leaves a half-written PNG."""
    from .files.atomic import atomic_write

    with atomic_write(path, "wb") as f:
        fig.savefig(f, dpi=100, format="png")
    _pyplot().close(fig)
    return path


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """counts[i, j] = how many samples of true class i were predicted as j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, np.intp), np.asarray(y_pred, np.intp)), 1)
    return counts


def per_class_precision_recall(counts: np.ndarray) -> tuple[list, list]:
    tp = np.diag(counts).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(counts.sum(0) > 0, tp / counts.sum(0), 0.0)
        recall = np.where(counts.sum(1) > 0, tp / counts.sum(1), 0.0)
    return precision.round(6).tolist(), recall.round(6).tolist()


def plot_history(history: dict, path: str) -> str:
    """Loss and accuracy per epoch, training and validation side by side."""
    plt = _pyplot()
    keys = [k for k in ("loss", "accuracy") if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], "o-", label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s--", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)  # whole epochs only
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion_matrix(counts: np.ndarray, class_names, path: str) -> str:
    plt = _pyplot()
    n = len(counts)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * n, 1 + 0.6 * n))
    ax.imshow(counts, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (test set)")
    fig.tight_layout()
    return _save(fig, path)


def plot_image_grid(images, true, pred, probs, class_names, path: str, title: str, cols: int = 8) -> str:
    """A grid of images titled 'pred (p) / true', wrong predictions in red."""
    plt = _pyplot()
    n = len(images)
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = np.asarray(images[k])
        ax.imshow(img.squeeze(), cmap="gray" if img.ndim == 2 or img.shape[-1] == 1 else None)
        ok = true[k] == pred[k]
        ax.set_title(f"{class_names[pred[k]]} ({probs[k]:.2f})\ntrue {class_names[true[k]]}",
                     fontsize=7, color="green" if ok else "red")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- explanations
EXPLANATION_INCHES = (4.0, 4.4)   # one overlay: 400 x 440 pixels at the plots' 100 dpi


def heat_map(attribution, image_shape) -> np.ndarray:
    """An attribution as an (h, w) map in [0, 1]: absolute values summed over channels (a
    Grad-CAM map is (h, w) already), divided by the largest."""
    a = np.abs(np.asarray(attribution, dtype=np.float64))
    if a.ndim == len(image_shape) == 3:
        a = a.sum(axis=-1)
    peak = a.max() if a.size else 0.0
    return a / peak if peak > 0 else a


def _show_image(ax, img) -> None:
    img = np.asarray(img)
    ax.imshow(img.squeeze(), cmap="gray" if img.ndim == 2 or img.shape[-1] == 1 else None)


def _overlay(ax, img, heat) -> None:
    """The image in gray with the heat map (jet, half transparent) over it."""
    _show_image(ax, img)
    ax.imshow(heat, cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
    ax.axis("off")


def plot_explanation(image, attribution, title: str, path: str) -> str:
    """One heat-map overlay, ``EXPLANATION_INCHES`` at 100 dpi (a fixed pixel size)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=EXPLANATION_INCHES)
    _overlay(ax, image, heat_map(attribution, np.shape(image)))
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88)
    return _save(fig, path)


def plot_explanation_grid(images, maps: dict, row_titles, path: str,
                          title: str = "Why the model decided: explanations of test images") -> str:
    """One row per image: the image, then one overlay per method (``maps``: method name ->
    attributions of every image)."""
    plt = _pyplot()
    rows, cols = len(images), 1 + len(maps)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows + 0.5), squeeze=False)
    for i, img in enumerate(images):
        ax = axes[i, 0]
        _show_image(ax, img)
        ax.axis("off")
        ax.set_title(row_titles[i], fontsize=7)
        for j, (method, attributions) in enumerate(maps.items(), start=1):
            _overlay(axes[i, j], img, heat_map(attributions[i], np.shape(img)))
            if i == 0:
                axes[i, j].set_title(method, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
