"""Converters of the preprocessing layers, as they compute at inference.

- ``Normalization``: ``(x - mean) / max(sqrt(var), epsilon)`` (or its inverse), the statistics as constants;
- ``Discretization``: the bucket is the number of boundaries ``<= x`` (``np.digitize``), then encoded;
- ``CategoryEncoding`` and the encodings of the lookups: ``one_hot`` / ``multi_hot`` / ``count`` from
  ``ids[..., None] == arange(depth)``;
- ``IntegerLookup``: the vocabulary compared with each id (``Equal`` then ``ArgMax``), out-of-vocabulary
  ids to the OOV index (``floormod`` buckets with several), the mask token to 0;
- ``Resizing`` / ``CenterCrop``: every interpolation the layer has, as the same (out, in) weight
  matrices deepgrad applies along height and width (``Einsum``), after the crop or pad to the
  aspect ratio; the spatial sizes must be known;
- ``AutoContrast``: per image and channel, ``255 (x - min) / (max - min)`` in its value range;
- the random augmentation layers are the identity at inference, as they are in ``predict``.

Layers on strings (``StringLookup``, ``TextVectorization``) and the hashing layers (``Hashing``,
``HashedCrossing``: FarmHash/floormod of strings and crosses) are refused: see ``REFUSED`` in
``coverage``.
"""
from __future__ import annotations

import numpy as np

from .. import backend, layers
from ..ops.image import _resize_weights
from .core import identity
from .graph import Call, GraphBuilder
from .registry import register_converter, weight

_IDENTITY_AT_INFERENCE = (
    "AugMix", "CutMix", "Equalization", "MaxNumBoundingBoxes", "MixUp", "RandAugment", "RandomBrightness",
    "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop", "RandomElasticTransform",
    "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
    "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomTranslation", "RandomZoom", "Solarization")

register_converter(*(getattr(layers, n) for n in _IDENTITY_AT_INFERENCE))(identity)


def _onnx_type(b: GraphBuilder, dtype) -> int:
    return b.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _as_float(b: GraphBuilder, c: Call, x: str, dtype="float32") -> str:
    if c.input_dtypes and np.dtype(c.input_dtypes[0]) == np.dtype(dtype):
        return x
    return b.op("Cast", [x], c.name, to=_onnx_type(b, dtype))


@register_converter(layers.Normalization)
def normalization(b: GraphBuilder, c: Call):
    layer = c.layer
    dtype = np.dtype(layer.dtype)
    if dtype != np.float32:
        raise c.unsupported(f"dtype {dtype} (the exported file computes in float32)")
    x = _as_float(b, c, c.inputs[0])
    mean = np.asarray(layer.mean, np.float32)
    scale = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32)), backend.epsilon()).astype(np.float32)
    if layer.invert:
        return b.op("Add", [b.op("Mul", [x, b.const(scale, f"{c.name}_scale")], c.name),
                            b.const(mean, f"{c.name}_mean")], c.name)
    return b.op("Div", [b.op("Sub", [x, b.const(mean, f"{c.name}_mean")], c.name),
                        b.const(scale, f"{c.name}_scale")], c.name)


def encode(b: GraphBuilder, c: Call, ids: str, mode: str, depth: int, dtype, rank: int, last_is_one: bool) -> str:
    """Keras's ``encode_categorical_inputs`` on int64 ``ids`` of ``rank`` axes (batch included):
    ``int`` casts; ``one_hot`` adds an axis of ``depth`` (replacing a trailing axis of 1); ``multi_hot``
    and ``count`` reduce axis 1 (axis 0 for rank 1). Ids outside [0, depth) encode as zeros."""
    to = _onnx_type(b, dtype)
    out = _encode(b, c, ids, mode, depth, to, rank, last_is_one)
    b.dtypes[out] = np.dtype(dtype)
    return out


