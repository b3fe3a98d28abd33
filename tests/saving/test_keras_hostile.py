"""Hostile Keras files (``.keras``, ``.weights.h5``, legacy ``.h5``) are refused with a clear
error: no code runs, nothing is written, nothing large is allocated."""
import base64
import io
import json
import marshal
import os
import pickle
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, models
from deepgrad.saving import UnsafeFileError

EXECUTED = []


def run_payload():
    EXECUTED.append("pwned")


class Payload:
    def __reduce__(self):
        return (EXECUTED.append, ("pwned",))


@pytest.fixture(autouse=True)
def nothing_ran():
    EXECUTED.clear()
    yield
    assert EXECUTED == []


def h5_bytes(build) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        build(f)
    return buffer.getvalue()


def dense_weights(f, units=2, features=3):
    g = f.create_group("layers/dense/vars")
    g.attrs["name"] = "dense"
    g["0"] = np.ones((features, units), "float32")
    g["1"] = np.zeros(units, "float32")
    f.create_group("vars").attrs["name"] = "sequential"


def dense_config(units=2, features=3, extra_layer=None):
    layer_list = [{"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": [None, features], "dtype": "float32", "name": "input_layer"},
                   "registered_name": None},
                  {"module": "keras.layers", "class_name": "Dense",
                   "config": {"name": "dense", "units": units, "activation": "linear"}, "registered_name": None}]
    if extra_layer is not None:
        layer_list.append(extra_layer)
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": layer_list},
            "registered_name": None}


def write_keras(path, config=None, weights=None, extra=None):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "x"}))
        zf.writestr("config.json", config if isinstance(config, (bytes, str)) else json.dumps(config or dense_config()))
        zf.writestr("model.weights.h5", weights if weights is not None else h5_bytes(dense_weights))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def refused(tmp_path, load, match):
    """``load()`` raises a ValueError matching ``match`` and leaves the folder as it was."""
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ValueError, match=match):
        load()
    assert sorted(os.listdir(tmp_path)) == before


def test_a_well_formed_minimal_file_loads(tmp_path):
    model = models.load_model(write_keras(tmp_path / "ok.keras"))
    np.testing.assert_array_equal(model.predict(np.ones((1, 3), "float32"), verbose=0), [[3.0, 3.0]])


