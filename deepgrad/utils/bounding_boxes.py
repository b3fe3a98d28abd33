"""``keras.utils.bounding_boxes`` under its Keras names: format conversion, clipping, affine
moves, crops and pads, anchor deltas, IoU and CIoU (the arithmetic lives beside the image
layers that use it)."""
from ..layers.preprocessing_image.bounding_boxes import (
    affine_transform, clip_to_image_size, compute_ciou, compute_iou, convert_format, crop,
    decode_deltas_to_boxes, encode_box_to_deltas, pad,
)

__all__ = ["affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou", "convert_format", "crop",
           "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]
