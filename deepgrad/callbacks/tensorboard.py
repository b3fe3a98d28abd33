"""``TensorBoard``: scalars, weight histograms, weight images and the model's graph in
TensorBoard's event files, written with the ``tensorboard`` package's own event writer
(``pip install deepgrad[tensorboard]``; TensorFlow is not needed).

Files and tags are Keras's: ``<log_dir>/train`` and ``<log_dir>/validation``; per epoch
``epoch_<metric>`` (and ``epoch_learning_rate``), validation metrics without their
``val_`` prefix in the validation directory; per batch ``batch_<metric>`` every
``update_freq`` batches; ``evaluation_<metric>_vs_iterations`` after each evaluation;
``<weight path>/histogram`` every ``histogram_freq`` epochs; the model's JSON as the
"keras" summary of the graph plugin.
"""
from __future__ import annotations

import os
import struct
import time
import zlib

import numpy as np

from .callback import Callback


def _tensorboard():
    """The pieces of the ``tensorboard`` package this callback writes with."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise ImportError("TensorBoard needs the tensorboard package: pip install deepgrad[tensorboard]") from e
    return event_pb2, summary_pb2, tensor_pb2, EventFileWriter


def _png(image: np.ndarray) -> bytes:
    """A grayscale (h, w) uint8 image as PNG bytes: signature, IHDR, one IDAT, IEND."""
    height, width = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = np.hstack([np.zeros((height, 1), np.uint8), image]).tobytes()  # filter byte 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def histogram_value(tag: str, values, bins: int = 30):
    """A TensorBoard histogram summary value of ``values`` (its finite entries) in ``bins`` buckets."""
    _, summary_pb2, _, _ = _tensorboard()
    values = np.asarray(values, np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        values = np.zeros(1)
    low, high = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(low, high) if high > low else (low - 0.5, low + 0.5))
    histo = summary_pb2.HistogramProto(min=low, max=high, num=float(values.size), sum=float(values.sum()),
                                       sum_squares=float(np.dot(values, values)),
                                       bucket_limit=[float(e) for e in edges[1:]],
                                       bucket=[float(c) for c in counts])
    return summary_pb2.Summary.Value(tag=tag, histo=histo)


class TensorBoard(Callback):
    """Logs for TensorBoard (see the module docstring). ``update_freq`` is "epoch", "batch"
    (every batch) or an integer n (every n-th batch). ``profile_batch`` must be 0: there is no
    profiler for NumPy; ``embeddings_freq`` saves the weights every that many epochs, as Keras does."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        _tensorboard()  # fail now, with the install hint, rather than at the first epoch
        if profile_batch:
            raise ValueError(f"TensorBoard: profiling is not available on NumPy; got profile_batch={profile_batch!r} "
                             "(must be 0)")
        if update_freq not in ("epoch", "batch") and not (isinstance(update_freq, int) and update_freq >= 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an integer >= 1, "
                             f"got {update_freq!r}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict = {}
        self._global_train_batch = 0
        self._epoch_start = 0.0
        self._epoch_start_iterations = 0

    # ----------------------------------------------------------------- writing
    def _writer(self, kind: str):
        if kind not in self._writers:
            _, _, _, EventFileWriter = _tensorboard()
            path = os.path.join(self.log_dir, "train" if kind == "train" else "validation")
            os.makedirs(path, exist_ok=True)
            self._writers[kind] = EventFileWriter(path)
        return self._writers[kind]

    def _write(self, kind: str, step: int, values: list) -> None:
        event_pb2, summary_pb2, _, _ = _tensorboard()
        event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values))
        self._writer(kind).add_event(event)

    def _scalars(self, kind: str, step: int, scalars: dict) -> None:
        _, summary_pb2, _, _ = _tensorboard()
        values = []
        for tag, value in scalars.items():
            try:
                values.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(value)))
            except (TypeError, ValueError):
                continue  # not a number (a string in the logs): nothing to plot
        if values:
            self._write(kind, step, values)

    def _histogram(self, tag: str, values: np.ndarray):
        return histogram_value(tag, values)

    def _image(self, tag: str, weight: np.ndarray):
        """A weight as a grayscale image, as Keras lays it out (a kernel wider than tall; a
        bias as one row; a conv kernel's filters side by side); None for other shapes."""
        _, summary_pb2, _, _ = _tensorboard()
        w = np.squeeze(np.asarray(weight, np.float64))
        if w.ndim == 1:
            w = w[None, :]
        elif w.ndim == 2:
            w = w.T if w.shape[0] > w.shape[1] else w
        elif w.ndim == 3:
            w = np.concatenate(list(np.moveaxis(w, -1, 0)), axis=1)
        else:
            return None
        span = w.max() - w.min()
        pixels = np.zeros(w.shape, np.uint8) if span == 0 else np.round(255 * (w - w.min()) / span).astype(np.uint8)
        image = summary_pb2.Summary.Image(height=pixels.shape[0], width=pixels.shape[1], colorspace=1,
                                          encoded_image_string=_png(pixels))
        return summary_pb2.Summary.Value(tag=tag, image=image)

    def _write_model_graph(self) -> None:
        """The model's JSON under the tag "keras" for TensorBoard's graph plugin (Keras's
        conceptual graph), when the model can be written as JSON."""
        _, summary_pb2, tensor_pb2, _ = _tensorboard()
        try:
            text = self.model.to_json()
        except Exception:  # a subclassed model without a config has no conceptual graph
            return
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1"))
        tensor = tensor_pb2.TensorProto(dtype=7, string_val=[text.encode()])  # 7: DT_STRING
        self._write("train", 0, [summary_pb2.Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])

    # ----------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            self._write_model_graph()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        scalars = {f"batch_{k}": v for k, v in (logs or {}).items()}
        if self.write_steps_per_second:
            scalars["batch_steps_per_second"] = 1.0 / max(time.time() - self._batch_start, 1e-9)
        self._scalars("train", self._global_train_batch, scalars)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_start_iterations = int(getattr(self.model.optimizer, "iterations", 0))

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train.update(self._learning_rates())
        if self.write_steps_per_second:
            steps = int(getattr(self.model.optimizer, "iterations", 0)) - self._epoch_start_iterations
            train["steps_per_second"] = steps / max(time.time() - self._epoch_start, 1e-9)
        self._scalars("train", epoch, {f"epoch_{k}": v for k, v in train.items()})
        val = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        self._scalars("val", epoch, val)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            path = os.path.join(self.log_dir, "train", f"keras_embedding.ckpt-{epoch}.weights.h5")
            self.model.save_weights(path)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            step = int(optimizer.iterations)
            self._scalars("val", step, {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()})

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _learning_rates(self) -> dict:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if optimizer is None:
            return {}
        if hasattr(optimizer, "optimizers"):
            return {f"learning_rate_{o.name}": float(o.learning_rate) for o in optimizer.optimizers}
        return {"learning_rate": float(optimizer.learning_rate)}

    def _log_weights(self, epoch: int) -> None:
        values = []
        for layer in self.model.layers:
            for weight in layer.weights:
                path = (getattr(weight, "path", None) or weight.name or "weight").replace(":", "_")
                values.append(self._histogram(f"{path}/histogram", weight.data))
                if self.write_images:
                    image = self._image(f"{path}/image", weight.data)
                    if image is not None:
                        values.append(image)
        if values:
            self._write("train", epoch, values)
