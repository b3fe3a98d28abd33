"""The core Keras layers: Input, Dense, Activation, Flatten, Reshape, Permute, RepeatVector,
Dropout, Lambda, Identity and Masking."""
from __future__ import annotations

import inspect
import json
import warnings

import numpy as np

from .. import activations, backend, ops, regularizers
from ..autograd import Tensor
from ..registry import GLOBAL_CUSTOM_NAMES, find_custom_object
from ..seed_generator import SeedGenerator
from ..ops.nn import linear, linear_relu
from ..ops.quantized import quantized_linear
from ..symbolic import KerasTensor, Node
from .lora import LoRAMixin
from .quantized import QuantizableMixin
from .base import Layer, apply_activation, dtype_name
from .input_spec import InputSpec
from .arguments import (add_weight_from_arguments, serialize_argument, set_weight_arguments,
                               weight_arguments_config)


def _positive_int(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class KernelLayer(Layer):
    """What Dense and the convolutions share: an activation, a kernel and an optional bias,
    each weight with its initializer, regularizer and constraint, and their Keras config."""
    _float_inputs = True  # int @ float32 kernel would promote to float64; Keras computes in float32

    def _set_kernel_arguments(self, activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, activity_regularizer,
                              kernel_constraint, bias_constraint) -> None:
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.use_bias = bool(use_bias)
        set_weight_arguments(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_arguments(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _add_kernel_and_bias(self, kernel_shape: tuple, quantized: bool = False) -> None:
        """The kernel, and a bias of one entry per output unit (the kernel's last axis); with
        ``quantized`` the bias first, then the int8 kernel and its scale, as Keras builds them."""
        if not quantized:
            self.kernel = add_weight_from_arguments(self, "kernel", kernel_shape)
        self.bias = add_weight_from_arguments(self, "bias", (kernel_shape[-1],)) if self.use_bias else None
        if quantized:
            self._int8_build(kernel_shape, self.quantization_config)
        self.built = True

    def _kernel_config(self) -> dict:
        return {"activation": self.activation_name, "use_bias": self.use_bias,
                **weight_arguments_config(self, "kernel", "bias"),
                "activity_regularizer": serialize_argument(regularizers, self.activity_regularizer)}


# ----------------------------------------------------------------- inputs
class InputLayer(Layer):
    """The layer behind ``Input``: it holds the input's shape and passes data through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if sparse or ragged:
            raise ValueError("InputLayer: sparse and ragged inputs are not supported; inputs are dense arrays")
        if input_tensor is not None:
            raise ValueError("InputLayer: input_tensor is not supported; give shape or batch_shape")
        # Keras's deprecated names (tf.keras programs): input_shape is shape, batch_input_shape is batch_shape
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.", stacklevel=2)
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if shape is None and batch_shape is not None:
            shape, batch_size = tuple(batch_shape[1:]), batch_shape[0]
        if shape is None:
            raise ValueError("InputLayer: a shape is required, e.g. Input(shape=(784,))")
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        super().__init__(name=name or None, dtype=dtype, **kwargs)
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.batch_shape = (self.batch_size,) + self.shape
        self.optional = bool(optional)
        self.built = True
        # the input tensor, made with the layer and recorded as its one call: layer.output is it
        tensor = KerasTensor(self.batch_shape, dtype=self.dtype, name=self.name)
        tensor.input_layer = self
        Node(self, [], (), {}, outputs=[tensor])

    def get_config(self):
        return {"batch_shape": tuple(self.batch_shape), "dtype": dtype_name(self.dtype), "sparse": False, "ragged": False,
                "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,  # noqa: N802
          name=None, tensor=None, optional=False):
    """A symbolic input ``(batch_size,) + shape`` (batch size None unless given) for the functional
    API and ``Sequential``.

    The KerasTensor has no ``layer`` (graphs treat that as an input); its ``InputLayer``
    is on ``tensor.input_layer``, and ``input_layer.output`` is the tensor.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
    return layer.output


# ----------------------------------------------------------------- Dense
class Dense(QuantizableMixin, LoRAMixin, KernelLayer):
    """``activation(inputs @ kernel + bias)`` on the last axis; kernel ``(in, units)``.

    With ``lora_rank`` (or ``enable_lora(rank)``) the kernel is frozen and the layer trains a
    low-rank update of it (see ``layers.lora``). ``quantize("int8")`` turns the kernel into
    int8 with a per-unit ``kernel_scale``; ``quantize("float8")`` trains it through float8 with
    delayed scaling (see ``layers.quantized``)."""

    _quantization_modes = ("int8", "float8", "int4")
    _any_inputs_quantizer = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        self.quantization_config = self._resolve_quantization_config(quantization_config)
        self.units = _positive_int(units, "units", "Dense")
        self._set_kernel_arguments(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)
        self._init_lora(lora_rank, lora_alpha)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        # as Keras, ``build((10,))`` takes the one axis as the input size; calls are held to rank >= 2
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r}: needs inputs with a known last axis, got shape "
                             f"{tuple(input_shape)}")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: int(input_shape[-1])})
        if self.quantization_mode == "int8":  # a quantized model being loaded: bias, then the int8 kernel
            self._add_kernel_and_bias((input_shape[-1], self.units), quantized=True)
        elif self.quantization_mode == "int4":  # a quantized model being loaded: bias, then the packed kernel
            self.bias = add_weight_from_arguments(self, "bias", (self.units,)) if self.use_bias else None
            self._int4_build((input_shape[-1], self.units), self.quantization_config,
                             self._int4_block_size(self.quantization_config))
            self.built = True
        else:
            if self.quantization_mode == "float8":  # a float8 model being loaded: its scaling state first, as Keras
                self._float8_build()
            self._add_kernel_and_bias((input_shape[-1], self.units))
        self._build_lora()

    def call(self, inputs):  # the input spec set in build holds inputs to rank >= 2 and the kernel's rows
        if self.quantization_mode is not None:  # one property read on the float path
            outputs = apply_activation(self.activation, self._quantized_product(inputs, self.quantization_mode))
            self._add_activity_loss(outputs)
            return outputs
        kernel = self.effective_weight() if self.lora_enabled else self.kernel
        if self.activation is activations.relu:
            outputs = linear_relu(inputs, kernel, self.bias)
        else:
            outputs = apply_activation(self.activation, linear(inputs, kernel, self.bias))
        if self.activity_regularizer is not None:
            self._add_activity_loss(outputs)
        return outputs

    def _quantized_product(self, inputs, mode):
        """``inputs @ kernel + bias`` in the layer's quantization mode."""
        if mode == "int8":
            return quantized_linear(inputs, self.kernel, self.kernel_scale, self.bias,
                                    quantize_inputs=self._int8_inputs_quantization())
        if mode == "int4":
            outputs = linear(inputs, Tensor(self._int4_kernel(), dtype=inputs.dtype), None)
            if self._int4_groups is None:  # per channel: (x @ q) / scale, as Keras divides after the product
                outputs = outputs / Tensor(self.kernel_scale.data.astype(inputs.dtype))
            return outputs if self.bias is None else outputs + self.bias
        bias = self._float8_bias()  # float8
        outputs = self._float8_product(inputs, self.kernel, lambda x, k: linear(x, k, None))
        return outputs if bias is None else outputs + bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = {**super().get_config(), "units": self.units, **self._kernel_config(),
                  "quantization_config": self._quantized_config(), **self.lora_config()}
        if config["activity_regularizer"] is None:  # Keras's Dense config has none; kept when set
            del config["activity_regularizer"]
        return config