def _encode(b: GraphBuilder, c: Call, ids: str, mode: str, depth: int, to: int, rank: int, last_is_one: bool) -> str:
    if mode == "int":
        return b.op("Cast", [ids], c.name, to=to)
    if mode == "one_hot" and rank > 1 and last_is_one:
        ids, rank = b.op("Squeeze", [ids, b.ints([-1], "axes")], c.name), rank - 1
    hot = b.op("Equal", [b.op("Unsqueeze", [ids, b.ints([-1], "axes")], c.name),
                         b.const(np.arange(depth, dtype=np.int64), f"{c.name}_tokens")], c.name)
    hot = b.op("Cast", [hot], c.name, to=to)
    if mode == "one_hot":
        return hot
    axis = 1 if rank > 1 else 0
    if mode == "multi_hot":
        return b.reduce("ReduceMax", hot, [axis], c.name, keepdims=False)
    if mode == "count":
        return b.reduce("ReduceSum", hot, [axis], c.name, keepdims=False)
    raise c.unsupported(f"output_mode={mode!r}")


def _ids(b: GraphBuilder, c: Call, x: str) -> str:
    if c.input_dtypes and np.dtype(c.input_dtypes[0]) == np.int64:
        return x
    return b.op("Cast", [x], c.name, to=b.TensorProto.INT64)


def _last_is_one(c: Call) -> bool:
    shape = c.input_shapes[0]
    return len(shape) > 1 and shape[-1] == 1


@register_converter(layers.CategoryEncoding)
def category_encoding(b: GraphBuilder, c: Call):
    layer = c.layer
    if c.args or c.kwargs.get("count_weights") is not None:
        raise c.unsupported("count_weights")
    return encode(b, c, _ids(b, c, c.inputs[0]), layer.output_mode, int(layer.num_tokens), layer.dtype,
                  len(c.input_shapes[0]), _last_is_one(c))


@register_converter(layers.Discretization)
def discretization(b: GraphBuilder, c: Call):
    layer = c.layer
    if layer.bin_boundaries is None:
        raise c.unsupported("no bin_boundaries (pass them or adapt the layer before exporting)")
    bounds = np.asarray(layer.bin_boundaries, np.float32)
    x = _as_float(b, c, c.inputs[0])
    above = b.op("GreaterOrEqual", [b.op("Unsqueeze", [x, b.ints([-1], "axes")], c.name),
                                    b.const(bounds, f"{c.name}_boundaries")], c.name)
    ids = b.reduce("ReduceSum", b.op("Cast", [above], c.name, to=b.TensorProto.INT64), [-1], c.name, keepdims=False)
    return encode(b, c, ids, layer.output_mode, len(bounds) + 1, layer.output_dtype, len(c.input_shapes[0]),
                  _last_is_one(c))


