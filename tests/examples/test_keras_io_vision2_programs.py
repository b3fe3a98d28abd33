"""Patterns of the Keras documentation's vision examples (keras-team/keras-io, examples/vision:
Forward-Forward's per-sample label overlay and layer list, ShiftViT's stages appended to a list
and its nested gradient lists, Perceiver's model-level ``build`` and batch-one latent array,
DeiT's printed dataset sizes), written here in small form and checked against Keras 3 (torch
backend) where Keras gives the number."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402


# ----------------------------------------------------------------- attribute tracking
def _blocks_layer(lib):
    class Blocks(lib.layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = []
            for units in (3, 4):
                self.blocks.append(lib.layers.Dense(units))     # appended after assignment
            self.mixed = [lib.Input((4,)), lib.layers.Dense(5)]  # a KerasTensor among layers
            self.mixed += [lib.layers.Dense(2)]                  # the same list assigned back
            self.heads = {"a": lib.layers.Dense(6)}
            self.heads["b"] = lib.layers.Dense(7, use_bias=False)
            self.nested = ([lib.layers.Dense(1)],)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            for layer in self.mixed[1:]:
                x = layer(x)
            return self.heads["b"](self.heads["a"](x)) + self.nested[0][0](x)

    return Blocks()


def test_layers_in_appended_mixed_nested_lists_and_dicts_are_tracked_as_in_keras():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype("float32")
    ours, theirs = _blocks_layer(dg), _blocks_layer(keras)
    ours(x), theirs(x)
    shapes = [tuple(w.shape) for w in theirs.weights]
    assert len(shapes) == 13
    assert [tuple(w.shape) for w in ours.weights] == shapes
    assert [tuple(w.shape) for w in ours.trainable_weights] == [tuple(w.shape) for w in theirs.trainable_weights]
    assert len(ours._layers) == len(theirs._layers) == 7  # `+=` tracked each layer once
    theirs_count = sum(int(np.prod(s)) for s in shapes)
    assert ours.count_params() == theirs.count_params() == theirs_count
    # a layer taken out of the list is no longer tracked, in both
    ours.blocks.pop(), theirs.blocks.pop()
    assert len(ours.weights) == len(theirs.weights) == 11


def test_a_list_given_to_a_layer_is_a_tracked_copy_as_in_keras():
    seen = []
    for lib in (dg, keras):
        layer = lib.layers.Layer()
        layer.seen = seen
        layer.seen.append(lib.layers.Dense(2))
        assert layer.seen is not seen and seen == [] and len(layer._layers) == 1
    copied = __import__("copy").deepcopy(layer.seen)
    assert len(copied) == 1


def test_model_lists_its_layers_from_a_list_holding_an_input_and_layers():
    # Forward-Forward: self.layer_list = [keras.Input(...)] then `+= [FFDense(...)]` in a loop
    for lib in (dg, keras):
        class Net(lib.Model):
            def __init__(self):
                super().__init__()
                self.layer_list = [lib.Input(shape=(4,))]
                for units in (3, 2):
                    self.layer_list += [lib.layers.Dense(units)]

        assert [type(layer).__name__ for layer in Net().layers] == ["Dense", "Dense"]


# ----------------------------------------------------------------- 0-d tensors holding NumPy scalars
def test_element_of_a_tensor_works_as_an_index_and_converts_to_an_array():
    # Forward-Forward's overlay: a label from ops.vectorized_map is a start index of slice_update
    x = np.zeros((3, 12), "float32")
    y = np.array([4, 0, 9])

    def overlay(lib, pair):
        row, label = pair
        update = lib.ops.ones((1,), dtype="float32") * 7.0
        return lib.ops.slice_update(row, [label], update)

    ours = dg.ops.vectorized_map(lambda p: overlay(dg, p), (dg.ops.convert_to_tensor(x), dg.ops.convert_to_tensor(y)))
    theirs = keras.ops.vectorized_map(lambda p: overlay(keras, p), (keras.ops.convert_to_tensor(x),
                                                                    keras.ops.convert_to_tensor(y)))
    np.testing.assert_array_equal(np.asarray(ours), keras.ops.convert_to_numpy(theirs))
    assert np.asarray(ours)[np.arange(3), y].tolist() == [7.0, 7.0, 7.0]
    element = dg.ops.convert_to_tensor(y)[2]
    assert np.asarray(element).shape == () and np.asarray([element]).tolist() == [9]
    assert np.asarray(dg.ops.sum(dg.ops.convert_to_tensor(x) + 1.0)).dtype == np.float32


def test_a_0d_tensor_formats_as_its_number_as_keras_tensors_do():
    for value in (128, 2.5):
        ours = dg.ops.convert_to_tensor(np.asarray(value))
        theirs = keras.ops.convert_to_tensor(np.asarray(value))
        assert f"{ours}" == f"{theirs}" == str(np.asarray(value).item())
        assert f"{ours:.2f}" == f"{theirs:.2f}"
    # an array keeps its tensor form
    assert f"{dg.ops.ones((2,))}".startswith("Tensor(")


# ----------------------------------------------------------------- training mode left to the layers
def test_sequential_called_without_a_mode_lets_each_layer_use_its_default():
    x = np.random.default_rng(1).integers(0, 256, (2, 52, 52, 3)).astype("float32")
    for lib in (dg, keras):
        model = lib.Sequential([lib.layers.RandomCrop(48, 48), lib.layers.Dropout(0.9)])
        plain = np.asarray(model(x))
        assert plain.shape == (2, 48, 48, 3)            # the augmentation layer is active by default
        assert np.mean(plain == 0) < 0.01               # the dropout is not
        assert np.asarray(model(x, training=False)).shape == (2, 52, 52, 3)
        assert np.mean(np.asarray(model(x, training=True)) == 0) > 0.8


# ----------------------------------------------------------------- GradientTape over nested sources
def test_tape_gradient_keeps_nested_source_structure_with_empty_lists():
    dense, other = dg.layers.Dense(2), dg.layers.Dense(1)
    x = np.random.default_rng(2).standard_normal((4, 3)).astype("float32")
    with tf.GradientTape() as tape:
        loss = dg.ops.sum(other(dense(x)) ** 2)
    grads = tape.gradient(loss, [dense.trainable_variables, [], {"o": other.trainable_variables}])
    assert len(grads) == 3 and grads[1] == [] and len(grads[0]) == 2 and len(grads[2]["o"]) == 2
    # the values are those of the flat call
    w, b = dense.trainable_variables
    h = x @ np.asarray(w) + np.asarray(b)
    out = h @ np.asarray(other.kernel) + np.asarray(other.bias)
    np.testing.assert_allclose(np.asarray(grads[2]["o"][0]), h.T @ (2 * out), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[0][1]), (2 * out @ np.asarray(other.kernel).T).sum(0), rtol=1e-5)


# ----------------------------------------------------------------- a model's own build
def _model_with_build(lib, calls):
    class Latent(lib.Model):
        def __init__(self):
            super().__init__()
            self.units = 3

        def build(self, input_shape):
            calls.append(("build", tuple(input_shape)))
            self.latent = self.add_weight(shape=(2, self.units), initializer="ones")
            self.proj = lib.layers.Dense(self.units, kernel_initializer="ones")
            a, b = lib.Input((2, self.units)), lib.Input((2, self.units))
            self.merge = lib.Model([a, b], lib.layers.Add()([a, b]))  # built on symbolic batches
            super().build(input_shape)

        def call(self, x):
            calls.append(("call", tuple(x.shape)))
            return self.merge([lib.ops.expand_dims(self.latent, 0), self.proj(x)])  # batch 1 meets batch 4

    return Latent()


def test_subclassed_model_runs_its_own_build_once_then_broadcasts_its_latent_in_add():
    x = np.arange(24, dtype="float32").reshape(4, 2, 3) / 10
    results = []
    for lib in (dg, keras):
        calls = []
        model = _model_with_build(lib, calls)
        out = np.asarray(lib.ops.convert_to_numpy(model(x)))
        assert calls == [("build", (4, 2, 3)), ("call", (4, 2, 3))]  # super().build runs no call
        assert len(model.weights) == 3
        results.append(out)
    assert results[0].shape == (4, 2, 3)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_merge_layers_still_refuse_unequal_batches_other_than_one():
    a, b = dg.Input((3,)), dg.Input((3,))
    merge = dg.Model([a, b], dg.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="batch sizes"):
        merge([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")])
    for lib in (dg, keras):  # built eagerly on a batch of one and one of four: refused, as in Keras
        with pytest.raises(ValueError, match="batch sizes"):
            lib.layers.Add()([np.ones((1, 3), "float32"), np.ones((4, 3), "float32")])


# ----------------------------------------------------------------- tf names these programs use
def test_tf_top_level_trigonometry_and_integer_division():
    x = np.linspace(-0.9, 0.9, 7).astype("float32")
    for name, ref in (("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("ceil", np.ceil), ("asin", np.arcsin),
                      ("acos", np.arccos), ("atan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh)):
        np.testing.assert_allclose(np.asarray(getattr(tf, name)(x)), ref(x), rtol=1e-6, atol=1e-7)
    a, b = np.array([7, -7, 9]), np.array([2, 2, -4])
    np.testing.assert_array_equal(np.asarray(tf.floordiv(a, b)), a // b)
    np.testing.assert_array_equal(np.asarray(tf.floormod(a, b)), a % b)


def test_tf_image_random_flips_flip_whole_images_about_half_the_time():
    images = np.random.default_rng(3).standard_normal((400, 4, 5, 2)).astype("float32")
    out = np.asarray(tf.image.random_flip_left_right(images, seed=7))
    flipped = np.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == images, axis=(1, 2, 3))
    assert np.all(flipped ^ kept) and 150 < flipped.sum() < 250
    one = np.asarray(tf.image.random_flip_up_down(images[0]))
    assert np.array_equal(one, images[0]) or np.array_equal(one, images[0][::-1])
    np.testing.assert_array_equal(np.asarray(tf.image.random_flip_left_right(images, seed=7)), out)  # seeded


def test_tf_image_brightness_and_contrast_follow_tf_formulas():
    img = np.random.default_rng(4).uniform(0, 1, (2, 3, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(tf.image.adjust_brightness(img, 0.25)), img + 0.25, rtol=1e-6)
    mean = img.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(tf.image.adjust_contrast(img, 1.7)), (img - mean) * 1.7 + mean, rtol=1e-5)
    delta = np.asarray(tf.image.random_brightness(img, 0.2, seed=1)) - img
    assert np.ptp(delta) < 1e-6 and abs(delta.flat[0]) <= 0.2
    with pytest.raises(ValueError, match="lower"):
        tf.image.random_contrast(img, 0.9, 0.5)
    as_uint8 = (img[0] * 255).astype("uint8")
    brighter = np.asarray(tf.image.adjust_brightness(as_uint8, 0.1))
    assert brighter.dtype == np.uint8 and np.all(brighter >= as_uint8)


def test_tf_io_reads_and_decodes_png_and_jpeg_files(tmp_path):
    from PIL import Image
    rgb = np.random.default_rng(5).integers(0, 256, (5, 7, 3)).astype("uint8")
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    data = tf.io.read_file(str(tmp_path / "a.png"))
    decoded = tf.io.decode_png(data, channels=3)
    assert decoded.dtype == np.uint8 and decoded.shape == (5, 7, 3)
    np.testing.assert_array_equal(np.asarray(decoded), rgb)
    grey = tf.image.decode_png(tf.io.read_file(np.str_(tmp_path / "g.png")))  # channels=0 keeps the file's
    assert grey.shape == (5, 7, 1)
    np.testing.assert_array_equal(np.asarray(grey)[:, :, 0], rgb[:, :, 0])
    as_grey = np.asarray(tf.io.decode_png(data, channels=1))[:, :, 0]
    np.testing.assert_array_equal(as_grey, np.asarray(Image.fromarray(rgb).convert("L")))
    jpeg = tf.io.decode_jpeg(tf.io.read_file(str(tmp_path / "a.jpg")), channels=3)
    np.testing.assert_array_equal(np.asarray(jpeg), np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB")))
    floats = tf.io.decode_image(data, channels=3, dtype=tf.float32)
    np.testing.assert_allclose(np.asarray(floats), rgb / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        tf.io.decode_png(data, channels=2)
    # in a tf.data pipeline, over a list of paths
    paths = [str(tmp_path / "a.png")] * 3
    ds = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: tf.io.decode_png(tf.io.read_file(p), channels=3))
    batch = next(iter(ds.batch(3)))
    assert tuple(batch.shape) == (3, 5, 7, 3)


def test_get_shape_answers_tf_as_list_and_rank_and_tf_initializers_alias():
    t = dg.ops.ones((2, 3, 4))
    assert t.get_shape().as_list() == [2, 3, 4] and t.get_shape().rank == 3 and t.get_shape() == (2, 3, 4)
    assert tf.initializers.Zeros is dg.initializers.Zeros and tf.metrics.Mean is dg.metrics.Mean


# ----------------------------------------------------------------- MultiHeadAttention's override point
def _lsa_attention(lib):
    """ViT-for-small-datasets' locality self-attention: a learned temperature and a masked diagonal."""
    class LSA(lib.layers.MultiHeadAttention):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.tau = lib.Variable(2.0, trainable=True)

        def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                               return_attention_scores=False, use_causal_mask=False):
            query = lib.ops.multiply(query, 1.0 / self.tau)
            scores = lib.ops.einsum(self._dot_product_equation, key, query)
            scores = self._masked_softmax(scores, attention_mask)
            dropped = self._dropout_layer(scores, training=training)
            return lib.ops.einsum(self._combine_equation, dropped, value), scores

    return LSA(num_heads=2, key_dim=3, dropout=0.1)


