"""Floor 5: Keras-style layers, by their Keras names.

``get(class_name)`` finds a layer class by the name model files store; ``serialize`` and
``deserialize`` turn a layer into ``{"class_name": ..., "config": {...}}`` and back.
"""
from __future__ import annotations

from ..registry import Registry
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention, GroupedQueryAttention, GroupQueryAttention, MultiHeadAttention
from .base import Layer
from .convolutional import Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D
from .convolutional_depthwise import (
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D,
)
from .convolutional_transpose import (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose, Convolution1DTranspose, Convolution2DTranspose,
    Convolution3DTranspose,
)
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Lambda, Permute, RepeatVector, Reshape
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .merge import (
    Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, maximum, minimum,
    multiply, subtract,
)
from .normalization import (
    BatchNormalization, GroupNormalization, LayerNormalization, RMSNormalization, SpectralNormalization,
    UnitNormalization,
)
from .preprocessing import (
    CategoryEncoding, Discretization, HashedCrossing, Hashing, IntegerLookup, MelSpectrogram, Normalization,
    STFTSpectrogram, StringLookup, TextVectorization,
)
from .pooling import (
    AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D,
)
from .pooling import (
    AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D, AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D, AdaptiveMaxPooling3D, AveragePooling3D, AvgPool3D, GlobalAveragePooling3D, GlobalAvgPool3D,
    GlobalMaxPool3D, GlobalMaxPooling3D, MaxPool3D, MaxPooling3D,
)
from .core import Identity, Masking
from .input_spec import InputSpec
from .merge import Dot, dot
from .recurrent import GRU, LSTM, SimpleRNN
from .regularization import (
    ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
    SpatialDropout3D,
)
from .reshaping import (
    Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
    ZeroPadding3D,
)
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .rnn import RNN
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .wrappers import Bidirectional, TimeDistributed, Wrapper
from .reversible_embedding import ReversibleEmbedding
from .torch_module_wrapper import TorchModuleWrapper
from .other_backends import FlaxLayer, JaxLayer, TFSMLayer
from .preprocessing_image import (
    CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomGrayscale, RandomInvert,
    RandomRotation, RandomTranslation, RandomZoom, Rescaling, Resizing,
)
from .preprocessing_image import AutoContrast, Pipeline, RandomShear, Solarization
from .preprocessing_image import (
    AugMix, ContrastLimitedAdaptiveHistogramEqualization, CutMix, Equalization, MaxNumBoundingBoxes, MixUp,
    RandAugment, RandomColorDegeneration, RandomColorJitter, RandomElasticTransform, RandomErasing,
    RandomGaussianBlur, RandomHue, RandomPerspective, RandomPosterization, RandomSaturation, RandomSharpness,
)

__all__ = [
    "Activation", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D",
    "BatchNormalization", "Bidirectional", "Concatenate", "Conv1D", "Conv2D", "Convolution1D", "Convolution2D",
    "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "Input", "InputLayer", "LSTM", "Lambda", "Layer", "LayerNormalization", "MaxPool1D",
    "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "Maximum", "Minimum", "Multiply", "Permute", "RepeatVector",
    "Reshape", "SimpleRNN", "Subtract", "TimeDistributed", "add", "average", "concatenate", "deserialize", "get",
    "maximum", "minimum", "multiply", "serialize", "subtract",
    "AdditiveAttention", "Attention", "EinsumDense", "GroupQueryAttention", "GroupedQueryAttention",
    "MultiHeadAttention", "GroupNormalization", "RMSNormalization", "SpectralNormalization", "UnitNormalization",
    "CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup", "MelSpectrogram",
    "Normalization", "STFTSpectrogram", "StringLookup", "TextVectorization",
]
__all__ += [
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "AveragePooling3D", "AvgPool3D", "GlobalAveragePooling3D",
    "GlobalAvgPool3D", "GlobalMaxPool3D", "GlobalMaxPooling3D", "MaxPool3D", "MaxPooling3D",
    "ActivityRegularization", "AlphaDropout", "Cropping1D", "Cropping2D", "Cropping3D", "Dot", "GaussianDropout",
    "GaussianNoise", "Identity", "InputSpec", "Masking", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "dot",
]
__all__ += ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]
__all__ += ["Conv1DTranspose", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Convolution1DTranspose",
            "Convolution2DTranspose", "Convolution3D", "Convolution3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
            "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"]
__all__ += ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "GRUCell", "LSTMCell", "RNN", "SimpleRNNCell", "StackedRNNCells"]

# image preprocessing and augmentation
__all__ += [
    "CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomGrayscale",
    "RandomInvert", "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
    "AutoContrast", "Pipeline", "RandomShear", "Solarization",
]
__all__ += [
    "RandomHue", "RandomSaturation", "RandomSharpness", "RandomPosterization", "RandomColorJitter",
    "RandomColorDegeneration", "RandomErasing", "RandomGaussianBlur", "RandomPerspective",
    "RandomElasticTransform", "Equalization", "ContrastLimitedAdaptiveHistogramEqualization", "MixUp", "CutMix",
    "AugMix", "RandAugment", "MaxNumBoundingBoxes",
]

__all__ += ["FlaxLayer", "JaxLayer", "ReversibleEmbedding", "TFSMLayer", "TorchModuleWrapper", "Wrapper"]

# every public layer class by the class name model files store (aliases such as MaxPool2D included)
_REGISTRY = Registry("layer", snake_case=False, base=Layer)
for _name in __all__:
    _value = globals().get(_name)
    if isinstance(_value, type) and issubclass(_value, Layer):
        _REGISTRY.register(_value, _name)
del _name, _value

# ops called on KerasTensors record themselves as SymbolicOp nodes (not a keras.layers name, so
# registered for loading only)
from . import symbolic_op as _symbolic_op  # noqa: E402
from .operation import Operation as _Operation  # noqa: E402
from .. import backend as _backend  # noqa: E402

_REGISTRY.register(_symbolic_op.SymbolicOp)
_backend.symbolic_op = _symbolic_op.record
_Operation._record = _symbolic_op.record_operation


from ..registry import find_custom_object as _find_custom_object  # noqa: E402
from ..serialization_lib import serialize_keras_object as _serialize_keras_object  # noqa: E402


def get(identifier, custom_objects=None):
    """The layer class named ``identifier`` (Keras class name, e.g. ``"Dense"``); a class passes through."""
    if isinstance(identifier, type) and issubclass(identifier, Layer):
        return identifier
    if not isinstance(identifier, str):
        raise ValueError(f"Could not interpret layer identifier: {identifier!r} (expected a layer class name)")
    return _REGISTRY.lookup(identifier, custom_objects)


def serialize(layer: Layer) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` for ``layer``, the values of
    its config (nested layers, regularizers, initializers) serialized the same way."""
    return _serialize_keras_object(layer)


def deserialize(config: dict, custom_objects=None) -> Layer:
    """A new layer from ``{"class_name": ..., "config": {...}}``; a class registered with
    ``register_keras_serializable`` is found by its ``registered_name`` ("package>Name")."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"layers.deserialize: expected {{'class_name': ..., 'config': ...}}, got {config!r}")
    registered = config.get("registered_name")
    cls = _find_custom_object(registered, custom_objects, bare=False) if isinstance(registered, str) else None
    if not isinstance(cls, type):
        cls = get(config["class_name"], custom_objects)
    return cls.from_config(dict(config.get("config") or {}))


from . import experimental  # noqa: E402  (tf.keras 2's layers.experimental.preprocessing path)
