"""TensorFlow 2's ``keras.layers.experimental.preprocessing``: the preprocessing layers by their
tf.keras 2.3-2.5 path (the classes of ``deepgrad.layers``, not copies)."""
from .. import (CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup, Normalization,
                RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation,
                RandomZoom, Rescaling, Resizing, StringLookup, TextVectorization)

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
           "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "Rescaling", "Resizing", "StringLookup",
           "TextVectorization"]
