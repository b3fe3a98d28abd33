"""TensorFlow 2's ``keras.layers.experimental.preprocessing``: the preprocessing layers by their
tf.keras 2.3-2.5 path (the classes of ``deepgrad.layers``, not copies)."""
from ..preprocessing import (CategoryEncoding, Discretization, Hashing, IntegerLookup, Normalization, StringLookup,
                             TextVectorization)
from ..preprocessing_image import (CenterCrop, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                                   RandomTranslation, RandomZoom, Rescaling, Resizing)

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
           "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "Rescaling", "Resizing", "StringLookup",
           "TextVectorization"]
