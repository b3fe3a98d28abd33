"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts.

Sequential and subclassed models get three columns (Layer (type) | Output Shape | Param #,
88 characters wide); functional models a fourth, "Connected to" (108 wide). The totals
read as Keras prints them: ``Total params: 693,962 (2.65 MB)``.
"""
from __future__ import annotations

import textwrap
from typing import NamedTuple


class SummaryRow(NamedTuple):
    """One row of the table, as a model describes itself (``model.summary_rows()``).

    ``layer`` is None for a model input, then named ``input_name``; ``output_shape`` None
    prints "?"; ``connected_to`` (functional models) fills a fourth column.
    """
    layer: object = None
    output_shape: object = None
    connected_to: str | None = None
    input_name: str | None = None


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


def _cells(row: SummaryRow) -> list[str]:
    if row.layer is None:
        return [f"{row.input_name} (InputLayer)", _shape_text(row.output_shape), "0", row.connected_to or "-"]
    layer = row.layer
    n = layer.count_params() if hasattr(layer, "count_params") else 0
    cells = [f"{layer.name} ({getattr(layer, 'summary_type', None) or type(layer).__name__})", _shape_text(row.output_shape),
             f"{n:,}" if (layer.built or n) else "0 (unbuilt)"]
    return cells if row.connected_to is None else cells + [row.connected_to]


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces where possible."""
    return textwrap.wrap(text, width) or [""]


def print_summary(model, summary_rows: list[SummaryRow], line_length=None, positions=None, print_fn=None,
                  show_trainable=False) -> None:
    print_fn = print_fn or print
    functional = any(r.connected_to is not None for r in summary_rows)
    rows = [_cells(r) for r in summary_rows]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    right = [False, False, True, False, False]
    line_length = line_length or (108 if functional else 88)
    positions = positions or ([0.3, 0.56, 0.74, 1.0] if functional else [0.45, 0.80, 1.0])
    if show_trainable:  # a narrow last column, "Y" or "N" per layer (input rows: "-")
        header.append("Trainable")
        right[len(header) - 1] = False
        positions = [p * (line_length - 12) / line_length for p in positions] + [1.0] if positions[-1] <= 1 else \
            positions + [positions[-1] + 12]
        rows = [cells + ["-" if r.layer is None else ("Y" if r.layer.trainable else "N")]
                for cells, r in zip(rows, summary_rows)]
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
