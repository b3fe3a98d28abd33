"""``EinsumDense``: a dense layer whose contraction is written as an einsum equation.

``EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")`` projects
``(batch, time, c)`` to ``(batch, time, 4, 8)`` with a kernel ``(c, 4, 8)``: the
projections of ``MultiHeadAttention``. The contraction runs as one matrix product: the
input is transposed to ``(shared, free, contracted)``, the kernel to ``(shared,
contracted, kept)``, and ``matmul`` gives ``(shared, free, kept)`` (tensordot's method).
"""
from __future__ import annotations

import re
import string

import numpy as np

from .. import activations, ops, regularizers
from .arguments import add_weight_from_arguments, serialize_argument, set_weight_arguments, weight_arguments_config
from ..ops.quantized import output_aligned, quantized_einsum
from .lora import LoRAMixin
from .base import Layer, apply_activation
from .input_spec import InputSpec
from .quantized import QuantizableMixin


def _expand_ellipsis(equation: str, input_rank: int, layer: str):
    """``(input_spec, kernel_spec, output_spec, left_elided, elided)`` with ``...`` spelled out.

    Keras's three forms: ``X,Y->Z``, ``...X,Y->...Z`` and ``X...,Y->Z...``.
    """
    forms = ((r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
             (r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)", "left"),
             (r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.", "right"))
    for pattern, side in forms:
        match = re.fullmatch(pattern, equation.replace(" ", ""))
        if match:
            break
    else:
        raise ValueError(f"{layer}: invalid einsum equation {equation!r}; equations must be in the form "
                         "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...")
    inp, ker, out = match.groups()
    elided = input_rank - len(inp)
    if side is None and elided != 0 or elided < 0:
        raise ValueError(f"{layer}: equation {equation!r} does not fit inputs of rank {input_rank}")
    spare = [c for c in string.ascii_letters if c not in inp + ker + out][:elided]
    fill = "".join(spare)
    if side == "left":
        return fill + inp, ker, fill + out, True, elided
    return inp + fill, ker, out + fill, False, elided


def analyze_einsum(equation, bias_axes, input_shape, output_shape, layer="EinsumDense"):
    """Kernel shape, bias shape and full output shape, as Keras derives them from the equation.

    ``output_shape`` gives the output's sizes after the batch axis (after the elided axes for
    ``...X`` equations); ``None`` entries come from the input.
    """
    input_shape = tuple(input_shape)
    inp, ker, out, left, elided = _expand_ellipsis(equation, len(input_shape), layer)
    given = [output_shape] if isinstance(output_shape, (int, np.integer)) else list(output_shape)
    # Keras's full output shape: the batch axis, the elided axes, then the given sizes
    full = [input_shape[0]] + (list(input_shape[1:elided]) if left and elided else []) + given
    if not left and elided:
        full += list(input_shape[len(input_shape) - elided:])
    if len(full) != len(out):
        raise ValueError(f"{layer}: output_shape {tuple(given)} does not fit equation {equation!r} "
                         f"on inputs of shape {input_shape}")
    for i, c in enumerate(out):
        if c in inp:
            size = input_shape[inp.index(c)]
            if full[i] is not None and size is not None and full[i] != size:
                raise ValueError(f"{layer}: input shape {input_shape} and output_shape {tuple(given)} disagree "
                                 f"at the shared axis {c!r} ({size} vs {full[i]})")
            full[i] = size if full[i] is None else full[i]
        elif c not in ker:
            raise ValueError(f"{layer}: output axis {c!r} of {equation!r} is in neither the input nor the kernel")
    kernel_shape = []
    for c in ker:
        if c in out:
            kernel_shape.append(full[out.index(c)])
        elif c in inp:
            kernel_shape.append(input_shape[inp.index(c)])
        else:
            raise ValueError(f"{layer}: kernel axis {c!r} of {equation!r} is in neither the input nor the output")
    bias_shape = None
    if bias_axes:
        letters = out[elided:] if left else out[:len(out) - elided]
        for c in bias_axes:
            if c not in letters:
                raise ValueError(f"{layer}: bias axis {c!r} is not an axis of the output {letters!r}")
        first = min(letters.index(c) for c in bias_axes)
        bias_shape = [full[out.index(c)] if c in bias_axes else 1 for c in letters[first:]]
        bias_shape += [] if left else [1] * elided
    return (inp, ker, out), kernel_shape, bias_shape, full


def contract(x, kernel, specs):
    """``einsum(f"{inp},{ker}->{out}", x, kernel)`` as one ``matmul`` (shared axes batch it)."""
    inp, ker, out = specs
    only_x = [c for c in inp if c not in ker and c not in out]
    if only_x:  # axes read by nobody else are summed first
        x = ops.sum(x, axis=tuple(inp.index(c) for c in only_x))
        inp = "".join(c for c in inp if c not in only_x)
    shared = [c for c in inp if c in ker and c in out]
    summed = [c for c in inp if c in ker and c not in out]
    free = [c for c in inp if c not in ker]
    kept = [c for c in ker if c not in inp]
    size = dict(zip(inp, x.shape))
    size.update(zip(ker, kernel.shape))

    def arranged(t, spec, order, shape):
        perm = [spec.index(c) for c in order]
        if perm != list(range(len(perm))):
            t = ops.transpose(t, perm)
        return ops.reshape(t, shape) if tuple(t.shape) != tuple(shape) else t

    def prod(letters):
        return int(np.prod([size[c] for c in letters], dtype=np.int64))

    lead = (prod(shared),) if shared else ()
    a = arranged(x, inp, shared + free + summed, lead + (prod(free), prod(summed)))
    b = arranged(kernel, ker, shared + summed + kept, lead + (prod(summed), prod(kept)))
    y = ops.matmul(a, b)
    order = shared + free + kept
    y = ops.reshape(y, tuple(size[c] for c in order))
    perm = [order.index(c) for c in out]
    return ops.transpose(y, perm) if perm != list(range(len(perm))) else y


def linear_plan(specs, kernel_shape, bias_shape):
    """How an equation ``free summed, summed kept -> free kept`` runs as ``ops.linear``, or None.

    Such an equation is one GEMM on 2-D views: the input as ``(rows, prod(summed))``, the
    kernel as ``(prod(summed), prod(kept))``; a bias over every kept axis is added in the
    GEMM's output (Dense's fused op). Returns ``(summed size, kept shape, fuse the bias)``.
    Other equations (shared axes, axes out of order) take ``contract``.
    """
    inp, ker, out = specs
    n_sum = sum(c in ker for c in inp)
    free, summed = inp[:len(inp) - n_sum], inp[len(inp) - n_sum:]
    if not summed or any(c in ker for c in free) or ker[:n_sum] != summed:
        return None
    kept = ker[n_sum:]
    if out != free + kept or any(c in inp for c in kept):
        return None
    kept_shape = tuple(kernel_shape[n_sum:])
    fuse_bias = bias_shape is not None and tuple(bias_shape) == kept_shape
    return int(np.prod(kernel_shape[:n_sum], dtype=np.int64)), kept_shape, fuse_bias


def linear_contract(x, kernel, bias, plan):
    """``contract`` (plus the bias when ``plan`` fuses it) as one ``ops.linear`` on 2-D views."""
    n_summed, kept_shape, fuse_bias = plan
    n_kept = int(np.prod(kept_shape, dtype=np.int64))
    lead = x.shape[:x.ndim - (kernel.ndim - len(kept_shape))]
    if x.ndim != len(lead) + 1:  # several summed axes: fold them into one
        x = ops.reshape(x, tuple(lead) + (n_summed,))
    if kernel.ndim != 2:
        kernel = ops.reshape(kernel, (n_summed, n_kept))
    if fuse_bias:
        y = ops.linear(x, kernel, bias if bias.ndim == 1 else ops.reshape(bias, (n_kept,)))
    else:
        y = ops.linear(x, kernel)
    return ops.reshape(y, tuple(lead) + kept_shape) if len(kept_shape) != 1 else y


class EinsumDense(QuantizableMixin, LoRAMixin, Layer):
    """``activation(einsum(equation, inputs, kernel) + bias)`` with the kernel shaped by the equation;
    ``lora_rank`` trains a low-rank update of the frozen kernel (see ``layers.lora``).
    ``quantize("int8")`` makes the kernel int8 with a scale per output position of the kernel
    (abs-max over the contracted axes), stored on the output's axes as Keras stores it;
    ``quantize("float8")`` trains it through float8 with delayed scaling (see ``layers.quantized``)."""

    _quantization_modes = ("int8", "float8")

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs):
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.quantization_config = self._resolve_quantization_config(quantization_config)
        self._init_lora(lora_rank, lora_alpha)
        self.gptq_unpacked_column_size = gptq_unpacked_column_size  # a quantised-mode detail; kept for the config
        if not isinstance(equation, str) or "->" not in equation or "," not in equation:
            raise ValueError(f"EinsumDense: equation must be a string like 'ab,bc->ac', got {equation!r}")
        self.equation = equation
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (output_shape,)
        self.partial_output_shape = tuple(None if s is None else int(s) for s in output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        set_weight_arguments(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_arguments(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        self._specs, kernel_shape, bias_shape, self.full_output_shape = analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape, f"EinsumDense {self.name!r}")
        self.input_spec = InputSpec(ndim=len(input_shape))  # calls keep the rank built for, as Keras holds them
        if any(s is None for s in kernel_shape):
            raise ValueError(f"EinsumDense {self.name!r}: the kernel shape {tuple(kernel_shape)} is not fully known "
                             f"from inputs of shape {tuple(input_shape)} and output_shape {self.partial_output_shape}")
        if self.quantization_mode == "int8":  # a quantized model being loaded: bias, then the int8 kernel
            self._check_quantizable()
        else:
            if self.quantization_mode == "float8":  # a float8 model being loaded: its scaling state first
                self._float8_build()
            self.kernel = add_weight_from_arguments(self, "kernel", kernel_shape)
        self.bias = add_weight_from_arguments(self, "bias", bias_shape) if bias_shape is not None else None
        if self.quantization_mode == "int8":
            self._int8_build(tuple(kernel_shape), self.quantization_config)
        # "X...,Y->Z..." puts the elided axes last, where a call of another rank would move them
        right_elided = "..." in self.equation and not self.equation.replace(" ", "").startswith("...")
        self._linear_plan = None if right_elided else linear_plan(self._specs, kernel_shape, bias_shape)
        self.built = True
        self._build_lora()

    # int8: the kernel's scale runs over its contracted axes and is stored on the output's axes
    def _weight_axes(self, ndim: int) -> tuple:
        _, ker, out = self._specs
        return tuple(i for i, c in enumerate(ker) if c not in out)

    def _scale_shape(self, weight_shape: tuple) -> tuple:
        _, ker, out = self._specs
        return tuple(weight_shape[ker.index(c)] if c in ker else 1 for c in out)

    def _stored_scale(self, scale, weight_shape: tuple):
        _, ker, out = self._specs
        return output_aligned(scale, ker, out)

    def _check_quantizable(self) -> None:
        inp, ker, out = self._specs
        if [c for c in inp if c not in ker and c not in out]:
            raise NotImplementedError(f"EinsumDense {self.name!r}: int8 quantization of {self.equation!r} is not "
                                      "supported (input axes that only the input has are summed alone)")

    def call(self, inputs):
        specs = self._specs
        plan = getattr(self, "_linear_plan", None)
        if plan is not None and self.quantization_mode is None and not self.lora_enabled:  # a plain float kernel
            x = linear_contract(inputs, self.kernel, self.bias, plan)
            if self.bias is not None and not plan[2]:
                x = x + self.bias
            x = apply_activation(self.activation, x)
            self._add_activity_loss(x)
            return x
        if "..." in self.equation:
            specs = _expand_ellipsis(self.equation, inputs.ndim, f"EinsumDense {self.name!r}")[:3]
        if self.quantization_mode == "float8":
            x = self._float8_product(inputs, self.kernel, lambda a, k: contract(a, k, specs))
            bias = self._float8_bias()
            if bias is not None:
                x = x + bias
            x = apply_activation(self.activation, x)
            self._add_activity_loss(x)
            return x
        if self.quantization_mode == "int8":
            x = quantized_einsum(inputs, self.kernel, self.kernel_scale, specs,
                                 quantize_inputs=self.inputs_quantizer is not None)
        else:
            x = contract(inputs, self.effective_weight() if self.lora_enabled else self.kernel, specs)
        if self.bias is not None:
            x = x + self.bias
        x = apply_activation(self.activation, x)
        self._add_activity_loss(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(analyze_einsum(self.equation, self.bias_axes, input_shape, self.partial_output_shape,
                                    f"EinsumDense {self.name!r}")[3])

    def get_config(self):
        return {**super().get_config(), "output_shape": tuple(self.partial_output_shape), "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                **weight_arguments_config(self, "kernel", "bias"),
                "activity_regularizer": serialize_argument(regularizers, self.activity_regularizer),
                "quantization_config": self._quantized_config(), **self.lora_config()}


__all__ = ["EinsumDense"]