@register_converter(layers.IntegerLookup)
def integer_lookup(b: GraphBuilder, c: Call):
    layer = c.layer
    keys = _ids(b, c, c.inputs[0])
    if layer.invert:
        return _invert_lookup(b, c, keys)
    tokens = np.asarray(layer.get_vocabulary(include_special_tokens=False), np.int64)
    if layer.mask_token is not None:
        tokens = tokens[tokens != int(layer.mask_token)]
    index = np.asarray(layer._lookup(tokens), np.int64) if tokens.size else np.zeros(0, np.int64)
    oov_start = int(layer._oov_start_index())
    if layer.num_oov_indices > 1 and layer.oov_method == "farmhash":
        raise c.unsupported("num_oov_indices > 1 with oov_method='farmhash' (FarmHash has no ONNX form)")
    if layer.num_oov_indices == 0:
        raise c.unsupported("num_oov_indices=0 (predict raises on an id outside the vocabulary; ONNX cannot)")
    if tokens.size:
        matches = b.op("Equal", [b.op("Unsqueeze", [keys, b.ints([-1], "axes")], c.name),
                                 b.const(tokens, f"{c.name}_vocabulary")], c.name)
        as_int = b.op("Cast", [matches], c.name, to=b.TensorProto.INT32)
        found = b.op("Cast", [b.reduce("ReduceMax", as_int, [-1], c.name, keepdims=False)], c.name,
                     to=b.TensorProto.BOOL)
        position = b.op("ArgMax", [as_int], c.name, axis=-1, keepdims=0)
        hit = b.op("Gather", [b.const(index, f"{c.name}_index"), position], c.name, axis=0)
    if layer.num_oov_indices == 1:
        miss = b.const(np.int64(oov_start))
    else:   # floormod buckets: keys mod n (a non-negative remainder, fmod=0)
        miss = b.op("Add", [b.op("Mod", [keys, b.const(np.int64(layer.num_oov_indices))], c.name, fmod=0),
                            b.const(np.int64(oov_start))], c.name)
    lookups = b.op("Where", [found, hit, miss], c.name) if tokens.size else b.op(
        "Add", [b.op("Mul", [keys, b.const(np.int64(0))], c.name), miss], c.name)
    if layer.mask_token is not None:
        is_mask = b.op("Equal", [keys, b.const(np.int64(layer.mask_token))], c.name)
        lookups = b.op("Where", [is_mask, b.const(np.int64(0 if layer.output_mode == "int" else -1)), lookups],
                       c.name)
    if layer.output_mode == "int":
        b.dtypes[lookups] = np.dtype(np.int64)
        return lookups
    depth = layer.max_tokens if layer.pad_to_max_tokens else layer._frozen_vocab_size
    mode = "count" if layer.output_mode == "tf_idf" else layer.output_mode
    out = encode(b, c, lookups, mode, int(depth), np.int64, len(c.input_shapes[0]), _last_is_one(c))
    out = b.op("Cast", [out], c.name, to=b.TensorProto.FLOAT)
    if layer.output_mode == "tf_idf":
        out = b.op("Mul", [out, b.const(np.asarray(layer.idf_weights, np.float32), f"{c.name}_idf")], c.name)
    return out


def _invert_lookup(b: GraphBuilder, c: Call, ids: str) -> str:
    """Index -> token: the vocabulary gathered where ``0 <= id < size``, the OOV token elsewhere, the
    mask token at 0."""
    layer = c.layer
    vocab = np.asarray(layer._as_tokens(layer.get_vocabulary()), np.int64)
    size = b.const(np.int64(vocab.size))
    valid = b.op("And", [b.op("GreaterOrEqual", [ids, b.const(np.int64(0))], c.name),
                         b.op("Less", [ids, size], c.name)], c.name)
    safe = b.op("Clip", [ids, b.const(np.int64(0)), b.const(np.int64(max(vocab.size - 1, 0)))], c.name)
    out = b.op("Where", [valid, b.op("Gather", [b.const(vocab, f"{c.name}_vocabulary"), safe], c.name, axis=0),
                         b.const(np.int64(layer._as_tokens([layer.oov_token])[0]))], c.name)
    if layer.mask_token is not None:
        out = b.op("Where", [b.op("Equal", [ids, b.const(np.int64(0))], c.name),
                             b.const(np.int64(layer._as_tokens([layer.mask_token])[0])), out], c.name)
    b.dtypes[out] = np.dtype(np.int64)
    return out


# ------------------------------------------------------------------------- images
def _hw_axes(c: Call) -> tuple:
    rank = len(c.input_shapes[0])
    if rank != 4:
        raise c.unsupported(f"input of shape {c.input_shapes[0]}: batches of images (rank 4) are exported")
    return (1, 2) if getattr(c.layer, "data_format", "channels_last") != "channels_first" else (2, 3)


def _along(b: GraphBuilder, c: Call, x: str, matrix: np.ndarray, axis: int) -> str:
    """``y = W x`` along ``axis`` of a rank-4 ``x`` (W (out, in)), as deepgrad's resize applies it."""
    letters = "abcd"
    out = letters.replace(letters[axis], "z")
    return b.op("Einsum", [x, b.const(matrix.astype(np.float32), f"{c.name}_resize")], c.name,
                equation=f"{letters},z{letters[axis]}->{out}")


