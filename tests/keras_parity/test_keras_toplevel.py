"""Keras's top-level namespace on deepgrad: every public name of ``keras`` (base classes,
scopes, ``keras.Operation``, ``keras.device``, ``keras.remat``, the sub-namespaces), each
behaving as Keras's (torch backend) does."""
import os
import types
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402
from deepgrad import ops as dg_ops  # noqa: E402

# every name is provided (``keras.export.ExportArchive`` writes ONNX endpoints: tests/export)
NOT_PROVIDED: set = set()


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_"))


def test_every_top_level_keras_name_exists():
    missing = [n for n in _public(keras) if n != "src" and not hasattr(dg, n)]
    assert missing == []


@pytest.mark.parametrize("namespace", ["tree", "legacy", "legacy.saving", "distribution", "export"])
def test_sub_namespaces_have_keras_names(namespace):
    k_mod, d_mod = keras, dg
    for part in namespace.split("."):
        k_mod, d_mod = getattr(k_mod, part), getattr(d_mod, part)
    assert isinstance(d_mod, types.ModuleType)
    missing = [n for n in _public(k_mod) if not hasattr(d_mod, n) and f"keras.{namespace}.{n}" not in NOT_PROVIDED]
    assert missing == []


@pytest.mark.parametrize("name,where", [("Layer", "layers"), ("InputSpec", "layers"), ("Loss", "losses"),
                                        ("Metric", "metrics"), ("Optimizer", "optimizers"),
                                        ("Initializer", "initializers"), ("Regularizer", "regularizers"),
                                        ("Quantizer", "quantizers"), ("DTypePolicy", "dtype_policies")])
def test_base_classes_are_the_namespace_ones(name, where):
    assert getattr(dg, name) is getattr(getattr(dg, where), name)
    assert getattr(keras, name) is getattr(getattr(keras, where), name)


def test_version_is_a_string():
    assert isinstance(dg.version(), str) and dg.version() == dg.__version__


# ------------------------------------------------------------------------------ keras.Operation
def _scaled_sine(framework):
    class ScaledSine(framework.Operation):
        def call(self, x, scale=2.0):
            return framework.ops.sin(x) * scale

        def compute_output_spec(self, x, scale=2.0):
            return framework.KerasTensor(x.shape, x.dtype)
    return ScaledSine


def _joined(framework):
    class Joined(framework.Operation):  # no compute_output_spec: the shape is inferred
        def call(self, a, b):
            return framework.ops.concatenate([a, b], axis=-1)
    return Joined


def test_operation_in_a_functional_model_matches_keras():
    x_np = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    results = {}
    for fw in (keras, dg):
        fw.backend.clear_session() if fw is keras else dg.backend.clear_session()
        op = _scaled_sine(fw)()
        inputs = fw.Input((3,))
        dense = fw.layers.Dense(2, kernel_initializer="ones")
        y = op(inputs, scale=3.0)
        z = _joined(fw)()(y, dense(inputs))
        model = fw.Model(inputs, z)
        assert op.input is inputs and op.output is y
        assert tuple(z.shape) == (None, 5)
        results[fw] = (np.asarray(model.predict(x_np, verbose=0)), [l.name for l in model.layers],
                       [o.name for o in model.operations], op.name, op.get_config(),
                       np.asarray(op(x_np, scale=0.5)))
    k, d = results[keras], results[dg]
    np.testing.assert_allclose(d[0], k[0], rtol=1e-6, atol=1e-6)
    assert d[1:5] == k[1:5]
    np.testing.assert_allclose(d[5], k[5], rtol=1e-6)


def test_every_layer_is_an_operation_and_an_op_is_not_a_layer():
    assert isinstance(dg.layers.Dense(2), dg.Operation)
    assert not isinstance(_scaled_sine(dg)(), dg.Layer)


def test_ops_on_keras_tensors_are_operations_not_layers_as_in_keras():
    counts = {}
    for fw in (keras, dg):
        inputs = fw.Input((3,))
        model = fw.Model(inputs, fw.ops.relu(fw.layers.Dense(2)(inputs)) * 2.0)
        counts[fw] = (len(model.layers), len(model.operations))
    assert counts[dg] == counts[keras] == (2, 4)


def test_summary_names_operations_as_keras(capsys):
    texts = {}
    for fw in (keras, dg):
        inputs = fw.Input((3,))
        joined = _joined(fw)(name="joined")(inputs, fw.layers.Dense(2)(inputs))
        model = fw.Model(inputs, fw.ops.relu(joined))
        model.summary(print_fn=lambda line, **kwargs: texts.setdefault(fw, []).append(line))
    for fw in (keras, dg):
        text = "\n".join(texts[fw])
        assert "joined (Joined)" in text and "(Relu)" in text


