"""InceptionV3 (Szegedy et al., 2015): parallel branches of factorised convolutions
(1x1, 3x3, 1x7/7x1, pooling) concatenated per "mixed" block. Input at least 75x75."""
from __future__ import annotations

from .. import layers
from . import common, imagenet_utils

WEIGHTS_URL = common.KERAS_WEIGHTS_URL + "inception_v3/"
TOP_HASH, NOTOP_HASH = "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv (no bias) -> BN (no scale: a ReLU follows) -> ReLU."""
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _chain(x, specs):
    """``conv2d_bn`` applied in turn for each ``(filters, rows, cols)`` (and optional kwargs)."""
    for spec in specs:
        x = conv2d_bn(x, *spec[:3], **(spec[3] if len(spec) > 3 else {}))
    return x


def _avg_branch(x, filters):
    x = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(x, filters, 1, 1)


def _block_35(x, pool_filters, name):
    """mixed0-2 (35x35): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""
    branches = [conv2d_bn(x, 64, 1, 1), _chain(x, [(48, 1, 1), (64, 5, 5)]),
                _chain(x, [(64, 1, 1), (96, 3, 3), (96, 3, 3)]), _avg_branch(x, pool_filters)]
    return layers.concatenate(branches, axis=3, name=name)


def _block_17(x, c, name):
    """mixed4-7 (17x17): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1, width ``c`` inside."""
    branches = [conv2d_bn(x, 192, 1, 1), _chain(x, [(c, 1, 1), (c, 1, 7), (192, 7, 1)]),
                _chain(x, [(c, 1, 1), (c, 7, 1), (c, 1, 7), (c, 7, 1), (192, 1, 7)]), _avg_branch(x, 192)]
    return layers.concatenate(branches, axis=3, name=name)


def _block_8(x, i):
    """mixed9-10 (8x8): 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | avgpool-1x1."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = layers.concatenate([conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)], axis=3,
                                   name=f"mixed9_{i}")
    branch3x3dbl = _chain(x, [(448, 1, 1), (384, 3, 3)])
    branch3x3dbl = layers.concatenate([conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)],
                                      axis=3)
    return layers.concatenate([branch1x1, branch3x3, branch3x3dbl, _avg_branch(x, 192)], axis=3,
                              name=f"mixed{9 + i}")


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,  # noqa: N802
                pooling=None, classes=1000, classifier_activation="softmax", name="inception_v3"):
    """InceptionV3; expects images preprocessed by ``inception_v3.preprocess_input`` (to [-1, 1])."""
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=75,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)
    valid2 = {"strides": (2, 2), "padding": "valid"}
    x = _chain(img_input, [(32, 3, 3, valid2), (32, 3, 3, {"padding": "valid"}), (64, 3, 3)])
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _chain(x, [(80, 1, 1, {"padding": "valid"}), (192, 3, 3, {"padding": "valid"})])
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _block_35(x, 32, "mixed0")
    x = _block_35(x, 64, "mixed1")
    x = _block_35(x, 64, "mixed2")
    # mixed3: grid reduction 35 -> 17
    branches = [conv2d_bn(x, 384, 3, 3, **valid2), _chain(x, [(64, 1, 1), (96, 3, 3), (96, 3, 3, valid2)]),
                layers.MaxPooling2D((3, 3), strides=(2, 2))(x)]
    x = layers.concatenate(branches, axis=3, name="mixed3")
    for i, c in enumerate((128, 160, 160, 192)):
        x = _block_17(x, c, f"mixed{4 + i}")
    # mixed8: grid reduction 17 -> 8
    branches = [_chain(x, [(192, 1, 1), (320, 3, 3, valid2)]),
                _chain(x, [(192, 1, 1), (192, 1, 7), (192, 7, 1), (192, 3, 3, valid2)]),
                layers.MaxPooling2D((3, 3), strides=(2, 2))(x)]
    x = layers.concatenate(branches, axis=3, name="mixed8")
    for i in range(2):
        x = _block_8(x, i)
    x = common.top(x, include_top, pooling, classes, classifier_activation, weights, "avg_pool")
    model = common.make_model(img_input, input_tensor, x, name)
    fname = f"inception_v3_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return common.load_weights(model, weights, fname, WEIGHTS_URL + fname, TOP_HASH if include_top else NOTOP_HASH)


def preprocess_input(x, data_format=None):
    """Scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
