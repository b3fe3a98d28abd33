"""Preprocessing layers (Keras's ``keras.layers`` preprocessing group): numerical features,
hashing, vocabulary lookups, text vectorization and audio spectrograms."""
from .audio import MelSpectrogram, STFTSpectrogram
from .hashing import HashedCrossing, Hashing
from .index_lookup import IntegerLookup, StringLookup
from .numerical import CategoryEncoding, Discretization, Normalization
from .text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup", "MelSpectrogram",
           "Normalization", "STFTSpectrogram", "StringLookup", "TextVectorization"]
