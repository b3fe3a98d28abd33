"""Attention layers: ``Attention`` (Luong), ``AdditiveAttention`` (Bahdanau),
``MultiHeadAttention`` and ``GroupedQueryAttention`` (exported as ``GroupQueryAttention``).

Every one computes ``softmax(scores) @ value``; they differ in the scores:

    Attention            scores = scale * q k^T                (score_mode="dot")
                         scores = c * sum(tanh(scale * (q + k)))  (score_mode="concat")
    AdditiveAttention    scores = sum(scale * tanh(q + k))
    MultiHeadAttention   scores = (q W_q) (k W_k)^T / sqrt(key_dim), per head, then W_o
    GroupedQueryAttention  as MultiHeadAttention with fewer key/value heads, each shared by
                           num_query_heads / num_key_value_heads query heads

Masks say True where a position may be attended to. Keras masks of the inputs
(``_keras_mask``) are read as Keras reads them: the query's zeroes (Attention) or masks
(MultiHeadAttention) the padded query rows, the value's removes padded keys.
"""
from __future__ import annotations

import math

import numpy as np

from .. import constraints, initializers, ops, regularizers
from ..autograd import Tensor
from ..autograd.scopes import note_write
from ..backend import current_path
from ..ops.attention import attention_with_dropout
from .activations import Softmax
from .arguments import serialize_argument
from ..seed_generator import SeedGenerator
from .base import Layer
from .core import Dropout
from .einsum_dense import EinsumDense


def _as_tensor(x, dtype) -> Tensor:
    """A float input in the layer's dtype (a Tensor already of that dtype passes as is)."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.astype(dtype)
    return Tensor(np.asarray(x, dtype=dtype))


def _bool_mask(mask):
    """A mask (Tensor, array or None) as a NumPy bool array; Keras keeps values > 0.5 of a float mask."""
    if mask is None:
        return None
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    return m if m.dtype == bool else m > 0.5 if m.dtype.kind == "f" else m.astype(bool)


def _keras_mask(x):
    return getattr(x, "_keras_mask", None)


def causal_mask(q_len: int, k_len: int) -> np.ndarray:
    """``(1, Tq, Tk)``, True where ``i >= j``: position i sees itself and the past."""
    return np.tril(np.ones((q_len, k_len), dtype=bool))[None]


def sliding_window_mask(q_len: int, k_len: int, window: int) -> np.ndarray:
    """``(1, Tq, Tk)``, True where ``|i - j| < window`` (a symmetric band)."""
    return (np.abs(np.arange(q_len)[:, None] - np.arange(k_len)[None, :]) < window)[None]


def _and(a, b):
    return b if a is None else a if b is None else a & b


class _SeededDropout:
    """The dropout of attention probabilities: a fixed seed advances per call, as Dropout's does.

    The calls are counted in a ``SeedGenerator``'s state, where Keras keeps it: the layer's own
    ``seed_generator`` (Attention), or its ``_dropout_layer``'s (the multi-head layers)."""

    def _drop(self, x, rate):
        return ops.dropout(x, rate, training=True, seed=self._drop_seed())

    def _seed_generator(self):
        generator = self.__dict__.get("seed_generator")
        if generator is None:
            generator = getattr(self.__dict__.get("_dropout_layer"), "seed_generator", None)
        return generator

    def _drop_seed(self):
        """The seed of this call's dropout draws, ``(seed, k)`` for the layer's k-th draw (None:
        the global generator)."""
        if self.seed is None:
            return None
        generator = self._seed_generator()
        if generator is None:   # a layer made without one (no dropout at construction)
            seed = (self.seed, self.__dict__.setdefault("_drop_calls", 0))
            note_write(self, "_drop_calls")  # a checkpoint's recomputation draws this call's mask again
            self._drop_calls += 1
            return seed
        return (self.seed, int(generator.next().data[1]))


