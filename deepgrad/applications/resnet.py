"""ResNet50/101/152 (He et al., 2015) and the pre-activation stacks of ResNet V2 (He et al., 2016).

Both versions share the stem and head (``ResNet``); they differ in the residual block:
v1 is conv-BN-ReLU with the shortcut added before the last ReLU, v2 applies BN-ReLU first
("pre-activation") and adds the shortcut to the raw convolution output.
"""
from __future__ import annotations

from .. import layers
from . import common, imagenet_utils

BASE_WEIGHTS_PATH = common.KERAS_WEIGHTS_URL + "resnet/"
WEIGHTS_HASHES = {  # (with classifier, without)
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
BN_EPSILON = 1.001e-5


def _bn(name):
    return layers.BatchNormalization(axis=3, epsilon=BN_EPSILON, name=name)


def ResNet(stack_fn, preact, use_bias, include_top=True, weights="imagenet", input_tensor=None,  # noqa: N802
           input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name="resnet",
           weights_name=None):
    """Stem (7x7/2 conv, 3x3/2 max pool), ``stack_fn``'s residual stacks, then the head."""
    common.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    require_flatten=include_top, weights=weights)
    img_input = common.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = common.top(x, include_top, pooling, classes, classifier_activation, weights,
                   "avg_pool", "avg_pool", "max_pool")
    model = common.make_model(img_input, input_tensor, x, name)
    if weights == "imagenet" and weights_name in WEIGHTS_HASHES:
        suffix = "" if include_top else "_notop"
        fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return common.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                                   WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return common.load_weights(model, None if weights == "imagenet" else weights)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """1x1 (stride) -> kxk -> 1x1 (4*filters) bottleneck; ``out = relu(shortcut + F(x))``."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v1 blocks; the first projects the shortcut and strides by ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """Pre-activation bottleneck: ``out = shortcut + F(relu(bn(x)))``; the stride sits on the
    3x3 convolution, and an identity shortcut is subsampled by a 1x1 max pool."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v2 blocks; the first projects the shortcut, the last strides by ``stride1``."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def four_stages(stack, blocks, first_stride, last_stride):
    """The four stages conv2..conv5 (64, 128, 256, 512 filters) with ``blocks`` blocks each."""
    def stack_fn(x):
        for i, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            stride = first_stride if i == 0 else (last_stride if i == 3 else 2)
            x = stack(x, filters, n, stride1=stride, name=f"conv{i + 2}")
        return x
    return stack_fn


def _v1(blocks, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name):
    return ResNet(four_stages(stack_residual_blocks_v1, blocks, 1, 2), False, True, include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name, weights_name=name_of(blocks, ""))


def name_of(blocks, version):
    """Keras's weights name of a depth: "resnet50", "resnet101v2", ..."""
    return {(3, 4, 6, 3): "resnet50", (3, 4, 23, 3): "resnet101", (3, 8, 36, 3): "resnet152"}[tuple(blocks)] + version


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
             classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50; expects images preprocessed by ``resnet.preprocess_input`` (caffe mode)."""
    return _v1((3, 4, 6, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
              classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet101; expects images preprocessed by ``resnet.preprocess_input`` (caffe mode)."""
    return _v1((3, 4, 23, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
              classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet152; expects images preprocessed by ``resnet.preprocess_input`` (caffe mode)."""
    return _v1((3, 8, 36, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def preprocess_input(x, data_format=None):
    """RGB -> BGR and ImageNet mean subtraction (caffe mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions
