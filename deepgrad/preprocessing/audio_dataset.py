"""``audio_dataset_from_directory``: WAV files under ``directory/<class>/...`` as batches,
read with the standard library's ``wave`` module (Keras reads them with TensorFlow)."""
from __future__ import annotations

import wave

import numpy as np

from .dataset_utils import BatchDataset, _build, _indexed_files

AUDIO_FORMATS = (".wav",)
_PCM = {1: np.uint8, 2: np.int16, 4: np.int32}


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """``(samples, channels)`` float32 in [-1, 1) and the sampling rate of a PCM WAV file:
    8-bit samples are unsigned around 128, 16-, 24- and 32-bit ones signed, each divided by
    2^(bits - 1) (so int16 x becomes x / 32768, as TensorFlow's decode_wav gives)."""
    try:
        with wave.open(path, "rb") as f:
            channels, width, rate, frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            raw = f.readframes(frames)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a PCM WAV file ({e})") from e
    if width == 3:  # 24-bit little-endian: widen each sample to 4 bytes, the sign from the top byte
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
    elif width in _PCM:
        values = np.frombuffer(raw, np.dtype(_PCM[width]).newbyteorder("<")).astype(np.int64)
        if width == 1:
            values = values - 128
    else:
        raise ValueError(f"{path}: {8 * width}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")
    audio = (values / float(1 << (8 * width - 1))).astype(np.float32)
    return audio.reshape(-1, channels), rate


def _resample(audio: np.ndarray, rate_in: int, rate_out: int, path: str) -> np.ndarray:
    if rate_in == rate_out:
        return audio
    try:
        from scipy.signal import resample_poly
    except ImportError as e:
        raise ImportError(f"audio_dataset_from_directory: {path} is sampled at {rate_in} Hz; resampling it to "
                          f"sampling_rate={rate_out} needs SciPy (pip install scipy)") from e
    from math import gcd
    g = gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g, axis=0).astype(np.float32)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Cut to ``length`` samples or pad with zeros at the end (decode_wav's desired_samples)."""
    if len(audio) >= length:
        return audio[:length]
    return np.concatenate([audio, np.zeros((length - len(audio), audio.shape[1]), audio.dtype)])


class AudioBatches(BatchDataset):
    """Batches whose clips (an object array of ``(samples, channels)`` arrays) are padded with
    zeros to the longest clip of each batch (Keras's ``padded_batch``), or left as a list of
    arrays of their own lengths when ``ragged``."""

    ragged = False

    def __getitem__(self, index):
        batch = super().__getitem__(index)
        clips, rest = (batch[0], batch[1:]) if isinstance(batch, tuple) else (batch, ())
        if self.ragged:
            x = list(clips)
        elif self.batch_size is None:
            x = clips
        else:
            longest = max(len(c) for c in clips)
            x = np.stack([_fit_length(c, longest) for c in clips])
        return (x, *rest) if rest else x


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """The ``.wav`` files under ``directory/<class>/...`` as batches ``(audio, labels)``: audio
    float32 ``(batch, samples, channels)`` in [-1, 1), each clip cut or zero-padded to
    ``output_sequence_length`` samples, else padded to the longest clip of its batch (or, with
    ``ragged``, a list of clips of their own lengths); ``sampling_rate`` resamples clips
    recorded at another rate (with SciPy). Labels as ``image_dataset_from_directory`` gives them;
    files ordered, shuffled and split exactly as Keras does."""
    who = "audio_dataset_from_directory"
    if ragged and output_sequence_length is not None:
        raise ValueError(f"{who}: cannot set both ragged and output_sequence_length")
    if sampling_rate is not None and (not isinstance(sampling_rate, int) or sampling_rate <= 0):
        raise ValueError(f"{who}: sampling_rate must be a positive integer, got {sampling_rate!r}")
    if output_sequence_length is not None and (not isinstance(output_sequence_length, int)
                                               or output_sequence_length <= 0):
        raise ValueError(f"{who}: output_sequence_length must be a positive integer, got {output_sequence_length!r}")
    paths, found, class_names, label_mode, seed = _indexed_files(
        who, "audio files", AUDIO_FORMATS, directory, labels, label_mode, class_names, shuffle, seed,
        validation_split, subset, follow_links, verbose)

    def load_all(sub_paths):
        clips = np.empty(len(sub_paths), dtype=object)
        for i, path in enumerate(sub_paths):
            audio, rate = read_wav(path)
            if sampling_rate is not None:
                audio = _resample(audio, rate, sampling_rate, path)
            clips[i] = audio if output_sequence_length is None else _fit_length(audio, output_sequence_length)
        return clips

    class Batches(AudioBatches):
        pass
    Batches.ragged = bool(ragged)
    return _build(paths, found, class_names, label_mode, load_all, batch_size, False, seed, validation_split,
                  subset, who, dataset_class=Batches)
