"""Bounding boxes against Keras 3 (torch backend): ``deepgrad.utils.bounding_boxes`` gives
Keras's numbers, and each geometric layer moves boxes, labels and segmentation masks as
Keras's does for the same fixed transform."""
import itertools

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.utils import bounding_boxes as bb
from conftest import to_numpy
from test_keras_image_augmentation import Fixed, lowest_keras_draws

KB = keras.utils.bounding_boxes
FORMATS = ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh",
           "rel_center_xywh"]


def xyxy_boxes(n=5, batch=2, height=20, width=30, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, width, (batch, n, 2)), axis=-1)
    y = np.sort(rng.uniform(0, height, (batch, n, 2)), axis=-1)
    return np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1).astype("float32")


@pytest.mark.parametrize("source,target", list(itertools.product(FORMATS, FORMATS)))
def test_convert_format_matches_keras(source, target):
    boxes = KB.convert_format(xyxy_boxes(), "xyxy", source, height=20, width=30)
    boxes = to_numpy(boxes)
    expected = to_numpy(KB.convert_format(boxes, source, target, height=20, width=30))
    out = bb.convert_format(boxes, source, target, height=20, width=30)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32


def test_convert_format_errors_name_the_problem():
    with pytest.raises(ValueError, match="height"):
        bb.convert_format(xyxy_boxes(), "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match="format"):
        bb.convert_format(xyxy_boxes(), "xyxy", "xyz")
    with pytest.raises(ValueError, match="last dimension of 4"):
        bb.convert_format(np.zeros((2, 3)), "xyxy", "yxyx")


@pytest.mark.parametrize("fmt", ["xyxy", "rel_xyxy"])
def test_clip_to_image_size_matches_keras(fmt):
    boxes = xyxy_boxes() * 1.5 - 5.0
    boxes[0, 0] = [-4, -4, -1, -1]  # entirely outside: no area left, label -1
    if fmt == "rel_xyxy":
        boxes = boxes / np.array([30, 20, 30, 20], "float32")
    labels = np.arange(10, dtype="float32").reshape(2, 5)
    expected = KB.clip_to_image_size({"boxes": torch.tensor(boxes), "labels": torch.tensor(labels)},
                                     height=20, width=30, bounding_box_format=fmt)
    out = bb.clip_to_image_size({"boxes": boxes, "labels": labels}, height=20, width=30, bounding_box_format=fmt)
    np.testing.assert_allclose(out["boxes"], to_numpy(expected["boxes"]), atol=1e-6)
    np.testing.assert_array_equal(out["labels"], to_numpy(expected["labels"]))
    assert out["labels"][0, 0] == -1


def test_affine_crop_pad_match_keras():
    boxes = xyxy_boxes()
    args = [np.array(v, "float32") for v in ([30.0, -45.0], [0.1, -0.2], [0.05, 0.0], [1.2, 0.8], [10.0, 0.0],
                                             [0.0, -15.0])]
    expected = KB.affine_transform(torch.tensor(boxes), *[torch.tensor(a) for a in args], height=20, width=30)
    np.testing.assert_allclose(bb.affine_transform(boxes, *args, height=20, width=30), to_numpy(expected),
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bb.crop(boxes, 3, 5, 10, 12), to_numpy(KB.crop(torch.tensor(boxes), 3, 5, 10, 12)))
    np.testing.assert_allclose(bb.pad(boxes, 3, 5), to_numpy(KB.pad(torch.tensor(boxes), 3, 5)))


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
def test_encode_and_decode_deltas_match_keras(encoding, variance):
    anchors, boxes = xyxy_boxes(seed=1)[0], xyxy_boxes(seed=2)[0]
    expected = KB.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding, variance=variance)
    deltas = bb.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding, variance=variance)
    np.testing.assert_allclose(deltas, to_numpy(expected), rtol=1e-5, atol=1e-5)
    decoded = bb.decode_deltas_to_boxes(anchors, deltas, "xyxy", "yxyx", encoding, variance=variance)
    expected = KB.decode_deltas_to_boxes(torch.tensor(anchors), expected, "xyxy", "yxyx", encoding, variance=variance)
    np.testing.assert_allclose(decoded, to_numpy(expected), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(decoded, bb.convert_format(boxes, "xyxy", "yxyx"), atol=1e-4)  # a round trip


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("masking", [False, True])
def test_compute_iou_matches_keras(batched, masking):
    b1, b2 = xyxy_boxes(4, seed=3), xyxy_boxes(6, seed=4)
    b1[:, 0] = -1  # padding
    if not batched:
        b1, b2 = b1[0], b2[0]
    expected = keras.utils.bounding_boxes.compute_iou(b1, b2, "xyxy", use_masking=masking)
    out = bb.compute_iou(b1, b2, "xyxy", use_masking=masking)
    np.testing.assert_allclose(out, to_numpy(expected), rtol=1e-5, atol=1e-6)
    assert out.shape == ((2, 4, 6) if batched else (4, 6))
    np.testing.assert_allclose(bb.compute_iou(b2, b2, "xyxy").diagonal(axis1=-2, axis2=-1), 1.0, atol=1e-5)


def test_compute_ciou_matches_keras():
    b1, b2 = xyxy_boxes(6, seed=5), xyxy_boxes(6, seed=6)
    expected = keras.utils.bounding_boxes.compute_ciou(b1, b2, "xyxy")
    np.testing.assert_allclose(bb.compute_ciou(b1, b2, "xyxy"), to_numpy(expected), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------- layers with boxes

def detection_data(fmt="xyxy", shape=(2, 20, 30, 3), seed=0):
    rng = np.random.default_rng(seed)
    height, width = shape[1], shape[2]
    boxes = xyxy_boxes(4, shape[0], height, width, seed)
    boxes = bb.convert_format(boxes, "xyxy", fmt, height=height, width=width)
    return {"images": rng.uniform(0, 255, shape).astype("float32"),
            "bounding_boxes": {"boxes": boxes, "labels": rng.integers(0, 5, (shape[0], 4)).astype("float32")},
            "segmentation_masks": rng.integers(0, 3, shape[:3] + (1,)).astype("float32")}


def keras_copy(data):
    return {"images": torch.tensor(data["images"]),
            "bounding_boxes": {k: torch.tensor(v) for k, v in data["bounding_boxes"].items()},
            "segmentation_masks": torch.tensor(data["segmentation_masks"])}


def assert_same_data(d_out, k_out, k_masks, atol=1e-3):
    np.testing.assert_allclose(to_numpy(d_out["images"]), to_numpy(k_out["images"]), atol=2e-3, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(d_out["segmentation_masks"]), to_numpy(k_masks), atol=1e-5)
    np.testing.assert_allclose(d_out["bounding_boxes"]["boxes"], to_numpy(k_out["bounding_boxes"]["boxes"]),
                               atol=atol, rtol=1e-4)
    np.testing.assert_array_equal(d_out["bounding_boxes"]["labels"], to_numpy(k_out["bounding_boxes"]["labels"]))


LAYERS = [
    ("RandomFlip", dict(mode="horizontal"), "xyxy"),
    ("RandomFlip", dict(mode="vertical"), "rel_xyxy"),
    ("RandomFlip", dict(mode="horizontal_and_vertical"), "center_xywh"),
    ("RandomTranslation", dict(height_factor=(0.2, 0.2), width_factor=(-0.3, -0.3), fill_mode="constant"), "xyxy"),
    ("RandomTranslation", dict(height_factor=(-0.1, -0.1), width_factor=(0.25, 0.25)), "xywh"),
    ("RandomZoom", dict(height_factor=(-0.3, -0.3), width_factor=(0.2, 0.2)), "xyxy"),
    ("RandomZoom", dict(height_factor=(0.4, 0.4), fill_mode="constant"), "rel_yxyx"),
    ("RandomRotation", dict(factor=(0.1, 0.1), fill_mode="constant"), "xyxy"),
    ("RandomRotation", dict(factor=(-0.3, -0.3)), "xyxy"),
    ("RandomShear", dict(x_factor=(0.2, 0.4), y_factor=(0.1, 0.3)), "xyxy"),
    ("RandomShear", dict(x_factor=(0.3, 0.3)), "rel_xywh"),
    # scale 0.38: corners at 0.81 of their place, so no nearest sample sits on a half pixel
    ("RandomPerspective", dict(factor=(1.0, 1.0), scale=0.38), "xyxy"),
    ("RandomCrop", dict(height=15, width=15), "xyxy"),
    ("CenterCrop", dict(height=12, width=20), "xyxy"),
    ("CenterCrop", dict(height=24, width=24), "center_yxhw"),
    ("Resizing", dict(height=10, width=40), "xyxy"),
    ("Resizing", dict(height=15, width=15, pad_to_aspect_ratio=True), "xyxy"),
    ("Resizing", dict(height=15, width=15, crop_to_aspect_ratio=True, interpolation="nearest"), "rel_xyxy"),
]


@pytest.mark.parametrize("name,kwargs,fmt", LAYERS)
def test_layers_move_boxes_and_masks_as_keras(monkeypatch, name, kwargs, fmt):
    data = detection_data(fmt)
    if name == "RandomCrop":  # Keras moves boxes by (top, left) = (0, 0) here and does not clip them
        data["bounding_boxes"]["boxes"] = data["bounding_boxes"]["boxes"] * 0.45
    k_layer = getattr(keras.layers, name)(bounding_box_format=fmt, **kwargs)
    lowest_keras_draws(monkeypatch)
    k_out = k_layer(keras_copy(data), training=True)
    # Keras's torch affine_transform swaps entries of its matrix in place, so inside one call
    # the masks (sampled second) would see a different matrix: take them from a fresh draw
    k_masks = k_layer.transform_segmentation_masks(
        torch.tensor(data["segmentation_masks"]), k_layer.get_random_transformation(keras_copy(data)))
    d_layer = getattr(dg.layers, name)(bounding_box_format=fmt, **kwargs)
    d_layer._generator = Fixed()
    d_out = d_layer(data, training=True)
    assert_same_data(d_out, k_out, k_masks)
    moved = not np.allclose(d_out["bounding_boxes"]["boxes"], data["bounding_boxes"]["boxes"])
    assert moved or name == "RandomCrop"


def test_unbatched_dict_and_ragged_boxes():
    data = detection_data()
    single = {"images": data["images"][0], "bounding_boxes": {k: v[0] for k, v in data["bounding_boxes"].items()}}
    layer = dg.layers.RandomFlip("horizontal", bounding_box_format="xyxy")
    layer._generator = Fixed()
    out = layer(single, training=True)
    assert out["images"].shape == (20, 30, 3) and out["bounding_boxes"]["boxes"].shape == (4, 4)
    x1, x2 = single["bounding_boxes"]["boxes"][:, 0], single["bounding_boxes"]["boxes"][:, 2]
    np.testing.assert_allclose(out["bounding_boxes"]["boxes"][:, 0], 30 - x2, atol=1e-4)
    np.testing.assert_allclose(out["bounding_boxes"]["boxes"][:, 2], 30 - x1, atol=1e-4)
    # a list of per-image boxes of different lengths is padded with -1
    ragged = {"images": data["images"], "bounding_boxes": {
        "boxes": [data["bounding_boxes"]["boxes"][0, :3], data["bounding_boxes"]["boxes"][1, :1]],
        "labels": [np.array([1, 2, 3]), np.array([4])]}}
    out = dg.layers.MaxNumBoundingBoxes(5, bounding_box_format="xyxy")(ragged)
    assert out["bounding_boxes"]["boxes"].shape == (2, 5, 4)
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], [[1, 2, 3, -1, -1], [4, -1, -1, -1, -1]])


def test_boxes_need_a_format():
    with pytest.raises(ValueError, match="RandomFlip.*bounding_box_format"):
        dg.layers.RandomFlip()(detection_data(), training=True)
