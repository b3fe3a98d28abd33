"""keras.utils / keras.saving helpers against Keras 3 itself: serialization configs, the
custom-object table, the folder-per-class loaders' files, labels and pixels, the split sizes,
pack/unpack, and the names deepgrad still lacks."""
import inspect
import os

import keras
import numpy as np
import pytest
from keras.src.saving import object_registration as keras_registration
from keras.src.utils import dataset_utils as keras_dataset_utils
from PIL import Image

import deepgrad as dg
from deepgrad import registry


@pytest.fixture
def clean_tables():
    """Both frameworks' global custom-object tables restored after the test."""
    saved = (dict(keras_registration.GLOBAL_CUSTOM_OBJECTS), dict(keras_registration.GLOBAL_CUSTOM_NAMES),
             dict(registry.GLOBAL_CUSTOM_OBJECTS), dict(registry.GLOBAL_CUSTOM_NAMES))
    yield
    for table, old in zip((keras_registration.GLOBAL_CUSTOM_OBJECTS, keras_registration.GLOBAL_CUSTOM_NAMES,
                           registry.GLOBAL_CUSTOM_OBJECTS, registry.GLOBAL_CUSTOM_NAMES), saved):
        table.clear()
        table.update(old)


def _layer_pair(base_keras, base_dg, package, name):
    """The same user layer written once for each framework and registered in each."""
    def make(base, register):
        class Scale(base):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor

            def call(self, x):
                return x * self.factor

            def get_config(self):
                return {**super().get_config(), "factor": self.factor}
        return register(package=package, name=name)(Scale)
    return (make(base_keras, keras.saving.register_keras_serializable),
            make(base_dg, dg.saving.register_keras_serializable))


@pytest.mark.parametrize("package,name", [("Custom", None), ("my_pkg", "Scaler")])
def test_registered_layer_config_matches_keras(clean_tables, package, name):
    k_cls, d_cls = _layer_pair(keras.layers.Layer, dg.layers.Layer, package, name)
    assert keras.saving.get_registered_name(k_cls) == dg.saving.get_registered_name(d_cls)
    k_cfg = keras.saving.serialize_keras_object(k_cls(factor=3.5, name="s"))
    d_cfg = dg.saving.serialize_keras_object(d_cls(factor=3.5, name="s"))
    assert k_cfg == d_cfg
    assert d_cfg["registered_name"] == f"{package}>{name or 'Scale'}"
    # each framework reads back its own config and the other's
    for cfg in (k_cfg, d_cfg):
        layer = dg.saving.deserialize_keras_object(cfg)
        assert isinstance(layer, d_cls) and layer.factor == 3.5 and layer.name == "s"
        assert isinstance(keras.saving.deserialize_keras_object(cfg), k_cls)


def test_registered_object_lookups_match_keras(clean_tables):
    k_cls, d_cls = _layer_pair(keras.layers.Layer, dg.layers.Layer, "Custom", None)
    for lib, cls in ((keras.saving, k_cls), (dg.saving, d_cls)):
        assert lib.get_registered_object("Custom>Scale") is cls
        assert lib.get_registered_object("Scale") is None          # registered names are exact
        assert lib.get_registered_object("nope", module_objects={"nope": 1}) == 1
        assert lib.get_custom_objects()["Custom>Scale"] is cls
        with lib.custom_object_scope({"a": 1, "c": 3}):
            assert (lib.get_registered_object("a"), lib.get_registered_object("c")) == (1, 3)
            assert lib.get_registered_object("a", custom_objects={"a": 9}) == 1   # the scope first
            with lib.CustomObjectScope({"b": 2}):                  # an inner scope hides the outer
                assert (lib.get_registered_object("a"), lib.get_registered_object("b")) == (None, 2)
            assert lib.get_registered_object("a") == 1
        assert lib.get_registered_object("a") is None
        assert lib.register_keras_serializable()(cls) is cls         # again: no error, same name
        assert lib.get_registered_name(cls) == "Custom>Scale"
        with pytest.raises(ValueError, match="get_config"):
            lib.register_keras_serializable()(type("NoConfig", (), {}))

    def plain(x):
        return x
    assert keras.saving.get_registered_name(plain) == dg.saving.get_registered_name(plain) == "plain"


