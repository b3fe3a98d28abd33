"""utils.Config, utils.legacy, the interactive-logging switches and audio_dataset_from_directory
(WAV files the tests write with the standard library's ``wave``)."""
import wave

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import utils


def test_config_attribute_and_item_access_and_freezing():
    config = utils.Config(learning_rate=0.1, epochs=3)
    config.batch_size = 32
    config["seed"] = 7
    assert (config.learning_rate, config["batch_size"], config.get("missing", 5)) == (0.1, 32, 5)
    assert list(config) == ["batch_size", "epochs", "learning_rate", "seed"] and len(config) == 4
    assert "seed" in config and config.as_dict() == dict(config.items())
    assert config.to_json() == '{"learning_rate": 0.1, "epochs": 3, "batch_size": 32, "seed": 7}'
    with pytest.raises(AttributeError, match="Did you mean 'epochs'"):
        config.epoch
    config.freeze()
    assert config.frozen
    for change in (lambda: setattr(config, "epochs", 4), lambda: config.update(a=1), lambda: config.pop("seed"),
                   lambda: config.__setitem__("x", 1), lambda: config.__delitem__("seed")):
        with pytest.raises(ValueError, match="frozen"):
            change()
    config.unfreeze()
    config.epochs = 4
    assert config.epochs == 4


def test_legacy_serialization_round_trip():
    layer = dg.layers.Dense(3, activation="relu", name="d")
    config = utils.legacy.serialize_keras_object(layer)
    assert config["class_name"] == "Dense" and "module" not in config
    assert config["config"]["kernel_initializer"] == {"class_name": "GlorotUniform",
                                                      "config": {"seed": None, "input_axes": None,
                                                                 "output_axes": None}}
    clone = utils.legacy.deserialize_keras_object(config, module_objects={"Dense": dg.layers.Dense})
    assert isinstance(clone, dg.layers.Dense) and clone.units == 3 and clone.name == "d"
    assert utils.legacy.serialize_keras_object(None) is None


def test_interactive_logging_switches_are_shared_with_config():
    assert utils.is_interactive_logging_enabled()
    utils.disable_interactive_logging()
    try:
        assert not dg.config.is_interactive_logging_enabled()
    finally:
        utils.enable_interactive_logging()
    assert dg.config.is_interactive_logging_enabled()


def write_wav(path, samples, rate=8000, width=2):
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        if width == 1:
            f.writeframes((samples + 128).astype(np.uint8).tobytes())
        elif width == 2:
            f.writeframes(samples.astype("<i2").tobytes())
        elif width == 3:
            b = samples.astype("<i4").reshape(-1, 1).view(np.uint8)[:, :3]
            f.writeframes(b.tobytes())
        else:
            f.writeframes(samples.astype("<i4").tobytes())


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_scales_every_pcm_width(tmp_path, width):
    from deepgrad.preprocessing.audio_dataset import read_wav
    top = 1 << (8 * width - 1)
    values = np.array([[-top, 0], [top - 1, top // 2], [1, -1]])
    write_wav(tmp_path / "a.wav", values, rate=16000, width=width)
    audio, rate = read_wav(str(tmp_path / "a.wav"))
    assert rate == 16000 and audio.dtype == np.float32 and audio.shape == (3, 2)
    np.testing.assert_allclose(audio, values / top, rtol=0, atol=1e-7)


@pytest.fixture
def sounds(tmp_path):
    rng = np.random.default_rng(0)
    lengths = {}
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(5):
            n = int(rng.integers(5, 20))
            write_wav(tmp_path / label / f"{i}.wav", rng.integers(-3000, 3000, n))
            lengths[f"{label}/{i}.wav"] = n
    return tmp_path, lengths


def test_audio_dataset_pads_each_batch_to_its_longest_clip(sounds):
    root, lengths = sounds
    data = utils.audio_dataset_from_directory(root, batch_size=4, shuffle=False, verbose=False)
    assert data.class_names == ["cat", "dog"] and len(data) == 3
    names = ["/".join(p.split("/")[-2:]) for p in data.file_paths]
    assert names == [f"{c}/{i}.wav" for c in ("cat", "dog") for i in range(5)]
    for b in range(3):
        x, y = data[b]
        batch_names = names[4 * b:4 * b + 4]
        assert x.shape == (len(batch_names), max(lengths[n] for n in batch_names), 1) and x.dtype == np.float32
        np.testing.assert_array_equal(y, [0 if n.startswith("cat") else 1 for n in batch_names])
        for row, name in zip(x, batch_names):  # zeros after each clip's end
            assert not row[lengths[name]:].any()
    from deepgrad.preprocessing.audio_dataset import read_wav
    first, _ = read_wav(data.file_paths[0])
    np.testing.assert_array_equal(data[0][0][0, :len(first)], first)


def test_audio_dataset_fixed_length_ragged_and_split(sounds):
    root, lengths = sounds
    fixed = utils.audio_dataset_from_directory(root, batch_size=3, output_sequence_length=10, seed=1,
                                               label_mode="categorical", verbose=False)
    x, y = fixed[0]
    assert x.shape == (3, 10, 1) and y.shape == (3, 2)
    ragged = utils.audio_dataset_from_directory(root, batch_size=3, ragged=True, shuffle=False, verbose=False)
    clips, _ = ragged[0]
    assert [len(c) for c in clips] == [lengths[f"cat/{i}.wav"] for i in range(3)]
    train, val = utils.audio_dataset_from_directory(root, batch_size=2, validation_split=0.2, subset="both", seed=3,
                                                    verbose=False)
    assert len(train.file_paths) == 8 and len(val.file_paths) == 2
    assert not set(train.file_paths) & set(val.file_paths)
    with pytest.raises(ValueError, match="ragged and output_sequence_length"):
        utils.audio_dataset_from_directory(root, ragged=True, output_sequence_length=4)


def test_audio_dataset_resamples_to_sampling_rate(tmp_path):
    (tmp_path / "a").mkdir()
    t = np.arange(800) / 8000
    write_wav(tmp_path / "a" / "tone.wav", np.round(8000 * np.sin(2 * np.pi * 100 * t)), rate=8000)
    x, _ = utils.audio_dataset_from_directory(tmp_path, sampling_rate=4000, shuffle=False, verbose=False)[0]
    assert x.shape == (1, 400, 1)
    t2 = np.arange(400) / 4000
    np.testing.assert_allclose(x[0, 50:350, 0], 8000 / 32768 * np.sin(2 * np.pi * 100 * t2[50:350]), atol=0.01)
