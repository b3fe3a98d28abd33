"""Floor 8: preprocessing of images (``image``) and sequences (``sequence``)."""
from . import image, sequence
from .sequence import pad_sequences

__all__ = ["image", "sequence", "pad_sequences"]
