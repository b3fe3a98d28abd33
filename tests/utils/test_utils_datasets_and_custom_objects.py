"""deepgrad.utils / deepgrad.saving helpers on their own: PyDataset and the batch datasets in
fit, the sliding windows, split_dataset, the custom-object table seen by every get-by-name,
and the graph behind plot_model."""
import sys
import threading
import types

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import registry
from deepgrad.utils import model_visualization


@pytest.fixture
def clean_table():
    saved = dict(registry.GLOBAL_CUSTOM_OBJECTS), dict(registry.GLOBAL_CUSTOM_NAMES)
    yield
    registry.GLOBAL_CUSTOM_OBJECTS.clear()
    registry.GLOBAL_CUSTOM_OBJECTS.update(saved[0])
    registry.GLOBAL_CUSTOM_NAMES.clear()
    registry.GLOBAL_CUSTOM_NAMES.update(saved[1])


def _model(seed=0):
    dg.utils.set_random_seed(seed)
    model = dg.Sequential([dg.layers.Input((4,)), dg.layers.Dense(8, activation="tanh"), dg.layers.Dense(1)])
    model.compile(optimizer=dg.optimizers.SGD(0.05), loss="mse")
    return model


class Batches(dg.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.events = x, y, batch_size, []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def test_fit_on_a_pydataset_equals_fit_on_the_same_batches_of_arrays():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)).astype("float32"), rng.normal(size=(30, 1)).astype("float32")
    data = Batches(x, y, 8, workers=2, use_multiprocessing=False, max_queue_size=4)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size, data.num_batches) == (2, False, 4, 4)
    a, b = _model(), _model()
    # shuffle=False: with fit's default Keras takes a PyDataset's batches in a random order
    hist_a = a.fit(data, epochs=3, shuffle=False, verbose=0)
    hist_b = b.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert data.events == ["begin", "end"] * 3
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    np.testing.assert_allclose(hist_a.history["loss"], hist_b.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(a.evaluate(data, verbose=0), b.evaluate(x, y, verbose=0), rtol=1e-6)


def test_pydataset_defaults_and_abstract_methods():
    class Bare(dg.utils.PyDataset):
        pass
    bare = Bare()
    assert (bare.workers, bare.use_multiprocessing, bare.max_queue_size) == (1, False, 10)
    assert bare.num_batches is None
    with pytest.raises(NotImplementedError, match="__getitem__"):
        bare[0]


def _windows_by_loop(data, targets, length, stride, rate, start, stop):
    """The windows one at a time, straight from the definition."""
    out_x, out_y, pos = [], [], 0
    while start + pos + (length - 1) * rate < stop and (targets is None or pos < len(targets)):
        out_x.append(data[[start + pos + k * rate for k in range(length)]])
        if targets is not None:
            out_y.append(targets[start + pos])
        pos += stride
    return np.array(out_x), np.array(out_y)


@pytest.mark.parametrize("length,stride,rate,start,end,batch", [(3, 1, 1, None, None, 4), (4, 2, 3, 2, 35, 5),
                                                                (5, 3, 2, 0, None, 128), (2, 1, 1, 10, 20, None)])
def test_timeseries_windows_follow_the_definition(length, stride, rate, start, end, batch):
    data = np.arange(40 * 2, dtype="float32").reshape(40, 2)
    targets = np.arange(40) * 10
    ds = dg.utils.timeseries_dataset_from_array(data, targets, length, sequence_stride=stride, sampling_rate=rate,
                                                batch_size=batch, start_index=start, end_index=end)
    expected_x, expected_y = _windows_by_loop(data, targets, length, stride, rate, start or 0, end or 40)
    batches = list(ds) if batch is not None else [tuple(np.stack(p) for p in zip(*ds))]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), expected_x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), expected_y)
    if batch is not None:
        assert all(len(b[0]) == batch for b in batches[:-1])


