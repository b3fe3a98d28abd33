"""TensorFlow 2's ``keras.layers.experimental`` path, where tf.keras kept the preprocessing layers
(``layers.experimental.preprocessing.TextVectorization``) and ``EinsumDense`` before they moved
to ``keras.layers``: the same classes under the old names, so those programs import unchanged."""
from . import preprocessing
from ..einsum_dense import EinsumDense

__all__ = ["preprocessing", "EinsumDense"]