def test_a_model_with_an_operation_trains():
    inputs = dg.Input((3,))
    model = dg.Model(inputs, dg.layers.Dense(1)(_scaled_sine(dg)()(inputs)))
    model.compile("adam", "mse")
    x = np.random.default_rng(1).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ------------------------------------------------------------------------------ StatelessScope
def _scope_run(fw):
    v = fw.Variable(np.zeros(3, "float32"))
    w = fw.Variable(np.full(2, 5.0, "float32"))
    with fw.StatelessScope(state_mapping=[(v, np.ones(3, "float32"))]) as scope:
        inside = np.asarray(fw.ops.convert_to_numpy(v.value)).copy()
        v.assign_add(np.ones(3, "float32"))
        w.assign(np.array([7.0, 8.0], "float32"))
    after = (np.asarray(fw.ops.convert_to_numpy(v.value)), np.asarray(fw.ops.convert_to_numpy(w.value)))
    current = [np.asarray(fw.ops.convert_to_numpy(scope.get_current_value(x))) for x in (v, w)]
    untouched = scope.get_current_value(fw.Variable(np.zeros(1, "float32")))
    return inside, after, current, untouched


def test_stateless_scope_matches_keras():
    k, d = _scope_run(keras), _scope_run(dg)
    np.testing.assert_array_equal(d[0], k[0])                 # the mapped value inside
    for a, b in zip(d[1], k[1]):                               # nothing changed outside
        np.testing.assert_array_equal(a, b)
    for a, b in zip(d[2], k[2]):                               # the values the block left
        np.testing.assert_array_equal(a, b)
    assert d[3] is None and k[3] is None


def test_stateless_scope_refuses_a_value_of_another_shape():
    v = dg.Variable(np.zeros(3, "float32"))
    with pytest.raises(ValueError, match="shape"):
        dg.StatelessScope([(v, np.zeros(4, "float32"))])
    with pytest.raises(ValueError, match="Variable"):
        dg.StatelessScope([(np.zeros(3), np.zeros(3))])


def test_stateless_scope_collects_losses_instead_of_the_layer():
    layer = dg.layers.Dense(2, activity_regularizer="l2")
    layer(np.ones((1, 3), "float32"))
    assert len(layer.losses) == 1
    with dg.StatelessScope(collect_losses=True) as scope:
        layer(np.ones((2, 3), "float32"))
    assert len(scope.losses) == 1 and layer.losses == []   # the call's loss went to the scope
    assert float(scope.losses[0].numpy()) > 0


def test_batch_norm_statistics_in_a_stateless_scope_are_restored():
    bn = dg.layers.BatchNormalization()
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(16, 4)).astype("float32")
    bn(x)
    mean = bn.moving_mean.numpy().copy()
    with dg.StatelessScope() as scope:
        bn(x, training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean)
    assert not np.array_equal(scope.get_current_value(bn.moving_mean).numpy(), mean)


def test_symbolic_scope_is_a_context():
    from deepgrad.autograd.scopes import in_symbolic_scope

    assert not in_symbolic_scope()
    with dg.SymbolicScope():
        assert in_symbolic_scope()
    assert not in_symbolic_scope()


# ------------------------------------------------------------------------------ device, remat
@pytest.mark.parametrize("name", ["cpu", "cpu:0", "CPU:0", "/cpu:0", "/device:CPU:0"])
def test_device_accepts_the_cpu(name):
    with dg.device(name):
        assert float(dg_ops.sum(dg_ops.ones(3)).numpy()) == 3.0


@pytest.mark.parametrize("name", ["gpu:0", "cuda", "tpu:0"])
def test_device_refuses_other_devices_by_name(name):
    with pytest.raises(ValueError, match="CPU only"):
        dg.device(name)


def test_remat_gives_the_function_s_values_without_a_warning():
    def f(x):
        return dg_ops.sin(x) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = dg.remat(f)
        x = np.linspace(-1, 1, 5).astype("float32")
        np.testing.assert_array_equal(g(x).numpy(), f(x).numpy())


def test_remat_scope_validates_its_mode_as_keras():
    for fw in (keras, dg):
        with pytest.raises(ValueError, match="Invalid mode"):
            fw.RematScope(mode="everything")
    from deepgrad.backend import get_current_remat_mode
    with dg.RematScope(mode="larger_than", output_size_threshold=10):
        mode = get_current_remat_mode()
        assert mode == ("larger_than", 10, [])
        assert (mode.mode, mode.output_size_threshold, mode.layer_names) == ("larger_than", 10, [])
    assert get_current_remat_mode() is None


