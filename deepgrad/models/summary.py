"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts.

Sequential and subclassed models get three columns (Layer (type) | Output Shape | Param #,
88 characters wide); functional models a fourth, "Connected to" (108 wide). The totals
read as Keras prints them: ``Total params: 693,962 (2.65 MB)``.
"""
from __future__ import annotations

import textwrap


def readable_memory_size(size: float) -> str:
    """Bytes in the largest unit below 1024 of the next one, two decimals: 2.65 MB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _count(weights) -> tuple[int, int]:
    return int(sum(w.size for w in weights)), int(sum(w.size * w.dtype.itemsize for w in weights))


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _rows(model) -> tuple[list, bool]:
    """(rows of cell texts, whether the model is functional-like)."""
    from .functional import Functional
    from .sequential import Sequential

    def params(layer) -> str:
        n = layer.count_params() if hasattr(layer, "count_params") else 0
        return f"{n:,}" if (layer.built or n) else "0 (unbuilt)"

    if isinstance(model, Sequential):
        outs = model._layer_outputs
        return [[f"{layer.name} ({type(layer).__name__})",
                 _shape_text(outs[i].shape) if i < len(outs) else "?", params(layer)]
                for i, layer in enumerate(model.layers)], False
    if isinstance(model, Functional):
        refs = model._tensor_refs()
        rows = [[f"{name} (InputLayer)", _shape_text(t.shape), "0", "-"]
                for t, name in zip(model.inputs, model._input_layer_names())]
        for node in model._nodes:
            layer = node.layer
            sources = ", ".join(f"{r[0]}[{r[1]}][{r[2]}]" for r in (refs[id(t)] for t in node.parents)) or "-"
            shapes = [t.shape for t in node.outputs]
            rows.append([f"{layer.name} ({type(layer).__name__})",
                         _shape_text(shapes[0] if len(shapes) == 1 else shapes), params(layer), sources])
        return rows, True
    return [[f"{layer.name} ({type(layer).__name__})", "?", params(layer)] for layer in model.layers], False


def _layers_in_rows(model) -> list:
    """The layer of each row of ``_rows`` (None for an input row)."""
    from .functional import Functional

    if isinstance(model, Functional):
        return [None] * len(model.inputs) + [node.layer for node in model._nodes]
    return list(model.layers)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces where possible."""
    return textwrap.wrap(text, width) or [""]


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False) -> None:
    print_fn = print_fn or print
    rows, functional = _rows(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    right = [False, False, True, False, False]
    line_length = line_length or (108 if functional else 88)
    positions = positions or ([0.3, 0.56, 0.74, 1.0] if functional else [0.45, 0.80, 1.0])
    if show_trainable:  # a narrow last column, "Y" or "N" per layer (input rows: "-")
        header.append("Trainable")
        right[len(header) - 1] = False
        positions = [p * (line_length - 12) / line_length for p in positions] + [1.0] if positions[-1] <= 1 else \
            positions + [positions[-1] + 12]
        layers = _layers_in_rows(model)
        rows = [cells + ["-" if layer is None else ("Y" if layer.trainable else "N")]
                for cells, layer in zip(rows, layers)]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    widths = [b - a - 3 for a, b in zip([0] + positions[:-1], positions)]  # 3 = border and padding

    def line(left, mid, rightc, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + rightc

    def row(cells, bar="│"):
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for i, (c, w) in enumerate(zip(wrapped, widths)):
                text = c[k] if k < len(c) else ""
                parts.append(" " + (text.rjust(w) if right[i] else text.ljust(w)) + " ")
            print_fn(bar + bar.join(parts) + bar)

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    row(header, "┃")
    print_fn(line("┡", "╇", "┩", "━"))
    for i, cells in enumerate(rows):
        if i:
            print_fn(line("├", "┼", "┤", "─"))
        row(cells)
    print_fn(line("└", "┴", "┘", "─"))

    total, total_bytes = _count(model.weights)
    trainable, trainable_bytes = _count(model.trainable_weights)
    print_fn(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    print_fn(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({readable_memory_size(total_bytes - trainable_bytes)})")
