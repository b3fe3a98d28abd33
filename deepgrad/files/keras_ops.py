"""Ops on symbolic tensors in a functional model's file, written and read as Keras 3 writes them.

A functional model built with ops on its tensors (``x = ops.concatenate([a, b]) * 2``) holds
``SymbolicOp`` nodes (layers/symbolic_op.py). Keras 3 names such a node by its own op class
(``{"module": "keras.src.ops.numpy", "class_name": "Concatenate", "config": {"name", "axis"}}``)
and splits the op's arguments in two: those of the class's constructor go to ``config`` (every
one, defaults included), the others are the node's call arguments (``inbound_nodes[i]["args"]``,
tensors and plain values alike, in the call's order).

``OPS`` says, for every op class of ``keras.ops`` that deepgrad has, which op it is and how its
arguments split: ``Class op call arguments | constructor arguments | call keywords`` (a ``*``
marks a variadic call argument; a line ending in a backslash goes on). Argument names are those
of ``keras.ops`` and of deepgrad's op alike (tests/saving/test_keras_ops.py checks the table
against Keras).

Writing (``keras_op_entry``) binds the recorded arguments to the op's signature and splits
them; an op Keras has no class for, or an argument Keras's op lacks (``std(ddof=1)``), keeps
deepgrad's own ``SymbolicOp`` form, which only deepgrad reads. Reading (``symbolic_op_entry``)
does the reverse before anything is built: the class must be in ``OPS`` under its module, its
config may hold only the constructor's arguments, and call arguments only tensors and plain
values (numbers, strings, lists, slices, arrays); anything else is refused with the node named.
Nothing is imported or run: the op is found by name in ``deepgrad.ops``.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..layers.symbolic_op import _SLOT, _fill, _find_op, _from_json, _to_json
from .safetensors_format import UnsafeFileError

_TABLE = {
    "keras.src.ops.numpy": """
        Absolute absolute x
        Add add x1 x2
        All all x | axis keepdims
        AllClose allclose x1 x2 | rtol atol equal_nan
        Amax amax x | axis keepdims
        Amin amin x | axis keepdims
        Angle angle x
        Any any x | axis keepdims
        Append append x1 x2 | axis
        Arange arange start stop | dtype | step
        Arccos arccos x
        Arccosh arccosh x
        Arcsin arcsin x
        Arcsinh arcsinh x
        Arctan arctan x
        Arctan2 arctan2 x1 x2
        Arctanh arctanh x
        Argmax argmax x | axis keepdims
        Argmin argmin x | axis keepdims
        Argpartition argpartition x | kth axis
        Argsort argsort x | axis
        Array array x | dtype
        ArraySplit array_split x | indices_or_sections axis
        Average average x | axis | weights
        Bincount bincount x | weights minlength sparse
        BitwiseAnd bitwise_and x y
        BitwiseInvert bitwise_invert x
        BitwiseLeftShift bitwise_left_shift x y
        BitwiseNot bitwise_not x
        BitwiseOr bitwise_or x y
        BitwiseRightShift bitwise_right_shift x y
        BitwiseXor bitwise_xor x y
        BroadcastTo broadcast_to x | shape
        Cbrt cbrt x
        Ceil ceil x
        Clip clip x | x_min x_max
        Concatenate concatenate xs | axis
        Conjugate conjugate x
        Copy copy x
        Corrcoef corrcoef x
        Correlate correlate x1 x2 | mode
        Cos cos x
        Cosh cosh x
        CountNonzero count_nonzero x | axis
        Cross cross x1 x2 | axisa axisb axisc axis
        Cumprod cumprod x | axis dtype
        Cumsum cumsum x | axis dtype
        Deg2rad deg2rad x
        Diag diag x | k
        Diagflat diagflat x | k
        Diagonal diagonal x | offset axis1 axis2
        Diff diff a | n axis
        Digitize digitize x bins
        Divide divide x1 x2
        DivideNoNan divide_no_nan x1 x2
        Dot dot x1 x2
        Dsplit dsplit x | indices_or_sections
        Dstack dstack xs
        Einsum einsum *operands | subscripts
        EmptyLike empty_like x | dtype
        Equal equal x1 x2
        Exp exp x
        Exp2 exp2 x
        ExpandDims expand_dims x | axis
        Expm1 expm1 x
        Fabs fabs x
        Flip flip x | axis
        Fliplr fliplr x
        Flipud flipud x
        Floor floor x
        FloorDivide floor_divide x1 x2
        Fmax fmax x1 x2
        Fmin fmin x1 x2
        Fmod fmod x1 x2
        Full full fill_value | shape dtype
        FullLike full_like x fill_value | dtype
        Gcd gcd x1 x2
        Geomspace geomspace start stop | num endpoint dtype axis
        GetItem get_item x key
        Greater greater x1 x2
        GreaterEqual greater_equal x1 x2
        Heaviside heaviside x1 x2
        Histogram histogram x | bins range
        Hsplit hsplit x | indices_or_sections
        Hstack hstack xs
        Hypot hypot x1 x2
        I0 i0 x
        Imag imag x
        Inner inner x1 x2
        IsIn isin x1 x2 | assume_unique invert
        Isclose isclose x1 x2 rtol atol | equal_nan
        Isfinite isfinite x
        Isinf isinf x
        Isnan isnan x
        Isneginf isneginf x
        Isposinf isposinf x
        Isreal isreal x
        Kron kron x1 x2
        Lcm lcm x1 x2
        Ldexp ldexp x1 x2
        LeftShift left_shift x y
        Less less x1 x2
        LessEqual less_equal x1 x2
        Linspace linspace start stop | num endpoint retstep dtype axis
        Log log x
        Log10 log10 x
        Log1p log1p x
        Log2 log2 x
        Logaddexp logaddexp x1 x2
        Logaddexp2 logaddexp2 x1 x2
        LogicalAnd logical_and x1 x2
        LogicalNot logical_not x
        LogicalOr logical_or x1 x2
        LogicalXor logical_xor x1 x2
        Logspace logspace start stop | num endpoint base dtype axis
        Matmul matmul x1 x2
        Max max x | axis keepdims initial
        Maximum maximum x1 x2
        Mean mean x | axis keepdims
        Median median x | axis keepdims
        Meshgrid meshgrid *x | indexing
        Min min x | axis keepdims initial
        Minimum minimum x1 x2
        Mod mod x1 x2
        Moveaxis moveaxis x | source destination
        Multiply multiply x1 x2
        NanToNum nan_to_num x | nan posinf neginf
        Nanargmax nanargmax x | axis keepdims
        Nanargmin nanargmin x | axis keepdims
        Nancumprod nancumprod x | axis dtype
        Nancumsum nancumsum x | axis dtype
        Nanmax nanmax x | axis keepdims
        Nanmean nanmean x | axis keepdims
        Nanmedian nanmedian x | axis keepdims
        Nanmin nanmin x | axis keepdims
        Nanpercentile nanpercentile x q | axis method keepdims
        Nanprod nanprod x | axis keepdims
        Nanquantile nanquantile x q | axis method keepdims
        Nanstd nanstd x | axis keepdims
        Nansum nansum x | axis keepdims
        Nanvar nanvar x | axis keepdims
        Ndim ndim x
        Negative negative x
        Nextafter nextafter x1 x2
        Nonzero nonzero x
        NotEqual not_equal x1 x2
        OnesLike ones_like x | dtype
        Outer outer x1 x2
        Pad pad x | pad_width mode | constant_values
        Percentile percentile x q | axis method keepdims
        Power power x1 x2
        Prod prod x | axis keepdims dtype
        Ptp ptp x | axis keepdims
        Quantile quantile x q | axis method keepdims
        Rad2deg rad2deg x
        Ravel ravel x
        Real real x
        Reciprocal reciprocal x
        Repeat repeat x | repeats axis
        Reshape reshape x | newshape
        RightShift right_shift x y
        Roll roll x | shift axis
        Rot90 rot90 array | k axes
        Round round x | decimals
        SearchSorted searchsorted sorted_sequence values | side
        Select select condlist choicelist default
        Sign sign x
        Signbit signbit x
        Sin sin x
        Sinc sinc x
        Sinh sinh x
        Size size x
        Slogdet slogdet x
        Sort sort x | axis
        Split split x | indices_or_sections axis
        Sqrt sqrt x
        Square square x
        Squeeze squeeze x | axis
        Stack stack x | axis
        Std std x | axis keepdims
        Subtract subtract x1 x2
        Sum sum x | axis keepdims
        Swapaxes swapaxes x | axis1 axis2
        Take take x indices | axis
        TakeAlongAxis take_along_axis x indices | axis
        Tan tan x
        Tanh tanh x
        Tensordot tensordot x1 x2 | axes
        Tile tile x | repeats
        Trace trace x | offset axis1 axis2
        Transpose transpose x | axes
        Trapezoid trapezoid y | x dx axis
        Tril tril x | k
        Triu triu x | k
        TrueDivide true_divide x1 x2
        Trunc trunc x
        Unique unique x | sorted return_index return_inverse return_counts axis size fill_value
        UnravelIndex unravel_index indices | shape
        Vander vander x | N increasing
        Var var x | axis keepdims
        Vdot vdot x1 x2
        View view x | dtype
        Vsplit vsplit x | indices_or_sections
        Vstack vstack xs
        Where where condition x1 x2
        ZerosLike zeros_like x | dtype
    """,
    "keras.src.ops.nn": """
        AdaptiveAveragePool adaptive_average_pool inputs | output_size data_format
        AdaptiveMaxPool adaptive_max_pool inputs | output_size data_format
        AveragePool average_pool inputs | pool_size strides padding data_format
        BatchNorm batch_normalization x mean variance offset scale | axis epsilon
        BinaryCrossentropy binary_crossentropy target output | from_logits
        CTCDecode ctc_decode inputs sequence_lengths | strategy beam_width top_paths merge_repeated mask_index
        CTCLoss ctc_loss target output target_length output_length | mask_index
        CategoricalCrossentropy categorical_crossentropy target output | from_logits axis
        Celu celu x | alpha
        Conv conv inputs kernel | strides padding data_format dilation_rate
        ConvTranspose conv_transpose inputs kernel | strides padding output_padding data_format dilation_rate
        DepthToSpace depth_to_space x | block_size data_format
        DepthwiseConv depthwise_conv inputs kernel | strides padding data_format dilation_rate
        DotProductAttention dot_product_attention query key value | is_causal flash_attention \
            attn_logits_soft_cap | bias mask scale
        Elu elu x | alpha
        Fold fold x | output_size kernel_size dilation padding stride
        Gelu gelu x | approximate
        Glu glu x | axis
        HardShrink hard_shrink x | threshold
        HardSigmoid hard_sigmoid x
        HardSilu hard_silu x
        HardTanh hard_tanh x
        LeakyRelu leaky_relu x | negative_slope
        LogSigmoid log_sigmoid x
        LogSoftmax log_softmax x | axis
        MaxPool max_pool inputs | pool_size strides padding data_format
        Moments moments x | axes keepdims synchronized
        MultiHot multi_hot inputs | num_classes axis dtype sparse
        Normalize normalize x | axis order epsilon
        OneHot one_hot x | num_classes axis dtype sparse
        PSNR psnr x1 x2 | max_val
        Polar polar abs_ angle
        RMSNorm rms_normalization x | axis epsilon | scale
        Relu relu x
        Relu6 relu6 x
        Selu selu x
        SeparableConv separable_conv inputs depthwise_kernel pointwise_kernel | strides padding data_format \
            dilation_rate
        Sigmoid sigmoid x
        Silu silu x
        SoftShrink soft_shrink x | threshold
        Softmax softmax x | axis
        Softplus softplus x
        Softsign softsign x
        SpaceToDepth space_to_depth x | block_size data_format
        SparseCategoricalCrossentropy sparse_categorical_crossentropy target output | from_logits axis
        SparsePlus sparse_plus x
        SparseSigmoid sparse_sigmoid x
        Sparsemax sparsemax x | axis
        Squareplus squareplus x | b
        TanhShrink tanh_shrink x
        Threshold threshold x | threshold default_value
        Unfold unfold x | kernel_size dilation padding stride
    """,
    "keras.src.ops.core": """
        Cast cast x | dtype
        ConvertToTensor convert_to_tensor x | dtype sparse ragged
        SaturateCast saturate_cast x | dtype
        Scatter scatter indices values | shape
        ScatterUpdate scatter_update inputs indices updates | reduction
        Slice slice inputs start_indices | shape
        SliceUpdate slice_update inputs start_indices updates
        StopGradient stop_gradient variable
        Unstack unstack x | num axis
    """,
    "keras.src.ops.math": """
        CDist cdist x y
        Erf erf x
        Erfc erfc x
        Erfinv erfinv x
        ExtractSequences extract_sequences x | sequence_length sequence_stride
        FFT fft x
        FFT2 fft2 x
        IFFT2 ifft2 x
        IRFFT irfft x | fft_length
        ISTFT istft x | sequence_length sequence_stride fft_length length window center
        InTopK in_top_k targets predictions | k
        Logdet logdet x
        Logsumexp logsumexp x | axis keepdims
        RFFT rfft x | fft_length
        Rsqrt rsqrt x
        STFT stft x | sequence_length sequence_stride fft_length window center
        SegmentMax segment_max data segment_ids | num_segments sorted
        SegmentMin segment_min data segment_ids | num_segments sorted
        SegmentProd segment_prod data segment_ids | num_segments sorted
        SegmentSum segment_sum data segment_ids | num_segments sorted
        TopK top_k x | k sorted
        ViewAsComplex view_as_complex x
        ViewAsReal view_as_real x
    """,
    "keras.src.ops.linalg": """
        Cholesky cholesky x | upper
        CholeskyInverse cholesky_inverse x | upper
        Det det x
        Eig eig x
        Eigh eigh x
        Inv inv x
        Lstsq lstsq a b | rcond
        LuFactor lu_factor x
        MatrixRank matrix_rank x | tol
        Norm norm x | ord axis keepdims
        Pinv pinv x | rcond
        Qr qr x | mode
        SVD svd x | full_matrices compute_uv
        Solve solve a b
        SolveTriangular solve_triangular a b | lower
    """,
    "keras.src.ops.image": """
        AffineTransform image.affine_transform images transform | interpolation fill_mode fill_value data_format
        CropImages image.crop_images images | top_cropping left_cropping bottom_cropping right_cropping \
            target_height target_width data_format
        ElasticTransform image.elastic_transform images | alpha sigma interpolation fill_mode fill_value seed \
            data_format
        GaussianBlur image.gaussian_blur images | kernel_size sigma data_format
        HSVToRGB image.hsv_to_rgb images | data_format
        MapCoordinates image.map_coordinates inputs coordinates | order fill_mode fill_value
        PadImages image.pad_images images | top_padding left_padding bottom_padding right_padding \
            target_height target_width data_format
        PerspectiveTransform image.perspective_transform images start_points end_points | interpolation \
            fill_value data_format
        RGBToGrayscale image.rgb_to_grayscale images | data_format
        RGBToHSV image.rgb_to_hsv images | data_format
        Resize image.resize images | size interpolation antialias crop_to_aspect_ratio pad_to_aspect_ratio \
            fill_mode fill_value data_format
        SSIM image.ssim image1 image2 | max_val filter_size filter_sigma k1 k2 data_format
        ScaleAndTranslate image.scale_and_translate images output_shape scale translation | spatial_dims \
            method antialias
        SobelEdges image.sobel_edges images | data_format
    """,
}
# the ops behind deepgrad's Tensor operators and methods that Keras names otherwise
ALIASES = {"abs": "absolute", "getitem": "get_item", "conj": "conjugate", "swish": "silu",
           "hard_swish": "hard_silu", "astype": "cast"}
# arguments whose None Keras's function resolves before its class sees it, so that Keras writes
# the resolved value: a one-hot's dtype (floatx), a pooling's or convolution's data_format
_RESOLVED = {"dtype": ({"one_hot", "multi_hot"}, backend.floatx),
             "data_format": ({"max_pool", "average_pool", "conv", "depthwise_conv", "separable_conv",
                              "conv_transpose", "depth_to_space", "space_to_depth"}, backend.image_data_format)}
# Keras's activations.relu(x, negative_slope, max_value, threshold) records its own class; read as
# the deepgrad op that computes the same (other settings have none and are refused)
_ACTIVATIONS_MODULE = "keras.src.activations.activations"


class OpSpec:
    """One Keras op class: its module, deepgrad op, and how the arguments split."""

    def __init__(self, module: str, line: str):
        fields = [part.split() for part in line.split("|")] + [[], []]
        self.module, (self.class_name, self.op, *self.call) = module, fields[0]
        self.init, self.call_keywords = fields[1], fields[2]

    @property
    def params(self) -> list[str]:
        return [p.lstrip("*") for p in self.call] + self.init + self.call_keywords


OPS: dict[tuple[str, str], OpSpec] = {}
BY_OP: dict[str, OpSpec] = {}
for _module, _lines in _TABLE.items():
    for _line in _lines.strip().splitlines():
        _spec = OpSpec(_module, _line)
        OPS[(_module, _spec.class_name)] = BY_OP[_spec.op] = _spec
del _module, _lines, _line, _spec


def is_keras_op(entry) -> bool:
    """Whether a layer entry of a Keras config is an op node (by its module)."""
    module = entry.get("module") if isinstance(entry, dict) else None
    return isinstance(module, str) and (module.startswith("keras.src.ops.") or module == _ACTIVATIONS_MODULE)


# ------------------------------------------------------------------------------------ writing
class _Ref:
    """A tensor of the node, already in Keras's ``__keras_tensor__`` form."""

    def __init__(self, obj):
        self.obj = obj


