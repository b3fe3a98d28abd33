"""Patterns of the Keras documentation's vision examples (keras-team/keras-io, examples/vision:
SimCLR's and NNCLR's zipped labeled and unlabeled batches, the keypoint detector's
``preprocess_input`` on a symbolic input, ...), written here in small form and checked against
Keras 3 (torch backend) where Keras gives the number."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402


def _small_classifier(lib):
    inputs = lib.Input((6,))
    hidden = lib.layers.Dense(5, activation="relu")(inputs)
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(hidden))


def _nest_shapes(data):
    if isinstance(data, (tuple, list)):
        return [_nest_shapes(d) for d in data]  # Keras's generator adapter gives lists, tf.data tuples
    return tuple(keras.ops.shape(data)) if not isinstance(data, dg.Tensor) else tuple(data.shape)


def _recording_model(lib, seen):
    class Recorder(lib.Model):
        def train_step(self, data):
            (unlabeled, _), (labeled, labels) = data
            seen.append(_nest_shapes(data))
            return {"n": lib.ops.sum(unlabeled) * 0.0 + float(np.shape(labels)[0])}

    inputs = lib.Input((3,))
    return Recorder(inputs, lib.layers.Dense(1)(inputs))


def test_batches_nesting_labeled_and_unlabeled_pairs_reach_train_step_as_keras_gives_them():
    rng = np.random.default_rng(0)

    def batches():
        for _ in range(2):  # the zip of an unlabeled (80 images) and a labeled (20 images) dataset
            yield ((rng.integers(0, 255, (8, 5, 5, 3)).astype("uint8"), rng.integers(0, 9, 8)),
                   (rng.integers(0, 255, (2, 5, 5, 3)).astype("uint8"), rng.integers(0, 9, 2)))

    ours, theirs = [], []
    for lib, seen in ((dg, ours), (keras, theirs)):
        model = _recording_model(lib, seen)
        model.compile(optimizer="adam")
        history = model.fit(batches(), epochs=1, steps_per_epoch=2, verbose=0)
        assert history.history["n"] == [2.0]
    assert len(ours) == 2
    assert ours[0] == theirs[-1] == [[(8, 5, 5, 3), (8,)], [(2, 5, 5, 3), (2,)]]


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
def test_preprocess_input_on_a_symbolic_input_builds_the_same_model_as_keras(mode):
    x = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    outputs = {}
    for lib in (dg, keras):
        inputs = lib.layers.Input((4, 4, 3))
        model = lib.Model(inputs, lib.applications.imagenet_utils.preprocess_input(inputs, mode=mode))
        outputs[lib.__name__] = keras.ops.convert_to_numpy(model(x)) if lib is keras else model(x).numpy()
    np.testing.assert_allclose(outputs["deepgrad"], outputs["keras"], rtol=1e-6, atol=1e-5)
    # the keypoint detector's backbone input: MobileNetV2's preprocess_input ("tf" mode) on Input
    inputs = dg.Input((4, 4, 3))
    out = dg.applications.mobilenet_v2.preprocess_input(inputs)
    assert tuple(out.shape) == (None, 4, 4, 3)
    np.testing.assert_allclose(dg.Model(inputs, out)(x).numpy(), x / 127.5 - 1, rtol=1e-6, atol=1e-6)


def test_sparse_crossentropy_truncates_float_labels_as_keras_casts_them():
    # DeepLabV3+'s masks are resized bilinearly, so labels between two classes reach the loss
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((2, 3, 3, 5)).astype("float32")
    labels = rng.uniform(0, 4.99, (2, 3, 3, 1)).astype("float32")
    for from_logits, pred in ((True, logits), (False, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))):
        want = keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(labels, pred, from_logits))
        got = dg.losses.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        mean = keras.ops.convert_to_numpy(keras.losses.SparseCategoricalCrossentropy(from_logits)(labels, pred))
        assert float(dg.losses.SparseCategoricalCrossentropy(from_logits)(labels, pred).data) == pytest.approx(
            float(mean), rel=1e-5)
    np.testing.assert_allclose(dg.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy(),
                               dg.losses.sparse_categorical_crossentropy(np.trunc(labels).astype("int64"), logits,
                                                                         from_logits=True).numpy())
    with pytest.raises(ValueError, match="NaN"):
        dg.losses.sparse_categorical_crossentropy(np.array([0.0, np.nan]), logits[0, 0, :2], from_logits=True)


def _patches_layer(lib):
    class Patches(lib.layers.Layer):
        """The masked autoencoder's patch layer, called as ``patch_layer(images=x)``."""

        def call(self, images, scale=1.0):
            return lib.ops.reshape(images, (-1, 4, 3)) * scale

    return Patches()