def resize(b: GraphBuilder, c: Call, x: str, size: tuple, target: tuple, interpolation: str, antialias: bool,
           crop: bool = False, pad: bool = False, fill_value: float = 0.0) -> str:
    """deepgrad's ``ops.image.resize`` of ``x`` whose (height, width) is ``size``."""
    if c.input_dtypes and np.dtype(c.input_dtypes[0]).kind != "f":
        raise c.unsupported(f"images of dtype {c.input_dtypes[0]} (float images are exported)")
    h_axis, w_axis = _hw_axes(c)
    height, width = size
    target_h, target_w = target
    if crop:
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
        x = b.slice(x, [top, left], [top + crop_h, left + crop_w], [h_axis, w_axis], c.name)
        height, width = crop_h, crop_w
    elif pad:
        pad_h = max(height, int(float(width * target_h) / target_w))
        pad_w = max(width, int(float(height * target_w) / target_h))
        top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        if top or left:
            pads = [0] * 8
            pads[h_axis], pads[h_axis + 4], pads[w_axis], pads[w_axis + 4] = top, top, left, left
            x = b.op("Pad", [x, b.ints(pads, "pads"), b.const(np.float32(fill_value))], c.name, mode="constant")
            height, width = height + 2 * top, width + 2 * left
    if interpolation == "nearest":
        antialias = False
    for axis, n_in, n_out in ((h_axis, height, target_h), (w_axis, width, target_w)):
        x = _along(b, c, x, np.asarray(_resize_weights(n_in, n_out, interpolation, antialias, np.float32)), axis)
    return x


def _static_size(c: Call) -> tuple:
    h_axis, w_axis = _hw_axes(c)
    shape = c.input_shapes[0]
    if shape[h_axis] is None or shape[w_axis] is None:
        raise c.unsupported(f"input of shape {shape}: the image height and width must be known")
    return int(shape[h_axis]), int(shape[w_axis])


@register_converter(layers.Resizing)
def resizing(b: GraphBuilder, c: Call):
    layer = c.layer
    return resize(b, c, c.inputs[0], _static_size(c), (layer.height, layer.width), layer.interpolation,
                  layer.antialias, layer.crop_to_aspect_ratio, layer.pad_to_aspect_ratio, float(layer.fill_value))


