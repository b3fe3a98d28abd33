"""EfficientNetV2 B0-B3, S, M, L (Tan & Le, 2021): fused inverted residuals (one full kxk
convolution in place of expansion + depthwise) in the early stages, EfficientNet's blocks
(``efficientnet.mb_conv``) after. The model rescales [0, 255] images itself
(``include_preprocessing``)."""
from __future__ import annotations

import math

from .. import layers
from . import common, imagenet_utils
from .efficientnet import _conv, head, mb_conv, residual, squeeze_excite

BASE_WEIGHTS_PATH = common.KERAS_WEIGHTS_URL + "efficientnet_v2/"
WEIGHTS_HASHES = {  # (with classifier, without)
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
_B = ((1, 3, 1, 32, 16, 1, 0, 1), (1, 3, 2, 16, 32, 4, 0, 2), (1, 3, 2, 32, 48, 4, 0, 2),
      (0, 3, 3, 48, 96, 4, 0.25, 2), (0, 3, 5, 96, 112, 6, 0.25, 1), (0, 3, 8, 112, 192, 6, 0.25, 2))
# (fused, kernel, repeats, filters in, filters out, expansion, squeeze-excite ratio, stride) per stage
STAGES = {
    "efficientnetv2-s": ((1, 3, 2, 24, 24, 1, 0, 1), (1, 3, 4, 24, 48, 4, 0, 2), (1, 3, 4, 48, 64, 4, 0, 2),
                         (0, 3, 6, 64, 128, 4, 0.25, 2), (0, 3, 9, 128, 160, 6, 0.25, 1),
                         (0, 3, 15, 160, 256, 6, 0.25, 2)),
    "efficientnetv2-m": ((1, 3, 3, 24, 24, 1, 0, 1), (1, 3, 5, 24, 48, 4, 0, 2), (1, 3, 5, 48, 80, 4, 0, 2),
                         (0, 3, 7, 80, 160, 4, 0.25, 2), (0, 3, 14, 160, 176, 6, 0.25, 1),
                         (0, 3, 18, 176, 304, 6, 0.25, 2), (0, 3, 5, 304, 512, 6, 0.25, 1)),
    "efficientnetv2-l": ((1, 3, 4, 32, 32, 1, 0, 1), (1, 3, 7, 32, 64, 4, 0, 2), (1, 3, 7, 64, 96, 4, 0, 2),
                         (0, 3, 10, 96, 192, 4, 0.25, 2), (0, 3, 19, 192, 224, 6, 0.25, 1),
                         (0, 3, 25, 224, 384, 6, 0.25, 2), (0, 3, 7, 384, 640, 6, 0.25, 1)),
    "efficientnetv2-b0": _B, "efficientnetv2-b1": _B, "efficientnetv2-b2": _B, "efficientnetv2-b3": _B,
}
DEFAULT_BLOCKS_ARGS = {
    key: [{"conv_type": c, "kernel_size": k, "num_repeat": r, "input_filters": fi, "output_filters": fo,
           "expand_ratio": e, "se_ratio": se, "strides": s} for c, k, r, fi, fo, e, se, s in stages]
    for key, stages in STAGES.items()}
# (width, depth, default size) per variant
VARIANTS = {"b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260), "b3": (1.2, 1.4, 300),
            "-s": (1.0, 1.0, 384), "-m": (1.0, 1.0, 480), "-l": (1.0, 1.0, 480)}


def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    """``filters * width`` rounded to the nearest multiple of ``depth_divisor`` (at least ``min_depth``)."""
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    return int(max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    return int(math.ceil(depth_coefficient * repeats))


def MBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,  # noqa: N802
                bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """EfficientNet's inverted residual with 'same' stride padding; returns ``apply(inputs)``."""
    def apply(inputs):
        return mb_conv(inputs, activation, survival_probability or 0.0, name, input_filters, output_filters,
                       kernel_size, strides, expand_ratio, se_ratio, bn_momentum=bn_momentum, tf_padding=False,
                       dw_name="dwconv2")
    return apply


def FusedMBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1,  # noqa: N802
                     se_ratio=0.0, bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """kxk convolution expanding by ``expand_ratio`` (stride here), squeeze-excite, 1x1
    projection; with no expansion the kxk convolution is the projection. Returns ``apply(inputs)``."""
    def bn(suffix):
        return layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}{suffix}")

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(filters, kernel_size, f"{name}expand_conv", strides=strides)(x)
            x = bn("expand_bn")(x)
            x = layers.Activation(activation=activation, name=f"{name}expand_activation")(x)
        if 0 < se_ratio <= 1:
            x = squeeze_excite(x, filters, max(1, int(input_filters * se_ratio)), activation, name)
        expanded = expand_ratio != 1
        x = _conv(output_filters, 1 if expanded else kernel_size, f"{name}project_conv",
                  strides=1 if expanded else strides)(x)
        x = bn("project_bn")(x)
        if not expanded:
            x = layers.Activation(activation=activation, name=f"{name}project_activation")(x)
        if strides == 1 and input_filters == output_filters:
            x = residual(x, inputs, survival_probability or 0.0, name)
        return x
    return apply


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,  # noqa: N802
                   drop_connect_rate=0.2, depth_divisor=8, min_depth=8, bn_momentum=0.9, activation="swish",
                   blocks_args="default", name="efficientnetv2", include_top=True, weights="imagenet",
                   input_tensor=None, input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
                   include_preprocessing=True, weights_name=None):
    variant = f"efficientnetv2-{weights_name.lstrip('-')}" if weights_name else name
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS[variant]
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)

    def rf(filters):
        return round_filters(filters, width_coefficient, min_depth, depth_divisor)

    x = img_input
    if include_preprocessing:
        # B0-B3 were trained on ImageNet-normalised inputs, S/M/L on inputs in [-1, 1]
        if variant.split("-")[-1].startswith("b") and input_shape[2] == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                                     axis=3)(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)
    x = _conv(rf(blocks_args[0]["input_filters"]), 3, "stem_conv", strides=2)(x)
    x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    b = 0
    blocks = float(sum(args["num_repeat"] for args in blocks_args))
    for i, args in enumerate(blocks_args):
        if args["num_repeat"] <= 0:
            raise ValueError("The number of repeats in `EfficientNetV2` must be > 0. "
                             f"Received: num_repeat={args['num_repeat']}")
        args = dict(args, input_filters=rf(args["input_filters"]), output_filters=rf(args["output_filters"]))
        block = FusedMBConvBlock if args.pop("conv_type") else MBConvBlock
        for j in range(round_repeats(args.pop("num_repeat"), depth_coefficient)):
            if j > 0:
                args["strides"], args["input_filters"] = 1, args["output_filters"]
            x = block(activation=activation, bn_momentum=bn_momentum,
                      survival_probability=drop_connect_rate * b / blocks,
                      name=f"block{i + 1}{chr(j + 97)}_", **args)(x)
            b += 1
    x = _conv(rf(1280), 1, "top_conv")(x)
    x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name="top_bn")(x)
    x = layers.Activation(activation=activation, name="top_activation")(x)
    x = head(x, include_top, pooling, classes, classifier_activation, weights, dropout_rate,
             {"bias_initializer": "zeros"})
    model = common.make_model(img_input, input_tensor, x, name)
    if weights != "imagenet":
        return common.load_weights(model, weights)
    fname = name + (".h5" if include_top else "_notop.h5")
    return common.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                               WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def _variant(key, suffix):
    width, depth, size = VARIANTS[key]

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", include_preprocessing=True,
              name=f"efficientnetv2-{key.lstrip('-')}"):
        return EfficientNetV2(width_coefficient=width, depth_coefficient=depth, default_size=size, name=name,
                              include_top=include_top, weights=weights, input_tensor=input_tensor,
                              input_shape=input_shape, pooling=pooling, classes=classes,
                              classifier_activation=classifier_activation,
                              include_preprocessing=include_preprocessing, weights_name=key)
    build.__name__ = build.__qualname__ = f"EfficientNetV2{suffix}"
    build.__doc__ = (f"EfficientNetV2-{suffix} ({size}x{size} by default); takes [0, 255] images "
                     "(``include_preprocessing=True`` rescales them in the model).")
    return build


EfficientNetV2B0 = _variant("b0", "B0")
EfficientNetV2B1 = _variant("b1", "B1")
EfficientNetV2B2 = _variant("b2", "B2")
EfficientNetV2B3 = _variant("b3", "B3")
EfficientNetV2S = _variant("-s", "S")
EfficientNetV2M = _variant("-m", "M")
EfficientNetV2L = _variant("-l", "L")


def preprocess_input(x, data_format=None):
    """The identity: EfficientNetV2 models rescale their input themselves."""
    return x


decode_predictions = imagenet_utils.decode_predictions