# ----------------------------------------------------------------- Attention, AdditiveAttention
class Attention(_SeededDropout, Layer):
    """Dot-product (Luong) attention on ``[query, value]`` or ``[query, value, key]``.

    ``query (B, Tq, dim)``, ``value (B, Tv, dim)``, ``key`` defaults to ``value``. Masked
    keys get ``scores - 1e9`` before the softmax; masked queries output zeros.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        if self.dropout > 0:  # as Keras's: its state is one of the layer's variables
            self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self._scores_requested = False

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} {self.name!r}: must be called on a list [query, value] or "
                             f"[query, value, key], got {type(inputs).__name__}")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name} {self.name!r}: mask must be a list [query_mask, value_mask], got {mask!r}")

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = (self.add_weight("concat_score_weight", (), "ones")
                                    if self.score_mode == "concat" else None)
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)  # (B, Tq, Tv, dim)
        if self.scale is not None:
            pairs = pairs * self.scale
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    def __call__(self, inputs, *args, **kwargs):
        # the symbolic call learns the output count from here (compute_output_shape sees shapes only)
        self._scores_requested = bool(kwargs.get("return_attention_scores", False))
        try:
            return super().__call__(inputs, *args, **kwargs)
        finally:
            self._scores_requested = False

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        if mask is None:  # the Keras masks of the inputs, as Keras fills the mask argument
            mask = [_keras_mask(t) for t in inputs]
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask, v_mask = (_bool_mask(mask[0]), _bool_mask(mask[1])) if mask else (None, None)
        scores = self._calculate_scores(q, k)
        allowed = None if v_mask is None else v_mask[:, None, :]  # (B, 1, Tv)
        if use_causal_mask:
            allowed = _and(allowed, causal_mask(scores.shape[-2], scores.shape[-1]))
        if allowed is not None:
            # padded keys lose 1e9 (65504 in float16) from their scores, as Keras subtracts it
            big = 65504.0 if scores.dtype == np.float16 else 1.0e9
            scores = scores - Tensor(np.where(allowed, 0.0, big).astype(scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        attended = self._drop(weights, self.dropout) if training and self.dropout > 0 else weights
        outputs = ops.matmul(attended, v)
        if q_mask is not None:
            outputs = ops.where(q_mask[..., None], outputs, 0.0)
        outputs._keras_mask = None if q_mask is None else mask[0]
        return (outputs, weights) if return_attention_scores else outputs

    def compute_mask(self, inputs, mask=None):
        return None if not mask or mask[0] is None else mask[0]

    def compute_output_shape(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        out = (*query_shape[:-1], value_shape[-1])
        if self._scores_requested:
            key_shape = input_shape[2] if len(input_shape) > 2 else value_shape
            return [out, (*query_shape[:-1], key_shape[-2])]
        return out

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: ``scores = sum(scale * tanh(q + k), axis=-1)``, ``scale (dim,)``."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        dim = input_shape[0][-1]
        self.scale = self.add_weight("scale", (dim,), "glorot_uniform") if self.use_scale else None
        self.built = True

    def _calculate_scores(self, query, key):
        pairs = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))  # (B, Tq, Tv, dim)
        return ops.sum(pairs * self.scale if self.scale is not None else pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config


# ----------------------------------------------------------------- multi-head attention
def _letters(n: int, start: int = 0) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[start:start + n]


def projection_equation(free_dims: int, bound_dims: int, output_dims: int):
    """Keras's projection einsum: ``(free + bound) , (bound + out) -> (free + out)``, bias on ``out``."""
    free, bound = _letters(free_dims), _letters(bound_dims, free_dims)
    out = _letters(output_dims, free_dims + bound_dims)
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def attention_equations(rank: int, attn_axes) -> tuple[str, str, int]:
    """Keras's einsum equations of a ``_compute_attention`` override, for projected tensors of
    ``rank`` ``(batch, <attention axes>, heads, dim)``:

    scores = einsum(dot, key, query): ``(<batch dims>, heads, <query attn>, <key attn>)``;
    output = einsum(combine, scores, value): the query's layout. Returns (dot, combine, scores rank).
    """
    target = _letters(rank)
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, extra = list(target), rank
    for i in range(rank):
        if i in attn_axes:
            source[i] = "abcdefghijklmnopqrstuvwxyz"[extra]
            extra += 1
    source = "".join(source)
    product = ("".join(target[i] for i in batch_dims) + "".join(target[i] for i in attn_axes)
               + "".join(source[i] for i in attn_axes))
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class _HeadsAttention(_SeededDropout, Layer):
    """What MultiHeadAttention and GroupedQueryAttention share: the call with three inputs,
    the masks, and the attention of projected ``(B, T, heads, dim)`` tensors."""

    _head_projections = ()  # set per subclass

    def _track_dropout_layer(self) -> None:
        """Keras's ``_dropout_layer``, made where Keras's build makes it (after the value
        projection), so its seed generator's state takes Keras's place among the variables."""
        layer = Dropout(self._dropout, seed=self.seed, dtype=self._sublayer_dtype())
        self.__dict__["_dropout_layer"] = layer
        self._layers.append(layer)

    def _sublayer_dtype(self):
        """The dtype the sub-layers are made with: this layer's policy, as Keras passes it (so a
        mixed policy reaches the projections), else its variable dtype."""
        return self._dtype_policy if self._dtype_policy is not None else self._dtype

    def _common_sublayer_kwargs(self):
        # a fresh initializer per sublayer, so no two kernels start equal
        def fresh(init):
            return type(init).from_config(init.get_config()) if hasattr(init, "get_config") else init

        return dict(kernel_initializer=fresh(self.kernel_initializer), bias_initializer=fresh(self.bias_initializer),
                    kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
                    activity_regularizer=self.activity_regularizer, kernel_constraint=self.kernel_constraint,
                    bias_constraint=self.bias_constraint, dtype=self._sublayer_dtype())

    def __call__(self, query, value=None, key=None, **kwargs):
        name = type(self).__name__
        if value is None:
            raise ValueError(f"{name} {self.name!r}: needs query and value, e.g. layer(query, value)")
        if not self.built:
            self._maybe_build_all(tuple(query.shape), tuple(value.shape),
                                  None if key is None else tuple(key.shape))
        # the symbolic call learns the shapes of value/key and the output count from here
        self._call_context = (tuple(value.shape), None if key is None else tuple(key.shape),
                              bool(kwargs.get("return_attention_scores", False)))
        args = (value,) if key is None else (value, key)
        try:
            return super().__call__(query, *args, **kwargs)
        finally:
            self._call_context = None

    def _maybe_build_all(self, query_shape, value_shape, key_shape):
        with self._open_name_scope():  # the projections' paths sit under this layer's, as Keras's
            if self._path is None:
                self.__dict__["_path"] = current_path()
            self.build(query_shape, value_shape, key_shape)
        self.built = True
        self.input_shape_built = query_shape

    def _masks(self, query, value, key, key_given, query_mask, value_mask, key_mask, attention_mask,
               use_causal_mask):
        """The ``(B, T, S)`` (or broadcastable) bool mask from every source, or None."""
        auto = None
        if query_mask is not None:
            auto = _bool_mask(query_mask)[:, :, None]
        if value_mask is not None:
            auto = _and(auto, _bool_mask(value_mask)[:, None, :])
        if key_given and key_mask is not None:
            auto = _and(auto, _bool_mask(key_mask)[:, None, :])
        if use_causal_mask:
            auto = _and(auto, causal_mask(query.shape[1], value.shape[1]))
        if self._sliding_window is not None:
            auto = _and(auto, sliding_window_mask(query.shape[1], value.shape[1], self._sliding_window))
        return _and(_bool_mask(attention_mask), auto)

    def _attend(self, q, k, v, mask, training, return_scores, attention_axes, causal_only):
        """softmax(q k^T / sqrt(d)) v over the attention axes of projected ``(B, ..., heads, dim)`` tensors.

        Returns ``(output (B, ..., heads, dim_v), scores or None)``. Rank-4 inputs without
        dropout or returned scores take the fused ``dot_product_attention``; with them, the
        fused ``attention_with_dropout`` (the same dropout draws as the explicit path's), unless
        a row of the mask allows no key: Keras's explicit path gives such a row zero
        probabilities, which the explicit path below keeps.
        """
        rank = q.ndim
        if rank == 4:
            while mask is not None and mask.ndim < 4:  # Keras adds the heads axis before (T, S)
                mask = np.expand_dims(mask, -3)
            if not (self._dropout > 0 or return_scores):
                if causal_only:
                    return ops.dot_product_attention(q, k, v, scale=self._inverse_sqrt_dim, is_causal=True), None
                return ops.dot_product_attention(q, k, v, mask=mask, scale=self._inverse_sqrt_dim), None
            fused = self._fused_attend(q, k, v, mask, training, return_scores, causal_only)
            if fused is not None:
                return fused
        if causal_only:
            mask = causal_mask(q.shape[1], v.shape[1])
        # (batch..., heads, attention..., dim): heads and batch axes lead, attention axes fold to one
        batch_axes = [i for i in range(rank - 2) if i not in attention_axes]
        perm = batch_axes + [rank - 2] + list(attention_axes) + [rank - 1]

        def folded(t):
            t = ops.transpose(t, perm) if perm != list(range(rank)) else t
            lead = t.shape[:len(batch_axes) + 1]
            return ops.reshape(t, (int(np.prod(lead[:-1], dtype=np.int64)), lead[-1], -1, t.shape[-1])), t.shape

        qf, q_shape = folded(q * q.dtype.type(self._inverse_sqrt_dim))
        kf, k_shape = folded(k)
        vf, v_shape = folded(v)
        scores = ops.matmul(qf, ops.swapaxes(kf, -1, -2))  # (B', heads, Tq, Tk)
        n_attn = len(attention_axes)
        scores_shape = tuple(q_shape[:-1]) + tuple(k_shape[len(batch_axes) + 1:-1])
        if mask is not None:
            # Keras adds the missing axes before the heads axis: (<batch>, heads, <q attn>, <k attn>)
            while mask.ndim < len(scores_shape):
                mask = np.expand_dims(mask, mask.ndim - 2 * n_attn)
            mask = np.broadcast_to(mask, scores_shape).reshape(scores.shape)
            big = -3e4 if scores.dtype == np.float16 else -1e9  # Keras's Softmax sets masked scores to this
            scores = ops.where(mask, scores, big)
        probs = ops.softmax(scores, axis=-1)
        if mask is not None:  # and zeroes them after, so a row with no key left is all zeros
            probs = ops.where(mask, probs, 0.0)
        attended = self._drop(probs, self._dropout) if training and self._dropout > 0 else probs
        out = ops.matmul(attended, vf)  # (B', heads, Tq, dim_v)
        out = ops.reshape(out, tuple(q_shape[:-1]) + (v_shape[-1],))
        inverse = list(np.argsort(perm))
        out = ops.transpose(out, inverse) if perm != list(range(rank)) else out
        return out, (ops.reshape(probs, scores_shape) if return_scores else None)

    def _fused_attend(self, q, k, v, mask, training, return_scores, causal_only):
        """``_attend`` of rank-4 inputs with dropout or returned scores by the fused attention op,
        or None where it does not apply (float16, or a row of the mask with no key open)."""
        if q.dtype not in (np.float32, np.float64) or not (mask is None or mask.any(axis=-1).all()):
            return None
        dropping = bool(training) and self._dropout > 0
        out = attention_with_dropout(q, k, v, mask=mask, scale=self._inverse_sqrt_dim, is_causal=causal_only,
                                     rate=self._dropout if dropping else 0.0,
                                     seed=self._drop_seed() if dropping else None, return_probs=return_scores)
        return out if return_scores else (out, None)

    def _finish(self, outputs, scores, query_mask, return_attention_scores):
        if query_mask is not None:
            outputs._keras_mask = query_mask
        return (outputs, scores) if return_attention_scores else outputs

    def compute_mask(self, inputs, mask=None):
        return _keras_mask(inputs)


class MultiHeadAttention(_HeadsAttention):
    """Multi-head attention (Vaswani et al., 2017) with Keras's weights.

    ``query (B, T, dim)``, ``value (B, S, dim_v)``, ``key (B, S, dim_k)`` (default ``value``).
    Weights in order: query kernel ``(dim, heads, key_dim)`` and bias ``(heads, key_dim)``,
    key, value (``value_dim``), then the output kernel ``(heads, value_dim, dim)`` and bias
    ``(dim,)``; ``use_gate`` adds a sigmoid gate projection of the query after the key.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim)):
            if (v is not None or arg != "value_dim") and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise ValueError(f"MultiHeadAttention: {arg} must be a positive integer, got {v!r}")
        if sliding_window is not None and (not isinstance(sliding_window, int) or sliding_window <= 0):
            raise ValueError(f"MultiHeadAttention: sliding_window must be None or a positive integer, "
                             f"got {sliding_window!r}")
        if flash_attention:
            raise ValueError("MultiHeadAttention: flash_attention=True is not available on NumPy")
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads, self._key_dim = num_heads, key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout, self._use_bias, self._use_gate = float(dropout), bool(use_bias), bool(use_gate)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self._output_shape = output_shape or None
        self._flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"MultiHeadAttention: attention_axes must be an int, list or tuple, "
                             f"got {attention_axes!r}")
        self._attention_axes = tuple(attention_axes) if attention_axes is not None else None
        self._sliding_window = sliding_window
        self.seed = seed
        self._inverse_sqrt_dim = 1.0 / math.sqrt(float(key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _projection(self, shape, heads, dim, name, activation=None):
        equation, bias_axes, output_rank = projection_equation(len(shape) - 1, 1, 2)
        return EinsumDense(equation, [None] * (output_rank - 3) + [heads, dim], activation=activation,
                           bias_axes=bias_axes if self._use_bias else None, name=name,
                           **self._common_sublayer_kwargs())

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(f"MultiHeadAttention {self.name!r}: build needs query_shape and value_shape")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"MultiHeadAttention {self.name!r}: value and key must agree on every axis but the "
                             f"last, got value shape {value_shape} and key shape {key_shape}")
        self.query_dense = self._projection(query_shape, self._num_heads, self._key_dim, "query")
        self.query_dense._maybe_build(query_shape)
        self.key_dense = self._projection(key_shape, self._num_heads, self._key_dim, "key")
        self.key_dense._maybe_build(key_shape)
        if self._use_gate:
            self.gate_dense = self._projection(query_shape, self._num_heads, self._value_dim, "gate", "sigmoid")
            self.gate_dense._maybe_build(query_shape)
        self.value_dense = self._projection(value_shape, self._num_heads, self._value_dim, "value")
        self.value_dense._maybe_build(value_shape)
        self._track_dropout_layer()
        rank = len(query_shape) + 1  # the projected tensors carry a heads axis
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a for a in self._attention_axes)
        output_shape = self._output_shape or (query_shape[-1],)
        equation, bias_axes, output_rank = projection_equation(len(query_shape) - 1, 2, len(output_shape))
        self.output_dense = EinsumDense(equation, [None] * (output_rank - 1 - len(output_shape)) + list(output_shape),
                                        bias_axes=bias_axes if self._use_bias else None, name="attention_output",
                                        **self._common_sublayer_kwargs())
        self.output_dense._maybe_build(tuple(query_shape[:-1]) + (self._num_heads, self._value_dim))
        self._build_attention(rank)
        self.built = True

    # ----------------------------------------------------------------- Keras's override points
    def _build_attention(self, rank):
        """What an override of ``_compute_attention`` uses, under Keras's names: the einsum
        equations, the masked softmax over the key axes and the dropout layer."""
        self._dot_product_equation, self._combine_equation, scores_rank = attention_equations(
            rank, self._attention_axes)
        norm_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        self._softmax = Softmax(axis=norm_axes, dtype=self._sublayer_dtype())
        if "_dropout_layer" not in self.__dict__:  # made after the value projection (build), as Keras's
            self._track_dropout_layer()

    def _masked_softmax(self, attention_scores, attention_mask=None):
        """Softmax over the key axes; a mask of lower rank gains axes before its query axes."""
        if attention_mask is not None:
            axis = -len(self._attention_axes) * 2 - 1
            for _ in range(attention_scores.ndim - np.ndim(attention_mask)):
                attention_mask = ops.expand_dims(attention_mask, axis=axis)
        return self._softmax(attention_scores, mask=attention_mask)

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        """Attention of the projected ``(B, T, heads, dim)`` query, key and value: ``(output,
        scores or None)``. A subclass may override it, as in Keras; ``call`` passes the arguments
        in Keras's order."""
        mask = attention_mask
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            mask = mask if mask.dtype == bool else mask > 0.5
        causal_only = bool(use_causal_mask) and mask is None
        if use_causal_mask and mask is not None:
            mask = _and(mask, causal_mask(query.shape[1], value.shape[1]))
        return self._attend(query, key, value, mask, training, return_attention_scores, self._attention_axes,
                            causal_only)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key_given = key is not None
        key = value if key is None else key
        # Keras reads the query's mask from the query itself, and the others from their tensors
        query_mask = _keras_mask(query)
        value_mask = value_mask if value_mask is not None else _keras_mask(value)
        key_mask = key_mask if key_mask is not None else _keras_mask(key)
        value, key = _as_tensor(value, self.dtype), _as_tensor(key, self.dtype)
        causal_only = (use_causal_mask and query_mask is None and value_mask is None
                       and (not key_given or key_mask is None) and attention_mask is None
                       and self._sliding_window is None)
        mask = None if causal_only else self._masks(query, value, key, key_given, query_mask, value_mask,
                                                   key_mask, attention_mask, use_causal_mask)
        gate = self.gate_dense(query) if self._use_gate else None
        q, k, v = self.query_dense(query), self.key_dense(key), self.value_dense(value)
        if type(self)._compute_attention is not MultiHeadAttention._compute_attention:
            # a subclass's own attention, called as Keras calls it (positional, then the causal flag)
            out, scores = self._compute_attention(q, k, v, mask, training, return_attention_scores,
                                                  **({"use_causal_mask": True} if causal_only else {}))
        else:
            out, scores = self._attend(q, k, v, mask, training, return_attention_scores, self._attention_axes,
                                       causal_only)
        out = self.output_dense(out * gate if gate is not None else out)
        return self._finish(out, scores, query_mask, return_attention_scores)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        context = getattr(self, "_call_context", None)
        if value_shape is None and context is not None:
            value_shape, key_shape = context[0], context[1]
        value_shape = tuple(value_shape) if value_shape is not None else tuple(query_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"MultiHeadAttention {self.name!r}: value and key must agree on every axis but the "
                             f"last, got value shape {value_shape} and key shape {key_shape}")
        out = tuple(query_shape[:-1]) + tuple(self._output_shape or (query_shape[-1],))
        if context is not None and context[2]:
            axes = self._attention_axes or tuple(range(1, len(query_shape) - 1))
            batch = [query_shape[i] for i in range(len(query_shape) - 1) if i not in axes]
            return [out, tuple(batch) + (self._num_heads,) + tuple(query_shape[a] for a in axes)
                    + tuple(key_shape[a] for a in axes)]
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout, "use_bias": self._use_bias,
                "use_gate": self._use_gate,
                "output_shape": list(self._output_shape) if self._output_shape else None,
                "attention_axes": list(self._attention_axes) if self._attention_axes is not None else None,
                "sliding_window": self._sliding_window, **self._initializer_config(), "seed": self.seed}

    def _initializer_config(self):
        return {"kernel_initializer": serialize_argument(initializers, self.kernel_initializer),
                "bias_initializer": serialize_argument(initializers, self.bias_initializer),
                "kernel_regularizer": serialize_argument(regularizers, self.kernel_regularizer),
                "bias_regularizer": serialize_argument(regularizers, self.bias_regularizer),
                "activity_regularizer": serialize_argument(regularizers, self.activity_regularizer),
                "kernel_constraint": serialize_argument(constraints, self.kernel_constraint),
                "bias_constraint": serialize_argument(constraints, self.bias_constraint)}