def test_layer_and_model_called_with_inputs_named_as_calls_first_parameter():
    x = np.arange(24, dtype="float32").reshape(2, 4, 3)
    for lib in (dg, keras):
        got = keras.ops.convert_to_numpy(_patches_layer(lib)(images=x, scale=2.0))
        np.testing.assert_allclose(got, x.reshape(-1, 4, 3) * 2)
        symbolic = _patches_layer(lib)(images=lib.Input((4, 3)))
        assert tuple(symbolic.shape) == (None, 4, 3)
        inputs = lib.Input((4, 3))
        model = lib.Model(inputs, lib.layers.Dense(2)(inputs))
        assert tuple(model(inputs=x).shape) == (2, 4, 2)
    with pytest.raises(TypeError, match="images"):
        _patches_layer(dg)(pictures=x)
    with pytest.raises(TypeError, match="images"):
        _patches_layer(dg)()


def test_functional_model_called_on_a_symbolic_input_of_another_size_is_refused_as_in_keras():
    # EfficientNetB0(include_top=True) fixes 224x224 inputs; calling it on a 64x64 Input fails in Keras
    for lib in (dg, keras):
        inner_in = lib.Input((8, 8, 3))
        inner = lib.Model(inner_in, lib.layers.Conv2D(2, 3)(inner_in), name="backbone")
        with pytest.raises(ValueError, match=r"incompatible with the layer: expected shape=\(None, 8, 8, 3\)"):
            inner(lib.Input((6, 6, 3)))
        assert tuple(inner(lib.Input((8, 8, 3))).shape) == (None, 6, 6, 2)
        assert tuple(inner(lib.Input((None, 8, 3))).shape)[2:] == (6, 2)  # unknown on one side: no check
        squeezed_in = lib.Input((4, 1))
        squeezed = lib.Model(squeezed_in, lib.layers.Flatten()(squeezed_in))
        assert tuple(squeezed(lib.Input((4, 1))).shape) == (None, 4)
        with pytest.raises(ValueError, match="incompatible"):
            squeezed(lib.Input((5, 1)))


def test_image_directory_without_labels_reports_files_only(tmp_path, capsys):
    # the super-resolution program reads BSDS500's image folders with label_mode=None
    from PIL import Image
    rng = np.random.default_rng(4)
    for split in ("train", "test"):
        (tmp_path / "images" / split).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (9, 7, 3)).astype("uint8")).save(tmp_path / "images" / split / f"{i}.jpg")
    ds = dg.utils.image_dataset_from_directory(str(tmp_path), batch_size=4, image_size=(6, 6), label_mode=None,
                                               seed=1, validation_split=0.5, subset="training")
    assert capsys.readouterr().out.splitlines() == ["Found 6 files.", "Using 3 files for training."]
    assert ds.class_names is None
    batches = [b.numpy() if hasattr(b, "numpy") else np.asarray(b) for b in ds]
    assert [b.shape for b in batches] == [(3, 6, 6, 3)]  # images alone, no label


def test_save_format_argument_is_kept_only_as_keras_3_keeps_it(tmp_path):
    # the ViT object detector saves with model.save("vit_object_detector.h5", save_format="h5")
    for lib in (dg, keras):
        model = _small_classifier(lib)
        path = str(tmp_path / f"{lib.__name__}.h5")
        model.save(path, save_format="h5")  # a warning only: the suffix says the format
        assert os.path.getsize(path) > 0
        with pytest.raises(ValueError, match="save_format"):
            model.save(str(tmp_path / f"{lib.__name__}_model"), save_format="tf")
        with pytest.raises(ValueError, match="not supported"):
            model.save(str(tmp_path / f"{lib.__name__}.keras"), signatures=None)
    x = np.random.default_rng(7).standard_normal((3, 6)).astype("float32")
    reloaded = keras.models.load_model(str(tmp_path / "deepgrad.h5"))  # Keras reads the file deepgrad wrote
    ours = dg.models.load_model(str(tmp_path / "deepgrad.h5"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x)), ours(x).numpy(), rtol=1e-5, atol=1e-6)


def test_symbolic_reshape_whose_unknown_batch_must_divide_by_the_new_axes():
    # semantic clustering: (batch * k, clusters) -> (-1, k, clusters) inside a functional model
    from deepgrad.compat import tensorflow as tf
    shapes = {}
    for lib, reshape in ((dg, tf.reshape), (keras, keras.ops.reshape)):
        inputs = lib.Input((4,))
        out = reshape(inputs, (-1, 3, 4))
        shapes[lib.__name__] = tuple(out.shape)
        model = lib.Model(inputs, out)
        x = np.arange(24, dtype="float32").reshape(6, 4)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), x.reshape(2, 3, 4))
    assert shapes["deepgrad"] == shapes["keras"] == (None, 3, 4)


def test_one_target_for_two_outputs_with_losses_is_refused_as_in_keras():
    for lib in (dg, keras):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, [lib.layers.Dense(2)(inputs), lib.layers.Dense(4)(inputs)])
        model.compile("adam", loss=["mse", "mse"])
        with pytest.raises(ValueError, match="different structures"):
            model.fit(np.ones((6, 3), "float32"), np.ones(6, "float32"), batch_size=3, epochs=1, verbose=0)
