"""Every name of ``deepgrad.compat.tensorflow`` that TF programs call exists and takes TensorFlow's
parameters in TensorFlow's order (as TF 2.x documents them; TensorFlow is not installed here, so
the table is written out). Parameters TF has after those listed (``layout=``, sparse flags) are
not taken."""
import inspect

import pytest

from deepgrad.compat import tensorflow as tf

SIGNATURES = {
    # tf.*
    "cast": "x dtype name", "shape": "input out_type name", "size": "input out_type name", "rank": "input name",
    "tile": "input multiples name", "expand_dims": "input axis name", "squeeze": "input axis name",
    "split": "value num_or_size_splits axis num name", "concat": "values axis name", "stack": "values axis name",
    "unstack": "value num axis name", "argmax": "input axis output_type name", "argmin": "input axis output_type name",
    "one_hot": "indices depth on_value off_value axis dtype name", "equal": "x y name", "not_equal": "x y name",
    "reduce_sum": "input_tensor axis keepdims name", "reduce_mean": "input_tensor axis keepdims name",
    "reduce_max": "input_tensor axis keepdims name", "reduce_min": "input_tensor axis keepdims name",
    "reduce_prod": "input_tensor axis keepdims name", "reduce_any": "input_tensor axis keepdims name",
    "reduce_all": "input_tensor axis keepdims name", "reshape": "tensor shape name",
    "transpose": "a perm conjugate name", "matmul": "a b transpose_a transpose_b adjoint_a adjoint_b",
    "where": "condition x y name", "gather": "params indices validate_indices axis batch_dims name",
    "gather_nd": "params indices batch_dims name", "boolean_mask": "tensor mask axis name",
    "zeros": "shape dtype name", "ones": "shape dtype name", "zeros_like": "input dtype name",
    "ones_like": "input dtype name", "fill": "dims value name", "range": "start limit delta dtype name",
    "constant": "value dtype shape name", "convert_to_tensor": "value dtype dtype_hint name",
    "function": "func input_signature autograph jit_compile reduce_retracing",
    "clip_by_value": "t clip_value_min clip_value_max name", "clip_by_norm": "t clip_norm axes name",
    "clip_by_global_norm": "t_list clip_norm use_norm name", "pad": "tensor paddings mode constant_values name",
    "reverse": "tensor axis name", "roll": "input shift axis name", "sort": "values axis direction name",
    "argsort": "values axis direction stable name", "identity": "input name", "stop_gradient": "input name",
    "linspace": "start stop num name axis", "norm": "tensor ord axis keepdims name",
    "eye": "num_rows num_columns batch_shape dtype name", "tensordot": "a b axes name",
    # tf.math
    "math.cumsum": "x axis exclusive reverse name", "math.top_k": "input k sorted index_type name",
    "math.l2_normalize": "x axis epsilon name", "math.count_nonzero": "input axis keepdims dtype name",
    "math.in_top_k": "targets predictions k name", "math.reduce_logsumexp": "input_tensor axis keepdims name",
    "math.reduce_std": "input_tensor axis keepdims name", "math.floormod": "x y name", "math.log": "x name",
    "math.squared_difference": "x y name", "math.argmax": "input axis output_type name",
    # tf.nn
    "nn.relu": "features name", "nn.relu6": "features name", "nn.elu": "features name", "nn.selu": "features name",
    "nn.sigmoid": "x name", "nn.tanh": "x name", "nn.softplus": "features name", "nn.silu": "features beta name",
    "nn.leaky_relu": "features alpha name", "nn.gelu": "features approximate name",
    "nn.softmax": "logits axis name", "nn.log_softmax": "logits axis name",
    "nn.sparse_softmax_cross_entropy_with_logits": "labels logits name",
    "nn.softmax_cross_entropy_with_logits": "labels logits axis name",
    "nn.sigmoid_cross_entropy_with_logits": "labels logits name",
    "nn.conv2d": "input filters strides padding data_format dilations name",
    "nn.max_pool2d": "input ksize strides padding data_format name",
    "nn.avg_pool2d": "input ksize strides padding data_format name", "nn.moments": "x axes shift keepdims name",
    "nn.dropout": "x rate noise_shape seed name", "nn.l2_loss": "t name", "nn.bias_add": "value bias data_format name",
    "nn.embedding_lookup": "params ids max_norm name",
    # tf.random
    "random.normal": "shape mean stddev dtype seed name", "random.uniform": "shape minval maxval dtype seed name",
    "random.truncated_normal": "shape mean stddev dtype seed name", "random.shuffle": "value seed name",
    "random.categorical": "logits num_samples dtype seed name", "random.set_seed": "seed",
    # tf.linalg
    "linalg.svd": "tensor full_matrices compute_uv name", "linalg.qr": "input full_matrices name",
    "linalg.inv": "input adjoint name", "linalg.det": "input name", "linalg.cholesky": "input name",
    "linalg.eigh": "tensor name", "linalg.solve": "matrix rhs adjoint name", "linalg.trace": "x name",
    "linalg.diag_part": "input name", "linalg.diag": "diagonal name", "linalg.matvec": "a b transpose_a",
    "linalg.matrix_transpose": "a name conjugate", "linalg.matmul": "a b transpose_a transpose_b",
    "linalg.norm": "tensor ord axis keepdims name", "linalg.eye": "num_rows num_columns batch_shape dtype name",
    "linalg.logdet": "matrix name",
    # tf.data.Dataset
    "data.Dataset.from_tensor_slices": "tensors name", "data.Dataset.from_tensors": "tensors name",
    "data.Dataset.from_generator": "generator output_types output_shapes args output_signature name",
    "data.Dataset.zip": "datasets name",
    "data.Dataset.batch": "batch_size drop_remainder num_parallel_calls deterministic name",
    "data.Dataset.padded_batch": "batch_size padded_shapes padding_values drop_remainder name",
    "data.Dataset.shuffle": "buffer_size seed reshuffle_each_iteration name",
    "data.Dataset.map": "map_func num_parallel_calls deterministic synchronous use_unbounded_threadpool name",
    "data.Dataset.filter": "predicate name", "data.Dataset.repeat": "count name", "data.Dataset.take": "count name",
    "data.Dataset.skip": "count name", "data.Dataset.cache": "filename name", "data.Dataset.prefetch": "buffer_size name",
    "data.Dataset.unbatch": "name", "data.Dataset.rebatch": "batch_size drop_remainder name",
    "data.Dataset.enumerate": "start name", "data.Dataset.concatenate": "dataset name",
    "data.Dataset.shard": "num_shards index name", "data.Dataset.apply": "transformation_func",
    "data.Dataset.as_numpy_iterator": "", "data.Dataset.cardinality": "",
    "TensorSpec": "shape dtype name", "GradientTape": "persistent watch_accessed_variables",
}
NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "string", "newaxis",
         "Tensor", "Variable", "GradientTape", "keras", "optimizers", "losses", "data", "math", "nn", "random",
         "linalg", "config", "print", "is_tensor", "data.AUTOTUNE", "data.experimental.AUTOTUNE",
         "data.INFINITE_CARDINALITY", "data.UNKNOWN_CARDINALITY", "data.experimental.cardinality"]


def _resolve(path):
    obj = tf
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_takes_tensorflows_parameters_in_order(path):
    fn = _resolve(path)
    params = [p for p in inspect.signature(fn.__init__ if inspect.isclass(fn) else fn).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    want = SIGNATURES[path].split()
    if path == "data.Dataset.zip":
        params = [p for p in params if p.kind == p.KEYWORD_ONLY]   # zip(*args, datasets=None, name=None)
    assert [p.name for p in params[:len(want)]] == want, f"tf.{path}{inspect.signature(fn)}"


@pytest.mark.parametrize("path", NAMES)
def test_name_exists(path):
    assert _resolve(path) is not None or path == "newaxis"
