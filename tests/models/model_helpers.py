"""Small layers of the tests' own, so model tests do not depend on the layer library."""
import numpy as np

import deepgrad as dg
from deepgrad.layers.base import Layer


class Linear(Layer):
    """x @ w + b, optionally followed by softmax."""

    def __init__(self, units, softmax=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.softmax = units, softmax

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("bias", (self.units,), "zeros")

    def call(self, x):
        y = dg.matmul(x, self.w) + self.b
        return dg.softmax(y, axis=-1) if self.softmax else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "softmax": self.softmax}


class Recorder(Layer):
    """Passes data through and remembers every batch it saw while training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        if training:
            self.seen.append(np.array(x.data))
        return x


def separable_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    return x, y