def test_registered_function_config_matches_keras(clean_tables):
    def twice_k(x):
        return 2 * x

    def twice_d(x):
        return 2 * x
    twice_d.__name__ = twice_k.__name__ = "twice"
    keras.saving.register_keras_serializable("fns")(twice_k)
    dg.saving.register_keras_serializable("fns")(twice_d)
    assert keras.saving.serialize_keras_object(twice_k) == dg.saving.serialize_keras_object(twice_d)
    assert dg.saving.deserialize_keras_object(keras.saving.serialize_keras_object(twice_k)) is twice_d
    # a built-in activation by name, as Keras writes it
    relu_cfg = keras.saving.serialize_keras_object(keras.activations.relu)
    assert relu_cfg == dg.saving.serialize_keras_object(dg.activations.relu)
    assert dg.saving.deserialize_keras_object(relu_cfg) is dg.activations.relu


@pytest.mark.parametrize("value", [None, 3, 2.5, "relu", True, [1, (2, 3)], {"a": (1, 2), "b": [None]},
                                   b"bytes", slice(1, 5, 2), np.float32(2.0), np.arange(6).reshape(2, 3)])
def test_plain_values_serialize_as_keras(value):
    k_cfg, d_cfg = keras.saving.serialize_keras_object(value), dg.saving.serialize_keras_object(value)
    assert k_cfg == d_cfg
    back = dg.saving.deserialize_keras_object(d_cfg)
    k_back = keras.saving.deserialize_keras_object(k_cfg)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, k_back)
        assert back.dtype == k_back.dtype
    else:
        assert back == k_back


@pytest.mark.parametrize("make", [lambda m: m.optimizers.Adam(learning_rate=0.01),
                                  lambda m: m.losses.MeanSquaredError(),
                                  lambda m: m.initializers.HeNormal(seed=3),
                                  lambda m: m.regularizers.L2(0.5)])
def test_builtin_objects_round_trip_through_keras_configs(make):
    k_cfg = keras.saving.serialize_keras_object(make(keras))
    d_obj = dg.saving.deserialize_keras_object(k_cfg)
    assert type(d_obj).__name__ == k_cfg["class_name"]
    d_cfg = dg.saving.serialize_keras_object(d_obj)
    assert d_cfg["class_name"] == k_cfg["class_name"]
    if not k_cfg["module"].startswith("keras.src"):  # Keras writes its torch Adam under a private path
        assert (d_cfg["module"], d_cfg["registered_name"]) == (k_cfg["module"], k_cfg["registered_name"])
    shared = set(d_cfg["config"]) & set(k_cfg["config"])
    assert shared and all(np.allclose(d_cfg["config"][k], k_cfg["config"][k]) if isinstance(k_cfg["config"][k], float)
                          else d_cfg["config"][k] == k_cfg["config"][k] for k in shared if k != "name")