def _keras_value(value, where: str):
    """A call or constructor argument as Keras's ``serialize_keras_object`` writes it."""
    if isinstance(value, _Ref):
        return value.obj
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_keras_value(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _keras_value(v, where) for k, v in value.items()}
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {k: _keras_value(getattr(value, k), where)
                                                      for k in ("start", "stop", "step")}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, Tensor):
        return {"class_name": "__tensor__", "config": {"value": value.data.tolist(), "dtype": value.data.dtype.name}}
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.item()
        return {"class_name": "__numpy__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    raise NotImplementedError(f"{where}: the argument {value!r} of type {type(value).__name__} cannot be saved")


def _plain(value) -> bool:
    """Whether a constructor argument is of the types Keras keeps in an op's config."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, np.dtype, np.integer, np.floating)) or (
        isinstance(value, type) and issubclass(value, np.generic))


def _split(spec: OpSpec, op_name: str, args, kwargs):
    """``(constructor config, call args, call kwargs)`` of ``op_name(*args, **kwargs)``, or None
    when Keras's op cannot express the call."""
    fn = _find_op(op_name)
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    values = dict(bound.arguments)
    if op_name in ALIASES:  # same arguments in the same order, named as Keras's op names them
        names = list(inspect.signature(_find_op(ALIASES[op_name])).parameters)
        values = dict(zip(names, values.values()))
    # an unset variadic argument reads as empty: (), {}
    defaults = {n: {p.VAR_POSITIONAL: (), p.VAR_KEYWORD: {}}.get(p.kind, p.default)
                for n, p in inspect.signature(_find_op(spec.op)).parameters.items()}
    for name, value in values.items():  # an argument Keras's op lacks must hold deepgrad's default
        if name not in spec.params and not (name in defaults and _same(value, defaults[name])):
            return None
    if not all(_plain(values.get(name)) for name in spec.init):
        return None
    for name, (resolving, default) in _RESOLVED.items():
        if spec.op in resolving and values.get(name) is None:
            values[name] = default()
    call = []
    for name in spec.call:
        if name.startswith("*"):
            call.extend(values.get(name[1:], ()))
        else:
            call.append(values.get(name))
    return ({name: values.get(name) for name in spec.init}, call,
            {name: values[name] for name in spec.call_keywords if name in values})


def _same(a, b) -> bool:
    try:
        return bool(a is b or a == b)
    except (ValueError, TypeError):
        return False


def keras_op_entry(entry: dict, tensor) -> dict | None:
    """Keras's entry for the ``SymbolicOp`` layer ``entry`` of a deepgrad functional config
    (``tensor(history)`` gives a tensor reference in Keras's form), or None to keep deepgrad's."""
    config = entry["config"]
    op_name = config.get("op")
    spec = BY_OP.get(ALIASES.get(op_name, op_name))
    if spec is None:
        return None
    where = f"SymbolicOp {config.get('name')!r} ({op_name})"
    template_args, template_kwargs = _from_json(config.get("args", [])), _from_json(config.get("kwargs", {}))
    nodes, init = [], None
    for node in entry.get("inbound_nodes") or []:
        refs = node["args"][0] if node.get("args") else []
        refs = refs if isinstance(refs, list) else [refs]
        values = [_Ref(tensor(r["keras_tensor"])) for r in refs]
        split = _split(spec, op_name, _fill(tuple(template_args), values), _fill(template_kwargs, values))
        if split is None:
            return None
        init, call_args, call_kwargs = split
        nodes.append({"args": _keras_value(call_args, where), "kwargs": _keras_value(call_kwargs, where)})
    if init is None:
        return None
    return {"module": spec.module, "class_name": spec.class_name,
            "config": {"name": config.get("name"), **{k: _keras_value(v, where) for k, v in init.items()}},
            "registered_name": spec.class_name, "name": entry.get("name", config.get("name")),
            "inbound_nodes": nodes}


# ------------------------------------------------------------------------------------ reading
def _python_value(value, where: str, tensors: list):
    """A Keras-serialized call argument as a Python value, each tensor as a numbered slot."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_python_value(v, where, tensors) for v in value]
    if not isinstance(value, dict):
        raise UnsafeFileError(f"{where}: unexpected argument of type {type(value).__name__}")
    kind, inner = value.get("class_name"), value.get("config")
    if kind is None:
        return {k: _python_value(v, where, tensors) for k, v in value.items()}
    if kind not in ("__keras_tensor__", "__slice__", "__ellipsis__", "__numpy__", "__tensor__"):
        raise UnsafeFileError(f"{where}: the argument {kind!r} is not a tensor or a plain value; an op's arguments "
                              "are read only as tensors, numbers, strings, lists, slices and arrays")
    if not isinstance(inner, dict):
        raise UnsafeFileError(f"{where}: malformed argument {kind!r}")
    if kind == "__keras_tensor__":
        tensors.append(value)
        return {_SLOT: len(tensors) - 1}
    if kind == "__slice__":
        return slice(*(_python_value(inner.get(k), where, tensors) for k in ("start", "stop", "step")))
    if kind in ("__numpy__", "__tensor__"):
        try:
            dtype = np.dtype(inner.get("dtype"))
        except TypeError:
            raise UnsafeFileError(f"{where}: an array of unknown dtype {inner.get('dtype')!r}") from None
        if dtype.kind not in "biufc":
            raise UnsafeFileError(f"{where}: an array of dtype {dtype.name} (numbers only)")
        return np.asarray(inner.get("value"), dtype)
    return Ellipsis


def _tuples(value):
    """JSON lists back as tuples (an ``axis=(1, 2)`` or a shape; NumPy takes no list there)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _activation_op(config: dict, where: str) -> str:
    slope, max_value, threshold = (config.get(k) for k in ("negative_slope", "max_value", "threshold"))
    if not threshold and max_value is None:
        return "relu" if not slope else "leaky_relu"
    if not threshold and not slope and max_value == 6:
        return "relu6"
    raise ValueError(f"{where}: ReLU with threshold={threshold!r}, max_value={max_value!r}, "
                     f"negative_slope={slope!r} has no deepgrad op")


def symbolic_op_entry(entry: dict, source: str) -> dict:
    """deepgrad's ``SymbolicOp`` entry for Keras's op node ``entry`` (see the module docstring)."""
    module, class_name = entry.get("module"), entry.get("class_name")
    config = entry.get("config")
    where = f"{source}: op node {entry.get('name')!r} ({module}.{class_name})"
    if not isinstance(config, dict):
        raise UnsafeFileError(f"{where}: its config is not an object")
    name = config.get("name", entry.get("name"))
    init = {k: v for k, v in config.items() if k != "name"}
    if module == _ACTIVATIONS_MODULE and class_name == "ReLU":
        spec = BY_OP["relu"]
        op_name = _activation_op(init, where)
        init = {"negative_slope": init["negative_slope"]} if op_name == "leaky_relu" else {}
    else:
        spec = OPS.get((module, class_name))
        if spec is None:
            raise ValueError(f"{where}: unknown op class {class_name!r}; deepgrad reads the ops of keras.ops it "
                             "has (deepgrad.files.keras_ops.OPS)")
        op_name = spec.op
        extra = sorted(set(init) - set(spec.init))
        if extra:
            raise UnsafeFileError(f"{where}: unexpected config key(s) {extra}; {class_name} takes {spec.init}")
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise UnsafeFileError(f"{where}: an op node is called exactly once (inbound_nodes holds one node)")
    args, kwargs = nodes[0].get("args", []), nodes[0].get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise UnsafeFileError(f"{where}: malformed inbound node")
    tensors: list = []
    call_args = _python_value(args, where, tensors)
    call_kwargs = _python_value(kwargs, where, tensors)
    if not tensors:
        raise UnsafeFileError(f"{where}: the node has no input tensor")
    positional = [p for p in spec.call if not p.startswith("*")]
    variadic = next((p[1:] for p in spec.call if p.startswith("*")), None)
    if len(call_args) > len(positional) and variadic is None:
        raise UnsafeFileError(f"{where}: {len(call_args)} call arguments, {class_name} takes {len(positional)}")
    unknown = sorted(set(call_kwargs) - set(spec.call_keywords) - set(positional))
    if unknown:
        raise UnsafeFileError(f"{where}: unexpected call keyword(s) {unknown}")
    values = {k: _tuples(v) for k, v in init.items()}
    values.update(zip(positional, call_args))
    values.update(call_kwargs)
    if class_name == "GetItem" and isinstance(values.get("key"), list):
        values["key"] = tuple(values["key"])  # Keras writes an index tuple as a list and reads it back so
    rest = call_args[len(positional):] if variadic else []
    sig = inspect.signature(_find_op(op_name)).parameters
    if variadic:  # einsum(subscripts, *operands), meshgrid(*x): positional up to the variadic argument
        lead = [n for n, p in sig.items() if p.kind is p.POSITIONAL_OR_KEYWORD and n in values]
        op_args = [values.pop(n) for n in lead] + list(rest)
    else:
        op_args = []
    missing = [n for n, p in sig.items() if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
               and n not in values and not variadic]
    if missing:
        raise UnsafeFileError(f"{where}: missing argument(s) {missing}")
    inputs = tensors if len(tensors) > 1 else tensors[0]
    return {"module": "keras.layers", "class_name": "SymbolicOp",
            "config": {"name": name, "op": op_name, "args": _to_json(tuple(op_args), where),
                       "kwargs": _to_json(values, where)},
            "registered_name": None, "name": entry.get("name", name),
            "inbound_nodes": [{"args": [inputs], "kwargs": {}}]}


__all__ = ["ALIASES", "BY_OP", "OPS", "is_keras_op", "keras_op_entry", "symbolic_op_entry"]