# ------------------------------------------------------------------------------ legacy, registration
def test_legacy_serialize_matches_keras_envelope():
    k = keras.legacy.saving.serialize_keras_object(keras.layers.Dense(3, name="d"))
    d = dg.legacy.saving.serialize_keras_object(dg.layers.Dense(3, name="d"))
    assert set(d) == set(k) == {"class_name", "config"}
    assert d["class_name"] == k["class_name"] == "Dense" and d["config"]["units"] == 3
    layer = dg.legacy.saving.deserialize_keras_object(d, module_objects={"Dense": dg.layers.Dense})
    assert isinstance(layer, dg.layers.Dense) and layer.units == 3


def test_a_registered_class_is_found_by_its_registered_name(monkeypatch):
    from deepgrad import registry

    monkeypatch.setattr(registry, "GLOBAL_CUSTOM_OBJECTS", dict(registry.GLOBAL_CUSTOM_OBJECTS))
    monkeypatch.setattr(registry, "GLOBAL_CUSTOM_NAMES", dict(registry.GLOBAL_CUSTOM_NAMES))
    import deepgrad.models.model as model_module
    import deepgrad.saving.object_registration as reg_module
    monkeypatch.setattr(model_module, "GLOBAL_CUSTOM_NAMES", registry.GLOBAL_CUSTOM_NAMES)
    monkeypatch.setattr(reg_module, "GLOBAL_CUSTOM_OBJECTS", registry.GLOBAL_CUSTOM_OBJECTS)
    monkeypatch.setattr(reg_module, "GLOBAL_CUSTOM_NAMES", registry.GLOBAL_CUSTOM_NAMES)

    def scale(package, factor):
        @dg.saving.register_keras_serializable(package=package)
        class Scale(dg.layers.Layer):
            def call(self, x):
                return x * factor
        return Scale
    first, second = scale("pkg_a", 2.0), scale("pkg_b", 3.0)   # two packages, one class name
    model = dg.Sequential([dg.layers.Input((2,)), second()])
    assert model.get_config()["layers"][1]["registered_name"] == "pkg_b>Scale"
    clone = dg.Sequential.from_config(model.get_config())
    assert type(clone.layers[0]) is second and type(clone.layers[0]) is not first


# ------------------------------------------------------------------------------ variables as attributes
def test_variables_assigned_to_a_layer_are_its_weights_as_in_keras():
    def layer_of(fw):
        class Codebook(fw.layers.Layer):
            def __init__(self):
                super().__init__()
                self.codes = fw.Variable(np.ones((2, 3), "float32"), name="codes")
                self.counts = fw.Variable(np.zeros(2, "float32"), trainable=False, name="counts")
                self.pair = [fw.Variable(np.ones(1, "float32"), name="a"), fw.Variable(np.ones(1, "float32"), name="b")]
                self.dense = fw.layers.Dense(2)

            def call(self, x):
                return self.dense(x) + fw.ops.sum(self.codes)
        layer = Codebook()
        layer(np.ones((1, 3), "float32"))
        return layer
    k, d = layer_of(keras), layer_of(dg)
    for attr in ("trainable_weights", "non_trainable_weights", "weights"):
        assert [w.shape for w in getattr(d, attr)] == [tuple(w.shape) for w in getattr(k, attr)]
        assert [w.path.split("/")[-1] for w in getattr(d, attr)] == [w.path.split("/")[-1] for w in getattr(k, attr)]
    assert d.count_params() == k.count_params()


def test_a_layer_lists_each_sub_layer_weights_in_turn_as_keras():
    def block_of(fw):
        class Block(fw.layers.Layer):
            def __init__(self):
                super().__init__()
                self.norm_in = fw.layers.BatchNormalization()
                self.dense = fw.layers.Dense(2)
                self.norm_out = fw.layers.BatchNormalization()

            def call(self, x):
                return self.norm_out(self.dense(self.norm_in(x)))
        fw.backend.clear_session()   # the automatic names count from zero in both
        block = Block()
        block(np.ones((2, 3), "float32"))
        return block
    k, d = block_of(keras), block_of(dg)
    assert [w.path.split("/", 1)[1] for w in d.weights] == [w.path.split("/", 1)[1] for w in k.weights]
    values = [np.random.default_rng(i).normal(size=tuple(w.shape)).astype("float32") for i, w in enumerate(k.weights)]
    k.set_weights(values)
    d.set_weights([np.asarray(keras.ops.convert_to_numpy(w)) for w in k.get_weights()])
    x = np.random.default_rng(9).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(d(x).numpy(), keras.ops.convert_to_numpy(k(x)), rtol=1e-5, atol=1e-6)