def test_model_from_config_finds_registered_layer(clean_tables):
    _, d_cls = _layer_pair(keras.layers.Layer, dg.layers.Layer, "Custom", None)
    model = dg.Sequential([dg.layers.Input((3,)), d_cls(factor=4.0), dg.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    clone = dg.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert isinstance(clone.layers[0], d_cls) and clone.layers[0].factor == 4.0
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # and custom_objects still wins over the table
    class Other(d_cls):
        pass
    assert isinstance(dg.Sequential.from_config(model.get_config(), custom_objects={"Scale": Other}).layers[0],
                      Other)


# ------------------------------------------------------------------------------ data helpers
@pytest.mark.parametrize("data", [np.ones(3), (np.ones(3),), (np.ones(3), np.zeros(3)),
                                  (np.ones(3), np.zeros(3), np.full(3, 2.0)), [np.ones(3), np.zeros(3)]])
def test_unpack_x_y_sample_weight_matches_keras(data):
    k, d = keras.utils.unpack_x_y_sample_weight(data), dg.utils.unpack_x_y_sample_weight(data)
    assert len(k) == len(d) == 3
    for a, b in zip(k, d):
        assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("args", [(np.ones(2),), (np.ones(2), np.zeros(2)), (np.ones(2), np.zeros(2), np.ones(2)),
                                  ((np.ones(2), np.zeros(2)),)])
def test_pack_x_y_sample_weight_matches_keras(args):
    k, d = keras.utils.pack_x_y_sample_weight(*args), dg.utils.pack_x_y_sample_weight(*args)
    assert type(k) is type(d)
    assert [np.asarray(a).tolist() for a in (k if isinstance(k, tuple) else (k,))] == \
        [np.asarray(a).tolist() for a in (d if isinstance(d, tuple) else (d,))]


@pytest.mark.parametrize("left,right,total", [(0.8, None, 10), (None, 0.25, 10), (3, None, 7), (None, 2, 7),
                                              (0.4, 0.6, 10), (4, 5, 9), (0.33, None, 10)])
def test_split_dataset_sizes_match_keras(left, right, total):
    k_left, k_right = keras_dataset_utils._rescale_dataset_split_sizes(left, right, total)
    data = (np.arange(total), np.arange(total) * 10)
    d_left, d_right = dg.utils.split_dataset(data, left_size=left, right_size=right)
    assert (len(d_left[0]), len(d_right[0])) == (k_left, k_right)
    k_parts = keras.utils.split_dataset(data, left_size=left, right_size=right, preferred_backend="torch")
    # Keras's torch splitter permutes at random: compare the sizes and that the pairs stay together
    assert [len(p) for p in k_parts] == [k_left, k_right]
    np.testing.assert_array_equal(d_left[1], d_left[0] * 10)
    np.testing.assert_array_equal(d_left[0], np.arange(k_left))
    np.testing.assert_array_equal(d_right[0], np.arange(total - k_right, total))


@pytest.mark.parametrize("left,right", [(0, None), (1.5, None), (None, 10), (0.7, 0.6), ("a", None), (None, None)])
def test_split_dataset_rejects_what_keras_rejects(left, right):
    data = np.arange(10)
    with pytest.raises((ValueError, TypeError)):
        keras_dataset_utils._rescale_dataset_split_sizes(left, right, 10) if left or right else \
            keras.utils.split_dataset(data, left, right, preferred_backend="torch")
    with pytest.raises((ValueError, TypeError)):
        dg.utils.split_dataset(data, left_size=left, right_size=right)


def _write_images(root, per_class=(3, 4, 2), size=(10, 12), seed=0):
    rng = np.random.default_rng(seed)
    names = ["cats", "dogs", "zebra"][:len(per_class)]
    for name, count in zip(names, per_class):
        os.makedirs(root / name / "nested", exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            folder = root / name / ("nested" if i == 0 else "")
            Image.fromarray(pixels).save(folder / f"img_{i}.{'png' if i % 2 else 'bmp'}")
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return names


@pytest.mark.parametrize("shuffle,seed,class_names", [(False, None, None), (True, 7, None), (True, 3, ["zebra", "cats"])])
def test_image_directory_matches_keras_index_and_pixels(tmp_path, shuffle, seed, class_names):
    _write_images(tmp_path)
    k_paths, k_labels, k_names = keras_dataset_utils.index_directory(
        str(tmp_path), "inferred", formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"), class_names=class_names,
        shuffle=shuffle, seed=seed)
    ds = dg.utils.image_dataset_from_directory(tmp_path, image_size=(10, 12), batch_size=4, shuffle=shuffle,
                                               seed=seed, class_names=class_names, verbose=False)
    assert ds.class_names == k_names and ds.file_paths == k_paths
    images = np.concatenate([b[0] for b in ds])
    labels = np.concatenate([b[1] for b in ds])
    assert len(ds) == -(-len(k_paths) // 4) and images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_array_equal(labels, k_labels)
    expected = np.stack([keras.utils.img_to_array(keras.utils.load_img(p)) for p in k_paths])
    np.testing.assert_array_equal(images, expected)


@pytest.mark.parametrize("label_mode", ["int", "categorical", "binary", None])
def test_image_directory_label_modes_and_resize_match_keras(tmp_path, label_mode):
    _write_images(tmp_path, per_class=(3, 2))
    ds = dg.utils.image_dataset_from_directory(tmp_path, label_mode=label_mode, image_size=(6, 5),
                                               color_mode="grayscale", shuffle=False, batch_size=32, verbose=False)
    k_paths, k_labels, _ = keras_dataset_utils.index_directory(str(tmp_path), "inferred", (".bmp", ".png"),
                                                               shuffle=False)
    batch = ds[0]
    images = batch[0] if label_mode is not None else batch
    expected = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, color_mode="grayscale",
                                                                      target_size=(6, 5), interpolation="bilinear"))
                         for p in k_paths])
    np.testing.assert_array_equal(images, expected)
    if label_mode == "categorical":
        np.testing.assert_array_equal(batch[1], keras.utils.to_categorical(k_labels, 2))
    elif label_mode == "binary":
        np.testing.assert_array_equal(batch[1], k_labels.reshape(-1, 1).astype("float32"))
    elif label_mode == "int":
        np.testing.assert_array_equal(batch[1], k_labels)