# ----------------------------------------------------------------- shape-only layers
class Activation(Layer):
    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


class Flatten(Layer):
    """``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format or backend.image_data_format()
        self.input_spec = InputSpec(min_ndim=1)  # a batch axis first

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(s is None for s in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1)."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        dims = (target_shape,) if isinstance(target_shape, (int, np.integer)) else target_shape
        if not isinstance(dims, (tuple, list)) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in dims):
            raise TypeError(f"Reshape: target_shape must be a tuple of ints, got {target_shape!r}")
        target_shape = tuple(int(s) for s in dims)
        if sum(s == -1 for s in target_shape) > 1 or any(s == 0 or s < -1 for s in target_shape):
            raise ValueError(f"Reshape: target_shape may hold positive sizes and at most one -1, got {target_shape}")
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        rest = tuple(input_shape[1:])
        if any(s is None for s in rest):
            return tuple(None if s == -1 else s for s in self.target_shape)
        size = int(np.prod(rest, dtype=np.int64))
        known = int(np.prod([s for s in self.target_shape if s != -1], dtype=np.int64))
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise ValueError(f"Reshape {self.name!r}: cannot reshape input of shape {tuple(input_shape)} "
                             f"({size} values per sample) to {self.target_shape}")
        return tuple(size // known if s == -1 else s for s in self.target_shape)

    def call(self, inputs):
        if inputs.ndim == 0:
            raise ValueError(f"Reshape {self.name!r}: expected input of rank >= 1 (a batch axis first), got a scalar")
        return ops.reshape(inputs, (inputs.shape[0],) + self._resolve(inputs.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(input_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": tuple(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch axes; ``dims`` counts from 1, as in Keras (``(2, 1)`` swaps them)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)}, got {dims}")
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": tuple(self.dims)}


class RepeatVector(Layer):
    """``(batch, features) -> (batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "n", "RepeatVector")
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return ops.broadcast_to(ops.expand_dims(inputs, 1), (inputs.shape[0], self.n, inputs.shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs and scale the rest by ``1 / (1 - rate)``, in training only."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1], got {rate!r}")
        self.rate = float(rate)
        if noise_shape is not None:
            if isinstance(noise_shape, str) or not hasattr(noise_shape, "__iter__"):
                raise ValueError(f"Dropout: noise_shape must be a tuple of ints or None, got {noise_shape!r}")
            noise_shape = tuple(noise_shape)
            if any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0)
                   for d in noise_shape):
                raise ValueError(f"Dropout: noise_shape entries must be positive ints or None, got {noise_shape!r}")
        self.noise_shape = noise_shape
        self.seed = seed
        if self.rate > 0:  # Keras's state of the layer's draws: ``[seed, calls]``
            self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return inputs * 0.0
        # a fixed seed gives a new mask each call, reproducibly: the mask of call k is drawn from
        # (seed, k), k the counter of the seed generator's state; without a seed the draws come
        # from deepgrad's global generator (``set_random_seed`` repeats them). The counter moves
        # where Keras's (torch backend) draws through the generator: with a seed or a
        # ``noise_shape``; its unseeded full-shape dropout draws from torch's global state instead
        seed = None
        if self.seed is not None or self.noise_shape is not None:
            state = self.seed_generator.next()
            if self.seed is not None:
                seed = (self.seed, int(state.data[1]))
        return ops.dropout(inputs, self.rate, training=True, noise_shape=self.noise_shape, seed=seed)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": list(self.noise_shape) if self.noise_shape is not None else None,
                "seed": self.seed}


