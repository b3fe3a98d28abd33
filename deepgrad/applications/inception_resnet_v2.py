"""InceptionResNetV2 (Szegedy et al., 2016): Inception branches whose concatenation, projected
by a 1x1 convolution, is added to the block's input scaled by ``scale``. Input at least 75x75."""
from __future__ import annotations

from .. import layers
from ..layers import Layer
from ..saving.object_registration import register_keras_serializable
from . import common, imagenet_utils

BASE_WEIGHT_URL = common.KERAS_WEIGHTS_URL + "inception_resnet_v2/"
TOP_HASH, NOTOP_HASH = "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4"


@register_keras_serializable(package="applications")
class CustomScaleLayer(Layer):
    """``inputs[0] + scale * inputs[1]``: the residual sum of an Inception-ResNet block."""
    keras_module = "keras.src.applications.inception_resnet_v2"  # where Keras's own class is, named in a .keras file

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs[0] + inputs[1] * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False, name=None):
    """Conv -> BN (without scale; only when the conv has no bias) -> activation."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = layers.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


def _chain(x, specs):
    for spec in specs:
        x = conv2d_bn(x, *spec[:2], **(spec[2] if len(spec) > 2 else {}))
    return x


def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
    """``x + scale * conv1x1(concat(branches(x)))`` then ``activation``."""
    if block_type == "block35":
        branches = [conv2d_bn(x, 32, 1), _chain(x, [(32, 1), (32, 3)]), _chain(x, [(32, 1), (48, 3), (64, 3)])]
    elif block_type == "block17":
        branches = [conv2d_bn(x, 192, 1), _chain(x, [(128, 1), (160, [1, 7]), (192, [7, 1])])]
    elif block_type == "block8":
        branches = [conv2d_bn(x, 192, 1), _chain(x, [(192, 1), (224, [1, 3]), (256, [3, 1])])]
    else:
        raise ValueError('Unknown Inception-ResNet block type. Expects "block35", "block17" or "block8", '
                         f"but got: {block_type}")
    block_name = f"{block_type}_{block_idx}"
    mixed = layers.Concatenate(axis=3, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[3], 1, activation=None, use_bias=True, name=f"{block_name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{block_name}_ac")(x)
    return x


def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,  # noqa: N802
                      pooling=None, classes=1000, classifier_activation="softmax", name="inception_resnet_v2"):
    """InceptionResNetV2; expects images preprocessed by ``inception_resnet_v2.preprocess_input``."""
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=75,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)
    valid, valid2 = {"padding": "valid"}, {"strides": 2, "padding": "valid"}
    x = _chain(img_input, [(32, 3, valid2), (32, 3, valid), (64, 3)])
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = _chain(x, [(80, 1, valid), (192, 3, valid)])
    x = layers.MaxPooling2D(3, strides=2)(x)
    branch_pool = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    branches = [conv2d_bn(x, 96, 1), _chain(x, [(48, 1), (64, 5)]), _chain(x, [(64, 1), (96, 3), (96, 3)]),
                conv2d_bn(branch_pool, 64, 1)]
    x = layers.Concatenate(axis=3, name="mixed_5b")(branches)
    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)
    branches = [conv2d_bn(x, 384, 3, **valid2), _chain(x, [(256, 1), (256, 3), (384, 3, valid2)]),
                layers.MaxPooling2D(3, strides=2, padding="valid")(x)]
    x = layers.Concatenate(axis=3, name="mixed_6a")(branches)
    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)
    branches = [_chain(x, [(256, 1), (384, 3, valid2)]), _chain(x, [(256, 1), (288, 3, valid2)]),
                _chain(x, [(256, 1), (288, 3), (320, 3, valid2)]),
                layers.MaxPooling2D(3, strides=2, padding="valid")(x)]
    x = layers.Concatenate(axis=3, name="mixed_7a")(branches)
    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)
    x = conv2d_bn(x, 1536, 1, name="conv_7b")
    x = common.top(x, include_top, pooling, classes, classifier_activation, weights, "avg_pool")
    model = common.make_model(img_input, input_tensor, x, name)
    fname = f"inception_resnet_v2_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return common.load_weights(model, weights, fname, BASE_WEIGHT_URL + fname,
                               TOP_HASH if include_top else NOTOP_HASH)


def preprocess_input(x, data_format=None):
    """Scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
