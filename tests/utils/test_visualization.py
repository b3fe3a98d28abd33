"""``deepgrad.visualization``: boxes outlined where they are, masks coloured as Keras colours
them, and galleries that render the same pixels as Keras's."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import visualization  # noqa: E402


def test_draw_bounding_boxes_outlines_each_box_and_skips_padding():
    images = np.zeros((2, 20, 30, 3), "float32")
    boxes = {"boxes": np.array([[[2, 3, 12, 15], [20, 5, 28, 9]], [[0, 0, 29, 19], [5, 5, 9, 9]]], "float32"),
             "labels": np.array([[1, -1], [0, 2]])}
    out = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 0), line_thickness=1)
    assert out.dtype == np.uint8 and out.shape == (2, 20, 30, 3)
    drawn = out[..., 0] == 255
    # image 0: only the first box (the second has label -1); its outline and nothing inside
    expected = np.zeros((20, 30), bool)
    expected[3:16, 2] = expected[3:16, 12] = expected[3, 2:13] = expected[15, 2:13] = True
    np.testing.assert_array_equal(drawn[0], expected)
    assert drawn[1, 0].all() and drawn[1, 19].all() and drawn[1, 5, 5:10].all() and not drawn[1, 7, 7]
    np.testing.assert_array_equal(out[..., 1], 0)
    # the same boxes given in another format draw the same picture
    rel = dg.utils.bounding_boxes.convert_format(boxes["boxes"], "xyxy", "rel_xywh", height=20, width=30)
    again = visualization.draw_bounding_boxes(images, {"boxes": rel, "labels": boxes["labels"]}, "rel_xywh",
                                              color=(255, 0, 0), line_thickness=1)
    np.testing.assert_array_equal(again, out)
    thick = visualization.draw_bounding_boxes(images, boxes, "xyxy", line_thickness=3)
    assert (thick[0, 3:16, 1:4, 0] == 128).all() and (thick[0, 8, 4, 0] == 0)


def test_draw_bounding_boxes_writes_class_names():
    images = np.zeros((1, 40, 60, 3), "uint8")
    boxes = {"boxes": np.array([[[10, 20, 50, 35]]], "float32"), "labels": np.array([[3]])}
    plain = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(0, 255, 0))
    named = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(0, 255, 0), class_mapping={3: "cat"})
    assert (named != plain).any()  # the text adds pixels
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        visualization.draw_bounding_boxes(images, {"boxes": boxes["boxes"]}, "xyxy")


@pytest.mark.parametrize("kwargs", [dict(num_classes=3), dict(num_classes=4, alpha=0.5), dict(blend=False, num_classes=3),
                                    dict(num_classes=3, color_mapping={0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255)})])
def test_draw_segmentation_masks_matches_keras(kwargs):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 8, 9, 3)).astype("float32")
    masks = rng.integers(-1, 3, (2, 8, 9, 1)).astype("int32")
    expected = keras.visualization.draw_segmentation_masks(images, masks, **kwargs)
    out = visualization.draw_segmentation_masks(images, masks, **kwargs)
    np.testing.assert_allclose(out, np.asarray(expected), atol=1e-4)
    # without num_classes Keras draws classes 0 .. max - 1: the largest label keeps the image
    default = visualization.draw_segmentation_masks(images, masks)
    top = masks[..., 0] == 2
    np.testing.assert_array_equal(default[top], images[top].astype("uint8"))
    assert (default[masks[..., 0] == 1] != images[masks[..., 0] == 1].astype("uint8")).any()
    with pytest.raises(TypeError, match="integer"):
        visualization.draw_segmentation_masks(images, masks.astype("float32"))


def _png(path):
    return np.asarray(Image.open(path))


def test_image_gallery_renders_as_keras(tmp_path):
    images = np.random.default_rng(0).uniform(0, 1, (4, 10, 12, 3)).astype("float32")
    labels = np.array([0, 1, 1, 0])
    kwargs = dict(y_true=labels, label_map={0: "a", 1: "b"}, value_range=(0, 1), rows=2, cols=2)
    keras.visualization.plot_image_gallery(images, path=str(tmp_path / "k.png"), **kwargs)
    visualization.plot_image_gallery(images, path=str(tmp_path / "d.png"), **kwargs)
    k, d = _png(tmp_path / "k.png"), _png(tmp_path / "d.png")
    assert k.shape == d.shape and k.shape[0] > 20
    np.testing.assert_array_equal(d, k)


def test_segmentation_gallery_renders_as_keras(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    masks = rng.integers(0, 3, (2, 8, 8, 1))
    keras.visualization.plot_segmentation_mask_gallery(images, 3, y_true=masks, y_pred=masks[::-1],
                                                       path=str(tmp_path / "k.png"))
    visualization.plot_segmentation_mask_gallery(images, 3, y_true=masks, y_pred=masks[::-1],
                                                 path=str(tmp_path / "d.png"))
    np.testing.assert_array_equal(_png(tmp_path / "d.png"), _png(tmp_path / "k.png"))


def test_bounding_box_gallery_draws_both_sets(tmp_path):
    images = np.zeros((2, 16, 16, 3), "float32")
    y_true = {"boxes": np.array([[[2, 2, 8, 8]], [[1, 1, 5, 5]]], "float32"), "labels": np.array([[0], [0]])}
    y_pred = {"boxes": np.array([[[4, 4, 12, 12]], [[6, 6, 14, 14]]], "float32"), "labels": np.array([[0], [0]])}
    path = tmp_path / "boxes.png"
    visualization.plot_bounding_box_gallery(images, "xyxy", y_true=y_true, y_pred=y_pred, legend=True,
                                            rows=1, cols=2, path=str(path))
    picture = _png(path)[..., :3].reshape(-1, 3)
    colours = {tuple(c) for c in picture}
    assert (0, 188, 212) in colours and (255, 235, 59) in colours
    with pytest.raises(ValueError, match="path.*show"):
        visualization.plot_image_gallery(images, path=str(path), show=True)