def test_multi_head_attention_subclass_computes_its_own_attention_as_in_keras():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    mask = np.asarray([1 - np.eye(5)], "int8")
    ours, theirs = _lsa_attention(dg), _lsa_attention(keras)
    expected = keras.ops.convert_to_numpy(theirs(x, x, attention_mask=mask, training=False))
    ours(x, x, attention_mask=mask)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.weights])
    out, scores = ours(x, x, attention_mask=mask, training=False, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(scores)[:, :, np.arange(5), np.arange(5)] == 0)  # the diagonal is masked
    plain = dg.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    plain(x, x)
    plain.set_weights([w for w in ours.get_weights() if np.ndim(w) > 0])  # all but the 0-d tau
    assert not np.allclose(np.asarray(plain(x, x, attention_mask=mask)), expected, atol=1e-4)  # tau matters
    # the temperature learns: its gradient flows through the override
    with tf.GradientTape() as tape:
        loss = dg.ops.sum(ours(x, x, attention_mask=mask, training=False) ** 2)
    grad_tau = tape.gradient(loss, [ours.tau])[0]
    assert grad_tau is not None and abs(float(np.asarray(grad_tau))) > 0


def test_an_override_with_the_short_signature_fails_as_in_keras():
    # the keras-io example's override lacks `return_attention_scores`: Keras 3.15 passes it positionally
    for lib in (dg, keras):
        class Short(lib.layers.MultiHeadAttention):
            def _compute_attention(self, query, key, value, attention_mask=None, training=None):
                return super()._compute_attention(query, key, value, attention_mask, training)

        x = np.ones((1, 3, 4), "float32")
        with pytest.raises(Exception, match="positional argument"):
            Short(num_heads=1, key_dim=2)(x, x)