def test_image_directory_validation_split_matches_keras(tmp_path):
    _write_images(tmp_path, per_class=(5, 6, 4))
    k_paths, k_labels, _ = keras_dataset_utils.index_directory(str(tmp_path), "inferred", (".bmp", ".png"),
                                                               shuffle=True, seed=11)
    for subset in ("training", "validation"):
        k_sub_paths, k_sub_labels = keras_dataset_utils.get_training_or_validation_split(
            k_paths, k_labels, 0.2, subset)
        ds = dg.utils.image_dataset_from_directory(tmp_path, image_size=(10, 12), validation_split=0.2,
                                                   subset=subset, seed=11, verbose=False)
        assert ds.file_paths == list(k_sub_paths)
        np.testing.assert_array_equal(np.concatenate([b[1] for b in ds]), k_sub_labels)
    train, val = dg.utils.image_dataset_from_directory(tmp_path, image_size=(10, 12), validation_split=0.2,
                                                       subset="both", seed=11, verbose=False)
    assert len(train.file_paths) + len(val.file_paths) == len(k_paths)
    assert not set(train.file_paths) & set(val.file_paths)
    with pytest.raises(ValueError, match="seed"):
        dg.utils.image_dataset_from_directory(tmp_path, validation_split=0.2, subset="training")


def test_text_directory_matches_keras_index(tmp_path):
    texts = {"neg": ["bad", "awful film", "no"], "pos": ["great", "loved it so much"]}
    for label, items in texts.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(items):
            (tmp_path / label / f"{i}.txt").write_text(text, encoding="utf-8")
    k_paths, k_labels, k_names = keras_dataset_utils.index_directory(str(tmp_path), "inferred", (".txt",),
                                                                     shuffle=True, seed=5)
    ds = dg.utils.text_dataset_from_directory(tmp_path, max_length=4, seed=5, batch_size=2, verbose=False)
    assert ds.class_names == k_names and ds.file_paths == k_paths
    got = np.concatenate([b[0] for b in ds])
    expected = [open(p, encoding="utf-8").read()[:4] for p in k_paths]
    assert got.tolist() == expected
    np.testing.assert_array_equal(np.concatenate([b[1] for b in ds]), k_labels)