def _function_config(fn, what: str, layer: str):
    """A named function as ``{"class_name": "function", "config": name}``; Python lambdas are refused,
    since model files hold no code (Keras stores their bytecode, loadable only with safe_mode=False)."""
    name = getattr(fn, "__name__", None)
    if not name or name == "<lambda>":
        raise NotImplementedError(
            f"Lambda layer {layer!r} cannot be serialized: its {what} is a Python lambda, and deepgrad model "
            "files never store code. Use a named function (and pass it as custom_objects={'name': function} "
            "when loading), write a Layer subclass with get_config, or save only the weights.")
    registered = GLOBAL_CUSTOM_NAMES.get(fn)
    if registered is not None:
        # register_keras_serializable: saved as Keras saves it, the registered "package>name" as the
        # config, so that it is found again without custom_objects
        return {"module": "builtins", "class_name": "function", "config": registered, "registered_name": "function"}
    return {"class_name": "function", "config": name}


def _function_from_config(value, custom_objects, layer_name):
    """The function a config names: from ``custom_objects``, the open custom-object scope or the
    functions registered with ``register_keras_serializable``, else a deepgrad op of that name."""
    if not (isinstance(value, dict) and value.get("class_name") == "function"):
        return value
    name = value.get("config")
    found = find_custom_object(name, custom_objects)
    if found is None and isinstance(name, str) and not name.startswith("_"):
        found = getattr(ops, name, None)
    if not callable(found):
        raise ValueError(f"Lambda {layer_name!r}: the function {name!r} is neither in custom_objects nor a "
                         "deepgrad op; pass it with custom_objects={'name': function}")
    return found


class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` (built from deepgrad ops) as a layer.

    ``function`` also receives ``mask`` and ``training`` when it takes them. ``output_shape``
    (without the batch axis, or a function of the input shape) and ``mask`` (a fixed mask or
    ``mask(inputs, previous_mask)``) are as in Keras. A named function is saved by name and found
    again through ``custom_objects`` (or among deepgrad's ops); a Python lambda cannot be saved.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda: function must be callable, got {function!r}")
        self.function = function
        self.output_shape = tuple(output_shape) if isinstance(output_shape, list) else output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes = {k for k in ("mask", "training") if k in params}

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._fn_takes:
            kwargs["mask"] = mask
        if "training" in self._fn_takes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return tuple(self.output_shape(input_shape))
        batch = (input_shape[0] if input_shape and not isinstance(input_shape[0], (list, tuple))
                 else input_shape[0][0])
        return (batch,) + tuple(self.output_shape)

    def get_config(self):
        config = {**super().get_config(), "function": _function_config(self.function, "function", self.name)}
        if self.output_shape is not None:
            config["output_shape"] = (_function_config(self.output_shape, "output_shape", self.name)
                                      if callable(self.output_shape) else list(self.output_shape))
        if self.mask is not None:
            config["mask"] = (_function_config(self.mask, "mask", self.name) if callable(self.mask)
                              else np.asarray(self.mask).tolist())
        try:
            json.dumps(self.arguments)
        except TypeError:
            raise NotImplementedError(f"Lambda layer {self.name!r}: its arguments {self.arguments!r} are not "
                                      "plain numbers, strings, lists or dicts, so they cannot be saved") from None
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        name = config.get("name")
        for key in ("function", "output_shape", "mask"):
            if key in config:
                config[key] = _function_from_config(config[key], custom_objects, name)
        return cls(**config)


class Identity(Layer):
    """Returns its input unchanged (mask included)."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Masking(Layer):
    """Masks the timesteps whose features all equal ``mask_value``: they become 0 and the mask
    ``(batch, steps)`` (True where any feature differs) goes on to the next layers, e.g. an LSTM."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def _keep(self, inputs):
        data = inputs.data if hasattr(inputs, "data") else np.asarray(inputs)
        return np.any(data != self.mask_value, axis=-1)

    def call(self, inputs):
        keep = self._keep(inputs)
        return inputs * Tensor(keep[..., None].astype(inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Identity", "Input", "InputLayer", "Lambda", "Masking",
           "Permute", "RepeatVector", "Reshape"]