def test_pickles_are_refused(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(pickle.dumps(Payload()))
    refused(tmp_path, lambda: models.load_model(path), "pickle")
    write_keras(tmp_path / "extra.keras", extra={"model.pkl": pickle.dumps(Payload())})
    refused(tmp_path, lambda: models.load_model(tmp_path / "extra.keras"), "unexpected member 'model.pkl'")
    write_keras(tmp_path / "w.keras", weights=pickle.dumps(Payload()))
    refused(tmp_path, lambda: models.load_model(tmp_path / "w.keras"), "not an HDF5 file")


def test_a_member_that_claims_to_be_hdf5_and_is_not(tmp_path):
    fake = b"\x89HDF\r\n\x1a\n" + b"\x00" * 200
    write_keras(tmp_path / "m.keras", weights=fake)
    refused(tmp_path, lambda: models.load_model(tmp_path / "m.keras"), "corrupt HDF5")
    (tmp_path / "w.weights.h5").write_bytes(b"PK\x03\x04 not hdf5 either")
    model = dg.Sequential([layers.Input((3,)), layers.Dense(2)])
    refused(tmp_path, lambda: model.load_weights(tmp_path / "w.weights.h5"), "zip")


def test_config_and_metadata_must_be_json_objects(tmp_path):
    write_keras(tmp_path / "a.keras", config=b"[1, 2, 3]")
    refused(tmp_path, lambda: models.load_model(tmp_path / "a.keras"), "JSON object")
    write_keras(tmp_path / "b.keras", config=b"{not json")
    refused(tmp_path, lambda: models.load_model(tmp_path / "b.keras"), "not valid JSON")
    write_keras(tmp_path / "c.keras", extra={})
    with zipfile.ZipFile(tmp_path / "d.keras", "w") as zf:
        zf.writestr("config.json", json.dumps(dense_config()))
        zf.writestr("metadata.json", "\"a string\"")
        zf.writestr("model.weights.h5", h5_bytes(dense_weights))
    refused(tmp_path, lambda: models.load_model(tmp_path / "d.keras"), "JSON object")


def test_path_traversal_members_are_refused(tmp_path):
    for i, name in enumerate(["../evil.txt", "/abs/evil.txt", "assets/../../evil.txt"]):
        path = write_keras(tmp_path / f"t{i}.keras", extra={name: b"x"})
        refused(tmp_path, lambda: models.load_model(path), "path traversal")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_truncated_zip(tmp_path):
    good = write_keras(tmp_path / "good.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(good[: len(good) // 2])
    refused(tmp_path, lambda: models.load_model(tmp_path / "cut.keras"), "truncated or corrupt")


def test_lambda_with_code_never_runs(tmp_path):
    code = base64.b64encode(marshal.dumps(run_payload.__code__)).decode("ascii")
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
           "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                     "config": {"code": code, "defaults": None, "closure": None}}}}
    path = write_keras(tmp_path / "lam.keras", config=dense_config(extra_layer=lam))
    refused(tmp_path, lambda: models.load_model(path), "serialized Python code")
    refused(tmp_path, lambda: models.load_model(path, safe_mode=False), "serialized Python code")


def test_lambda_with_a_named_function_loads_only_with_that_function(tmp_path):
    def doubled(x):
        return x * 2.0

    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
           "config": {"name": "lambda", "function": {"module": "builtins", "class_name": "function",
                                                     "config": "doubled", "registered_name": "function"}}}
    path = write_keras(tmp_path / "lam.keras", config=dense_config(extra_layer=lam))
    refused(tmp_path, lambda: models.load_model(path), "'doubled' is neither in custom_objects.*safe_mode=False")
    refused(tmp_path, lambda: models.load_model(path, safe_mode=False), "neither in custom_objects")
    model = models.load_model(path, custom_objects={"doubled": doubled})
    np.testing.assert_array_equal(model.predict(np.ones((1, 3), "float32"), verbose=0), [[6.0, 6.0]])


def test_unknown_classes_and_functions_are_refused_before_building(tmp_path):
    evil = {"module": "os", "class_name": "system", "config": {"command": "touch pwned"}, "registered_name": None}
    path = write_keras(tmp_path / "u.keras", config=dense_config(extra_layer=evil))
    refused(tmp_path, lambda: models.load_model(path), r"unknown class\(es\) \['system'\]")
    config = dense_config()
    config["config"]["layers"][1]["config"]["activation"] = {"module": "os", "class_name": "function",
                                                             "config": "system", "registered_name": "function"}
    path = write_keras(tmp_path / "f.keras", config=config)
    refused(tmp_path, lambda: models.load_model(path), "function 'system' is neither")
    assert not (tmp_path / "pwned").exists()


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except ValueError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_huge_declared_layer_is_refused_before_allocating(tmp_path):
    path = write_keras(tmp_path / "huge.keras", config=dense_config(units=200_000_000))
    assert path.stat().st_size < 4096
    refused(tmp_path, lambda: models.load_model(path), r"layer 'dense' weight 'kernel' of shape \(3, 200000000\)")
    assert peak_bytes(lambda: models.load_model(path)) < 20 * 1024 ** 2


def test_huge_build_shape_is_refused_before_allocating(tmp_path):
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "build_config": {"input_shape": [None, 300_000_000]},
              "config": {"name": "sequential", "layers": [
                  {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 2},
                   "registered_name": None}]}}
    path = write_keras(tmp_path / "build.keras", config=config)
    refused(tmp_path, lambda: models.load_model(path), "build input")
    assert peak_bytes(lambda: models.load_model(path)) < 20 * 1024 ** 2


def test_the_same_guard_holds_for_deepgrad_files(tmp_path):
    dg.Sequential([layers.Input((3,)), layers.Dense(2)]).save(tmp_path / "small.deepgrad")
    with zipfile.ZipFile(tmp_path / "small.deepgrad") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["units"] = 200_000_000
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "huge.deepgrad", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    refused(tmp_path, lambda: models.load_model(tmp_path / "huge.deepgrad"), r"shape \(3, 200000000\)")
    assert peak_bytes(lambda: models.load_model(tmp_path / "huge.deepgrad")) < 20 * 1024 ** 2