@pytest.mark.parametrize("module", ["inception_v3", "vgg16", "densenet"])  # modes "tf", "caffe", "torch"
def test_preprocess_input_on_a_symbolic_input_is_a_step_of_the_model(module):
    x = np.random.default_rng(7).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    outs = []
    for lib in (keras, dg):
        inputs = lib.Input((4, 5, 3))
        model = lib.Model(inputs, getattr(lib.applications, module).preprocess_input(inputs))
        outs.append(np.asarray(lib.ops.convert_to_numpy(model(x.copy()))))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6, atol=1e-5)


def test_tf_numpy_function_and_py_function_in_a_data_pipeline():
    from scipy import ndimage
    volumes = np.random.default_rng(8).uniform(0, 1, (4, 6, 6, 3)).astype("float32")

    def rotate(volume):
        out = tf.numpy_function(lambda v: ndimage.rotate(v, 90, reshape=False), [volume], tf.float32)
        return tf.expand_dims(out, axis=3)

    batch = next(iter(tf.data.Dataset.from_tensor_slices(volumes).map(rotate).batch(4)))
    assert batch.dtype == np.float32 and tuple(batch.shape) == (4, 6, 6, 3, 1)
    np.testing.assert_allclose(np.asarray(batch)[..., 0], np.stack([ndimage.rotate(v, 90, reshape=False)
                                                                     for v in volumes]), rtol=1e-6)
    a, b = tf.py_function(lambda x, y: (x.numpy() * 2, y + 1), [np.arange(3), dg.ops.ones((2,))],
                          [tf.int64, tf.float32])
    assert a.dtype == np.int64 and np.asarray(a).tolist() == [0, 2, 4] and np.asarray(b).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="Tout"):
        tf.numpy_function(lambda x: x, [np.ones(2)], [tf.float32, tf.float32])


# ----------------------------------------------------------------- captcha OCR: CTC through TF 1's names
def test_tf_strings_unicode_split_and_reduce_join():
    chars = tf.strings.unicode_split(np.str_("b2c4"), input_encoding="UTF-8")
    assert np.asarray(chars).tolist() == ["b", "2", "c", "4"]
    lookup = dg.layers.StringLookup(vocabulary=list("24bc"), mask_token=None)
    ids = lookup(chars)
    assert np.asarray(ids).tolist() == [3, 1, 4, 2]
    back = dg.layers.StringLookup(vocabulary=lookup.get_vocabulary(), mask_token=None, invert=True)
    joined = tf.strings.reduce_join(back(ids))
    assert joined.numpy() == b"b2c4" and joined.numpy().decode("utf-8") == "b2c4"
    rows = tf.strings.reduce_join(np.array([["a", "b"], ["c", "d"]]), axis=1, separator="-")
    assert np.asarray(rows).tolist() == ["a-b", "c-d"]


def test_sparse_tensor_round_trip_cast_and_scan():
    dense = np.array([[3, 0, 5], [0, 0, 7]], np.int32)
    sp = tf.sparse.from_dense(dense)
    assert np.asarray(sp.indices).tolist() == [[0, 0], [0, 2], [1, 2]] and sp.shape == (2, 3)
    as_int64 = dg.ops.cast(sp, "int64")  # a sparse tensor is cast by its values, as Keras's TF backend does
    assert isinstance(as_int64, tf.SparseTensor) and as_int64.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(as_int64)), dense)
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(sp, default_value=-1)),
                                  np.where(dense == 0, -1, dense))
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.sparse.to_dense(dense)  # TF refuses a dense tensor here too
    # tf.scan: running accumulation, every step stacked
    sums = tf.compat.v1.scan(lambda acc, x: acc + x, np.arange(1, 5), initializer=np.int64(0))
    assert np.asarray(sums).tolist() == [1, 3, 6, 10]
    assert np.asarray(tf.compat.v1.scan(lambda acc, x: acc * x, np.arange(1, 5))).tolist() == [1, 2, 6, 24]


def test_v1_ctc_loss_matches_torch_with_the_last_class_as_blank():
    import torch
    rng = np.random.default_rng(9)
    time, batch, classes = 12, 3, 6
    logits = rng.standard_normal((time, batch, classes)).astype("float32")
    labels = np.array([[1, 2, 2, 0], [4, 0, 0, 0], [3, 1, 4, 2]])  # rows padded with 0 (not a label here)
    lengths = np.array([3, 1, 4])
    mask = np.arange(4)[None, :] < lengths[:, None]
    sp = tf.SparseTensor(np.argwhere(mask), labels[mask], labels.shape)
    x = dg.Tensor(logits, requires_grad=True)
    loss = tf.compat.v1.nn.ctc_loss(labels=sp, inputs=x, sequence_length=np.full(batch, time))
    t_logits = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.ctc_loss(torch.log_softmax(t_logits, -1), torch.tensor(labels[mask]),
                                            torch.full((batch,), time), torch.tensor(lengths), blank=classes - 1,
                                            reduction="none")
    np.testing.assert_allclose(np.asarray(loss), expected.detach().numpy(), rtol=1e-4)
    dg.ops.sum(loss).backward()
    expected.sum().backward()
    np.testing.assert_allclose(x.grad, t_logits.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_sizes_given_as_0d_integer_tensors_and_per_sample_added_losses():
    n = dg.ops.cast(dg.ops.shape(np.zeros((4, 2)))[0], "int64")
    assert dg.ops.ones(shape=(n, 1), dtype="int64").shape == (4, 1)
    assert keras.ops.ones(shape=(keras.ops.cast(4, "int64"), 1)).shape == (4, 1)
    # an added (batch, 1) loss is summed, as Keras's trainer aggregates it
    x = np.random.default_rng(10).standard_normal((5, 3)).astype("float32")
    values = []
    for lib in (dg, keras):
        class PerSample(lib.layers.Layer):
            def call(self, inputs):
                self.add_loss(lib.ops.sum(inputs * inputs, axis=1, keepdims=True))
                return inputs

        inputs = lib.Input((3,))
        model = lib.Model(inputs, PerSample()(lib.layers.Dense(3, kernel_initializer="ones")(inputs)))
        model.compile("sgd")
        values.append(float(np.asarray(model.evaluate(x, verbose=0))))
    np.testing.assert_allclose(values[0], values[1], rtol=1e-5)


def test_tf_edit_distance_and_aspect_preserving_resize():
    hyp = tf.sparse.from_dense(np.array([[1, 2, 3, 0], [4, 5, 0, 0], [7, 0, 0, 0], [0, 0, 0, 0]]))
    ref = tf.sparse.from_dense(np.array([[1, 3, 0, 0], [4, 5, 6, 0], [1, 2, 3, 4], [8, 9, 0, 0]]))
    # deletion; insertion; a substitution and three insertions; an empty hypothesis
    np.testing.assert_array_equal(np.asarray(tf.edit_distance(hyp, ref, normalize=False)), [1, 1, 4, 2])
    np.testing.assert_allclose(np.asarray(tf.edit_distance(hyp, ref)), [0.5, 1 / 3, 1.0, 1.0])
    image = np.random.default_rng(11).uniform(0, 1, (21, 50, 1)).astype("float32")
    out = tf.image.resize(image, (32, 128), preserve_aspect_ratio=True)
    assert out.shape == (32, 76, 1)  # scale min(32/21, 128/50) = 32/21: 50 * 32/21 = 76.19 -> 76
    np.testing.assert_allclose(np.asarray(out), np.asarray(tf.image.resize(image, (32, 76))), rtol=1e-6)


def test_model_from_an_empty_inputs_list_is_refused_as_in_keras():
    inputs = dg.Input((3,), name="image")
    outputs = dg.layers.Dense(2)(inputs)
    model = dg.Model(inputs, outputs)
    assert model.get_layer("image").input == [] and model.get_layer("image").output is inputs
    with pytest.raises(ValueError, match="cannot be empty"):
        dg.Model(model.get_layer("image").input, outputs)
