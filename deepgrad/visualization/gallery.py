"""Galleries of images (with labels, boxes or masks) in a matplotlib grid, shown or saved."""
from __future__ import annotations

import math
import os

import numpy as np

from .draw import _channels_last, _numpy, draw_bounding_boxes, draw_segmentation_masks


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("the image galleries need matplotlib: pip install deepgrad[io]") from e
    return plt


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None,
                       value_range=(0, 255), scale=2, path=None, show=None, transparent=True, dpi=60,
                       legend_handles=None, data_format=None):
    """A ``rows x cols`` grid of the first images (values in ``value_range``), titled with
    ``label_map`` names of ``y_true``/``y_pred``; saved to ``path`` or shown."""
    plt = _pyplot()
    if path is not None and show:
        raise ValueError("plot_image_gallery: expects either `path` to be set, or `show` to be true.")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError("plot_image_gallery: if `y_true` or `y_pred` are provided, a `label_map` must also be provided.")
    show = show if show is not None else path is None
    images = _numpy(images)
    if images.ndim != 4:
        raise ValueError("plot_image_gallery: requires the images batched together (a rank-4 array). "
                         f"Received: images.shape={images.shape}")
    batch_size = images.shape[0]
    rows = rows or int(math.ceil(math.sqrt(batch_size)))
    cols = cols or int(math.ceil(batch_size // rows))
    images = _channels_last(images[:min(rows * cols, batch_size)], data_format)
    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale), frameon=False,
                             layout="tight", squeeze=True, sharex="row", sharey="col")
    fig.subplots_adjust(wspace=0, hspace=0)
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        axes = np.expand_dims(axes, 0 if rows == 1 else -1)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    low, high = value_range
    images = (images.astype("float32") - low) / (high - low) * 255.0 if tuple(value_range) != (0, 255) else images
    y_true = None if y_true is None else _numpy(y_true)
    y_pred = None if y_pred is None else _numpy(y_pred)
    for row in range(rows):
        for col in range(cols):
            index = row * cols + col
            axis = axes[row, col] if isinstance(axes, np.ndarray) else axes
            axis.imshow(images[index].astype("uint8"))
            axis.margins(x=0, y=0)
            axis.axis("off")
            title = []
            if y_true is not None and index < len(y_true):
                title.append(f"Label: {label_map.get(y_true[index], 'Unknown')}")
            if y_pred is not None and index < len(y_pred):
                title.append(f"Pred: {label_map.get(y_pred[index], 'Unknown')}")
            if title:
                axis.set_title("  ".join(title), fontsize=8)
    if path is not None:
        from ..files.atomic import atomic_write

        suffix = os.path.splitext(str(path))[1].lstrip(".") or "png"
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format=suffix, pad_inches=0, bbox_inches="tight", transparent=transparent, dpi=dpi)
        plt.close(fig)
    elif show:
        plt.show()
        plt.close(fig)


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None, value_range=(0, 255),
                              true_color=(0, 188, 212), pred_color=(255, 235, 59), line_thickness=2,
                              font_scale=1.0, text_thickness=None, class_mapping=None, ground_truth_mapping=None,
                              prediction_mapping=None, legend=False, legend_handles=None, rows=None, cols=None,
                              data_format=None, **kwargs):
    """``plot_image_gallery`` of the images with the true boxes drawn in ``true_color`` and the
    predicted ones in ``pred_color``."""
    prediction_mapping = prediction_mapping or class_mapping
    ground_truth_mapping = ground_truth_mapping or class_mapping
    images = _numpy(images)
    if images.ndim != 4:
        raise ValueError(f"plot_bounding_box_gallery: `images` must be batched 4D tensor. Received: images.shape={images.shape}")
    plotted = _channels_last(images, data_format)
    draw = dict(bounding_box_format=bounding_box_format, line_thickness=line_thickness,
                text_thickness=text_thickness, font_scale=font_scale)
    if y_true is not None:
        plotted = draw_bounding_boxes(plotted, y_true, color=true_color, class_mapping=ground_truth_mapping, **draw)
    if y_pred is not None:
        plotted = draw_bounding_boxes(plotted, y_pred, color=pred_color, class_mapping=prediction_mapping, **draw)
    if legend:
        if legend_handles:
            raise ValueError("plot_bounding_box_gallery: only pass `legend` OR `legend_handles`.")
        from matplotlib import patches

        legend_handles = [patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
                          patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction")]
    return plot_image_gallery(plotted, value_range=value_range, legend_handles=legend_handles, rows=rows, cols=cols,
                              **kwargs)


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None, y_pred=None,
                                   color_mapping=None, blend=True, alpha=0.8, ignore_index=-1, data_format=None,
                                   **kwargs):
    """One row per image: the image, then its true and predicted masks drawn over it."""
    images = _numpy(images)
    if images.ndim != 4:
        raise ValueError("plot_segmentation_mask_gallery: `images` must be batched 4D tensor. "
                         f"Received: images.shape={images.shape}")
    images = _channels_last(images, data_format)
    draw = dict(num_classes=num_classes, color_mapping=color_mapping, alpha=alpha, ignore_index=ignore_index,
                blend=blend)
    columns = [images]
    for masks in (y_true, y_pred):
        if masks is not None:
            masks = _channels_last(_numpy(masks), data_format).astype("int32")
            columns.append(draw_segmentation_masks(images, masks, **draw))
    # image i, then its drawn masks, row after row
    gallery = np.stack(columns, axis=1).reshape((-1,) + images.shape[1:])
    return plot_image_gallery(gallery, value_range=value_range, rows=images.shape[0], cols=len(columns), **kwargs)