def test_timeseries_shuffle_permutes_windows_and_fit_accepts_it():
    data = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    plain = dg.utils.timeseries_dataset_from_array(data, None, 6, batch_size=None)
    mixed = dg.utils.timeseries_dataset_from_array(data, None, 6, batch_size=None, shuffle=True, seed=3)
    order = np.arange(45)
    np.random.RandomState(3).shuffle(order)
    np.testing.assert_array_equal(np.stack(list(mixed)), np.stack(list(plain))[order])
    model = dg.Sequential([dg.layers.Input((6, 4)), dg.layers.SimpleRNN(3), dg.layers.Dense(1)])
    model.compile("adam", "mse")
    ds = dg.utils.timeseries_dataset_from_array(data, data[:, 0], 6, batch_size=8)
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match="sampling_rate"):
        dg.utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)


def test_split_dataset_shuffles_with_the_seed_and_keeps_rows_together():
    x, y = np.arange(20), np.arange(20) * 3
    left, right = dg.utils.split_dataset((x, y), left_size=0.75, shuffle=True, seed=4)
    order = np.arange(20)
    np.random.RandomState(4).shuffle(order)
    np.testing.assert_array_equal(left[0], x[order[:15]])
    np.testing.assert_array_equal(right[1], y[order[15:]])
    # both sizes given and smaller than the whole: the first and the last samples
    a, b = dg.utils.split_dataset(x, left_size=5, right_size=3)
    np.testing.assert_array_equal(a, x[:5])
    np.testing.assert_array_equal(b, x[-3:])
    ds = dg.utils.timeseries_dataset_from_array(np.arange(30.0)[:, None], None, 2, batch_size=4)
    train, val = dg.utils.split_dataset(ds, left_size=0.8)
    assert (len(train.unbatch()), len(val.unbatch()), train.batch_size) == (23, 6, 4)


def test_directory_dataset_trains_and_reshuffles(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    ds = dg.utils.image_dataset_from_directory(tmp_path, image_size=(8, 8), batch_size=5, seed=1, verbose=False)
    first = np.concatenate([b[1] for b in ds])
    ds.on_epoch_end()
    second = np.concatenate([b[1] for b in ds])
    assert sorted(first) == sorted(second) == [0] * 6 + [1] * 6
    model = dg.Sequential([dg.layers.Input((8, 8, 3)), dg.layers.Flatten(),
                           dg.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match="binary"):
        dg.utils.image_dataset_from_directory(tmp_path, label_mode="binary", class_names=["a"], verbose=False)


def test_registered_objects_reach_every_get_by_name(clean_table):
    @dg.saving.register_keras_serializable(package="tests")
    def cube(x):
        return x ** 3

    @dg.saving.register_keras_serializable(package="tests")
    def half_mse(y_true, y_pred):
        return 0.5 * dg.losses.mean_squared_error(y_true, y_pred)

    assert dg.activations.get("tests>cube") is cube and dg.activations.get("cube") is cube
    assert dg.losses.get("half_mse") is half_mse
    layer = dg.layers.Dense(2, activation="cube")
    out = layer(dg.Tensor(np.ones((1, 3), "float32")))
    np.testing.assert_allclose(out.numpy(), (np.ones((1, 3)) @ layer.kernel.numpy()) ** 3, rtol=1e-6)
    # a built-in name is never shadowed by a registered one of the same bare name
    dg.saving.register_keras_serializable(package="tests", name="relu")(cube)
    assert dg.activations.get("relu") is dg.activations.relu and dg.activations.get("tests>relu") is cube


def test_scopes_are_seen_by_layer_lookups_and_are_per_thread():
    class Twice(dg.layers.Layer):
        def call(self, x):
            return x * 2
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "dtype": "float32", "name": "i"}},
        {"class_name": "Twice", "config": {"name": "t", "trainable": True}}]}}
    with pytest.raises(ValueError, match="Twice"):
        dg.Sequential.from_config(config["config"])
    seen = []
    with dg.utils.custom_object_scope({"Twice": Twice}):
        model = dg.Sequential.from_config(config["config"])
        worker = threading.Thread(target=lambda: seen.append(dg.saving.get_registered_object("Twice")))
        worker.start()
        worker.join()
    assert isinstance(model.layers[0], Twice) and seen == [None]
    np.testing.assert_allclose(model.predict(np.ones((1, 2), "float32"), verbose=0), [[2.0, 2.0]])


