"""Hostile or broken files are refused with a clear error, and nothing in them is executed."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, models
from deepgrad.saving import UnsafeFileError

EXECUTED = []


class Payload:
    """Unpickling this would append to EXECUTED: the tests check that never happens."""

    def __reduce__(self):
        return (EXECUTED.append, ("pwned",))


@pytest.fixture
def model():
    dg.backend.seed(0)
    return models.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])


@pytest.fixture
def good_file(tmp_path, model):
    path = tmp_path / "good.deepgrad"
    model.save(path)
    return path


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_pickle_is_refused_without_running_it(tmp_path, model):
    for name in ("model.deepgrad", "w.weights.npz"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(Payload()))
        with pytest.raises(UnsafeFileError, match="pickle"):
            models.load_model(path) if name.endswith(".deepgrad") else model.load_weights(path)
    assert EXECUTED == []


def test_npz_with_an_object_array_is_refused(tmp_path, model):
    path = tmp_path / "w.weights.npz"
    np.savez(path, **{"0/dense/kernel": np.array([Payload()], dtype=object)})
    with pytest.raises(UnsafeFileError, match="pickled"):
        model.load_weights(path)
    assert EXECUTED == []


def test_bare_npy_is_refused(tmp_path):
    path = tmp_path / "x.deepgrad"
    np.save(path.with_suffix(".npy"), np.zeros(3))
    os.replace(path.with_suffix(".npy"), path)
    with pytest.raises(UnsafeFileError, match="bare .npy"):
        models.load_model(path)


@pytest.mark.parametrize("evil", ["../evil", "/etc/evil", "a/../../evil", "C:\\evil"])
def test_path_traversal_names_are_refused(tmp_path, good_file, evil):
    members = members_of(good_file)
    members[evil] = b"x"
    path = write_zip(tmp_path / "evil.deepgrad", members)
    with pytest.raises(UnsafeFileError, match="path traversal"):
        models.load_model(path)
    assert not (tmp_path.parent / "evil").exists()


def test_unexpected_member_is_refused(tmp_path, good_file):
    members = members_of(good_file)
    members["run_me.py"] = b"print('hi')"
    with pytest.raises(UnsafeFileError, match="unexpected member 'run_me.py'"):
        models.load_model(write_zip(tmp_path / "x.deepgrad", members))


def test_truncated_archive_is_refused(tmp_path, good_file):
    data = good_file.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        path = tmp_path / f"cut{cut}.deepgrad"
        path.write_bytes(data[:cut])
        with pytest.raises(UnsafeFileError, match="truncated or corrupt"):
            models.load_model(path)


def test_zip_bomb_is_refused_before_decompressing(tmp_path, good_file):
    members = members_of(good_file)
    members["model.weights.safetensors"] = b"\0" * (64 * 1024 * 1024)
    path = write_zip(tmp_path / "bomb.deepgrad", members, compression=zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 1024 * 1024
    with pytest.raises(UnsafeFileError, match="zip bomb"):
        models.load_model(path)


def test_safetensors_header_claiming_huge_tensor_is_refused(tmp_path, good_file):
    members = members_of(good_file)
    header = json.dumps({"0/dense/kernel": {"dtype": "F32", "shape": [10 ** 6, 10 ** 6],
                                            "data_offsets": [0, 4 * 10 ** 12]}}).encode()
    members["model.weights.safetensors"] = len(header).to_bytes(8, "little") + header
    with pytest.raises(UnsafeFileError, match="not a valid safetensors file"):
        models.load_model(write_zip(tmp_path / "huge.deepgrad", members))


def config_with(good_file, edit):
    members = members_of(good_file)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return members


def test_unknown_layer_class_is_named(tmp_path, good_file):
    def edit(config):
        config["config"]["layers"][-1]["class_name"] = "SuperDense"

    path = write_zip(tmp_path / "x.deepgrad", config_with(good_file, edit))
    with pytest.raises(ValueError, match="SuperDense"):
        models.load_model(path)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["config"]["layers"][-1].update(class_name="os.system"), "not a plain class name"),
    (lambda c: c["config"]["layers"][-1].update(class_name="__import__"), "not a plain class name"),
    (lambda c: c["config"]["layers"][-1].update(module="subprocess"), "'module'"),
    (lambda c: c["config"]["layers"][-1]["config"].update(
        activation={"class_name": "__lambda__", "config": {"code": "x"}}), "not a plain class name"),
    (lambda c: c["config"]["layers"][-1]["config"].update(function_type="lambda"), "'function_type'"),
    (lambda c: c.update(format_version=99), "format_version"),
])
def test_smuggled_modules_and_code_are_refused(tmp_path, good_file, edit, message):
    path = write_zip(tmp_path / "x.deepgrad", config_with(good_file, edit))
    with pytest.raises(UnsafeFileError, match=message):
        models.load_model(path)


def test_custom_class_loads_only_through_custom_objects(tmp_path):
    # a name no other test registers: a class registered as "package>Name" is also found by
    # its bare name when it is the only one of that name
    class UnregisteredScale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = models.Sequential([layers.Input(shape=(2,)), UnregisteredScale(3.0)])
    path = tmp_path / "custom.deepgrad"
    model.save(path)
    with pytest.raises(ValueError, match="UnregisteredScale"):
        models.load_model(path)
    loaded = models.load_model(path, custom_objects={"UnregisteredScale": UnregisteredScale})
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 2), np.float32), verbose=0), [[3.0, 3.0]])
