"""Running an exported ``.onnx`` file with onnxruntime (``deepgrad predict model.onnx``, the tests)."""
from __future__ import annotations

import os

import numpy as np

from ..endpoints import _NUMPY_TYPES, require_onnxruntime


class OnnxPredictor:
    """An ONNX file behind ``predict(x)``: inputs cast to the file's input types, run in batches."""

    def __init__(self, path, threads: int | None = None):
        ort = require_onnxruntime()
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ONNX file {os.fspath(path)!r} does not exist")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def input_shapes(self) -> list:
        """Each input's shape, ``None`` for a dynamic axis (the batch)."""
        return [tuple(d if isinstance(d, int) else None for d in i.shape) for i in self.inputs]

    def run(self, xs: list) -> list:
        feed = {i.name: np.ascontiguousarray(np.asarray(x), dtype=_NUMPY_TYPES.get(i.type, np.float32))
                for i, x in zip(self.inputs, xs)}
        return self.session.run(self.output_names, feed)

    def predict(self, x, batch_size: int = 128):
        """Outputs for ``x`` (one array, or a list for several inputs); one array per output."""
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"the ONNX model takes {len(self.inputs)} input(s), got {len(xs)}")
        n = len(xs[0])
        parts = [self.run([a[i:i + batch_size] for a in xs]) for i in range(0, n, batch_size)]
        outs = [np.concatenate([p[k] for p in parts]) for k in range(len(self.output_names))]
        return outs[0] if len(outs) == 1 else outs
