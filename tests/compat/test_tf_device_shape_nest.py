"""``tf.device``, ``tf.TensorShape`` and ``tf.nest`` as Keras programs written for TensorFlow use
them (the RNN guide's ``with tf.device("CPU:0"):`` block and its cell's ``state_size``)."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.compat import tensorflow as tf


def test_device_scope_runs_its_block_unchanged():
    model = dg.Sequential([dg.Input((3,)), dg.layers.Dense(2)])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    with tf.device("CPU:0"):
        inside = model.predict_on_batch(x)
    np.testing.assert_array_equal(inside, model.predict_on_batch(x))
    with pytest.raises(TypeError, match="tf.device"):
        tf.device(0)


def test_tensor_shape_is_a_tuple_of_dims():
    shape = tf.TensorShape([20, None, 30])
    assert shape == (20, None, 30) and shape.rank == 3 and shape.as_list() == [20, None, 30]
    assert tf.TensorShape(7) == (7,) and repr(tf.TensorShape([2])) == "TensorShape([2])"
    with pytest.raises(ValueError, match="unknown rank"):
        tf.TensorShape(None)


def test_tensor_shape_as_an_rnn_cell_state_size():
    class Cell(dg.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = tf.TensorShape([4])

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 4), initializer="ones")

        def call(self, inputs, states):
            out = tf.matmul(inputs, self.kernel) + states[0]
            return out, [out]

    y = dg.layers.RNN(Cell())(np.ones((2, 3, 5), "float32"))
    np.testing.assert_allclose(np.asarray(y), np.full((2, 4), 15.0))  # 3 steps of 5 ones summed


def test_nest_flattens_and_packs_like_tensorflow():
    structure = {"b": [1, (2, 3)], "a": 4}
    assert tf.nest.flatten(structure) == [4, 1, 2, 3]  # dict keys sorted, as tf.nest does
    assert tf.nest.pack_sequence_as(structure, [40, 10, 20, 30]) == {"a": 40, "b": [10, (20, 30)]}
    assert tf.nest.map_structure(lambda v: v * 2, [1, (2,)]) == [2, (4,)]
    assert tf.nest.is_nested([1]) and not tf.nest.is_nested(1)
