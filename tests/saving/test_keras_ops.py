"""Ops on symbolic tensors in ``.keras`` files, with Keras as the oracle.

A functional model built with ops on its tensors (``ops.add(a, b)``, ``x * 2``, ``a[:, 1:3]``,
``ops.nn.gelu``, ``ops.cast``) is built twice, once with Keras and once with deepgrad, from the
same code: Keras's file loads in deepgrad and deepgrad's in Keras with predictions equal, and
the op nodes deepgrad writes are Keras's own (module, class, config, call arguments). The op
table (deepgrad/files/keras_ops.py) is checked against Keras's classes and functions, and a file
with an op deepgrad does not know, or an op node that is not what it claims, is refused.
"""
import importlib
import inspect
import json
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.files import UnsafeFileError
from deepgrad.files.keras_ops import ALIASES, OPS
from deepgrad.layers.symbolic_op import _find_op

keras = pytest.importorskip("keras")


# ------------------------------------------------------------------ models, built by either library
def arithmetic(K):
    ops = K.ops
    a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
    x = ops.add(a, b)
    z = ops.concatenate([x, x * 2], axis=-1)
    r = ops.reshape(z, (-1, 2, 4))
    e = ops.matmul(a, ops.transpose(ops.expand_dims(b, 1), (0, 2, 1)))
    d = K.layers.Dense(3, name="dense")(ops.relu(z))
    outs = [ops.mean(z, axis=1, keepdims=True), r, ops.cast(z, "float16"), ops.nn.softmax(z), ops.sum(r, axis=(1,)),
            a[:, 1:3], a[..., None, :2], ops.where(a > 0, a, b), 1.0 - a, e, d, ops.sqrt(ops.square(d) + 1.0), -a,
            a ** 2, ops.max(z, axis=-1), abs(a), a // 2.0, a % 2.0, ops.convert_to_tensor(a)]
    return K.Model([a, b], outs)


def activations_and_reductions(K):
    ops = K.ops
    a, b = K.Input((6,), name="a"), K.Input((6,), name="b")
    outs = [ops.nn.gelu(a), ops.nn.silu(a), ops.nn.leaky_relu(a, 0.3), ops.nn.elu(a), ops.nn.softplus(a),
            ops.nn.log_softmax(a), ops.clip(a, -0.5, 0.5), ops.tile(a, (1, 2)), ops.stack([a, b], axis=1),
            ops.take(a, [0, 2], axis=1), ops.one_hot(ops.argmax(a, axis=-1), 6), ops.minimum(a, b),
            ops.maximum(a, 0.1), ops.einsum("ij,ij->i", a, b), ops.std(a, axis=-1), ops.var(a, axis=0),
            ops.cumsum(a, axis=1), ops.norm(a, axis=-1), ops.erf(a), ops.logsumexp(a, axis=-1),
            ops.pad(a, ((0, 0), (1, 2))), ops.nn.relu6(a), ops.nn.hard_sigmoid(a), ops.nn.normalize(a),
            ops.flip(a, axis=1), ops.roll(a, 2, axis=1), ops.sort(a, axis=-1), ops.any(a > 1.0, axis=-1),
            ops.logical_and(a > 0, b > 0)]
    return K.Model([a, b], outs)


def several_outputs(K):
    ops = K.ops
    a = K.Input((6,), name="a")
    s0, s1 = ops.split(a, 2, axis=1)
    u = ops.unstack(ops.reshape(a, (-1, 2, 3)), axis=1)
    values, _ = ops.top_k(a, 2)
    q = ops.reshape(a, (-1, 3, 1, 2))
    return K.Model(a, [s0, s1 * 3.0, u[0] + u[1], values, ops.nn.dot_product_attention(q, q, q)])


def convolutional(K):
    ops = K.ops
    i = K.Input((8, 8, 3), name="image")
    x = K.layers.Conv2D(4, 3, padding="same", name="conv")(i)
    y = ops.transpose(x, (0, 3, 1, 2))  # channels first and back, as converted models do
    y = ops.transpose(ops.nn.gelu(y), (0, 2, 3, 1))
    pooled = ops.nn.average_pool(y, 2, strides=2, padding="valid")
    g = ops.mean(pooled, axis=(1, 2))
    return K.Model(i, [K.layers.Dense(2, name="head")(g), ops.nn.max_pool(x + y, 2)])


def images(K):
    ops = K.ops
    i = K.Input((8, 8, 3), name="image")
    x = K.layers.Conv2D(3, 1, name="conv")(i)
    small = ops.image.resize(x, (4, 4))
    return K.Model(i, [small, ops.image.resize(i, (5, 6), interpolation="nearest"), ops.image.rgb_to_grayscale(x),
                       ops.image.pad_images(small, 1, 2, 0, 1), ops.image.crop_images(x, 1, 2, 3, 0),
                       ops.image.rgb_to_hsv(ops.sigmoid(x)), ops.image.gaussian_blur(x)])


MODELS = [arithmetic, activations_and_reductions, several_outputs, convolutional, images]


def inputs_for(model, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=(3,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]
    return arrays if len(arrays) > 1 else arrays[0]


def outputs(values):
    return [np.asarray(keras.ops.convert_to_numpy(v), np.float64) for v in keras.tree.flatten(values)]


def assert_close(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def op_entries(path):
    """The op nodes of a file's top-level model, without the names each library numbers its own way."""
    def strip(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                return ["tensor", value["config"]["shape"], value["config"]["dtype"]]
            return {k: strip(v) for k, v in value.items() if k != "name"}
        return [strip(v) for v in value] if isinstance(value, list) else value
    with zipfile.ZipFile(path) as zf:
        layers = json.loads(zf.read("config.json"))["config"]["layers"]
    return sorted(json.dumps(strip(e), sort_keys=True) for e in layers
                  if e["module"].startswith("keras.src.") or e["class_name"] == "SymbolicOp")


@pytest.mark.parametrize("build", MODELS, ids=lambda f: f.__name__)
def test_keras_files_with_ops_load_in_deepgrad(build, tmp_path):
    km = build(keras)
    path = str(tmp_path / "k.keras")
    km.save(path)
    x = inputs_for(km)
    loaded = dg.models.load_model(path)
    assert sum(type(l).__name__ == "SymbolicOp" for l in loaded.operations) >= 4
    assert_close([np.asarray(v, np.float64) for v in keras.tree.flatten(loaded.predict(x, verbose=0))],
                 outputs(km(x)))


@pytest.mark.parametrize("build", MODELS, ids=lambda f: f.__name__)
def test_deepgrad_files_with_ops_load_in_keras_as_keras_writes_them(build, tmp_path):
    dm, km = build(dg), build(keras)
    dm.set_weights(km.get_weights()) if km.get_weights() else None
    ours, theirs = str(tmp_path / "d.keras"), str(tmp_path / "k.keras")
    dm.save(ours)
    km.save(theirs)
    x = inputs_for(km, seed=1)
    loaded = keras.saving.load_model(ours)
    expected = [np.asarray(v, np.float64) for v in keras.tree.flatten(dm.predict(x, verbose=0))]
    assert_close(outputs(loaded(x)), expected)
    assert_close(outputs(km(x)), expected)
    assert op_entries(ours) == op_entries(theirs)


def test_ops_keras_has_no_class_for_keep_deepgrads_form(tmp_path):
    a = dg.Input((5,))
    model = dg.Model(a, [dg.ops.std(a, axis=-1, ddof=1), dg.ops.true_divide(a, 2.0)])
    path = str(tmp_path / "m.keras")
    model.save(path)
    entries = [json.loads(e) for e in op_entries(path)]
    assert {e["class_name"] for e in entries} == {"SymbolicOp", "TrueDivide"}  # Keras's std has no ddof
    x = inputs_for(model)
    np.testing.assert_allclose(np.std(x, axis=-1, ddof=1), dg.models.load_model(path).predict(x, verbose=0)[0],
                               rtol=1e-5)


@pytest.mark.parametrize("kwargs,expected", [({}, lambda x: np.maximum(x, 0)),
                                             ({"negative_slope": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x)),
                                             ({"max_value": 6.0}, lambda x: np.clip(x, 0, 6))])
def test_kerass_activation_ops_load(kwargs, expected, tmp_path):
    """``keras.activations.relu`` on a symbolic tensor records ``keras.src.activations.activations.ReLU``."""
    i = keras.Input((4,))
    path = str(tmp_path / "relu.keras")
    keras.Model(i, keras.activations.relu(i, **kwargs) * 1.0).save(path)
    x = np.array([[-3.0, -0.5, 2.0, 9.0]], "float32")
    np.testing.assert_allclose(dg.models.load_model(path).predict(x, verbose=0), expected(x), rtol=1e-6)


# ------------------------------------------------------------------ the table against Keras itself
def test_op_table_matches_kerass_classes_and_functions():
    assert len(OPS) > 300
    for (module, class_name), spec in OPS.items():
        cls = getattr(importlib.import_module(module), class_name)
        init = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "name", "kwargs")]
        assert init == spec.init, class_name
        function = getattr(importlib.import_module(module), spec.op.rpartition(".")[2])  # beside its class
        named = [n for n, p in inspect.signature(function).parameters.items() if p.kind is not p.VAR_KEYWORD]
        assert sorted(named) == sorted(spec.params), spec.op
        ours = inspect.signature(_find_op(spec.op)).parameters
        assert set(spec.params) <= set(ours), spec.op
    for alias, name in ALIASES.items():
        assert len(inspect.signature(getattr(dg.ops, alias)).parameters) == \
            len(inspect.signature(getattr(dg.ops, name)).parameters), alias


# ------------------------------------------------------------------ refused
def keras_file_with(tmp_path, change):
    i = keras.Input((4,), name="i")
    path = str(tmp_path / "m.keras")
    keras.Model(i, keras.ops.mean(i * 2.0, axis=-1)).save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    change({e["class_name"]: e for e in config["config"]["layers"]})
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_unknown_op_classes_are_refused(tmp_path):
    def rename(entries):
        entries["Mean"]["class_name"] = entries["Mean"]["registered_name"] = "Nonsense"
    with pytest.raises(ValueError, match="unknown op class 'Nonsense'"):
        dg.models.load_model(keras_file_with(tmp_path, rename))

    def move(entries):  # a known class under the wrong module is not that class
        entries["Multiply"]["module"] = "keras.src.ops.core"
    with pytest.raises(ValueError, match="keras.src.ops.core.Multiply"):
        dg.models.load_model(keras_file_with(tmp_path, move))


@pytest.mark.parametrize("change,message", [
    (lambda e: e["Mean"]["config"].update(code="print(1)"), "unexpected config key"),
    (lambda e: e["Multiply"]["inbound_nodes"][0]["args"].__setitem__(
        1, {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": None}),
     "not a tensor or a plain value"),
    (lambda e: e["Multiply"]["inbound_nodes"][0]["args"].__setitem__(
        1, {"class_name": "__numpy__", "config": {"value": ["x"], "dtype": "object"}}), "numbers only"),
    (lambda e: e["Multiply"]["inbound_nodes"].append(e["Multiply"]["inbound_nodes"][0]), "called exactly once"),
    (lambda e: e["Mean"]["inbound_nodes"][0]["args"].append(3), "2 call arguments"),
])
def test_malformed_op_nodes_are_refused(tmp_path, change, message):
    with pytest.raises(UnsafeFileError, match=message):
        dg.models.load_model(keras_file_with(tmp_path, change))