def test_image_helpers_match_keras(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.uniform(0, 255, size=(7, 9, 3)).astype("float32")
    k_img, d_img = keras.utils.array_to_img(array), dg.utils.array_to_img(array)
    np.testing.assert_array_equal(np.asarray(k_img), np.asarray(d_img))
    dg.utils.save_img(tmp_path / "a.png", array)
    keras.utils.save_img(tmp_path / "b.png", array)
    np.testing.assert_array_equal(dg.utils.img_to_array(dg.utils.load_img(tmp_path / "a.png")),
                                  keras.utils.img_to_array(keras.utils.load_img(tmp_path / "b.png")))


@pytest.mark.parametrize("name", ["clear_session", "get_source_inputs", "is_keras_tensor", "standardize_dtype",
                                  "image_dataset_from_directory", "text_dataset_from_directory",
                                  "timeseries_dataset_from_array", "split_dataset", "pack_x_y_sample_weight",
                                  "unpack_x_y_sample_weight", "load_img", "img_to_array", "array_to_img", "save_img",
                                  "set_random_seed", "to_categorical", "normalize", "plot_model", "model_to_dot",
                                  "register_keras_serializable", "get_registered_name", "get_registered_object",
                                  "serialize_keras_object", "deserialize_keras_object", "get_custom_objects"])
def test_signatures_match_keras(name):
    k = inspect.signature(getattr(keras.utils, name)).parameters
    d = inspect.signature(getattr(dg.utils, name)).parameters
    k_params = [(p.name, p.default) for p in k.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    d_params = [(p.name, p.default) for p in d.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert d_params == k_params


def test_pydataset_constructor_matches_keras():
    k = inspect.signature(keras.utils.PyDataset.__init__).parameters
    d = inspect.signature(dg.utils.PyDataset.__init__).parameters
    assert [(p.name, p.default) for p in d.values()] == [(p.name, p.default) for p in k.values()]
    assert dg.utils.Sequence is dg.utils.PyDataset and keras.utils.Sequence is keras.utils.PyDataset


IMPLEMENTED = {
    "CustomObjectScope", "Progbar", "PyDataset", "Sequence", "array_to_img", "custom_object_scope",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object",
    "image_dataset_from_directory", "img_to_array", "load_img", "model_to_dot", "pack_x_y_sample_weight",
    "plot_model", "register_keras_serializable", "save_img", "serialize_keras_object", "split_dataset",
    "text_dataset_from_directory", "timeseries_dataset_from_array", "unpack_x_y_sample_weight",
    "set_random_seed", "to_categorical", "normalize", "clear_session", "get_source_inputs", "is_keras_tensor",
    "standardize_dtype",
}


def test_graph_helpers_match_keras():
    results = []
    for lib in (keras, dg):
        lib.utils.clear_session()
        a, b = lib.layers.Input((3,), name="a"), lib.layers.Input((3,), name="b")
        out = lib.layers.Dense(2)(lib.layers.Add()([lib.layers.Dense(3)(b), a]))
        first = lib.layers.Dense(1).name
        lib.utils.clear_session()
        again = lib.layers.Dense(1).name
        results.append(([t.name for t in lib.utils.get_source_inputs(out)],
                        [t.name for t in lib.utils.get_source_inputs(a)],
                        lib.utils.is_keras_tensor(out), lib.utils.is_keras_tensor(np.ones(2)), first, again,
                        [lib.utils.standardize_dtype(d) for d in ("float32", np.int64, "bool", None)]))
    assert sorted(results[0][0]) == sorted(results[1][0]) == ["a", "b"]
    assert results[0][1:] == results[1][1:]


def test_keras_utils_and_saving_names(capsys):
    """Every name implemented here exists; the ones still missing are printed (run with -s)."""
    missing = {}
    for module, ours in ((keras.utils, dg.utils), (keras.saving, dg.saving)):
        names = {n for n in dir(module) if not n.startswith("_")}
        missing[module.__name__] = sorted(n for n in names if not hasattr(ours, n))
        assert not (names & IMPLEMENTED) - {n for n in names if hasattr(ours, n)}
    with capsys.disabled():
        print("\nkeras names deepgrad lacks:", missing)
    assert not IMPLEMENTED & set(missing["keras.utils"])
    assert not IMPLEMENTED & set(missing["keras.saving"])
