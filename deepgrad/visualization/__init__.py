"""``keras.visualization``: boxes and masks drawn onto images, and image galleries.

Drawing is NumPy (text labels need Pillow); the galleries need matplotlib. Both come with
the ``io`` extra (``pip install deepgrad[io]``).
"""
from .draw import draw_bounding_boxes, draw_segmentation_masks
from .gallery import plot_bounding_box_gallery, plot_image_gallery, plot_segmentation_mask_gallery

__all__ = ["draw_bounding_boxes", "draw_segmentation_masks", "plot_bounding_box_gallery", "plot_image_gallery",
           "plot_segmentation_mask_gallery"]
