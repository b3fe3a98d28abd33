"""``tf.summary``: TensorBoard event files written from a program's own code, as TensorFlow's.

``writer = tf.summary.create_file_writer(logdir)``; inside ``with writer.as_default():`` the
calls ``tf.summary.scalar/histogram/image/text(name, data, step=...)`` append events to an
event file in ``logdir`` (the ``tensorboard`` package's writer, the one the ``TensorBoard``
callback uses). Outside a default writer a call writes nothing and returns False, as
TensorFlow's does. ``step`` defaults to ``tf.summary.experimental.set_step``'s value.
"""
from __future__ import annotations

import io
import os
import time
from types import SimpleNamespace

import numpy as np

from ..autograd import Tensor
from ..callbacks.tensorboard import _png, _tensorboard, histogram_value

_default: list = []     # the writers made default by ``as_default``, innermost last
_step = [None]          # ``experimental.set_step``


class SummaryWriter:
    """An event file in ``logdir`` (created on first use); ``as_default()`` routes the
    ``tf.summary`` calls inside its block to it."""

    def __init__(self, logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None):
        self.logdir = os.fspath(logdir)
        self._writer = None
        self._suffix = filename_suffix or ""

    def _events(self):
        if self._writer is None:
            _, _, _, EventFileWriter = _tensorboard()
            os.makedirs(self.logdir, exist_ok=True)
            self._writer = EventFileWriter(self.logdir, filename_suffix=self._suffix)
        return self._writer

    def write(self, value, step) -> None:
        event_pb2, summary_pb2, _, _ = _tensorboard()
        self._events().add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                                 summary=summary_pb2.Summary(value=[value])))

    def as_default(self, step=None):
        writer = self

        class _Default:
            def __enter__(self):
                _default.append(writer)
                self._step = _step[0]
                if step is not None:
                    _step[0] = int(step)
                return writer

            def __exit__(self, *exc):
                _default.remove(writer)
                _step[0] = self._step
                writer.flush()
        return _Default()

    def set_as_default(self, step=None) -> None:
        _default.append(self)
        if step is not None:
            _step[0] = int(step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def init(self) -> None:
        self._events()


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None,
                       experimental_trackable=False, experimental_mesh=None) -> SummaryWriter:
    return SummaryWriter(logdir, max_queue, flush_millis, filename_suffix, name)


def create_noop_writer() -> SummaryWriter:
    class _Noop(SummaryWriter):
        def write(self, value, step) -> None:
            pass
    return _Noop(os.devnull)


def _array(data) -> np.ndarray:
    return np.asarray(data.data if isinstance(data, Tensor) else data)


def _target(step):
    """The default writer and the step to write at, or (None, None) when nothing is to be written."""
    if not _default:
        return None, None
    step = _step[0] if step is None else step
    if step is None:
        raise ValueError("tf.summary: no step given; pass step=... or call tf.summary.experimental.set_step(...)")
    return _default[-1], int(_array(step))


def scalar(name, data, step=None, description=None) -> bool:
    writer, step = _target(step)
    if writer is None:
        return False
    _, summary_pb2, _, _ = _tensorboard()
    writer.write(summary_pb2.Summary.Value(tag=name, simple_value=float(_array(data))), step)
    return True


def histogram(name, data, step=None, buckets=None, description=None) -> bool:
    writer, step = _target(step)
    if writer is None:
        return False
    writer.write(histogram_value(name, _array(data), bins=30 if buckets is None else int(buckets)), step)
    return True


def _encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (h, w, c) uint8 image: Pillow for colour, the built-in writer for grey."""
    if image.shape[-1] == 1:
        return _png(image[..., 0])
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("tf.summary.image of colour images needs Pillow: pip install deepgrad[io]") from e
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def image(name, data, step=None, max_outputs=3, description=None) -> bool:
    """``data`` (k, h, w, c) with c in 1, 3, 4: floats in [0, 1] or uint8; the first
    ``max_outputs`` images, tagged ``name/image/i`` when there are several."""
    writer, step = _target(step)
    if writer is None:
        return False
    images = _array(data)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"tf.summary.image: data must be (k, h, w, c) with c in 1, 3, 4; got shape {images.shape}")
    if images.dtype != np.uint8:
        images = np.round(np.clip(images.astype(np.float64), 0.0, 1.0) * 255).astype(np.uint8)
    _, summary_pb2, _, _ = _tensorboard()
    chosen = images[:int(max_outputs)]
    for i, picture in enumerate(chosen):
        encoded = summary_pb2.Summary.Image(height=picture.shape[0], width=picture.shape[1],
                                            colorspace=picture.shape[2], encoded_image_string=_encode_png(picture))
        tag = name if len(chosen) == 1 else f"{name}/image/{i}"
        writer.write(summary_pb2.Summary.Value(tag=tag, image=encoded), step)
    return True


def text(name, data, step=None, description=None) -> bool:
    writer, step = _target(step)
    if writer is None:
        return False
    _, summary_pb2, tensor_pb2, _ = _tensorboard()
    values = np.asarray(data).reshape(-1)
    tensor = tensor_pb2.TensorProto(dtype=7, string_val=[str(v).encode("utf8") for v in values])  # DT_STRING
    tensor.tensor_shape.dim.add(size=len(values))
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    writer.write(summary_pb2.Summary.Value(tag=name, tensor=tensor, metadata=metadata), step)
    return True


def flush(writer=None, name=None) -> None:
    for w in ([writer] if writer is not None else list(_default)):
        w.flush()


experimental = SimpleNamespace(set_step=lambda step: _step.__setitem__(0, None if step is None else int(_array(step))),
                               get_step=lambda: _step[0])

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "experimental", "flush", "histogram",
           "image", "scalar", "text"]
