"""Tensors made from junk: a tensor equal to NumPy's array of the data, or a clear TypeError/ValueError."""
import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
from robust_support import cases, outcome

NAMES = ("tensor", "None", "complex", "number", "dtype", "shape", "data", "ragged", "sequence", "real",
         "convert", "object", "text", "string")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=1e6), st.text(max_size=3), st.binary(max_size=3),
    st.just(object()), st.just(slice(1, 2)), st.just({1: 2}), st.just({1, 2}), st.just(Ellipsis),
)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner), max_leaves=8)


def _numpy_reference(value):
    """NumPy's float32 array of ``value``, or None where NumPy itself cannot make one of real numbers."""
    try:
        a = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if a.dtype == object and all(type(v) in (int, float, bool) for v in a.reshape(-1)):
        return a.astype(np.float64)  # Python ints past int64 are still numbers
    if a.dtype.kind not in "biuf":
        return None
    return a


@cases(3)
@given(value=junk)
def test_tensor_from_junk_is_the_data_or_a_clear_error(value):
    ref = _numpy_reference(value)
    out = outcome(lambda: dg.Tensor(value), NAMES)
    if out is not None:
        assert ref is not None, f"Tensor({value!r}) accepted data NumPy cannot hold as real numbers"
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(out.numpy(), ref.astype(out.dtype))


@cases(3)
@given(value=junk, dtype=st.sampled_from([None, "float32", "int32", "bool", "float64"]))
def test_convert_to_tensor_from_junk_is_the_data_or_a_clear_error(value, dtype):
    ref = _numpy_reference(value)
    out = outcome(lambda: dg.ops.convert_to_tensor(value, dtype=dtype), NAMES)
    if isinstance(out, np.ndarray) and out.dtype.kind in "US":
        # text stays a NumPy array of str or bytes (the text layers read it as Keras's TF backend
        # reads string tensors), only when no numeric dtype was asked for
        assert dtype is None
        np.testing.assert_array_equal(out, np.asarray(value))
    elif out is not None and out.dtype.kind == "c":  # Keras's ops hold complex numbers when asked for none
        assert dtype is None
        np.testing.assert_array_equal(out.numpy(), np.array(value).astype(out.dtype))
    elif out is not None:
        assert ref is not None, f"convert_to_tensor({value!r}) accepted data NumPy cannot hold as real numbers"
        np.testing.assert_array_equal(out.numpy(), ref.astype(out.numpy().dtype))


@cases(1)
@given(array=hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))
def test_tensor_from_any_numpy_dtype_keeps_real_values_or_refuses(array):
    out = outcome(lambda: dg.Tensor(array), NAMES)
    if out is not None:
        assert array.dtype.kind in "biuf", f"Tensor accepted dtype {array.dtype}"
        expected = array if array.dtype.kind == "f" else array.astype("float32")
        np.testing.assert_array_equal(out.numpy(), expected)


@cases(1)
@given(shape=st.one_of(st.lists(st.integers(-5, 5), max_size=4), st.integers(-3, 3), st.none(),
                       st.text(max_size=2), st.lists(st.floats(0, 3), max_size=2)))
def test_creation_shapes_from_junk(shape):
    for op in ("zeros", "ones", "empty"):
        out = outcome(lambda: getattr(dg.ops, op)(shape), (op, "shape"))
        if out is not None:
            assert out.shape == np.zeros(shape).shape
