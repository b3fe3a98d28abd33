"""Xception (Chollet, 2017): depthwise-separable convolutions in residual blocks; an entry
flow of three strided blocks, eight middle blocks, and an exit flow. Input at least 71x71."""
from __future__ import annotations

from .. import layers
from . import common, imagenet_utils

WEIGHTS_URL = common.KERAS_WEIGHTS_URL + "xception/"
TOP_HASH, NOTOP_HASH = "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97"


def _bn(name=None):
    return layers.BatchNormalization(axis=-1, name=name)


def _sepconv(x, filters, name, act_name=None):
    """(ReLU) -> 3x3 separable conv -> BN."""
    if act_name:
        x = layers.Activation("relu", name=act_name)(x)
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return _bn(f"{name}_bn")(x)


def _strided_block(x, filters, block, first_relu=True):
    """Two separable convs and a 3x3/2 max pool, plus a 1x1/2 projection of the input."""
    residual = layers.Conv2D(filters[1], (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    residual = _bn()(residual)
    x = _sepconv(x, filters[0], f"block{block}_sepconv1", f"block{block}_sepconv1_act" if first_relu else None)
    x = _sepconv(x, filters[1], f"block{block}_sepconv2", f"block{block}_sepconv2_act")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
    return layers.add([x, residual])


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
             classes=1000, classifier_activation="softmax", name="xception"):
    """Xception; expects images preprocessed by ``xception.preprocess_input`` (to [-1, 1])."""
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=71,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = _bn("block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = _bn("block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    # entry flow; block 2 has no ReLU before its first separable conv (block1 ended on one)
    x = _strided_block(x, (128, 128), 2, first_relu=False)
    x = _strided_block(x, (256, 256), 3)
    x = _strided_block(x, (728, 728), 4)
    for i in range(8):  # middle flow
        residual = x
        prefix = f"block{i + 5}"
        for j in (1, 2, 3):
            x = _sepconv(x, 728, f"{prefix}_sepconv{j}", f"{prefix}_sepconv{j}_act")
        x = layers.add([x, residual])
    x = _strided_block(x, (728, 1024), 13)  # exit flow
    x = layers.SeparableConv2D(1536, (3, 3), padding="same", use_bias=False, name="block14_sepconv1")(x)
    x = _bn("block14_sepconv1_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = layers.SeparableConv2D(2048, (3, 3), padding="same", use_bias=False, name="block14_sepconv2")(x)
    x = _bn("block14_sepconv2_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    x = common.top(x, include_top, pooling, classes, classifier_activation, weights, "avg_pool")
    model = common.make_model(img_input, input_tensor, x, name)
    fname = f"xception_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return common.load_weights(model, weights, fname, WEIGHTS_URL + fname, TOP_HASH if include_top else NOTOP_HASH)


def preprocess_input(x, data_format=None):
    """Scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
