"""Every public name of ``keras.distribution`` is in ``deepgrad.distribution``, with Keras's
parameters, their order and their defaults; the objects Keras's torch backend can build
(meshes, layouts, layout maps) behave as Keras's do. (``DataParallel`` and ``list_devices``
need Keras's JAX backend, so they are tested in tests/distributed against one process.)"""
import keras
import numpy as np
import pytest

import deepgrad.distribution as dd
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.distribution))
def test_name_and_signature(name):
    check_same_surface("distribution", keras.distribution, dd, name)


@pytest.mark.parametrize("lib", [keras.distribution, dd], ids=["keras", "deepgrad"])
def test_mesh_and_layout_map_as_keras(lib):
    mesh = lib.DeviceMesh((1,), ["batch"], devices=["cpu:0"])
    assert mesh.shape == (1,) and mesh.axis_names == ["batch"] and np.asarray(mesh.devices).tolist() == ["cpu:0"]
    layout_map = lib.LayoutMap(mesh)
    layout_map["dense.*kernel"] = (None, "batch")
    layout_map["bias"] = ("batch",)
    # keys are matched against the whole path
    found = {k: getattr(layout_map[k], "axes", None) for k in ["dense/kernel", "dense_1/kernel", "bias", "d/bias", "x"]}
    assert found == {"dense/kernel": (None, "batch"), "dense_1/kernel": (None, "batch"), "bias": ("batch",),
                     "d/bias": None, "x": None}
    with pytest.raises(ValueError):
        lib.DeviceMesh((2,), ["batch"], devices=["cpu:0"])