def test_deserialize_never_runs_code():
    with pytest.raises(ValueError, match="lambda"):
        dg.saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "xyz"}})
    with pytest.raises(ValueError, match="unknown class 'os'"):
        dg.saving.deserialize_keras_object({"module": "os", "class_name": "os", "config": {}, "registered_name": None})
    with pytest.raises(ValueError, match="lambda"):
        dg.saving.serialize_keras_object(lambda x: x)


def test_plot_model_names_what_to_install(monkeypatch, tmp_path):
    model = _model()
    monkeypatch.setitem(sys.modules, "pydot", None)   # as on a machine without pydot
    for fn in (dg.utils.plot_model, dg.utils.model_to_dot):
        with pytest.raises(ImportError, match="pip install pydot") as info:
            fn(model)
        assert "graphviz" in str(info.value)


class _FakePydot(types.ModuleType):
    """Records what model_to_dot builds, as pydot would hold it."""

    class Dot:
        def __init__(self, **kwargs):
            self.attrs, self.nodes, self.edges = {}, {}, []

        def set(self, key, value):
            self.attrs[key] = value

        def set_node_defaults(self, **kwargs):
            self.node_defaults = kwargs

        def add_node(self, node):
            self.nodes[node.name] = node.label

        def add_edge(self, edge):
            self.edges.append((edge.src, edge.dst))

        def write(self, path, format):
            self.written = (path, format)

    Cluster = Dot

    class Node:
        def __init__(self, name, label):
            self.name, self.label = name, label

    class Edge:
        def __init__(self, src, dst):
            self.src, self.dst = src, dst


def test_model_to_dot_draws_the_functional_graph(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pydot", _FakePydot("pydot"))
    inputs = dg.layers.Input((4,), name="x")
    left = dg.layers.Dense(3, name="left")(inputs)
    right = dg.layers.Dense(3, activation="relu", name="right")(inputs)
    outputs = dg.layers.Add(name="sum")([left, right])
    model = dg.Model(inputs, outputs)
    dot = dg.utils.model_to_dot(model, show_shapes=True, show_layer_activations=True, rankdir="LR")
    by_name = {label.split(" ")[0]: key for key, label in dot.nodes.items()}
    assert set(by_name) == {"x", "left", "right", "sum"}
    assert sorted(dot.edges) == sorted([(by_name["x"], by_name["left"]), (by_name["x"], by_name["right"]),
                                        (by_name["left"], by_name["sum"]), (by_name["right"], by_name["sum"])])
    assert "activation: relu" in dot.nodes[by_name["right"]] and "(None, 3)" in dot.nodes[by_name["sum"]]
    assert dot.attrs["rankdir"] == "LR"
    seq = dg.utils.model_to_dot(_model())
    assert len(seq.nodes) == 2 and len(seq.edges) == 1
    monkeypatch.setattr(model_visualization.shutil, "which", lambda name: "/usr/bin/dot")
    captured = {}
    monkeypatch.setattr(_FakePydot.Dot, "write", lambda self, path, format: captured.update(path=path, fmt=format))
    dg.utils.plot_model(model, to_file=tmp_path / "m.svg")
    assert captured == {"path": str(tmp_path / "m.svg"), "fmt": "svg"}
    monkeypatch.setattr(model_visualization.shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="apt-get install graphviz"):
        dg.utils.plot_model(model, to_file=tmp_path / "m.png")


def test_timeseries_shuffle_gives_a_new_order_each_pass_and_the_seed_repeats_them():
    data = np.arange(60, dtype="float32")[:, None]

    def passes(seed, count=3):
        ds = dg.utils.timeseries_dataset_from_array(data, None, 4, batch_size=None, shuffle=True, seed=seed)
        return [np.stack([np.asarray(w) for w in ds])[:, 0, 0] for _ in range(count)]

    first, second, third = passes(5)
    assert sorted(first) == sorted(second) == sorted(third) == list(range(57))
    assert not np.array_equal(first, second) and not np.array_equal(second, third)
    for a, b in zip(passes(5), (first, second, third)):
        np.testing.assert_array_equal(a, b)
    plain = dg.utils.timeseries_dataset_from_array(data, None, 4, batch_size=None)
    once, again = (np.stack([np.asarray(w) for w in plain])[:, 0, 0] for _ in range(2))
    np.testing.assert_array_equal(once, again)
