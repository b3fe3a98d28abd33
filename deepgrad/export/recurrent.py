"""SimpleRNN, LSTM, GRU and Bidirectional as ONNX's RNN, LSTM and GRU nodes.

ONNX keeps the gates in another order than Keras and the weights transposed:

- LSTM: Keras kernel columns i, f, c, o -> ONNX W rows i, o, f, c;
- GRU: both z, r, h; Keras's ``reset_after=True`` (the reset gate multiplies ``h R_h + b_rh``) is
  ONNX's ``linear_before_reset=1`` with the two biases kept apart (Wb, Rb);
- the one Keras bias goes in ONNX's input bias Wb, the recurrent bias Rb is zero (GRU with
  reset_after: Keras's bias[1]).

The nodes run time-major (``layout=0``): ``(batch, time, features)`` is transposed in and out.
``go_backwards`` feeds the sequence reversed to a forward node, as Keras reads it. A Bidirectional
layer becomes one ``direction="bidirectional"`` node, whose backward half ONNX already returns
in input time order, which is how Keras's Bidirectional returns it (or, when its two layers
differ in kind or direction, one node per layer).
"""
from __future__ import annotations

import numpy as np

from .. import layers
from .activations import activation_name, apply_activation
from .graph import Call, GraphBuilder
from .registry import handles_masks, register_converter, weight

_INT64_MAX = np.iinfo(np.int64).max

# Keras activation -> (ONNX RNN activation, alpha, beta)
_RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None), "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5), "elu": ("Elu", 1.0, None), "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None), "linear": ("Affine", 1.0, 0.0),
}


def _gate_blocks(a: np.ndarray, gates: int, order) -> np.ndarray:
    """``a`` with its last axis cut into ``gates`` blocks, put in ``order``."""
    blocks = np.split(a, gates, axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


def _weights(rnn) -> tuple:
    """(kind, W (4H|3H|H, in), R (.., H), B (2 * ..), attributes) for one direction."""
    cell = rnn.cell
    kernel, recurrent = weight(cell.kernel), weight(cell.recurrent_kernel)
    width = kernel.shape[-1]
    bias_in, bias_rec = np.zeros(width, np.float32), np.zeros(width, np.float32)
    if cell.use_bias:
        bias = weight(cell.bias)
        if bias.ndim == 2:   # GRU reset_after: (input bias, recurrent bias)
            bias_in, bias_rec = bias[0], bias[1]
        else:
            bias_in = bias
    attrs = {}
    if isinstance(rnn, layers.LSTM):
        kind, order = "LSTM", (0, 3, 1, 2)   # Keras i, f, c, o -> ONNX i, o, f, c
        kernel, recurrent = _gate_blocks(kernel, 4, order), _gate_blocks(recurrent, 4, order)
        bias_in, bias_rec = _gate_blocks(bias_in, 4, order), _gate_blocks(bias_rec, 4, order)
        acts = [cell.recurrent_activation, cell.activation, cell.activation]
    elif isinstance(rnn, layers.GRU):
        kind = "GRU"
        attrs["linear_before_reset"] = int(cell.reset_after)
        acts = [cell.recurrent_activation, cell.activation]
    else:
        kind = "RNN"
        acts = [cell.activation]
    return kind, kernel.T, recurrent.T, np.concatenate([bias_in, bias_rec]), acts, attrs


def _onnx_activations(c: Call, acts) -> dict:
    names, alphas, betas = [], [], []
    for fn in acts:
        name = activation_name(fn)
        if name not in _RNN_ACTIVATIONS:
            raise c.unsupported(f"activation {name or fn!r} has no ONNX recurrent form "
                                f"(known: {', '.join(sorted(_RNN_ACTIVATIONS))})")
        op, alpha, beta = _RNN_ACTIVATIONS[name]
        names.append(op)
        if alpha is not None:
            alphas.append(alpha)
        if beta is not None:
            betas.append(beta)
    out = {"activations": names}
    if alphas:   # ONNX reads alphas/betas in order, for the activations that take them
        out["activation_alpha"] = alphas
    if betas:
        out["activation_beta"] = betas
    return out


STATEFUL_REFUSAL = ("stateful=True: an ONNX file keeps no state between runs. Export the same "
                    "network built with stateful=False, return_state=True and its initial states as model inputs "
                    "(a functional model: layer(x, initial_state=[h, ...])); a caller then feeds each run's "
                    "final states to the next run")


def _check(c: Call, rnn) -> None:
    if rnn.stateful:
        raise c.unsupported(STATEFUL_REFUSAL)
    if c.kwargs.get("mask") is not None:
        raise c.unsupported("a mask argument (the Keras mask of the input is exported; a mask passed in the call "
                            "is not)")


def _initial_states(b: GraphBuilder, c: Call, kind: str) -> list:
    """ONNX's initial_h (and initial_c) from ``initial_state=``: (batch, H) -> (directions, batch, H)."""
    states = c.kwargs.get("initial_state")
    if states is None:
        return []
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    if not all(isinstance(s, str) for s in states):
        raise c.unsupported("initial_state given as values rather than model tensors")
    if len(states) == 2 and kind == "LSTM":
        h = b.op("Unsqueeze", [states[0], b.ints([0], "axes")], c.name)
        s = b.op("Unsqueeze", [states[1], b.ints([0], "axes")], c.name)
        return ["", h, s]
    return ["", b.op("Unsqueeze", [states[0], b.ints([0], "axes")], c.name)]


def _run(b: GraphBuilder, c: Call, directions: list, x: str, extra_inputs=()) -> tuple:
    """One ONNX recurrent node over ``directions`` (one layer, or forward and backward layers).

    Returns (Y (time, dirs, batch, H), Y_h, Y_c or None, kind)."""
    parts = [_weights(rnn) for rnn in directions]
    kind, attrs = parts[0][0], parts[0][5]
    for rnn in directions:
        _check(c, rnn)
    acts = [a for p in parts for a in p[4]]
    W = np.stack([p[1] for p in parts])
    R = np.stack([p[2] for p in parts])
    B = np.stack([p[3] for p in parts])
    units = directions[0].cell.units
    direction = "bidirectional" if len(directions) == 2 else "forward"
    xt = b.transpose(x, [1, 0, 2], c.name)   # (batch, time, features) -> (time, batch, features)
    inputs = [xt, b.const(W, f"{c.name}_W"), b.const(R, f"{c.name}_R"), b.const(B, f"{c.name}_B"), *extra_inputs]
    n_out = 3 if kind == "LSTM" else 2
    outs = b.op(kind, inputs, c.name, outputs=n_out, hidden_size=int(units), direction=direction,
                **_onnx_activations(c, acts), **attrs)
    return outs[0], outs[1], outs[2] if kind == "LSTM" else None, kind


def _reverse_time(b: GraphBuilder, x: str, base: str) -> str:
    return b.slice(x, [-1], [-_INT64_MAX], [1], base, steps=[-1])


def _sequence(b: GraphBuilder, y: str, base: str) -> str:
    """Y of one direction (time, 1, batch, H) -> (batch, time, H)."""
    return b.transpose(b.op("Squeeze", [y, b.ints([1], "axes")], base), [1, 0, 2], base)


def _state(b: GraphBuilder, s: str, index: int, base: str) -> str:
    """Direction ``index`` of a state (dirs, batch, H) -> (batch, H)."""
    return b.op("Squeeze", [b.slice(s, [index], [index + 1], [0], base), b.ints([0], "axes")], base)


# ------------------------------------------------------------------------- Keras's loop as a Scan
def _bias_in(cell):
    """The input part of a cell's bias (GRU with reset_after keeps two rows: input, recurrent)."""
    if not cell.use_bias:
        return None
    bias = weight(cell.bias)
    return bias[0] if bias.ndim == 2 else bias


def cell_step(sub: GraphBuilder, cell, c: Call, x: str, states: list, projected: bool = False) -> tuple:
    """One step of a SimpleRNNCell, LSTMCell or GRUCell in Keras's formulas: (output, new states).
    ``x`` is the step's input, or with ``projected`` already ``x W + b_in``."""
    base = c.name
    units = int(cell.units)
    recurrent = weight(cell.recurrent_kernel)
    xw = x if projected else sub.matmul_add(x, weight(cell.kernel), _bias_in(cell), base)

    def act(fn, t):
        return apply_activation(sub, fn, t, base, f"layer {c.name!r} ({type(cell).__name__})")

    h = states[0]
    if isinstance(cell, layers.LSTMCell):
        z = sub.op("Add", [xw, sub.op("MatMul", [h, sub.const(recurrent, f"{base}_recurrent_kernel")], base)], base)
        i, f, g, o = sub.split(z, [units] * 4, 1, base)
        i, f, o = (act(cell.recurrent_activation, t) for t in (i, f, o))
        cs = sub.op("Add", [sub.op("Mul", [f, states[1]], base), sub.op("Mul", [i, act(cell.activation, g)], base)],
                    base)
        h_new = sub.op("Mul", [o, act(cell.activation, cs)], base)
        return h_new, [h_new, cs]
    if isinstance(cell, layers.GRUCell):
        xz, xr, xh = sub.split(xw, [units] * 3, 1, base)
        bias = weight(cell.bias) if cell.use_bias else None
        if cell.reset_after:
            rec = sub.op("MatMul", [h, sub.const(recurrent, f"{base}_recurrent_kernel")], base)
            if bias is not None and bias.ndim == 2:
                rec = sub.op("Add", [rec, sub.const(bias[1], f"{base}_recurrent_bias")], base)
            rz, rr, rh = sub.split(rec, [units] * 3, 1, base)
            z = act(cell.recurrent_activation, sub.op("Add", [xz, rz], base))
            r = act(cell.recurrent_activation, sub.op("Add", [xr, rr], base))
            hh = act(cell.activation, sub.op("Add", [xh, sub.op("Mul", [r, rh], base)], base))
        else:   # the reset gate scales h before its product with the candidate's recurrent kernel
            rec = sub.op("MatMul", [h, sub.const(recurrent[:, :2 * units], f"{base}_recurrent_zr")], base)
            rz, rr = sub.split(rec, [units] * 2, 1, base)
            z = act(cell.recurrent_activation, sub.op("Add", [xz, rz], base))
            r = act(cell.recurrent_activation, sub.op("Add", [xr, rr], base))
            rh = sub.op("MatMul", [sub.op("Mul", [r, h], base),
                                   sub.const(recurrent[:, 2 * units:], f"{base}_recurrent_h")], base)
            hh = act(cell.activation, sub.op("Add", [xh, rh], base))
        # h = z h + (1 - z) hh
        h_new = sub.op("Add", [sub.op("Mul", [z, h], base),
                               sub.op("Mul", [sub.op("Sub", [sub.const(np.float32(1.0)), z], base), hh], base)], base)
        return h_new, [h_new]
    if isinstance(cell, layers.SimpleRNNCell):
        h_new = act(cell.activation, sub.op("Add", [xw, sub.op("MatMul", [h, sub.const(
            recurrent, f"{base}_recurrent_kernel")], base)], base))
        return h_new, [h_new]
    raise c.unsupported(f"cell {type(cell).__name__} (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells of them "
                        "and ConvLSTM cells are exported)")


def run_loop(b: GraphBuilder, c: Call, rnn, seq: str, mask, initial: list, step, out_zeros: str,
             out_rank: int, state_ranks: list) -> tuple:
    """``rnn``'s loop over axis 1 of ``seq`` as an ONNX Scan: ``step(sub, x_t, states) -> (output, new
    states)``. Where ``mask[b, t]`` is False the states carry over and the output repeats the previous
    one (zeros before the first kept step), or is zero with ``zero_output_for_mask``, as Keras.
    Returns (outputs stacked on axis 1, last output, final states).

    ONNX's own recurrent nodes take only right-padded lengths (``sequence_lens``); a Scan keeps any mask."""
    n = len(initial)

    def body(sub, s_in, x_in):
        out, new = step(sub, x_in[0], s_in[:n])
        if mask is None:
            return list(new) + [out], [out]

        def keep(rank):   # (batch,) -> (batch, 1, ...) of ``rank`` axes
            return sub.op("Unsqueeze", [x_in[1], sub.ints(list(range(1, rank)), "axes")], c.name)
        kept = [sub.op("Where", [keep(r), nw, old], c.name) for nw, old, r in zip(new, s_in[:n], state_ranks)]
        previous = sub.const(np.float32(0.0)) if rnn.zero_output_for_mask else s_in[n]
        out = sub.op("Where", [keep(out_rank), out, previous], c.name)
        return kept + [out], [out]

    sequences, types = [seq], [b.TensorProto.FLOAT]
    if mask is not None:
        sequences.append(mask)
        types.append(b.TensorProto.BOOL)
    final, (outs,) = b.scan(body, list(initial) + [out_zeros], sequences, c.name, sequence_types=types)
    return outs, final[n], final[:n]


def _given_states(c: Call):
    initial = c.kwargs.get("initial_state")
    if initial is None:
        return None
    initial = list(initial) if isinstance(initial, (list, tuple)) else [initial]
    if not all(isinstance(s, str) for s in initial):
        raise c.unsupported("initial_state given as values rather than model tensors")
    return initial


def _finish(c: Call, layer, outs: str, last: str, states: list):
    out = outs if layer.return_sequences else last
    c.output_masks = [c.mask if layer.return_sequences else None] + [None] * len(states)
    return [out] + states if layer.return_state else out


def _masked_call(b: GraphBuilder, c: Call, layer) -> list:
    """A built-in recurrent layer on a masked input: the input projection of every step at once, the
    recurrence in a Scan."""
    _check(c, layer)
    x, mask = c.inputs[0], c.mask
    if layer.go_backwards:   # the steps run last to first, and the outputs come in that order
        x, mask = _reverse_time(b, x, c.name), _reverse_time(b, mask, c.name)
    cell = layer.cell
    units = int(cell.units)
    xw = b.matmul_add(x, weight(cell.kernel), _bias_in(cell), c.name)   # (batch, T, G H)
    zeros = b.zeros(x, [units], c.name)
    n_states = 2 if isinstance(layer, layers.LSTM) else 1
    initial = _given_states(c) or [zeros] * n_states
    outs, last, states = run_loop(b, c, layer, xw, mask, initial,
                                  lambda sub, x_t, s: cell_step(sub, cell, c, x_t, s, projected=True), zeros, 2,
                                  [2] * n_states)
    return _finish(c, layer, outs, last, states)


def _cells(cell) -> list:
    return list(cell.cells) if isinstance(cell, layers.StackedRNNCells) else [cell]


@handles_masks
@register_converter(layers.RNN)
def generic_rnn(b: GraphBuilder, c: Call):
    """``RNN`` over SimpleRNNCell, LSTMCell, GRUCell or a stack of them: Keras's loop as a Scan."""
    layer = c.layer
    _check(c, layer)
    cells = _cells(layer.cell)
    for cell in cells:
        if not isinstance(cell, (layers.SimpleRNNCell, layers.LSTMCell, layers.GRUCell)):
            raise c.unsupported(f"cell {type(cell).__name__}: RNN is exported over SimpleRNNCell, LSTMCell, "
                                "GRUCell and StackedRNNCells of them (a cell of your own is Python code)")
    x, mask = c.inputs[0], c.mask
    if len(c.input_shapes[0]) != 3:
        raise c.unsupported(f"input of shape {c.input_shapes[0]}: (batch, time, features) inputs are exported")
    if layer.go_backwards:
        x = _reverse_time(b, x, c.name)
        mask = None if mask is None else _reverse_time(b, mask, c.name)
    sizes = [2 if isinstance(cell, layers.LSTMCell) else 1 for cell in cells]
    zeros = [b.zeros(x, [int(cell.units)], c.name) for cell in cells]
    initial = _given_states(c) or [z for z, k in zip(zeros, sizes) for _ in range(k)]

    def step(sub, x_t, states):
        new_states, k = [], 0
        for cell, size in zip(cells, sizes):
            x_t, new = cell_step(sub, cell, c, x_t, states[k:k + size])
            new_states += new
            k += size
        return x_t, new_states

    outs, last, states = run_loop(b, c, layer, x, mask, initial, step, zeros[-1], 2, [2] * len(initial))
    return _finish(c, layer, outs, last, states)


@handles_masks
@register_converter(layers.ConvLSTM1D, layers.ConvLSTM2D, layers.ConvLSTM3D)
def conv_lstm(b: GraphBuilder, c: Call):
    """The input convolution of every step at once (time folded into the batch), the recurrent
    ``same`` convolution and the LSTM gates in a Scan; channels-first inside, as ONNX's Conv."""
    layer = c.layer
    _check(c, layer)
    cell, rank = layer.cell, layer.rank
    shape = c.input_shapes[0]
    last = cell.data_format != "channels_first"
    spatial = list(shape[2:2 + rank]) if last else list(shape[3:3 + rank])
    if any(n is None for n in spatial):
        raise c.unsupported(f"input of shape {shape}: the spatial sizes must be known")
    x, mask = c.inputs[0], c.mask
    if layer.go_backwards:
        x = _reverse_time(b, x, c.name)
        mask = None if mask is None else _reverse_time(b, mask, c.name)
    filters = int(cell.filters)
    # (B, T, ...) -> (B T, C, *S)
    folded = b.op("Reshape", [x, b.op("Concat", [b.ints([-1]), b.shape_of(x, 2, 3 + rank, c.name)], c.name,
                                      axis=0)], c.name)
    if last:
        folded = b.transpose(folded, [0, rank + 1] + list(range(1, rank + 1)), c.name)
    kernel = np.transpose(weight(cell.kernel), [rank + 1, rank] + list(range(rank)))   # (4F, C, *k)
    pads = _pads(spatial, cell.kernel_size, cell.strides, cell.dilation_rate, cell.padding)
    z = b.op("Conv", [folded, b.const(kernel, f"{c.name}_kernel")], c.name, kernel_shape=list(cell.kernel_size),
             strides=list(cell.strides), dilations=list(cell.dilation_rate), pads=pads)
    if cell.use_bias:
        z = b.op("Add", [z, b.const(weight(cell.bias).reshape((-1,) + (1,) * rank), f"{c.name}_bias")], c.name)
    out_spatial = [_conv_length(n, k, s, cell.padding, d) for n, k, s, d in
                   zip(spatial, cell.kernel_size, cell.strides, cell.dilation_rate)]
    # back to (B, T, 4F, *S')
    z = b.op("Reshape", [z, b.op("Concat", [b.shape_of(x, 0, 2, c.name), b.ints([4 * filters] + out_spatial)],
                                 c.name, axis=0)], c.name)
    recurrent = np.transpose(weight(cell.recurrent_kernel), [rank + 1, rank] + list(range(rank)))
    rec_pads = _pads(out_spatial, cell.kernel_size, (1,) * rank, (1,) * rank, "same")
    zeros = b.zeros(x, [filters] + out_spatial, c.name)

    def act(sub, fn, t):
        return apply_activation(sub, fn, t, c.name, f"layer {c.name!r} ({type(layer).__name__})")

    def step(sub, z_t, states):
        h, cs = states
        r = sub.op("Conv", [h, sub.const(recurrent, f"{c.name}_recurrent_kernel")], c.name,
                   kernel_shape=list(cell.kernel_size), pads=rec_pads)
        i, f, g, o = sub.split(sub.op("Add", [z_t, r], c.name), [filters] * 4, 1, c.name)
        cs = sub.op("Add", [sub.op("Mul", [act(sub, cell.recurrent_activation, f), cs], c.name),
                            sub.op("Mul", [act(sub, cell.recurrent_activation, i), act(sub, cell.activation, g)],
                                   c.name)], c.name)
        h = sub.op("Mul", [act(sub, cell.recurrent_activation, o), act(sub, cell.activation, cs)], c.name)
        return h, [h, cs]

    given = _given_states(c)
    if given is not None and last:
        given = [b.transpose(s, [0, rank + 1] + list(range(1, rank + 1)), c.name) for s in given]
    outs, final_out, states = run_loop(b, c, layer, z, mask, given or [zeros, zeros], step, zeros, rank + 2,
                                       [rank + 2] * 2)
    if last:   # (B, T, F, *S) -> (B, T, *S, F); states (B, F, *S) -> (B, *S, F)
        outs = b.transpose(outs, [0, 1] + list(range(3, rank + 3)) + [2], c.name)
        final_out = b.transpose(final_out, [0] + list(range(2, rank + 2)) + [1], c.name)
        states = [b.transpose(s, [0] + list(range(2, rank + 2)) + [1], c.name) for s in states]
    return _finish(c, layer, outs, final_out, states)


def _conv_length(n, k, s, padding, d):
    return -(-n // s) if padding == "same" else (n - d * (k - 1) - 1) // s + 1


def _pads(sizes, kernel, strides, dilation, padding) -> list:
    """ONNX pads (begins, then ends) of Keras's "valid" or "same" (the extra one at the end)."""
    if padding == "valid":
        return [0] * (2 * len(sizes))
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


@handles_masks
@register_converter(layers.SimpleRNN, layers.LSTM, layers.GRU)
def recurrent(b: GraphBuilder, c: Call):
    layer = c.layer
    if c.mask is not None:
        return _masked_call(b, c, layer)
    x = _reverse_time(b, c.inputs[0], c.name) if layer.go_backwards else c.inputs[0]
    kind = "LSTM" if isinstance(layer, layers.LSTM) else "GRU" if isinstance(layer, layers.GRU) else "RNN"
    y, h, cs, kind = _run(b, c, [layer], x, _initial_states(b, c, kind))
    out = _sequence(b, y, c.name) if layer.return_sequences else _state(b, h, 0, c.name)
    if not layer.return_state:
        return out
    states = [_state(b, h, 0, c.name)] + ([_state(b, cs, 0, c.name)] if cs is not None else [])
    return [out] + states


def _one_node(b: GraphBuilder, c: Call, fw, bw) -> tuple:
    """Both directions in one bidirectional node: (the two outputs, the states forward then backward)."""
    y, h, cs, _ = _run(b, c, [fw, bw], c.inputs[0])
    if c.layer.return_sequences:
        seq = b.transpose(y, [2, 0, 1, 3], c.name)   # (batch, time, dirs, H), backward already in input order
        halves = [b.op("Squeeze", [b.slice(seq, [i], [i + 1], [2], c.name), b.ints([2], "axes")], c.name)
                  for i in range(2)]
    else:
        halves = [_state(b, h, i, c.name) for i in range(2)]
    states = []
    for i in range(2):
        states += [_state(b, h, i, c.name)] + ([_state(b, cs, i, c.name)] if cs is not None else [])
    return halves, states


def _two_nodes(b: GraphBuilder, c: Call, fw, bw) -> tuple:
    """Each direction on its own (layers of different kinds, or a wrapped layer that reads backwards):
    the backward sequence is turned back to input order, as the wrapper does."""
    halves, states = [], []
    for rnn in (fw, bw):
        out = recurrent(b, Call(layer=rnn, inputs=c.inputs, input_shapes=c.input_shapes, output_shapes=[],
                                input_dtypes=c.input_dtypes, masks=c.masks))
        out = out if isinstance(out, list) else [out]
        halves.append(out[0])
        states += out[1:]
    if c.layer.return_sequences:
        halves[1] = _reverse_time(b, halves[1], c.name)
    return halves, states


@handles_masks
@register_converter(layers.Bidirectional)
def bidirectional(b: GraphBuilder, c: Call):
    """One bidirectional node, or (layers of two kinds, or a masked input) one converter per direction."""
    layer = c.layer
    fw, bw = layer.forward_layer, layer.backward_layer
    if c.kwargs.get("initial_state") is not None:
        raise c.unsupported("initial_state")
    one_layer_both_ways = (type(fw) is type(bw) and not fw.go_backwards and bw.go_backwards
                           and fw.cell.units == bw.cell.units and c.mask is None)
    halves, states = (_one_node if one_layer_both_ways else _two_nodes)(b, c, fw, bw)
    mode = layer.merge_mode
    if mode is None:
        outs = halves
    elif mode == "concat":
        outs = [b.op("Concat", halves, c.name, axis=-1)]
    elif mode == "sum":
        outs = [b.op("Add", halves, c.name)]
    elif mode == "mul":
        outs = [b.op("Mul", halves, c.name)]
    else:   # "ave"
        outs = [b.op("Mul", [b.op("Add", halves, c.name), b.const(0.5)], c.name)]
    if layer.return_state:
        outs += states
    c.output_masks = [c.mask if layer.return_sequences else None] * len(outs)
    return outs[0] if len(outs) == 1 else outs
