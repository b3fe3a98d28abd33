"""Sizes that cannot fit in memory are refused before anything is allocated."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deepgrad as dg
from deepgrad.backend import AllocationError, check_allocation, physical_memory
from robust_support import cases

HUGE = (10 ** 6, 10 ** 6)

CALLS = {
    "zeros": lambda: dg.ops.zeros(HUGE),
    "ones": lambda: dg.ops.ones(HUGE),
    "full": lambda: dg.ops.full(HUGE, 2.0),
    "empty": lambda: dg.ops.empty(HUGE),
    "eye": lambda: dg.ops.eye(10 ** 6),
    "identity": lambda: dg.ops.identity(10 ** 6),
    "tri": lambda: dg.ops.tri(10 ** 6),
    "arange": lambda: dg.ops.arange(10 ** 13),
    "linspace": lambda: dg.ops.linspace(0.0, 1.0, 10 ** 13),
    "normal": lambda: dg.random.normal(HUGE),
    "uniform": lambda: dg.random.uniform(HUGE),
    "truncated_normal": lambda: dg.random.truncated_normal(HUGE),
    "randint": lambda: dg.random.randint(HUGE, 0, 5),
    "gamma": lambda: dg.random.gamma(HUGE, 2.0),
    "categorical": lambda: dg.random.categorical(np.zeros((10 ** 3, 10)), 10 ** 9),
    "broadcast_to": lambda: dg.ops.broadcast_to(np.ones(3, "float32"), (10 ** 6, 10 ** 6, 3)),
    "tile": lambda: dg.ops.tile(np.ones((2, 3), "float32"), (10 ** 6, 10 ** 6)),
    "repeat": lambda: dg.ops.repeat(np.ones(3, "float32"), 10 ** 12),
    "add_weight": lambda: dg.layers.Dense(10 ** 6, name="huge").build((None, 10 ** 6)),
    "add_weight(conv)": lambda: dg.layers.Conv2D(10 ** 5, 3, name="wide").build((None, 8, 8, 10 ** 5)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_size_past_physical_memory_is_refused_before_allocating(name):
    with pytest.raises(AllocationError):  # once first, so lazy imports are not counted
        CALLS[name]()
    tracemalloc.start()
    try:
        with pytest.raises(AllocationError) as info:
            CALLS[name]()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 20, f"{name} allocated {peak} bytes before refusing"
    message = str(info.value)
    op = name.split("(")[0]
    assert op in message and "GiB" in message, message
    # the message gives the size: shape and the GiB the array would need
    assert "(" in message and ")" in message
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)


def test_the_error_names_op_shape_and_size_in_gib():
    with pytest.raises(AllocationError) as info:
        check_allocation((10 ** 6, 10 ** 6), "float32", "zeros")
    text = str(info.value)
    assert "zeros" in text and "(1000000, 1000000)" in text and "float32" in text
    assert "3,725.3 GiB" in text  # 4e12 bytes / 2**30
    assert f"{physical_memory() / 2 ** 30:,.1f} GiB" in text


def test_the_limit_is_the_machines_physical_memory():
    import os

    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert physical_memory() == limit
    check_allocation((limit,), "int8", "fits")  # exactly the machine's bytes: allowed
    with pytest.raises(AllocationError):
        check_allocation((limit + 1,), "int8", "one byte over")
    with pytest.raises(AllocationError):
        check_allocation((limit // 8 + 1,), "float64", "float64 is 8 bytes")
    check_allocation((limit // 8,), "float64", "float64 is 8 bytes")


@cases(0.5)
@given(dims=st.lists(st.integers(0, 2 ** 40), min_size=0, max_size=5),
       dtype=st.sampled_from(["bool", "int8", "float16", "float32", "int64", "float64"]))
def test_check_allocation_agrees_with_exact_integer_arithmetic(dims, dtype):
    nbytes = int(np.prod([1] + dims, dtype=object)) * np.dtype(dtype).itemsize
    if nbytes > physical_memory():
        with pytest.raises(AllocationError, match="GiB"):
            check_allocation(dims, dtype, "op")
    else:
        check_allocation(dims, dtype, "op")


@cases(0.3)
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3))
def test_small_sizes_still_create_what_numpy_does(shape):
    np.testing.assert_array_equal(dg.ops.zeros(shape).numpy(), np.zeros(shape, "float32"))
    np.testing.assert_array_equal(dg.ops.ones(shape).numpy(), np.ones(shape, "float32"))
    np.testing.assert_array_equal(dg.ops.full(shape, 3.0).numpy(), np.full(shape, 3.0, "float32"))
    a = np.arange(max(1, int(np.prod(shape))), dtype="float32").reshape(-1)
    np.testing.assert_array_equal(dg.ops.tile(a, shape or 1).numpy(), np.tile(a, shape or 1))
    np.testing.assert_array_equal(dg.ops.broadcast_to(a[0], shape).numpy(), np.broadcast_to(a[0], shape))
