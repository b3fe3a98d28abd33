"""deepgrad.config: the switches and caps, and what fit does with them."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import backend, config


@pytest.fixture
def restore():
    saved = dict(config._settings), backend.image_data_format(), backend.epsilon()
    yield
    config._settings.clear()
    config._settings.update(saved[0])
    backend.set_image_data_format(saved[1])
    backend.set_epsilon(saved[2])


def _model():
    dg.utils.set_random_seed(0)
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def test_fit_honours_max_epochs_and_max_steps_per_epoch(restore):
    config.set_max_epochs(2)
    config.set_max_steps_per_epoch(3)
    assert (config.max_epochs(), config.max_steps_per_epoch()) == (2, 3)
    model = _model()
    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        history = model.fit(*_data(), batch_size=5, epochs=10, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 3  # 8 batches an epoch, capped at 3
    x, y = _data()
    assert model.predict(x, batch_size=5, verbose=0).shape == (15, 1)  # 3 batches of 5, as Keras does
    config.set_max_steps_per_epoch(1)
    loss = model.evaluate(x, y, batch_size=5, verbose=0)
    np.testing.assert_allclose(loss, model.evaluate(x[:5], y[:5], batch_size=5, verbose=0), rtol=1e-6)


def test_fit_prints_one_plain_line_per_epoch_when_not_a_terminal(capsys):
    model = _model()
    model.fit(*_data(), batch_size=5, epochs=3, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    bars = [line for line in lines if not line.startswith("Epoch")]
    assert len(bars) == 3 and all(line.startswith("8/8 [=") and "loss:" in line for line in bars)


def test_settings_round_trip(restore):
    assert config.backend() == "numpy"
    config.set_backend("numpy")
    with pytest.raises(ValueError, match="NumPy only.*'jax'"):
        config.set_backend("jax")
    config.set_image_data_format("channels_first")
    assert config.image_data_format() == "channels_first"
    with pytest.raises(ValueError, match="image_data_format"):
        config.set_image_data_format("nhwc")
    config.set_epsilon(1e-5)
    assert dg.backend.epsilon() == config.epsilon() == 1e-5
    assert config.is_flash_attention_enabled() is None
    config.disable_flash_attention()
    assert config.is_flash_attention_enabled() is False
    config.enable_flash_attention()
    assert config.is_flash_attention_enabled() is None
    assert config.is_traceback_filtering_enabled()
    config.disable_traceback_filtering()
    assert not config.is_traceback_filtering_enabled()
    config.enable_unsafe_deserialization()
    assert config.is_unsafe_deserialization_enabled()
    assert config.is_nnx_enabled() is False
    assert config.dtype_policy().name == "float32"
