"""The activations and the STFT initializer added for Keras 3 parity give Keras's values."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy

ACTIVATIONS = [
    ("celu", {}), ("celu", dict(alpha=0.5)), ("glu", {}), ("glu", dict(axis=0)), ("hard_shrink", {}),
    ("hard_shrink", dict(threshold=1.5)), ("hard_tanh", {}), ("soft_shrink", {}), ("soft_shrink", dict(threshold=1.0)),
    ("sparse_plus", {}), ("sparse_sigmoid", {}), ("squareplus", {}), ("squareplus", dict(b=1)), ("tanh_shrink", {}),
    ("threshold", dict(threshold=0.3, default_value=-2.0)),
]


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTIVATIONS)])
def test_activation_values(name, kwargs):
    x = np.random.default_rng(0).normal(0, 2, (4, 6)).astype("float32")
    np.testing.assert_allclose(dg.activations.get(name)(x, **kwargs).data,
                               to_numpy(keras.activations.get(name)(x, **kwargs)), rtol=1e-6, atol=1e-6)
    assert keras.activations.serialize(keras.activations.get(name)) == dg.activations.serialize(
        dg.activations.get(name))


def test_sparsemax_where_keras_torch_agrees():
    """Keras's torch sparsemax sums the cumulative sums of the whole support when finding tau
    (wrong once the support has two or more entries), so it is compared on rows with one."""
    x = np.array([[0.1, 3.0, -1.0, 0.5], [2.0, -2.0, 0.0, 0.7]], "float32")
    np.testing.assert_allclose(dg.activations.sparsemax(x).data, to_numpy(keras.activations.sparsemax(x)), atol=1e-7)


STFT = [{}, dict(side="imag"), dict(window="hamming", periodic=True), dict(window="blackman", scaling="spectrum"),
        dict(window="bartlett"), dict(window="triang", periodic=True), dict(window=None),
        dict(window="boxcar", scaling=None), dict(window=list(np.linspace(0.1, 1.0, 16)))]


@pytest.mark.parametrize("kwargs", STFT, ids=[str(k)[:40] for k in STFT])
def test_stft_initializer(kwargs):
    for shape in [(16, 1, 9), (16, 1, 17)] if not isinstance(kwargs.get("window"), list) else [(16, 1, 9)]:
        ours = dg.initializers.STFT(**kwargs)(shape)
        theirs = to_numpy(keras.initializers.STFT(**kwargs)(shape))
        assert ours.dtype == np.float32 and ours.shape == shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6)


def test_stft_names_config_and_errors():
    assert dg.initializers.STFTInitializer is dg.initializers.STFT is dg.initializers.stft
    init = dg.initializers.get({"class_name": "STFTInitializer", "config": dict(side="imag", window="hann")})
    assert isinstance(init, dg.initializers.STFT) and init.side == "imag"
    config = dg.initializers.serialize(dg.initializers.STFT(window="hamming", periodic=True))
    assert config["config"] == keras.initializers.STFT(window="hamming", periodic=True).get_config()
    assert dg.initializers.deserialize(config).periodic is True
    with pytest.raises(ValueError, match="side"):
        dg.initializers.STFT(side="both")
    with pytest.raises(ValueError, match="scaling"):
        dg.initializers.STFT(scaling="energy")
    with pytest.raises(ValueError, match="window must have shape"):
        dg.initializers.STFT(window=[1.0, 2.0])((16, 1, 9))
