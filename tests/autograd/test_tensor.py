"""Tensor and Variable as objects: construction, repr, assignment and its errors."""
import numpy as np
import pytest

import deepgrad as dg


def test_repr_shows_values_dtype_and_graph():
    assert repr(dg.Tensor([1.0, 2.5])) == "Tensor([1. , 2.5], dtype=float32)"
    x = dg.Tensor(np.array([1.0]), requires_grad=True)
    assert repr(x) == "Tensor([1.], dtype=float64, requires_grad=True)"
    assert repr(x * 2.0) == "Tensor([2.], dtype=float64, grad_fn=Mul)"


def test_variable_repr_names_it():
    # Keras 3's form, path first (checked against keras.Variable's repr)
    v = dg.Variable(np.zeros((2, 3), np.float32), name="kernel")
    assert repr(v) == "<Variable path=kernel, shape=(2, 3), dtype=float32, value=[[0. 0. 0.]\n [0. 0. 0.]]>"


def test_variable_is_a_leaf_that_requires_grad_when_trainable():
    v = dg.Variable([[1, 2]], name="w")
    assert v.dtype == np.float32 and v.requires_grad and v.is_leaf
    v.trainable = False
    assert not v.requires_grad
    v.trainable = True
    (v * 2.0).sum().backward()
    np.testing.assert_array_equal(v.grad, [[2.0, 2.0]])


def test_variable_assign_writes_in_place():
    source = np.ones((2, 2), np.float32)
    v = dg.Variable(source, name="w")
    data = v.data
    v.assign(np.full((2, 2), 3.0))
    v.assign_add(np.ones((2, 2)))
    v.assign_sub(dg.Tensor([0.5, 1.0]))  # broadcasts over the rows
    assert v.data is data and v.dtype == np.float32
    np.testing.assert_array_equal(v.data, [[3.5, 3.0], [3.5, 3.0]])
    np.testing.assert_array_equal(source, np.ones((2, 2)))  # the array it was made from is not aliased


def test_variable_assign_shape_errors_name_both_shapes():
    v = dg.Variable(np.zeros((2, 3)), name="kernel")
    with pytest.raises(ValueError, match=r"Variable 'kernel': cannot assign a value of shape \(3, 2\) to a "
                                         r"variable of shape \(2, 3\)"):
        v.assign(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"Variable 'kernel': assign_add got a value of shape \(4,\), which "
                                         r"does not broadcast to the variable's shape \(2, 3\)"):
        v.assign_add(np.zeros(4))
    with pytest.raises(ValueError, match=r"assign_sub got a value of shape \(2, 3, 1\)"):
        v.assign_sub(np.zeros((2, 3, 1)))
    np.testing.assert_array_equal(v.data, np.zeros((2, 3)))


def test_tensor_facts_and_conversions():
    t = dg.Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, len(t), t.dtype) == ((2, 3), 2, 6, 2, np.float64)
    assert np.asarray(t) is t.data and t.numpy() is t.data
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert float(dg.Tensor(2.5)) == 2.5 and dg.Tensor([[7.0]]).item() == 7.0


def test_detach_cuts_the_graph():
    x = dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d._ctx is None
    np.testing.assert_array_equal(d.data, [2.0, 4.0])


def test_detach_keeps_the_dtype_as_torch():
    """An int32 seed state (large values) stays int32 and exact, as ``torch.Tensor.detach`` keeps it."""
    for dtype in (np.int32, np.int64, np.float64, bool):
        t = dg.Tensor(np.array([813847340, 2]).astype(dtype), dtype=dtype)
        d = t.detach()
        assert d.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(d.data, t.data)


def test_comparisons_give_boolean_tensors_without_a_graph():
    x = dg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    m = x > 1.5
    assert m.dtype == bool and not m.requires_grad
    np.testing.assert_array_equal(m.data, [False, True, True])
    np.testing.assert_array_equal((x == dg.Tensor([1.0, 0.0, 3.0])).data, [True, False, True])


