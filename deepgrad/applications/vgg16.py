"""VGG16 (Simonyan & Zisserman, 2014): five blocks of 3x3 convolutions and 2x2 max pooling,
then two 4096-unit layers. VGG19 (``vgg19.py``) is the same with four convolutions in the last
three blocks."""
from __future__ import annotations

from .. import layers
from . import common, imagenet_utils

WEIGHTS_URL = common.KERAS_WEIGHTS_URL + "{name}/{name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
WEIGHTS_HASHES = {  # (with classifier, without)
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}
FILTERS = (64, 128, 256, 512, 512)


def VGG(convs_per_block, weights_name, include_top=True, weights="imagenet", input_tensor=None,  # noqa: N802
        input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, convs) in enumerate(zip(FILTERS, convs_per_block), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool(x, pooling)
    model = common.make_model(img_input, input_tensor, x, name)
    suffix = "" if include_top else "_notop"
    return common.load_weights(model, weights, f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                               WEIGHTS_URL.format(name=weights_name, suffix=suffix),
                               WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
          classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16; expects images preprocessed by ``vgg16.preprocess_input`` (caffe mode)."""
    return VGG((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def preprocess_input(x, data_format=None):
    """RGB -> BGR and ImageNet mean subtraction (``imagenet_utils.preprocess_input``, caffe mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions
