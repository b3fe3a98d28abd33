"""Patterns of the Keras documentation's vision and generative examples (keras-team/keras-io: a
classifier stacked on a functional backbone in ``Sequential``, image pipelines from
``Dataset.list_files`` and ``tf.io.decode_raw``, RetinaNet's inference with
``combined_non_max_suppression`` and ``latest_checkpoint``, the TPU fallback, ``tf.TensorArray``
in eager loops, ...), written here in small form and checked against Keras 3 (torch backend),
PyTorch, or TensorFlow's documented behaviour where neither computes it."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402
from deepgrad.files import UnsafeFileError  # noqa: E402
from deepgrad.models.config_check import check_model_config  # noqa: E402

if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its torch backend for these checks", allow_module_level=True)


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _copy_weights(ours, theirs):
    theirs.set_weights([np.asarray(w) for w in ours.get_weights()])


# ------------------------------------------------------------------ 1. tf.image.ResizeMethod
def test_resize_method_names_are_tfs_strings():
    m = tf.image.ResizeMethod
    assert (m.BILINEAR, m.NEAREST_NEIGHBOR, m.BICUBIC, m.AREA) == ("bilinear", "nearest", "bicubic", "area")
    assert (m.LANCZOS3, m.LANCZOS5, m.GAUSSIAN, m.MITCHELLCUBIC) == ("lanczos3", "lanczos5", "gaussian",
                                                                      "mitchellcubic")
    image = np.random.default_rng(0).uniform(size=(1, 6, 5, 2)).astype("float32")
    for method in (m.BILINEAR, m.NEAREST_NEIGHBOR, m.BICUBIC, m.AREA):
        np.testing.assert_array_equal(_np(tf.image.resize(image, (4, 3), method=method)),
                                      _np(tf.image.resize(image, (4, 3), method=str(method))))


@pytest.mark.parametrize("size, antialias", [((9, 7), False), ((3, 2), True)])
def test_lanczos3_resize_matches_pillow(size, antialias):
    # Keras's torch backend has no Lanczos kernels; Pillow's LANCZOS on float ("F") images is the
    # same normalised a=3 kernel on half-pixel centres, widened when shrinking (TF's antialias)
    Image = pytest.importorskip("PIL.Image")
    image = np.random.default_rng(1).uniform(size=(5, 4, 2)).astype("float32")
    ours = _np(tf.image.resize(image[None], size, method=tf.image.ResizeMethod.LANCZOS3, antialias=antialias))[0]
    for c in range(2):
        theirs = np.asarray(Image.fromarray(image[:, :, c], mode="F").resize(size[::-1], Image.LANCZOS))
        np.testing.assert_allclose(ours[:, :, c], theirs, rtol=1e-5, atol=1e-6)


def test_lanczos5_keeps_a_constant_image_and_differs_from_lanczos3():
    flat = np.full((1, 5, 4, 1), 0.25, "float32")
    np.testing.assert_allclose(_np(tf.image.resize(flat, (9, 7), method="lanczos5")), 0.25, rtol=1e-6)
    image = np.random.default_rng(2).uniform(size=(1, 6, 6, 1)).astype("float32")
    assert not np.allclose(_np(tf.image.resize(image, (11, 11), method=tf.image.ResizeMethod.LANCZOS5)),
                           _np(tf.image.resize(image, (11, 11), method=tf.image.ResizeMethod.LANCZOS3)))


def test_resize_methods_deepgrad_lacks_say_so():
    with pytest.raises(NotImplementedError, match="gaussian"):
        tf.image.resize(np.ones((1, 4, 4, 1), "float32"), (2, 2), method=tf.image.ResizeMethod.GAUSSIAN)
    with pytest.raises(ValueError, match="ResizeMethod"):
        tf.image.resize(np.ones((1, 4, 4, 1), "float32"), (2, 2), method="cubic")


# ------------------------------------------------------------------ 2. tf.io.decode_raw
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("little_endian", [True, False])
def test_decode_raw_reads_the_bytes_in_either_order(dtype, little_endian):
    values = np.arange(-3, 5).astype(dtype) if np.dtype(dtype).kind != "u" else np.arange(8).astype(dtype)
    order = "<" if little_endian else ">"
    raw = values.astype(np.dtype(dtype).newbyteorder(order)).tobytes()
    out = tf.io.decode_raw(raw, dtype, little_endian=little_endian)
    assert out.dtype == np.dtype(dtype) and out.shape == (8,)
    np.testing.assert_array_equal(_np(out), values)


def test_decode_raw_of_a_batch_and_its_errors():
    rows = np.arange(12, dtype="<i4").reshape(3, 4)
    batch = np.array([r.tobytes() for r in rows], dtype=object)
    np.testing.assert_array_equal(_np(tf.io.decode_raw(batch, tf.int32)), rows)
    np.testing.assert_array_equal(_np(tf.io.decode_raw(b"\x01\x02\x03", tf.uint8, fixed_length=5)), [1, 2, 3, 0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of 4"):
        tf.io.decode_raw(b"\x00" * 6, tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        tf.io.decode_raw(np.array([b"\x00" * 4, b"\x00" * 8], dtype=object), tf.float32)


# ------------------------------------------------------------------ 3. Sequential on a model
def _backbone(lib):
    inp = lib.Input((8, 8, 3))
    x = lib.layers.Conv2D(4, 3, activation="relu")(inp)
    return lib.Model(inp, lib.layers.GlobalAveragePooling2D()(x), name="backbone")


def test_sequential_on_a_functional_backbone_is_built_as_keras():
    ours = dg.Sequential([_backbone(dg), dg.layers.Dense(2)])
    theirs = keras.Sequential([_backbone(keras), keras.layers.Dense(2)])
    assert ours.built and theirs.built
    assert tuple(ours.output_shape) == tuple(theirs.output_shape) == (None, 2)
    assert tuple(ours.input_shape) == tuple(theirs.input_shape)
    assert ours.count_params() == theirs.count_params() == 122
    _copy_weights(ours, theirs)
    x = np.random.default_rng(2).normal(size=(3, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    alone = dg.Sequential([_backbone(dg)])  # one layer: not built yet, as in Keras
    assert not alone.built and not keras.Sequential([_backbone(keras)]).built


# ------------------------------------------------------------------ 4. Dataset.list_files
def test_list_files_sorted_shuffled_and_refused(tmp_path):
    names = [f"img_{i:02d}.png" for i in range(12)]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    pattern = str(tmp_path / "*.png")
    ordered = [p.decode() for p in tf.data.Dataset.list_files(pattern, shuffle=False).as_numpy_iterator()]
    assert ordered == [str(tmp_path / n) for n in names]
    shuffled = tf.data.Dataset.list_files(pattern, seed=3)
    first, second = list(shuffled.as_numpy_iterator()), list(shuffled.as_numpy_iterator())
    assert sorted(first) == sorted(second) == [p.encode() for p in ordered] and first != second
    again = list(tf.data.Dataset.list_files(pattern, seed=3).as_numpy_iterator())
    assert again == first   # a seed repeats the orders
    both = tf.data.Dataset.list_files([pattern, str(tmp_path / "*.txt")], shuffle=False)
    assert len(list(both)) == 13
    with pytest.raises(tf.errors.InvalidArgumentError, match="No files matched pattern"):
        tf.data.Dataset.list_files(str(tmp_path / "*.jpg"))


# ------------------------------------------------------------------ 5. one output in a dict
def test_a_single_output_in_a_dict_is_a_dict_as_in_keras(tmp_path):
    def build(lib):
        inp = lib.Input((3,), name="x")
        inner = lib.Model(inp, {"o": lib.layers.Dense(2, name="d")(inp)}, name="inner")
        outer_in = lib.Input((3,))
        called = inner(outer_in)
        assert isinstance(called, dict) and list(called) == ["o"]
        return inner, lib.Model(outer_in, lib.layers.Dense(1, name="head")(called["o"]))

    (inner, ours), (_, theirs) = build(dg), build(keras)
    _copy_weights(ours, theirs)
    x = np.random.default_rng(4).normal(size=(4, 3)).astype("float32")
    assert isinstance(inner(x), dict) and isinstance(inner.predict(x, verbose=0), dict)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "m.keras")
    for loaded in (dg.models.load_model(tmp_path / "m.keras"), keras.models.load_model(tmp_path / "m.keras")):
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-6)


# ------------------------------------------------------------------ 6. nested dict inputs
def _nested_model(lib):
    a, b, c = lib.Input((2,), name="a"), lib.Input((3,), name="b"), lib.Input((1,), name="c")
    out = lib.layers.Dense(2, name="d")(lib.layers.Concatenate()([a, b, c]))
    return lib.Model({"x": {"a": a, "b": b}, "c": c}, out)


def test_nested_dict_inputs_match_keras(tmp_path):
    ours, theirs = _nested_model(dg), _nested_model(keras)
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(5)
    data = {"x": {"a": rng.normal(size=(6, 2)), "b": rng.normal(size=(6, 3))}, "c": rng.normal(size=(6, 1))}
    data = {"x": {k: v.astype("float32") for k, v in data["x"].items()}, "c": data["c"].astype("float32")}
    expected = theirs.predict(data, verbose=0)
    np.testing.assert_allclose(_np(ours(data)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(data, batch_size=4, verbose=0), expected, rtol=1e-5, atol=1e-6)
    y = rng.normal(size=(6, 2)).astype("float32")
    for m in (ours, theirs):
        m.compile(optimizer=("sgd" if m is theirs else dg.optimizers.SGD()), loss="mse")
    ours.fit(data, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    theirs.fit(data, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    flat = _nested_model(dg)   # a flat dict still takes lists of numbers as arrays
    assert tuple(dg.Model({"a": flat.inputs[0]}, flat.inputs[0])({"a": [[1.0, 2.0]]}).shape) == (1, 2)
    with pytest.raises(ValueError, match=r"inputs\['x'\]"):
        ours({"x": np.ones((2, 5), "float32"), "c": np.ones((2, 1), "float32")})
    ours.save(tmp_path / "n.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "n.keras").predict(data, verbose=0),
                               ours.predict(data, verbose=0), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ 7. the TPU fallback
def test_tpu_resolver_fails_as_tf_does_so_programs_fall_back():
    with pytest.raises(ValueError, match="TPU"):
        tf.distribute.cluster_resolver.TPUClusterResolver()
    with pytest.raises(ValueError):
        tf.distribute.cluster_resolver.TPUClusterResolver(tpu="grpc://10.0.0.2:8470")
    with pytest.raises(ValueError):
        tf.distribute.cluster_resolver.TPUClusterResolver.connect()
    try:
        tpu = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(tpu)
        tf.tpu.experimental.initialize_tpu_system(tpu)
        strategy = tf.distribute.TPUStrategy(tpu)
    except ValueError:
        strategy = tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert tf.__version__.split(".")[0] == "2"   # printed and compared by such programs


# ------------------------------------------------------------------ 8. tf.strings.split's pieces
def test_split_pieces_have_numpy_bytes_as_tf():
    pieces = tf.strings.split("cat sat  on")
    assert list(pieces.numpy()) == [b"cat", b"sat", b"on"] and pieces[0] == "cat"
    assert [p.numpy() for p in pieces] == [b"cat", b"sat", b"on"] and pieces[1].upper() == "SAT"
    ragged = tf.strings.split(np.array(["a b", "c"]))
    assert [list(r) for r in ragged.numpy()] == [[b"a", b"b"], [b"c"]]
    assert ragged[1].numpy().tolist() == [b"c"] and ragged.to_list() == [["a", "b"], ["c"]]
    np.testing.assert_array_equal(tf.strings.split("a,b", sep=","), ["a", "b"])


# ------------------------------------------------------------------ 9, 10. Constant of an array in configs
def test_constant_of_an_array_serializes_as_keras(tmp_path):
    value = np.array([1.0, 2.0, 3.0])
    assert dg.initializers.Constant(value).get_config() == keras.initializers.Constant(value).get_config()
    restored = dg.initializers.Constant.from_config(keras.initializers.Constant(value).get_config())
    np.testing.assert_array_equal(restored.value, value)
    np.testing.assert_array_equal(restored((3,)), value.astype("float32"))
    assert dg.initializers.Constant(0.5).get_config() == keras.initializers.Constant(0.5).get_config()

    def model(lib):
        inp = lib.Input((3,))
        return lib.Model(inp, lib.layers.Dense(3, bias_initializer=lib.initializers.Constant(value))(inp))

    ours, theirs = model(dg), model(keras)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "ours.keras").layers[-1].get_weights()[1], value)
    loaded = dg.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_array_equal(loaded.layers[-1].bias_initializer.value, value)
    ours.save(tmp_path / "ours.deepgrad")
    np.testing.assert_array_equal(dg.models.load_model(tmp_path / "ours.deepgrad").layers[-1].bias_initializer.value,
                                  value)


def test_config_check_takes_keras_value_entries_and_nothing_else():
    def config(value):
        return {"class_name": "Functional", "config": {"layers": [
            {"class_name": "Dense", "config": {"bias_initializer": {"class_name": "Constant",
                                                                    "config": {"value": value}}}}]}}

    for entry in ({"class_name": "__numpy__", "config": {"value": [1.0], "dtype": "float64"}},
                  {"class_name": "__tensor__", "config": {"value": [1.0], "dtype": "float32"}},
                  {"class_name": "__bytes__", "config": {"value": "ab"}},
                  {"class_name": "__ellipsis__", "config": {}}):
        check_model_config(config(entry))
    with pytest.raises(UnsafeFileError, match="dtype"):
        check_model_config(config({"class_name": "__numpy__", "config": {"value": [1], "dtype": "O; import os"}}))
    with pytest.raises(UnsafeFileError):
        check_model_config(config({"class_name": "__numpy__", "config": {"value": [1]}, "extra": 1}))
    with pytest.raises(UnsafeFileError):
        check_model_config(config({"class_name": "__reduce__", "config": {}}))


# ------------------------------------------------------------------ 11. tf.TensorArray
def test_tensor_array_write_read_stack_unstack():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    for i in range(4):
        ta = ta.write(i, np.full((2,), i, "float32"))
    assert int(_np(ta.size())) == 4 and ta.element_shape == (2,)
    np.testing.assert_array_equal(_np(ta.stack()), np.repeat(np.arange(4.0), 2).reshape(4, 2))
    np.testing.assert_array_equal(_np(ta.read(2)), [2.0, 2.0])
    np.testing.assert_array_equal(_np(ta.gather([3, 0])), [[3, 3], [0, 0]])
    np.testing.assert_array_equal(_np(ta.concat()), np.repeat(np.arange(4.0), 2))
    un = tf.TensorArray(tf.int32, size=3).unstack(np.arange(6).reshape(3, 2))
    assert un.read(1).dtype == np.int32
    np.testing.assert_array_equal(_np(un.stack()), np.arange(6).reshape(3, 2))
    fixed = tf.TensorArray(tf.float32, size=2, element_shape=(3,))
    np.testing.assert_array_equal(_np(fixed.stack()), np.zeros((2, 3)))   # unwritten elements read as zeros
    with pytest.raises(tf.errors.OutOfRangeError, match="not resizeable"):
        fixed.write(2, np.zeros(3, "float32"))
    with pytest.raises(ValueError, match="Incompatible shape"):
        fixed.write(0, np.zeros(4, "float32"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype"):
        tf.TensorArray(tf.int32, size=1).write(0, np.array([0.5]))


def test_tensor_array_stack_carries_gradients_as_torch():
    x = np.array([0.5, -1.0, 2.0], "float32")
    w = tf.Variable(x)
    with tf.GradientTape() as tape:
        ta = tf.TensorArray(tf.float32, size=3)
        for i in range(3):
            ta = ta.write(i, w * float(i + 1) + w * w)
        loss = tf.reduce_sum(ta.stack() ** 2)
    ours = _np(tape.gradient(loss, w))
    t = torch.tensor(x, requires_grad=True)
    (torch.stack([t * (i + 1) + t * t for i in range(3)]) ** 2).sum().backward()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-5)


# ------------------------------------------------------------------ 12. RetinaNet's inference helpers
def test_ignore_errors_drops_the_elements_that_fail():
    def check(x):
        if float(x) in (2.0, 5.0):
            raise ValueError("bad element")
        return x * 10

    ds = tf.data.Dataset.from_tensor_slices(np.arange(7.0)).map(check)
    with pytest.raises(ValueError, match="bad element"):
        list(ds.as_numpy_iterator())
    kept = [float(v) for v in ds.apply(tf.data.experimental.ignore_errors()).as_numpy_iterator()]
    assert kept == [0.0, 10.0, 30.0, 40.0, 60.0]
    batched = ds.ignore_errors().batch(2).map(lambda b: b + 1)   # errors after ignore_errors are not ignored
    np.testing.assert_array_equal(np.concatenate(list(batched.as_numpy_iterator())), [1, 11, 31, 41, 61])
    assert [float(v) for v in tf.data.Dataset.from_tensor_slices(np.arange(7.0)).filter(
        lambda x: check(x) > 0).ignore_errors().as_numpy_iterator()] == [1.0, 3.0, 4.0, 6.0]


def _greedy_reference(boxes, scores, k, iou, score_min):
    """Keep the best box, drop those overlapping it by more than ``iou``, repeat (IoU by broadcasting)."""
    y1, x1 = np.minimum(boxes[:, 0], boxes[:, 2]), np.minimum(boxes[:, 1], boxes[:, 3])
    y2, x2 = np.maximum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 1], boxes[:, 3])
    inter = (np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
             * np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None))
    area = (y2 - y1) * (x2 - x1)
    overlap = inter / np.maximum(area[:, None] + area - inter, 1e-12)
    alive = scores > score_min
    kept = []
    for i in np.argsort(-scores, kind="stable"):
        if alive[i] and len(kept) < k:
            kept.append(i)
            alive &= overlap[i] <= iou
    return kept


def test_non_max_suppression_matches_a_greedy_reference():
    rng = np.random.default_rng(6)
    corners = rng.uniform(0, 1, size=(40, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1).astype("float32")[:, [0, 1, 2, 3]]
    scores = rng.uniform(size=40).astype("float32")
    for iou, score_min, k in ((0.5, -np.inf, 40), (0.2, 0.3, 10), (0.0, 0.0, 5)):
        ours = _np(tf.image.non_max_suppression(boxes, scores, k, iou_threshold=iou, score_threshold=score_min))
        assert ours.dtype == np.int32 and ours.tolist() == _greedy_reference(boxes, scores, k, iou, score_min)
    # a worked case: box 1 overlaps box 0 by IoU 0.81 > 0.5, box 2 is apart
    two = np.array([[0, 0, 1, 1], [0, 0, 0.9, 0.9], [2, 2, 3, 3]], "float32")
    assert _np(tf.image.non_max_suppression(two, np.array([0.9, 0.8, 0.7]), 3)).tolist() == [0, 2]


def test_combined_non_max_suppression_pads_and_counts():
    rng = np.random.default_rng(7)
    batch, n, classes = 2, 30, 3
    corners = rng.uniform(0, 1, size=(batch, n, 2, 2))
    boxes = np.concatenate([corners.min(2), corners.max(2)], axis=-1).astype("float32")[:, :, None, :]
    scores = rng.uniform(size=(batch, n, classes)).astype("float32")
    out = tf.image.combined_non_max_suppression(boxes, scores, max_output_size_per_class=4, max_total_size=8,
                                                iou_threshold=0.3, score_threshold=0.5, clip_boxes=False)
    assert _np(out.nmsed_boxes).shape == (2, 8, 4) and _np(out.valid_detections).dtype == np.int32
    for i in range(batch):
        found = []
        for c in range(classes):
            for k in _greedy_reference(boxes[i, :, 0], scores[i, :, c], 4, 0.3, 0.5):
                found.append((scores[i, k, c], c, k))
        found = sorted(found, key=lambda t: -t[0])[:8]
        v = int(_np(out.valid_detections)[i])
        assert v == len(found)
        np.testing.assert_allclose(_np(out.nmsed_scores)[i, :v], [f[0] for f in found])
        np.testing.assert_array_equal(_np(out.nmsed_classes)[i, :v], [f[1] for f in found])
        np.testing.assert_allclose(_np(out.nmsed_boxes)[i, :v], boxes[i, [f[2] for f in found], 0])
        assert not _np(out.nmsed_scores)[i, v:].any() and not _np(out.nmsed_boxes)[i, v:].any()
    padded = tf.image.combined_non_max_suppression(boxes, scores, 2, 50, pad_per_class=True)
    assert _np(padded.nmsed_boxes).shape == (2, 6, 4)


def test_latest_checkpoint_finds_the_newest_weights_written(tmp_path):
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    inp = dg.Input((3,))
    model = dg.Model(inp, layers.Dense(2)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    checkpoint = dg.callbacks.ModelCheckpoint(str(tmp_path / "weights_epoch_{epoch}.weights.h5"),
                                              save_weights_only=True)
    for epoch in range(3):   # one file per epoch, written a moment apart
        model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, verbose=0, callbacks=[checkpoint])
        os.utime(tmp_path / f"weights_epoch_{epoch + 1}.weights.h5", (1_000_000 + epoch, 1_000_000 + epoch))
    latest = tf.train.latest_checkpoint(str(tmp_path))
    assert latest == str(tmp_path / "weights_epoch_3.weights.h5")
    fresh = dg.Model(inp, layers.Dense(2)(inp))
    fresh.load_weights(latest)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "weights_epoch_2.weights.h5"\n')
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "weights_epoch_2.weights.h5")
