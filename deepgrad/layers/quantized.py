"""int8 quantization of a layer's main weight, as Keras 3's ``layer.quantize("int8")`` does it.

``quantize("int8")`` replaces the float weight ``W`` (``kernel`` or ``embeddings``) by an
int8 weight of the same name and shape and a float scale ``<name>_scale``, both
non-trainable, with ``W ~ q / scale``:

- Dense and the convolutions: one scale per output channel (the kernel's last axis),
  ``scale = 127 / max|W|`` over the other axes; inputs are quantized per row at run time
  (per receptive field for a convolution), and the product is exact (``ops.quantized``);
- Embedding: one scale per row of the table (``(input_dim,)``), the lookup de-scales the rows.

The layer's dtype policy becomes ``"int8_from_<policy>"`` (``QuantizedDTypePolicy``); a layer
made with that policy (a loaded quantized model) builds the int8 weights directly. The
weights are listed as Keras lists them (bias, then the int8 weight and its scale), and
written to Keras's files in Keras's order (``keras_own_variables``: weight, bias, scale).
The convolutions' int8 mode is deepgrad's own (Keras 3.15.1 quantizes Dense, EinsumDense
and Embedding only): their files load in deepgrad, not in Keras.
"""
from __future__ import annotations

import numpy as np

from .. import dtype_policies, quantizers
from ..quantizers.float8 import bfloat16_round, float8_grad_qdq, float8_qdq
from .base import call_training

# the float8 state, in Keras's order: per tensor a scale and an amax history
_FLOAT8_VARIABLES = ("inputs_scale", "inputs_amax_history", "kernel_scale", "kernel_amax_history",
                     "outputs_grad_scale", "outputs_grad_amax_history")


def _int8_zeros(shape, dtype=None):
    """The int8 weight's initial value (deepgrad's initializers make floats only)."""
    return np.zeros(shape, np.int8)