@pytest.mark.parametrize("build, match", [
    (lambda f: (dense_weights(f), f.__setitem__("layers/dense/vars/2", h5py.ExternalLink("/etc/passwd", "/x"))),
     "external link"),
    (lambda f: (dense_weights(f), f.__setitem__("layers/dense/vars/2", h5py.SoftLink("/layers/dense/vars/0"))),
     "soft link"),
    (lambda f: (dense_weights(f), f.create_dataset("layers/dense/vars/2", data=np.zeros(2, [("a", "f4"), ("b", "i4")]))),
     "only numeric arrays"),
    (lambda f: (dense_weights(f), f.create_dataset("layers/dense/vars/2", data=["a", "b"],
                                                    dtype=h5py.string_dtype())), "only numeric arrays"),
    (lambda f: (dense_weights(f), f.create_dataset("layers/dense/vars/2", data=[f["vars"].ref],
                                                    dtype=h5py.ref_dtype)), "only numeric arrays"),
    (lambda f: (dense_weights(f), f.create_dataset("layers/dense/vars/2", shape=(10 ** 9,), dtype="f4")),
     "refusing to allocate"),
    (lambda f: (dense_weights(f), f["layers/dense/vars"].attrs.__setitem__("r", f["vars"].ref)), "only numbers"),
])
def test_hostile_hdf5_objects(tmp_path, build, match):
    data = h5_bytes(build)
    write_keras(tmp_path / "m.keras", weights=data)
    refused(tmp_path, lambda: models.load_model(tmp_path / "m.keras"), match)
    (tmp_path / "w.weights.h5").write_bytes(data)
    model = dg.Sequential([layers.Input((3,)), layers.Dense(2)])
    refused(tmp_path, lambda: model.load_weights(tmp_path / "w.weights.h5"), match)
    (tmp_path / "m.h5").write_bytes(data)
    refused(tmp_path, lambda: models.load_model(tmp_path / "m.h5"), match)


def test_virtual_dataset_is_refused(tmp_path):
    def build(f):
        dense_weights(f)
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource("other.h5", "data", shape=(4,))
        f["layers/dense/vars"].create_virtual_dataset("2", layout)
    (tmp_path / "w.weights.h5").write_bytes(h5_bytes(build))
    model = dg.Sequential([layers.Input((3,)), layers.Dense(2)])
    refused(tmp_path, lambda: model.load_weights(tmp_path / "w.weights.h5"), "virtual dataset")


def test_weights_the_model_lacks_are_refused(tmp_path):
    def build(f):
        dense_weights(f)
        f["layers/other/vars/0"] = np.ones(3, "float32")
    (tmp_path / "w.weights.h5").write_bytes(h5_bytes(build))
    model = dg.Sequential([layers.Input((3,)), layers.Dense(2)])
    before = model.get_weights()
    refused(tmp_path, lambda: model.load_weights(tmp_path / "w.weights.h5"), "layers/other/vars")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_with_a_huge_layer_is_refused_before_allocating(tmp_path):
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "in"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 200_000_000}}]}}

    def build(f):
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"dense"]
        g.create_group("dense").attrs["weight_names"] = np.array([], dtype="S1")
    (tmp_path / "m.h5").write_bytes(h5_bytes(build))
    refused(tmp_path, lambda: models.load_model(tmp_path / "m.h5"), r"shape \(3, 200000000\)")
    assert peak_bytes(lambda: models.load_model(tmp_path / "m.h5")) < 20 * 1024 ** 2


def test_unknown_optimizer_in_compile_config_is_refused_before_building(tmp_path):
    config = dense_config()
    config["compile_config"] = {"optimizer": {"module": "evil", "class_name": "Backdoor", "config": {},
                                              "registered_name": None}, "loss": "mse"}
    path = write_keras(tmp_path / "c.keras", config=config)
    refused(tmp_path, lambda: models.load_model(path), r"unknown class\(es\) \['Backdoor'\]")


def test_a_config_nested_too_deeply_is_refused(tmp_path):
    config = dense_config()
    deep = {"class_name": "Zeros", "config": {}}
    for _ in range(450):
        deep = {"class_name": "Zeros", "config": {"x": deep}}
    config["config"]["layers"][1]["config"]["kernel_initializer"] = deep
    path = write_keras(tmp_path / "deep.keras", config=json.dumps(config))
    refused(tmp_path, lambda: models.load_model(path), "nested too deeply|not valid JSON")
