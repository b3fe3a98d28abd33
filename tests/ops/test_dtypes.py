"""Keras's type promotion (``keras.backend.result_type``) as the oracle for ``ops.dtypes``."""
import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deepgrad.ops.dtypes import result_type, standardize_dtype, to_array  # noqa: E402

keras = pytest.importorskip("keras")

NAMES = ["bool", "uint8", "uint16", "uint32", "int8", "int16", "int32", "int64",
         "float16", "bfloat16", "float32", "float64"]
# Keras folds 64-bit results to 32 bits in result_type on the PyTorch backend, while its
# ops there return int64 and float64 (``ops.add`` of two float64 arrays is float64):
# deepgrad keeps the 64-bit width, as the ops do.
FOLDED = {"int64": "int32", "uint64": "uint32", "float64": "float32"}


@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(NAMES + [int, float, bool], 2)))
def test_result_type_matches_keras(a, b):
    ours = result_type(a, b)
    theirs = keras.backend.result_type(a, b)
    assert FOLDED.get(ours, ours) == theirs


def test_python_numbers_are_weak():
    assert result_type(np.zeros(2, np.float16), 2.5) == "float16"
    assert result_type(np.zeros(2, np.int8), 3) == "int8"
    assert result_type(np.zeros(2, np.int8), 3.0) == "float32"
    assert result_type(1, 2.0) == "float32"
    assert result_type() == "float32"
    assert result_type(np.zeros(2, np.int64), np.zeros(2, np.float32)) == "float32"  # NumPy: float64


def test_to_array_keeps_keras_dtypes():
    assert to_array([1, 2]).dtype == np.int32
    assert to_array([1.0, 2]).dtype == np.float32
    assert to_array(True).dtype == np.bool_
    assert to_array(np.arange(3)).dtype == np.int64
    assert to_array(3, dtype="float16").dtype == np.float16


def test_bad_dtype_is_named():
    with pytest.raises(ValueError, match="Invalid dtype"):
        standardize_dtype("float13")