@register_converter(layers.CenterCrop)
def center_crop(b: GraphBuilder, c: Call):
    layer = c.layer
    height, width = _static_size(c)
    h_axis, w_axis = _hw_axes(c)
    h_diff, w_diff = height - layer.height, width - layer.width
    if h_diff >= 0 and w_diff >= 0:
        return b.slice(c.inputs[0], [h_diff // 2, w_diff // 2], [h_diff // 2 + layer.height, w_diff // 2 + layer.width],
                       [h_axis, w_axis], c.name)
    return resize(b, c, c.inputs[0], (height, width), (layer.height, layer.width), "bilinear", False, crop=True)


@register_converter(layers.AutoContrast)
def auto_contrast(b: GraphBuilder, c: Call):
    """On the 0-255 scale: ``y = clip(255 (x - low) / (high - low), 0, 255)``, low/high per image and
    channel; a constant channel is kept as it is."""
    lo, hi = (float(v) for v in c.layer.value_range)
    axes = list(_hw_axes(c))
    images = c.inputs[0]
    x = images
    if (lo, hi) != (0.0, 255.0):
        x = b.op("Mul", [b.op("Sub", [x, b.const(np.float32(lo))], c.name), b.const(np.float32(255.0 / (hi - lo)))],
                 c.name)
    low, high = b.reduce("ReduceMin", x, axes, c.name), b.reduce("ReduceMax", x, axes, c.name)
    spread = b.op("Sub", [high, low], c.name)
    flat = b.op("Equal", [spread, b.const(np.float32(0.0))], c.name)
    span = b.op("Where", [flat, b.const(np.float32(1.0)), spread], c.name)
    y = b.op("Mul", [b.op("Sub", [x, low], c.name), b.op("Div", [b.const(np.float32(255.0)), span], c.name)], c.name)
    y = b.op("Clip", [y, b.const(np.float32(0.0)), b.const(np.float32(255.0))], c.name)
    if (lo, hi) != (0.0, 255.0):
        y = b.op("Add", [b.op("Mul", [y, b.const(np.float32((hi - lo) / 255.0))], c.name), b.const(np.float32(lo))],
                 c.name)
    return b.op("Where", [flat, images, y], c.name)


# ------------------------------------------------------------------------- audio
@register_converter(layers.STFTSpectrogram)
def stft_spectrogram(b: GraphBuilder, c: Call):
    """Each channel convolved on its own with the layer's DFT kernels (``real_kernel``/``imag_kernel``,
    (frame_length, 1, bins)) at stride ``frame_step``, then the mode's formula: ``stft`` stacks the
    parts, ``psd`` counts the inner bins twice, ``magnitude`` is ``sqrt(max(re^2 + im^2, eps))`` and
    ``log`` its log (floored at eps)."""
    layer = c.layer
    if layer.mode == "angle":
        raise c.unsupported("mode='angle' (ONNX has no atan2)")
    last = layer.data_format == "channels_last"
    shape = c.input_shapes[0]
    steps, channels = (shape[1], shape[2]) if last else (shape[2], shape[1])
    if channels is None:
        raise c.unsupported(f"input of shape {shape}: the number of channels must be known")
    x = b.transpose(c.inputs[0], [0, 2, 1], c.name) if last else c.inputs[0]
    x = b.reshape(x, [-1, 1, 0], c.name)   # (B C, 1, T)
    length, stride = int(layer.frame_length), int(layer._frame_step)
    if layer.padding == "valid":
        pads = {"pads": [0, 0]}
    elif steps is None:
        pads = {"auto_pad": "SAME_UPPER"}
    else:   # TensorFlow's "same": ceil(T / stride) frames, the odd extra zero at the end
        total = max((-(-steps // stride) - 1) * stride + length - steps, 0)
        pads = {"pads": [total // 2, total - total // 2]}

    def part(kernel):   # (B C, 1, T) -> (B, C, bins, frames)
        w = np.transpose(weight(kernel), [2, 1, 0])   # (bins, 1, frame_length)
        y = b.op("Conv", [x, b.const(w, f"{c.name}_kernel")], c.name, kernel_shape=[length], strides=[stride],
                 **pads)
        return b.op("Reshape", [y, b.op("Concat", [b.ints([-1, channels]), b.shape_of(y, 1, 3, c.name)], c.name,
                                        axis=0)], c.name)

    def adjust(t):   # (B, C, bins, frames) to the layer's layout
        if last and layer.expand_dims:
            return b.transpose(t, [0, 3, 2, 1], c.name)
        if last:
            return b.transpose(_merge_channels(b, t, c), [0, 2, 1], c.name)
        if layer.expand_dims:
            return b.transpose(t, [0, 1, 3, 2], c.name)
        return _merge_channels(b, t, c)

    real = part(layer.real_kernel) if layer.mode != "imag" else None
    imag = part(layer.imag_kernel) if layer.mode != "real" else None
    if layer.mode == "real":
        return adjust(real)
    if layer.mode == "imag":
        return adjust(imag)
    if layer.mode == "stft":
        return adjust(b.op("Concat", [real, imag], c.name, axis=2))
    power = b.op("Add", [b.op("Mul", [real, real], c.name), b.op("Mul", [imag, imag], c.name)], c.name)
    if layer.mode == "psd":
        inner = b.slice(power, [1], [-1], [2], c.name)
        inner = b.op("Pad", [inner, b.ints([0, 0, 1, 0, 0, 0, 1, 0], "pads")], c.name, mode="constant")
        return adjust(b.op("Add", [power, inner], c.name))
    eps = b.const(np.float32(backend.epsilon()))
    linear = adjust(b.op("Sqrt", [b.op("Max", [power, eps], c.name)], c.name))
    if layer.mode == "magnitude":
        return linear
    return b.op("Log", [b.op("Max", [linear, eps], c.name)], c.name)


def _merge_channels(b: GraphBuilder, t: str, c: Call) -> str:
    """(B, C, bins, frames) -> (B, C bins, frames)."""
    shape = b.op("Concat", [b.shape_of(t, 0, 1, c.name), b.ints([-1]), b.shape_of(t, 3, 4, c.name)], c.name, axis=0)
    return b.op("Reshape", [t, shape], c.name)


@register_converter(layers.MelSpectrogram)
def mel_spectrogram(b: GraphBuilder, c: Call):
    """``ops.stft`` as deepgrad computes it (reflection-padded centred frames gathered by index, the
    window, the real DFT as two matrix products), ``|X|^mag_exp``, the mel matrix, then
    ``10 log10(max(p, min_power)) - 10 log10(max(|ref|, min_power))`` floored at the maximum over the
    whole batch minus ``top_db``; (batch, mel bins, frames). The number of samples must be known."""
    from ..layers.preprocessing.audio import linear_to_mel_weight_matrix
    from ..ops.math_extra import _centered, _frame_index, _window

    layer = c.layer
    shape = c.input_shapes[0]
    if len(shape) != 2 or shape[1] is None:
        raise c.unsupported(f"input of shape {shape}: (batch, samples) with the number of samples known")
    samples, n = int(shape[1]), int(layer.fft_length)
    win = _centered(_window(layer.window, int(layer.sequence_length), np.float32, "stft"), n)
    pad = n // 2
    pos = np.abs(np.arange(-pad, samples + pad))           # reflect at the start
    pos = np.where(pos >= samples, 2 * (samples - 1) - pos, pos)   # and at the end
    index = pos[_frame_index(len(pos), n, int(layer.sequence_stride))]   # (frames, n)
    frames = b.op("Gather", [c.inputs[0], b.const(index.astype(np.int64), f"{c.name}_frames")], c.name, axis=1)
    frames = b.op("Mul", [frames, b.const(win.astype(np.float32), f"{c.name}_window")], c.name)
    k = np.arange(n // 2 + 1)
    angle = 2.0 * np.pi * np.outer(np.arange(n), k) / n      # X_k = sum_t x_t (cos - i sin)(2 pi t k / n)
    real = b.op("MatMul", [frames, b.const(np.cos(angle).astype(np.float32), f"{c.name}_cos")], c.name)
    imag = b.op("MatMul", [frames, b.const(-np.sin(angle).astype(np.float32), f"{c.name}_sin")], c.name)
    spec = b.op("Sqrt", [b.op("Add", [b.op("Mul", [real, real], c.name), b.op("Mul", [imag, imag], c.name)],
                                c.name)], c.name)
    spec = b.op("Pow", [spec, b.const(np.float32(layer.mag_exp))], c.name)
    matrix = linear_to_mel_weight_matrix(layer.num_mel_bins, n // 2 + 1, layer.sampling_rate, layer.min_freq,
                                         layer.max_freq, dtype="float32")
    out = b.op("MatMul", [spec, b.const(matrix, f"{c.name}_mel")], c.name)
    if layer.power_to_db:
        log = b.op("Mul", [b.op("Div", [b.op("Log", [b.op("Max", [out, b.const(np.float32(layer.min_power))], c.name)],
                                             c.name), b.const(np.float32(np.log(10.0)))], c.name),
                           b.const(np.float32(10.0))], c.name)
        ref = 10.0 * np.log10(max(abs(layer.ref_power), layer.min_power))
        log = b.op("Sub", [log, b.const(np.float32(ref))], c.name)
        top = b.op("ReduceMax", [log], c.name, keepdims=0)   # over every axis, the batch too, as the layer
        out = b.op("Max", [log, b.op("Sub", [top, b.const(np.float32(layer.top_db))], c.name)], c.name)
    return b.transpose(out, [0, 2, 1], c.name)
