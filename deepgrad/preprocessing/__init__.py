"""Floor 8: preprocessing of images (``image``), sequences (``sequence``) and TF-Keras's text
``Tokenizer`` (``text``), and the dataset
loaders Keras also exposes here (``image_dataset_from_directory``, ``text_dataset_from_directory``,
``timeseries_dataset_from_array``)."""
from . import image, sequence, text
from .dataset_utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from .sequence import pad_sequences

__all__ = ["image", "sequence", "text", "pad_sequences", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
