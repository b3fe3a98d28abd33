"""``PyDataset``, ``split_dataset`` and the ``*_dataset_from_*`` loaders: they live in
``deepgrad.preprocessing.dataset_utils`` (Keras exposes the loaders in ``keras.preprocessing``
too, and utils builds on preprocessing, not the reverse); these are the same objects."""
from ..preprocessing.dataset_utils import (  # noqa: F401
    IMAGE_FORMATS, TEXT_FORMATS, BatchDataset, PyDataset, Sequence, image_dataset_from_directory, index_directory,
    pack_x_y_sample_weight, split_dataset, text_dataset_from_directory, timeseries_dataset_from_array,
    unpack_x_y_sample_weight,
)

__all__ = ["BatchDataset", "PyDataset", "Sequence", "image_dataset_from_directory", "pack_x_y_sample_weight",
           "split_dataset", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "unpack_x_y_sample_weight"]
