"""deepgrad ops on symbolic tensors (SymbolicOp nodes of functional models) and Lambda layers, traced
into such nodes, exported op by op: onnxruntime equals predict within 1e-5 at two batch sizes; a
function that cannot be traced, or an op without a converter, is refused by name."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, ops
from deepgrad.export import ExportError
from deepgrad.export.op_converters import OP_CONVERTERS

from onnx_helpers import assert_exports, randomize

X = np.random.default_rng(0).normal(size=(3, 4, 6)).astype("float32")

FUNCTIONS = {
    "arithmetic": lambda x: (x * 2.0 + 1.0) / 3.0 - x ** 2 + 1.5 ** x,
    "unary": lambda x: (ops.exp(ops.tanh(x)) + ops.abs(x) + ops.sqrt(ops.abs(x)) + ops.log1p(ops.abs(x))
                        + ops.sigmoid(x) + ops.erf(x) + ops.rsqrt(ops.abs(x) + 1) + ops.log2(ops.abs(x) + 1)
                        + ops.expm1(x) + ops.cos(x) * ops.sin(x) + ops.reciprocal(x + 10.0) + ops.exp2(x)),
    "reductions": lambda x: (ops.sum(x, axis=-1, keepdims=True) + ops.mean(x, axis=1, keepdims=True)
                             + ops.max(x, axis=(1, 2), keepdims=True) - ops.std(x, axis=-1, keepdims=True)
                             + ops.var(x, axis=1, keepdims=True, ddof=1) + ops.min(x, axis=-1, keepdims=True)
                             + ops.prod(x, axis=1, keepdims=True)),
    "reshape_transpose": lambda x: ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, 24)),
    "indexing": lambda x: x[:, 1:3, ::2] * x[:, -1:, 1::2] + x[..., None, 0, :3][:, :, 0][:, None],
    "activations": lambda x: (ops.softmax(x, axis=1) + ops.log_softmax(x) + ops.relu(x) + ops.gelu(x)
                              + ops.gelu(x, approximate=False) + ops.silu(x) + ops.leaky_relu(x) + ops.elu(x)
                              + ops.softplus(x) + ops.relu6(x) + ops.hard_sigmoid(x) + ops.selu(x)),
    "concatenate_stack": lambda x: ops.concatenate([x, ops.stack([x[:, 0], x[:, 1]], axis=1)], axis=1),
    "products": lambda x: ops.matmul(x, ops.transpose(x, (0, 2, 1))) + ops.einsum("bij,bkj->bik", x, x),
    "where_clip": lambda x: (ops.where(x > 0, x, ops.clip(x, -0.5, 0.5)) + ops.maximum(x, 0.1)
                             + ops.minimum(x, -0.1)),
    "comparisons": lambda x: (ops.cast(ops.logical_and(x > 0, ops.less(x, 1.0)), "float32")
                              + ops.cast(ops.not_equal(x, 0.0), "float32")
                              + ops.cast(ops.logical_not(ops.greater_equal(x, 0.5)), "float32")),
    "cumsum_flip_swap": lambda x: ops.cumsum(x, axis=1) + ops.flip(x, axis=2) + ops.swapaxes(ops.swapaxes(x, 1, 2), 1, 2),
    "expand_squeeze_round": lambda x: (ops.squeeze(ops.expand_dims(x, 1), 1) + ops.square(x) + ops.negative(x)
                                       + ops.floor(x) + ops.round(x) + ops.sign(x) + ops.ceil(x)),
    "tile_repeat": lambda x: ops.tile(x, (1, 2, 1)) + ops.repeat(x, 2, axis=1),
    "split": lambda x: ops.split(x, 2, axis=-1)[0] * ops.split(x, 2, axis=-1)[1],
    "floor_mod": lambda x: ops.mod(x, 0.7) + ops.floor_divide(x, 0.3),
    "fill_like_tri": lambda x: (ops.zeros_like(x) + ops.ones_like(x) * 2 + ops.full_like(x, 3.0) + ops.triu(x)
                                + ops.tril(x, -1)),
    "argmax_one_hot": lambda x: ops.one_hot(ops.argmax(x, axis=-1), 6) + x,
    "norm": lambda x: x / ops.norm(x, axis=-1, keepdims=True),
    "moveaxis_take": lambda x: ops.moveaxis(x, 1, 2) + ops.take(x, np.array([0, 2, 1, 3, 3, 0]), axis=1)[:, :, :4],
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_lambda_traced(name, tmp_path):
    model = dg.Sequential([layers.Input((4, 6)), layers.Lambda(FUNCTIONS[name])])
    assert_exports(model, X, tmp_path / "m.onnx")


def test_lambda_with_arguments_and_several_inputs(tmp_path):
    a, b = layers.Input((4, 6)), layers.Input((4, 6))
    y = layers.Lambda(lambda xs, scale: ops.concatenate([xs[0] * scale, xs[1]], axis=-1),
                      arguments={"scale": 0.5})([a, layers.Dense(6)(b)])
    model = dg.Model([a, b], layers.Dense(2)(y))
    randomize(model)
    assert_exports(model, [X, X[::-1].copy()], tmp_path / "m.onnx")


def test_symbolic_ops_in_a_functional_model(tmp_path):
    a, b = layers.Input((4, 6)), layers.Input((4, 6))
    h = layers.Dense(6)(a)
    y = ops.concatenate([h * b + 1.0, ops.mean(h, axis=1, keepdims=True)], axis=1)
    model = dg.Model([a, b], [ops.sum(y[:, :, :3], axis=-1), a @ ops.transpose(b, (0, 2, 1))])
    randomize(model)
    assert_exports(model, [X, X * 2], tmp_path / "m.onnx")


def test_integer_symbolic_ops_keep_their_types(tmp_path):
    ids = layers.Input((5,), dtype="int32")
    model = dg.Model(ids, [ids * 2 + 1, ops.cast(ids, "float32") / 2.0, ops.argmax(ops.one_hot(ids, 8), axis=-1),
                           ids % 3, ids // 2, ids > 2])
    x = np.random.default_rng(1).integers(0, 7, (3, 5)).astype("int32")
    assert_exports(model, x, tmp_path / "m.onnx")


def test_untraceable_lambda_is_refused_by_name(tmp_path):
    model = dg.Sequential([layers.Input((4,)), layers.Lambda(lambda x: np.sin(np.asarray(x)), name="numpy_fn")])
    with pytest.raises(ExportError, match="'numpy_fn'.*cannot be traced"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")


def test_op_without_converter_is_refused_by_name(tmp_path):
    assert "diagonal" not in OP_CONVERTERS
    x = layers.Input((4, 4))
    model = dg.Model(x, layers.Lambda(lambda t: ops.diagonal(t, axis1=1, axis2=2), name="diag")(x))
    with pytest.raises(ExportError, match="'diag'.*'diagonal' has no ONNX converter"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")


def test_integer_powers_and_mixed_types(tmp_path):
    ids = layers.Input((5,), dtype="int32")
    model = dg.Model(ids, [ids ** 2, ops.power(ids, 3) - ids, ids * 0.5, ops.abs(ids - 3)])
    x = np.random.default_rng(2).integers(0, 30, (3, 5)).astype("int32")
    assert_exports(model, x, tmp_path / "m.onnx")
