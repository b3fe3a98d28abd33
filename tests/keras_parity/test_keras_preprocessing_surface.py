"""Every public name of ``keras.preprocessing`` (and its submodules) exists in ``deepgrad.preprocessing``
with Keras's parameter names, order and defaults."""
import pytest

from surface import cases, run

NOT_YET = {}  # name -> why deepgrad does not have it yet

CASES = cases("preprocessing")


@pytest.mark.parametrize("namespace,name", CASES, ids=[f"{s}.{n}" for s, n in CASES])
def test_name_exists_with_kerass_parameters(namespace, name):
    run(namespace, name, NOT_YET)


@pytest.mark.parametrize("shape,size,data_format", [((20, 30, 3), (10, 10), "channels_last"),
                                                     ((2, 17, 9, 1), (8, 12), "channels_last"),
                                                     ((5, 40, 3), (9, 4), "channels_last"),
                                                     ((3, 20, 30), (10, 10), "channels_first")])
def test_smart_resize_matches_keras(shape, size, data_format):
    import keras
    import numpy as np

    import deepgrad as dg
    x = np.random.default_rng(0).random(shape).astype("float32")
    ours = dg.preprocessing.image.smart_resize(x, size, data_format=data_format)
    theirs = np.asarray(keras.preprocessing.image.smart_resize(x, size, data_format=data_format))
    assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
