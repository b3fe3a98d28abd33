"""Floor 8: preprocessing of images (``image``) and sequences (``sequence``), and the dataset
loaders Keras also exposes here (``image_dataset_from_directory``, ``text_dataset_from_directory``,
``timeseries_dataset_from_array``)."""
from . import image, sequence
from .dataset_utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from .sequence import pad_sequences

__all__ = ["image", "sequence", "pad_sequences", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
