"""Floor 8: helpers around training data (labels, splits, seeds, downloads).

``deepgrad.utils.to_categorical`` and friends, under Keras's names.
"""
from ..preprocessing.sequence import pad_sequences
from .file_utils import get_file, hash_file, validate_file
from .numerical_utils import normalize, to_categorical
from .rng_utils import set_random_seed
from .sampling import compute_class_weight, random_oversample, random_undersample, train_test_split

__all__ = [
    "compute_class_weight", "get_file", "hash_file", "normalize", "pad_sequences",
    "random_oversample", "random_undersample", "set_random_seed", "to_categorical",
    "train_test_split", "validate_file",
]
