"""Patterns of the Keras structured-data examples (and the embedding recipe) that deepgrad had
wrong or lacked: each checked against Keras 3 on its PyTorch backend where Keras runs there, and
against TensorFlow's documented behaviour where Keras needs TF (string tensors, ``tf.lookup``)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402

WORDS = np.array([["ash", "oak"], ["elm", "ash"], ["fir", "oak"]])


# ----------------------------------------------------------------- string tensors through keras.ops
@pytest.mark.parametrize("op, args, kwargs", [
    ("expand_dims", (-1,), {}), ("expand_dims", (0,), {}), ("reshape", ((6, 1),), {}),
    ("transpose", (), {}), ("squeeze", (), {}), ("tile", ((2, 1),), {}), ("repeat", (2,), {"axis": 0}),
    ("take", ([1, 0],), {"axis": 1}), ("flatten", (), {}), ("broadcast_to", ((2, 3, 2),), {}),
])
def test_shape_ops_move_text_as_numpy_moves_it(op, args, kwargs):
    # Keras's TF backend moves string tensors through its shape ops; deepgrad's text is a NumPy array
    x = WORDS if op != "squeeze" else WORDS[:, :1]
    out = getattr(dg.ops, op)(x, *args, **kwargs)
    reference = getattr(np, op if op != "flatten" else "ravel")(x, *args, **kwargs)
    assert isinstance(out, np.ndarray) and out.dtype.kind == "U"
    np.testing.assert_array_equal(out, reference)


def test_text_joins_and_indexing():
    np.testing.assert_array_equal(dg.ops.concatenate([WORDS, WORDS[:1]], axis=0), np.concatenate([WORDS, WORDS[:1]]))
    np.testing.assert_array_equal(dg.ops.stack([WORDS[0], WORDS[1]], axis=1), np.stack([WORDS[0], WORDS[1]], 1))
    objects = WORDS.astype(object)
    np.testing.assert_array_equal(dg.ops.expand_dims(objects, 1), objects[:, None])
    assert WORDS[1:, 0].tolist() == dg.ops.getitem(WORDS, (slice(1, None), 0)).tolist()
    # numbers still become tensors with their gradient
    assert isinstance(dg.ops.expand_dims(np.ones(3, "float32"), -1), dg.Tensor)


@pytest.mark.parametrize("op, args", [("expand_dims", (-1,)), ("reshape", ((-1, 1),)), ("expand_dims", (0,))])
def test_symbolic_shape_of_string_inputs_is_keras_s(op, args):
    theirs = getattr(keras.ops, op)(keras.Input(shape=(), dtype="string"), *args)
    ours = getattr(dg.ops, op)(dg.layers.Input(shape=(), dtype="string"), *args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert dg.backend.standardize_dtype(ours.dtype) == "string" == keras.backend.standardize_dtype(theirs.dtype)


def test_string_input_expanded_into_lookup_in_a_functional_model():
    # the wide/deep pattern: Input(shape=(), dtype="string") -> expand_dims -> StringLookup(binary),
    # concatenated with an expanded float column
    vocab = ["area_1", "area_2", "area_3"]
    text = dg.layers.Input(name="area", shape=(), dtype="string")
    number = dg.layers.Input(name="slope", shape=(), dtype="float32")
    lookup = dg.layers.StringLookup(vocabulary=vocab, mask_token=None, num_oov_indices=0, output_mode="binary")
    joined = dg.layers.concatenate([lookup(dg.ops.expand_dims(text, -1)), dg.ops.expand_dims(number, -1)])
    assert tuple(joined.shape) == (None, 4)
    model = dg.Model({"area": text, "slope": number}, joined)
    out = np.asarray(model({"area": np.array(["area_3", "area_1"]), "slope": np.array([0.5, 2.0], "float32")}))
    np.testing.assert_array_equal(out, [[0, 0, 1, 0.5], [1, 0, 0, 2.0]])
