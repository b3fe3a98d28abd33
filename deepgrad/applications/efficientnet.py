"""EfficientNet B0-B7 (Tan & Le, 2019): MobileNetV2-style inverted residual blocks with
squeeze-and-excite and swish, scaled in width, depth and resolution per variant.
The model rescales and normalises [0, 255] images itself. The block is shared with
EfficientNetV2 (``efficientnet_v2.py``)."""
from __future__ import annotations

import math

from .. import layers
from . import common, imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
WEIGHTS_HASHES = {  # (with classifier, without)
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
# (kernel, repeats, filters in, filters out, expansion, stride) of the seven stages of B0;
# every block has an identity skip and squeeze-excite ratio 0.25
DEFAULT_BLOCKS = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
                  (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
DEFAULT_BLOCKS_ARGS = [
    {"kernel_size": k, "repeats": r, "filters_in": fi, "filters_out": fo, "expand_ratio": e, "id_skip": True,
     "strides": s, "se_ratio": 0.25} for k, r, fi, fo, e, s in DEFAULT_BLOCKS]
# He-normal-like init on fan-out (conv), uniform on fan-out / 3 (classifier)
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]
# (width, depth, default size, dropout) per variant
VARIANTS = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
            "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
            "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}


def _conv(filters, kernel_size, name, **kwargs):
    return layers.Conv2D(filters, kernel_size, padding=kwargs.pop("padding", "same"), use_bias=kwargs.pop(
        "use_bias", False), kernel_initializer=CONV_KERNEL_INITIALIZER, name=name, **kwargs)


def squeeze_excite(x, filters, filters_se, activation, name):
    """``x * sigmoid(W2 act(W1 mean_hw(x)))`` with 1x1 convolutions."""
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = _conv(filters_se, 1, f"{name}se_reduce", activation=activation, use_bias=True)(se)
    se = _conv(filters, 1, f"{name}se_expand", activation="sigmoid", use_bias=True)(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def residual(x, inputs, drop_rate, name):
    """``inputs + x``, with whole-sample dropout of ``x`` while training (stochastic depth)."""
    if drop_rate > 0:
        x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
    return layers.add([x, inputs], name=f"{name}add")


def mb_conv(inputs, activation, drop_rate, name, filters_in, filters_out, kernel_size, strides, expand_ratio,
            se_ratio, id_skip=True, bn_momentum=0.99, tf_padding=True, dw_name="dwconv"):
    """Inverted residual: 1x1 expansion, kxk depthwise, squeeze-excite, linear 1x1 projection.

    ``tf_padding``: a stride-2 depthwise conv pads explicitly as TensorFlow's 'same' (EfficientNet);
    otherwise it uses 'same' padding directly (EfficientNetV2).
    """
    filters = filters_in * expand_ratio

    def bn(suffix):
        return layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}{suffix}")

    x = inputs
    if expand_ratio != 1:
        x = _conv(filters, 1, f"{name}expand_conv")(x)
        x = bn("expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    padding = "same"
    if strides == 2 and tf_padding:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}{dw_name}")(x)
    x = bn("bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(x, filters, max(1, int(filters_in * se_ratio)), activation, name)
    x = _conv(filters_out, 1, f"{name}project_conv")(x)
    x = bn("project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        x = residual(x, inputs, drop_rate, name)
    return x


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16, kernel_size=3,
          strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """EfficientNet's inverted residual block (``mb_conv`` with TensorFlow-style stride padding)."""
    return mb_conv(inputs, activation, drop_rate, name, filters_in, filters_out, kernel_size, strides,
                   expand_ratio, se_ratio, id_skip)


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,  # noqa: N802
                 drop_connect_rate=0.2, depth_divisor=8, activation="swish", blocks_args="default",
                 name="efficientnet", include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                 pooling=None, classes=1000, classifier_activation="softmax", weights_name=None):
    blocks_args = DEFAULT_BLOCKS_ARGS if blocks_args == "default" else blocks_args
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)

    def round_filters(filters):
        return common.make_divisible(filters * width_coefficient, depth_divisor)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":
        # the pretrained Normalization holds the variance where Keras's file expects the std:
        # a second division by sqrt(std) recovers (x - mean) / std
        x = layers.Rescaling([1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = _conv(round_filters(32), 3, "stem_conv", strides=2, padding="valid")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    b = 0
    blocks = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise ValueError("The number of repeats in `EfficientNet` must be > 0. "
                             f"Received: repeats={args['repeats']}")
        args = dict(args, filters_in=round_filters(args["filters_in"]), filters_out=round_filters(args["filters_out"]))
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:
                args["strides"], args["filters_in"] = 1, args["filters_out"]
            # the drop rate grows linearly with depth, from 0 to drop_connect_rate
            x = block(x, activation, drop_connect_rate * b / blocks, name=f"block{i + 1}{chr(j + 97)}_", **args)
            b += 1
    x = _conv(round_filters(1280), 1, "top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    x = head(x, include_top, pooling, classes, classifier_activation, weights, dropout_rate)
    model = common.make_model(img_input, input_tensor, x, name)
    if weights != "imagenet":
        return common.load_weights(model, weights)
    fname = name + (".h5" if include_top else "_notop.h5")
    return common.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                               WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def head(x, include_top, pooling, classes, classifier_activation, weights, dropout_rate, dense_kwargs=None):
    """Average pool, dropout and the classifier; or the pooling alone."""
    if not include_top:
        return common.pool(x, pooling, "avg_pool", "max_pool")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    imagenet_utils.validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, kernel_initializer=DENSE_KERNEL_INITIALIZER,
                        name="predictions", **(dense_kwargs or {}))(x)


def _variant(key):
    width, depth, size, dropout = VARIANTS[key]

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", name=f"efficientnet{key}"):
        return EfficientNet(width, depth, size, dropout, name=name, include_top=include_top, weights=weights,
                            input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                            classifier_activation=classifier_activation, weights_name=key)
    build.__name__ = build.__qualname__ = f"EfficientNet{key.upper()}"
    build.__doc__ = (f"EfficientNet-{key.upper()} ({size}x{size} by default); takes [0, 255] images "
                     "(the model rescales and normalises them).")
    return build


EfficientNetB0 = _variant("b0")
EfficientNetB1 = _variant("b1")
EfficientNetB2 = _variant("b2")
EfficientNetB3 = _variant("b3")
EfficientNetB4 = _variant("b4")
EfficientNetB5 = _variant("b5")
EfficientNetB6 = _variant("b6")
EfficientNetB7 = _variant("b7")


def preprocess_input(x, data_format=None):
    """The identity: EfficientNet models rescale and normalise their input themselves."""
    return x


decode_predictions = imagenet_utils.decode_predictions