class QuantizableMixin:
    """``quantize(mode)`` and the int8 weights of a layer whose float weight is ``quantize_target``."""

    quantize_target = "kernel"
    _quantization_modes = ("int8",)
    quantization_config = None
    inputs_quantizer = None
    _any_inputs_quantizer = False  # whether the int8 call runs any activation quantizer (Dense) or the default

    def _int8_inputs_quantization(self):
        """``quantize_inputs`` of the int8 product: True for the default abs-max per row, False for
        none, else the config's own activation quantizer (called per row)."""
        quantizer = self.inputs_quantizer
        if quantizer is None:
            return False
        default = quantizers.AbsMaxQuantizer()
        if (type(quantizer) is quantizers.AbsMaxQuantizer and tuple(quantizer.value_range) == default.value_range
                and quantizer.epsilon == default.epsilon):
            return True
        return quantizer

    @property
    def variable_serialization_spec(self) -> dict:
        """The variables' names in store order for each mode this layer runs (None: not
        quantized), as Keras's: the float weight, the bias, then the int8 scale."""
        target = self.quantize_target
        names = [target, "bias"] if hasattr(self, "use_bias") else [target]  # an Embedding has no bias
        return {None: names, "int8": names + [f"{target}_scale"], "float8": names + list(_FLOAT8_VARIABLES),
                "int4": names + [f"{target}_scale", f"{target}_zero", "g_idx"]}

    @property
    def quantization_mode(self):
        policy = self._dtype_policy
        return None if policy is None else policy.quantization_mode

    def _scale_shape(self, weight_shape: tuple) -> tuple:
        """One scale per output channel (the last axis), as Dense's ``kernel_scale``."""
        return (weight_shape[-1],)

    def _stored_scale(self, scale, weight_shape: tuple):
        """The quantizer's scale (the weight's shape, 1 on the reduced axes) as the layer stores it."""
        return scale.reshape(self._scale_shape(weight_shape))

    def _weight_axes(self, ndim: int) -> tuple:
        """The axes the abs-max of the weight runs over: all but the output channels."""
        return tuple(range(ndim - 1))

    def _check_quantizable(self) -> None:
        """Raise NotImplementedError for a configuration the int8 path does not cover."""

    def _quantized_config(self):
        """``quantization_config`` as the config saves it."""
        return None if self.quantization_config is None else quantizers.serialize(self.quantization_config)

    def _resolve_quantization_config(self, quantization_config):
        """The constructor's ``quantization_config`` (an object, or its config as a file holds it)."""
        config = quantizers.get(quantization_config) if isinstance(quantization_config, dict) else quantization_config
        if config is not None and not isinstance(config, quantizers.QuantizationConfig):
            raise ValueError(f"{type(self).__name__}: quantization_config must be a QuantizationConfig, got {config!r}")
        return config

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the layer's weight in place (``mode="int8"``; the other Keras modes raise
        NotImplementedError naming the mode). The layer must be built."""
        kind = type(self).__name__
        if type_check and not type(self).__module__.startswith("deepgrad."):
            # as Keras: a subclass may compute differently from its base, so it is left as it is
            raise NotImplementedError(f"Layer {kind} does not have a `quantize()` method implemented")
        config = quantizers.validate_and_resolve_config(mode, config)
        mode = config.mode
        if mode not in self._quantization_modes:
            raise NotImplementedError(f"{kind} {self.name!r}: quantization mode {mode!r} is not supported; deepgrad "
                                      f"quantizes to {' or '.join(repr(m) for m in self._quantization_modes)}")
        if not self.built:
            raise ValueError(f"{kind} {self.name!r}: cannot quantize a layer that is not built yet; build the model "
                             "first (call it on data or give it an Input)")
        if self.quantization_mode is not None:
            raise ValueError(f"{kind} {self.name!r}: the layer is already quantized ({self.quantization_mode!r})")
        if getattr(self, "lora_enabled", False):
            raise NotImplementedError(f"{kind} {self.name!r}: quantizing a layer with LoRA enabled is not supported")
        if mode == "float8":  # the float kernel stays and trains; the scaling state comes beside it
            self.quantization_config = config
            self._float8_build()
            policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
            self._dtype_policy, self._dtype = policy, policy.numpy_variable_dtype
            return
        if mode == "int4":
            self._int4_quantize(config)
            return
        self._check_quantizable()
        target = self.quantize_target
        weight = getattr(self, target)
        quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(
            config, quantizers.AbsMaxQuantizer(axis=self._weight_axes(weight.ndim)))
        q, scale = quantizer(weight.data)
        # the float weight goes: the int8 one and its scale come after the layer's other weights
        self._weights = [w for w in self._weights if w is not weight]
        if hasattr(self, "_regularizers"):
            self._regularizers = [(w, r) for w, r in self._regularizers if w is not weight]
        self._int8_build(tuple(weight.shape), config)
        getattr(self, target).assign(q.data)
        getattr(self, f"{target}_scale").assign(self._stored_scale(scale.data, tuple(weight.shape)))
        policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
        self._dtype_policy, self._dtype = policy, policy.numpy_variable_dtype

    def _int8_build(self, weight_shape: tuple, config=None) -> None:
        """The int8 weight (zeros) and its scale (ones), both non-trainable, and the inputs' quantizer."""
        self.quantization_config = config
        self.inputs_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
            config, quantizers.AbsMaxQuantizer())
        default = quantizers.AbsMaxQuantizer()
        if not self._any_inputs_quantizer and self.inputs_quantizer is not None and (
                tuple(getattr(self.inputs_quantizer, "value_range", ())) != default.value_range
                or getattr(self.inputs_quantizer, "epsilon", None) != default.epsilon):
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: the activation quantizer must be "
                                      "AbsMaxQuantizer() with its default value_range and epsilon, or None")
        target = self.quantize_target
        self.__dict__[target] = self.add_weight(name=target, shape=weight_shape, initializer=_int8_zeros,
                                                dtype="int8", trainable=False)
        self.__dict__[f"{target}_scale"] = self.add_weight(name=f"{target}_scale",
                                                           shape=self._scale_shape(weight_shape),
                                                           initializer="ones", trainable=False)

    # ----------------------------------------------------------------- int4 (Dense)
    def _int4_block_size(self, config):
        """The group size along the input axis (None: one scale per output unit), from the config
        when quantizing, from the policy ("int4/<block_size>", -1 per channel) when loading."""
        if isinstance(config, quantizers.Int4QuantizationConfig):
            size = config.block_size
        else:
            size = getattr(self.dtype_policy, "block_size", None)
        return None if size is None or size == -1 else int(size)

    def _int4_quantize(self, config) -> None:
        """Keras's int4 (W4): the kernel to values in [-8, 7] packed two per byte along the output
        axis; per output unit ``q = clip(round(W * s))`` with ``s = 7 / max|W|`` (no block size), or
        per group of ``block_size`` input rows asymmetrically, ``W ~ (q - zero) * scale``."""
        if config.activation_quantizer is not None:
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: int4 with an activation quantizer "
                                      "is not supported; deepgrad's int4 keeps the inputs in float")
        kernel = self.kernel
        block = self._int4_block_size(config)
        if block is None:
            quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(
                config, quantizers.AbsMaxQuantizer(axis=0, value_range=(-8, 7), output_dtype="int8"))
            q, scale = quantizer(kernel.data)
            scale, zero = scale.data.reshape(-1), None
        else:
            q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(kernel.data, block_size=block)
            scale, zero = scale.data, zero.data
        packed, _, _ = quantizers.pack_int4(q.data.astype(np.int8), axis=-1)
        self._weights = [w for w in self._weights if w is not kernel]
        if hasattr(self, "_regularizers"):
            self._regularizers = [(w, r) for w, r in self._regularizers if w is not kernel]
        self._int4_build(tuple(kernel.shape), config, block)
        self.kernel.assign(packed.data)
        self.kernel_scale.assign(scale)
        if zero is not None:
            self.kernel_zero.assign(zero)
        policy = dtype_policies.get(f"int4/{-1 if block is None else block}_from_{self.dtype_policy.name}")
        self._dtype_policy, self._dtype = policy, policy.numpy_variable_dtype

    def _int4_build(self, kernel_shape: tuple, config=None, block=None) -> None:
        """The packed int8 kernel ``(in, ceil(out / 2))``, its scale (``(out,)``, or ``(groups, out)``
        with an int8 zero point of that shape and ``g_idx``, each input row's group), non-trainable."""
        self.quantization_config = config
        self.inputs_quantizer = None
        rows, units = kernel_shape
        self._int4_shape = (rows, units)
        self._int4_groups = block
        self.__dict__["kernel"] = self.add_weight(name="kernel", shape=(rows, (units + 1) // 2),
                                                  initializer=_int8_zeros, dtype="int8", trainable=False)
        scale_shape = (units,) if block is None else (-(-rows // block), units)
        self.__dict__["kernel_scale"] = self.add_weight(name="kernel_scale", shape=scale_shape, initializer="ones",
                                                        trainable=False)
        if block is not None:
            self.__dict__["kernel_zero"] = self.add_weight(name="kernel_zero", shape=scale_shape,
                                                           initializer=_int8_zeros, dtype="int8", trainable=False)
            self.__dict__["g_idx"] = self.add_weight(
                name="g_idx", shape=(rows,), dtype="float32", trainable=False,
                initializer=lambda shape, dtype=None: (np.arange(rows) // block).astype(np.float32))

    def _int4_kernel(self) -> np.ndarray:
        """The int4 values of the kernel as ``(in, out)`` int8 (per channel), or the dequantized
        float kernel ``(q - zero[g]) * scale[g]`` of each row's group ``g`` (sub-channel)."""
        rows, units = self._int4_shape
        q = quantizers.unpack_int4(self.kernel.data, units, axis=-1).data
        if self._int4_groups is None:
            return q
        groups = self.g_idx.data.astype(np.int64)
        return ((q - self.kernel_zero.data[groups]) * self.kernel_scale.data[groups]).astype(self.compute_dtype)

    def _float8_build(self) -> None:
        """The delayed-scaling state of float8 training, as Keras's: a scale (1) and an amax history
        (zeros, ``amax_history_length`` long) for the inputs, the kernel and the outputs' gradient,
        all float32, trainable and written by the optimizer with their "gradients" (their new values)."""
        length = getattr(self.dtype_policy, "amax_history_length", 1024)
        for name in _FLOAT8_VARIABLES:
            history = name.endswith("_amax_history")
            self.__dict__[name] = self.add_weight(name=name, shape=(length,) if history else (),
                                                  initializer="zeros" if history else "ones", dtype="float32",
                                                  trainable=True, autocast=False, overwrite_with_gradient=True)

    def _float8_product(self, inputs, kernel, product):
        """``product(inputs, kernel)`` as Keras's float8 layers run it: the inputs and the kernel
        through float8 E4M3FN and back, the product's gradient through float8 E5M2 and back (each
        with its own delayed scale); the scales and histories move only in training."""
        if getattr(self, "lora_enabled", False):
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: float8 does not run with LoRA enabled")
        training = bool(call_training())
        x = float8_qdq(inputs, self.inputs_scale, self.inputs_amax_history, "float8_e4m3fn", training)
        k = float8_qdq(kernel, self.kernel_scale, self.kernel_amax_history, "float8_e4m3fn", training)
        return float8_grad_qdq(product(x, k), self.outputs_grad_scale, self.outputs_grad_amax_history,
                               "float8_e5m2")

    def _float8_bias(self):
        """The bias a float8 layer adds: rounded to bfloat16 under a float32 compute dtype, as
        Keras rounds it (its gradient is rounded on the way back, as a cast's is)."""
        bias = self.bias
        if bias is not None and self.dtype_policy.compute_dtype == "float32":
            bias = bfloat16_round(bias)
        return bias

    def keras_own_variables(self):
        """The variables in the order Keras's files hold them for a quantized layer (weight,
        bias, scale); None when not quantized (the usual trainable-first order)."""
        if self.quantization_mode is None:
            return None
        target = self.quantize_target
        bias = getattr(self, "bias", None)
        if self.quantization_mode is not None and self.quantization_mode.startswith("int4"):
            extra = [self.kernel_zero, self.g_idx] if self._int4_groups is not None else []
            return [self.kernel] + ([bias] if bias is not None else []) + [self.kernel_scale] + extra
        if self.quantization_mode == "float8":
            return ([getattr(self, target)] + ([bias] if bias is not None else [])
                    + [getattr(self, name) for name in _FLOAT8_VARIABLES])
        return [getattr(self, target)] + ([bias] if bias is not None else []) + [getattr(self, f"{target}_scale")]


__all__ = ["QuantizableMixin"]