class GroupedQueryAttention(_HeadsAttention):
    """Grouped-query attention (Ainslie et al., 2023): ``num_key_value_heads`` key/value heads,
    each shared by ``num_query_heads / num_key_value_heads`` query heads (query head u reads
    key/value head ``u // repeats``). Weights: query ``(dim, Nq, head_dim)``, key and value
    ``(dim, Nkv, head_dim)`` with their biases, output ``(Nq, head_dim, dim)`` and ``(dim,)``.
    """

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for arg, v in (("head_dim", head_dim), ("num_query_heads", num_query_heads),
                       ("num_key_value_heads", num_key_value_heads)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"GroupedQueryAttention: {arg} must be a positive integer, got {v!r}")
        if num_query_heads % num_key_value_heads:
            raise ValueError(f"GroupedQueryAttention: num_query_heads ({num_query_heads}) must be divisible by "
                             f"num_key_value_heads ({num_key_value_heads})")
        if sliding_window is not None and (not isinstance(sliding_window, int) or sliding_window <= 0):
            raise ValueError(f"GroupedQueryAttention: sliding_window must be None or a positive integer, "
                             f"got {sliding_window!r}")
        if flash_attention:
            raise ValueError("GroupedQueryAttention: flash_attention=True is not available on NumPy")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.head_dim, self.num_query_heads, self.num_key_value_heads = head_dim, num_query_heads, num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
        self.dropout = self._dropout = float(dropout)
        self.use_bias, self.use_gate = bool(use_bias), bool(use_gate)
        self.sliding_window = self._sliding_window = sliding_window
        self._flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_dim = 1.0 / math.sqrt(float(head_dim))

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(f"GroupedQueryAttention {self.name!r}: build needs query_shape and value_shape")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        self.feature_dim = query_shape[-1]
        common = self._common_sublayer_kwargs
        self.query_dense = EinsumDense("bqm,muh->bquh", (None, self.num_query_heads, self.head_dim),
                                       bias_axes="uh" if self.use_bias else None, name="query", **common())
        self.query_dense._maybe_build(query_shape)
        self.key_dense = EinsumDense("bkm,mvh->bkvh", (None, self.num_key_value_heads, self.head_dim),
                                     bias_axes="vh" if self.use_bias else None, name="key", **common())
        self.key_dense._maybe_build(key_shape)
        if self.use_gate:
            self.gate_dense = EinsumDense("bqm,muh->bquh", (None, self.num_query_heads, self.head_dim),
                                          activation="sigmoid", bias_axes="uh" if self.use_bias else None,
                                          name="gate", **common())
            self.gate_dense._maybe_build(query_shape)
        self.value_dense = EinsumDense("bkm,mvh->bkvh", (None, self.num_key_value_heads, self.head_dim),
                                       bias_axes="vh" if self.use_bias else None, name="value", **common())
        self.value_dense._maybe_build(value_shape)
        self._track_dropout_layer()
        self.output_dense = EinsumDense("bquh,uhm->bqm", (None, self.feature_dim),
                                        bias_axes="m" if self.use_bias else None, name="attention_output", **common())
        self.output_dense._maybe_build((None, None, self.num_query_heads, self.head_dim))
        self.built = True

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key_given = key is not None
        key = value if key is None else key
        # Keras fills each *_mask argument left as None from its tensor's mask
        query_mask = query_mask if query_mask is not None else _keras_mask(query)
        value_mask = value_mask if value_mask is not None else _keras_mask(value)
        key_mask = key_mask if key_mask is not None else (_keras_mask(key) if key_given else None)
        value, key = _as_tensor(value, self.dtype), _as_tensor(key, self.dtype)
        causal_only = (use_causal_mask and query_mask is None and value_mask is None and key_mask is None
                       and attention_mask is None and self.sliding_window is None)
        mask = None if causal_only else self._masks(query, value, key, key_given, query_mask, value_mask,
                                                   key_mask, attention_mask, use_causal_mask)
        gate = self.gate_dense(query) if self.use_gate else None
        q, k, v = self.query_dense(query), self.key_dense(key), self.value_dense(value)
        if self.dropout > 0 or return_attention_scores:  # the explicit path attends head by head
            k, v = ops.repeat(k, self.num_repeats, axis=2), ops.repeat(v, self.num_repeats, axis=2)
        out, scores = self._attend(q, k, v, mask, training, return_attention_scores, (1,), causal_only)
        out = self.output_dense(out * gate if gate is not None else out)
        return self._finish(out, scores, _bool_mask(query_mask) if query_mask is not None else None,
                            return_attention_scores)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        context = getattr(self, "_call_context", None)
        if value_shape is None and context is not None:
            value_shape, key_shape = context[0], context[1]
        value_shape = tuple(value_shape) if value_shape is not None else tuple(query_shape)
        if query_shape[-1] != value_shape[-1]:
            raise ValueError(f"GroupedQueryAttention {self.name!r}: query and value must have the same last "
                             f"axis, got shapes {tuple(query_shape)} and {value_shape}")
        out = tuple(query_shape)
        if context is not None and context[2]:
            return [out, (query_shape[0], self.num_query_heads, query_shape[1], value_shape[1])]
        return out

    def get_config(self):
        return {**super().get_config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "sliding_window": self.sliding_window, "dropout": self.dropout,
                **MultiHeadAttention._initializer_config(self), "seed": self.seed}


GroupQueryAttention = GroupedQueryAttention  # the name keras.layers exports

__all__ = ["AdditiveAttention", "Attention", "GroupQueryAttention", "GroupedQueryAttention", "MultiHeadAttention"]
