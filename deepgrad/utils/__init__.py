"""Floor 8: helpers around training data (labels, splits, seeds, downloads).

``deepgrad.utils.to_categorical`` and friends, under Keras's names.
"""
from ..preprocessing.sequence import pad_sequences
from .file_utils import get_file, hash_file, validate_file
from .numerical_utils import normalize, to_categorical
from .rng_utils import set_random_seed
from .sampling import compute_class_weight, random_oversample, random_undersample, train_test_split
from ..callbacks.progbar import Progbar
from ..preprocessing.image import array_to_img, img_to_array, load_img, save_img
from ..saving.object_registration import (
    CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name, get_registered_object,
    register_keras_serializable,
)
from ..saving.serialization import deserialize_keras_object, serialize_keras_object
from .dataset_utils import (
    PyDataset, Sequence, image_dataset_from_directory, pack_x_y_sample_weight, split_dataset,
    text_dataset_from_directory, timeseries_dataset_from_array, unpack_x_y_sample_weight,
)
from .model_visualization import model_to_dot, plot_model
from .session_utils import clear_session, get_source_inputs, is_keras_tensor, standardize_dtype
from . import legacy
from ..config import disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled
from ..preprocessing.audio_dataset import audio_dataset_from_directory
from .config import Config
from .feature_space import FeatureSpace

__all__ = [
    "compute_class_weight", "get_file", "hash_file", "normalize", "pad_sequences",
    "random_oversample", "random_undersample", "set_random_seed", "to_categorical",
    "train_test_split", "validate_file",
]
__all__ += [
    "CustomObjectScope", "Progbar", "PyDataset", "Sequence", "array_to_img", "custom_object_scope",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object",
    "image_dataset_from_directory", "img_to_array", "load_img", "model_to_dot", "pack_x_y_sample_weight",
    "plot_model", "register_keras_serializable", "save_img", "serialize_keras_object", "split_dataset",
    "text_dataset_from_directory", "timeseries_dataset_from_array", "unpack_x_y_sample_weight",
    "clear_session", "get_source_inputs", "is_keras_tensor", "standardize_dtype",
]
from . import bounding_boxes  # noqa: E402  (keras.utils.bounding_boxes)
__all__ += [
    "Config", "FeatureSpace", "audio_dataset_from_directory", "disable_interactive_logging",
    "enable_interactive_logging", "is_interactive_logging_enabled", "legacy",
]
