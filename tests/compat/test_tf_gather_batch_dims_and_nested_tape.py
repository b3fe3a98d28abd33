"""TensorFlow names the masked-autoencoder program uses: ``tf.gather(..., batch_dims=b)``,
``GradientTape.gradient`` over a nest of variable lists, and the tf.math functions TF 2 also
exports at its top level (``tf.cos``)."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.compat import tensorflow as tf


def _gather_reference(params, indices, axis, batch_dims):
    """TF's definition, one batch row at a time."""
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    return np.stack([_gather_reference(p, i, axis - 1, batch_dims - 1) for p, i in zip(params, indices)])


@pytest.mark.parametrize("params_shape, indices_shape, axis, batch_dims", [
    ((3, 8, 4), (3, 5), 1, 1),          # MAE: each image's own patch order
    ((3, 8, 4), (3, 5), None, 1),       # axis defaults to the first axis after the batch ones
    ((2, 3, 6, 4), (2, 3, 2, 2), 2, 2),
    ((2, 5, 6, 4), (2, 3), 2, 1),       # axes between the batch axis and the gathered one
    ((2, 3, 6), (2, 4, 2), -1, 1),
    ((2, 7, 3), (2, 4), 1, -1),         # batch_dims counted from the end of indices
])
def test_gather_with_batch_dims_matches_the_per_row_definition_with_gradients(params_shape, indices_shape, axis,
                                                                              batch_dims):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(params_shape)
    b = batch_dims % len(indices_shape) if batch_dims < 0 else batch_dims
    gathered_axis = (b if axis is None else axis) % len(params_shape)
    indices = rng.integers(0, params_shape[gathered_axis], indices_shape)
    x = dg.Tensor(params, requires_grad=True)
    out = tf.gather(x, indices, axis=axis, batch_dims=batch_dims)
    want = _gather_reference(params, indices, gathered_axis, b)
    np.testing.assert_allclose(out.numpy(), want)
    # gradient: scatter-add of the upstream gradient, as torch computes for the same indexing
    upstream = rng.standard_normal(want.shape)
    (out * dg.Tensor(upstream)).sum().backward()
    tp = torch.tensor(params, requires_grad=True)
    (_gather_reference_torch(tp, torch.tensor(indices), gathered_axis, b) * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, tp.grad.numpy(), rtol=1e-12)


def _gather_reference_torch(params, indices, axis, batch_dims):
    if batch_dims == 0:
        return torch.index_select(params, axis, indices.reshape(-1)).reshape(
            params.shape[:axis] + indices.shape + params.shape[axis + 1:])
    return torch.stack([_gather_reference_torch(p, i, axis - 1, batch_dims - 1) for p, i in zip(params, indices)])


def test_gather_with_batch_dims_rejects_mismatched_batch_axes():
    with pytest.raises(ValueError, match="batch_dims"):
        tf.gather(np.zeros((3, 4)), np.zeros((2, 2), "int64"), axis=1, batch_dims=1)


def test_tape_gradient_keeps_the_nest_of_its_sources():
    a, b, c = (dg.Variable(np.full(n, 1.0, "float32")) for n in (2, 3, 4))
    with tf.GradientTape(persistent=True) as tape:
        loss = (a * 2.0).sum() + (b * 3.0).sum() + (c * c).sum()
    grads = tape.gradient(loss, [[], [a], [b, c]])  # one list per sub-model, the first one empty
    assert grads[0] == [] and len(grads[1]) == 1 and len(grads[2]) == 2
    np.testing.assert_allclose(grads[1][0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(grads[2][0].numpy(), [3.0] * 3)
    np.testing.assert_allclose(grads[2][1].numpy(), [2.0] * 4)
    by_name = tape.gradient(loss, {"c": c, "a": a})
    assert set(by_name) == {"a", "c"}
    np.testing.assert_allclose(by_name["c"].numpy(), [2.0] * 4)
    np.testing.assert_allclose(tape.gradient(loss, b).numpy(), [3.0] * 3)


def test_top_level_math_functions_are_tf_math_ones():
    x = np.array([0.2, 0.5, 0.9], "float32")
    for name, ref in (("cos", np.cos), ("sin", np.sin), ("tan", np.tan), ("atan", np.arctan), ("asin", np.arcsin),
                      ("acos", np.arccos), ("sinh", np.sinh), ("cosh", np.cosh), ("atanh", np.arctanh),
                      ("asinh", np.arcsinh)):
        np.testing.assert_allclose(getattr(tf, name)(x).numpy(), ref(x), rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(getattr(tf.math, name)(x).numpy(), ref(x), rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(tf.acosh(x + 1).numpy(), np.arccosh(x + 1), rtol=1e-6)
    np.testing.assert_allclose(tf.add_n([x, x, x]).numpy(), 3 * x, rtol=1e-6)
    np.testing.assert_allclose(tf.squared_difference(x, 1.0).numpy(), (x - 1) ** 2, rtol=1e-6)
    np.testing.assert_allclose(tf.realdiv(x, 2.0).numpy(), x / 2, rtol=1e-6)
    np.testing.assert_allclose(tf.atan2(x, 1.0 - x).numpy(), np.arctan2(x, 1 - x), rtol=1e-6)


def test_py_function_runs_python_on_eager_tensors_inside_a_dataset_map():
    images = np.arange(2 * 4 * 4 * 3, dtype="uint8").reshape(2, 4, 4, 3)
    seen = []

    def invert(batch):  # an imgaug-style NumPy augmenter, reached through .numpy()
        seen.append(type(batch))
        return 255 - tf.cast(batch, tf.uint8).numpy()

    ds = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1]))).batch(2).map(
        lambda x, y: (tf.py_function(invert, [x], [tf.float32])[0], y))
    x, y = next(iter(ds))
    assert seen == [dg.Tensor]
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), 255.0 - images)
    one = tf.py_function(lambda a, b: a + b, [np.ones(2), 2.0], tf.float32)
    assert isinstance(one, dg.Tensor) and one.dtype == np.float32
    np.testing.assert_array_equal(one.numpy(), [3.0, 3.0])
    pair = tf.numpy_function(lambda a: (a * 2, a.astype("int64")), [np.array([1.5, 2.5])], [tf.float64, tf.int32])
    assert [p.dtype for p in pair] == [np.float64, np.int32]
    np.testing.assert_array_equal(pair[1].numpy(), [1, 2])
    with pytest.raises(ValueError, match="2 output dtypes"):
        tf.py_function(lambda a: a, [np.ones(2)], [tf.float32, tf.float32])
