"""The safetensors reader/writer: exact round trips, interchange with the safetensors package,
and forged headers refused before any allocation."""
import json
import struct

import numpy as np
import pytest

from deepgrad.saving import UnsafeFileError
from deepgrad.files import safetensors_format as st


def arrays():
    rng = np.random.default_rng(0)
    return {"0/dense/kernel": rng.standard_normal((3, 4)).astype(np.float32),
            "f64": rng.standard_normal(5), "half": np.arange(6, dtype=np.float16).reshape(2, 3),
            "iterations": np.asarray(7, np.int64), "mask": np.array([True, False]),
            "bytes": np.arange(4, dtype=np.uint8), "empty": np.zeros((0, 3), np.float32),
            "strided": np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]}


def test_round_trip_keeps_values_shapes_dtypes():
    data = st.dumps(arrays(), {"format": "test"})
    assert len(struct.unpack("<Q", data[:8])) == 1 and struct.unpack("<Q", data[:8])[0] % 8 == 0
    loaded, metadata = st.loads(data)
    assert metadata == {"format": "test"}
    for name, value in arrays().items():
        assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape, name
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].flags.writeable


def test_interchange_with_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    ours = tmp_path / "ours.safetensors"
    st.save_file(arrays(), ours)
    theirs = safetensors_numpy.load_file(str(ours))
    for name, value in arrays().items():
        np.testing.assert_array_equal(theirs[name], value)
    path = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in arrays().items()}, str(path),
                                metadata={"a": "b"})
    loaded, metadata = st.load_file(path)
    assert metadata == {"a": "b"}
    for name, value in arrays().items():
        np.testing.assert_array_equal(loaded[name], value)


def forge(header: dict, payload: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + payload


@pytest.mark.parametrize("data", [
    b"\x01\x02",                                          # shorter than the length field
    struct.pack("<Q", 10 ** 12) + b"{}",                  # header length beyond the file
    struct.pack("<Q", 4) + b"{no}",                       # header is not JSON
    forge([1, 2]),                                        # header is not an object
    forge({"w": {"dtype": "F32", "shape": [10 ** 6, 10 ** 6], "data_offsets": [0, 4 * 10 ** 12]}}, b"\0" * 16),
    forge({"w": {"dtype": "F32", "shape": [10 ** 6, 10 ** 6], "data_offsets": [0, 16]}}, b"\0" * 16),
    forge({"w": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
    forge({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
    forge({"__metadata__": {"a": 1}}),
])
def test_forged_or_truncated_files_are_refused(data):
    # A header claiming 10^12 elements is refused before anything is allocated.
    with pytest.raises(UnsafeFileError, match=r"^w\.safetensors is not a valid safetensors file"):
        st.loads(data, source="w.safetensors")


def test_truncated_real_file_is_refused():
    data = st.dumps(arrays())
    with pytest.raises(UnsafeFileError, match="not a valid safetensors file"):
        st.loads(data[:-10])