def test_tensor_methods_route_to_the_ops():
    x0 = np.arange(24.0).reshape(2, 3, 4)
    x = dg.Tensor(x0, requires_grad=True)
    np.testing.assert_array_equal(x.sum(axis=0, keepdims=True).data, x0.sum(axis=0, keepdims=True))
    np.testing.assert_array_equal(x.reshape(6, 4).data, x0.reshape(6, 4))
    np.testing.assert_array_equal(x.transpose(2, 0, 1).data, x0.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.T.data, x0.T)
    np.testing.assert_array_equal(x.mean(axis=(0, 2)).data, x0.mean(axis=(0, 2)))
    np.testing.assert_array_equal(x.max(axis=-1).data, x0.max(axis=-1))
    (x.T * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(x0.shape, 2.0))


def test_numpy_functions_on_a_tensor_return_numpy_arrays():
    # as for Keras's NumPy-backend tensors: np.squeeze(t) is an ndarray that np.random accepts
    t = dg.Tensor(np.arange(3.0).reshape(1, 3), requires_grad=True)
    squeezed = np.squeeze(t)
    assert type(squeezed) is np.ndarray and squeezed.shape == (3,)
    assert np.random.default_rng(0).choice(squeezed, p=[0.0, 0.0, 1.0]) == 2.0
    joined = np.concatenate([t, dg.Tensor(np.ones((1, 3)))], axis=0)
    assert type(joined) is np.ndarray and joined.shape == (2, 3)
    assert type(np.asarray(t)) is np.ndarray
    assert float(np.mean(t)) == 1.0
    assert isinstance(t + np.ones(3), dg.Tensor) and isinstance(np.ones(3) + t, dg.Tensor)  # operators stay in the graph


def test_a_tensor_of_one_element_converts_to_python_scalars_as_torch():
    Tensor = dg.Tensor
    import torch

    for shape in [(), (1,), (1, 1)]:
        data = np.full(shape, 7, "int64")
        t, ref = Tensor(data), torch.tensor(data)
        assert int(t) == int(ref) == 7 and float(t) == float(ref) == 7.0 and bool(t) is bool(ref) is True
    buffer = np.zeros(3, np.int32)
    buffer[1] = Tensor(np.array([5]))        # NumPy assigns it as it assigns a torch tensor
    assert buffer.tolist() == [0, 5, 0]
    with pytest.raises(TypeError, match="one element"):
        int(Tensor(np.arange(3)))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor(np.arange(3)))


def test_get_shape_is_the_shape():
    v = dg.Variable(np.zeros((3, 4, 1), "float32"))
    assert v.get_shape() == (3, 4, 1) and v.get_shape()[0] // 2 == 1


def test_iteration_gives_rows_in_the_graph_as_torch():
    from deepgrad import Tensor
    import torch
    x = np.arange(12.0).reshape(3, 4)
    t = Tensor(x, requires_grad=True)
    first, _, last = t                      # unpacking goes through __iter__
    (first * 2 + last * last).sum().backward()
    ref = torch.tensor(x, requires_grad=True)
    tf, _, tl = ref
    (tf * 2 + tl * tl).sum().backward()
    np.testing.assert_allclose(t.grad, ref.grad.numpy())
    assert [r.shape for r in t] == [(4,)] * 3
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(np.float64(1.0)))


def test_pandas_frame_from_a_tensor():
    from deepgrad import Tensor
    pd = pytest.importorskip("pandas")
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(pd.DataFrame(Tensor(x)).to_numpy(), x)


def test_approx_compares_zero_d_tensors():
    from deepgrad import Tensor
    assert Tensor(np.float64(0.5)) == pytest.approx(Tensor(np.float64(0.5 + 1e-13)), rel=1e-12)
    assert list(Tensor(np.arange(4.0).reshape(2, 2)).flat) == [0.0, 1.0, 2.0, 3.0]
