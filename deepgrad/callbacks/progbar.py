"""``Progbar``: the Keras progress bar.

verbose=1, during an epoch:  ``  1/469 [....................] - ETA: 12s - loss: 2.3012``
and at its end:              ``469/469 [====================] - 6s 13ms/step - loss: 0.2932``
verbose=2, one line per epoch: ``469/469 - 6s - 13ms/step - loss: 0.2932``.
On a terminal the bar is redrawn in place with ``\\r``. When standard output is not a
terminal, or interactive logging is off (``deepgrad.config.disable_interactive_logging``),
only the final line of each bar is printed: one plain line per epoch, as Keras logs on a server.
Redraws happen at most every ``interval`` seconds (the final update always), so a fast
training loop pays nothing measurable for it.
"""
from __future__ import annotations

import math
import os
import sys
import time

from .. import config


def _format_time(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600) // 60:02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{eta:.0f}s"


def _is_terminal(stream) -> bool:
    """Whether a bar redrawn in place with ``\\r`` shows as one line: a terminal or a notebook."""
    return ((hasattr(stream, "isatty") and stream.isatty()) or "ipykernel" in sys.modules
            or "PYCHARM_HOSTED" in os.environ)


class Progbar:
    def __init__(self, target, width: int = 20, verbose: int = 1, interval: float = 0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name: str = "step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: pass only one of stateful_metrics (listed names are shown as given, "
                             "the rest averaged) or stateless_metrics (listed names averaged, the rest as given)")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        stream = sys.stdout
        self._dynamic_display = config.is_interactive_logging_enabled() and _is_terminal(stream)
        self._total_width = 0
        self._seen_so_far = 0
        self._values: dict[str, list] = {}   # name -> [weighted sum, count] (or [value, 1] if stateful)
        self._values_order: list[str] = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the first step (which pays for warm-up) once possible."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def _format_values(self) -> str:
        info = ""
        for name in self._values_order:
            total, count = self._values[name]
            avg = total / max(1, count)
            info += f" - {name}:" + (f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}")
        return info

    def update(self, current: int, values=None, finalize: bool | None = None) -> None:
        """Show step ``current``; ``values`` is a list of (name, value) pairs averaged over steps,
        except the names in ``stateful_metrics``, which are shown as given."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            stateful = (name not in self.stateless_metrics if self.stateless_metrics is not None
                        else name in self.stateful_metrics)
            if stateful:
                self._values[name] = [value, 1]
            else:
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * steps, count + steps]
        self._values_order = [n for n in self._values_order if n in self._values]
        self._seen_so_far = current
        now = time.time()
        per_step = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if not finalize and (now - self._last_update < self.interval or not self._dynamic_display):
                return  # not redrawn in place: only the final line is printed
            if self.target is not None:
                digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
                bar = f"{current:{digits}d}/{self.target} ["
                filled = int(self.width * current / self.target) if self.target else self.width
                if filled > 0:
                    bar += "=" * (filled - 1) + (">" if current < self.target else "=")
                bar += "." * (self.width - filled) + "]"
            else:
                bar = f"{current:7d}/Unknown"
            if finalize or self.target is None:
                info = f" - {now - self._start:.0f}s" + _format_time(per_step, self.unit_name)
            else:
                info = f" - ETA: {_format_eta(per_step * (self.target - current))}"
            line = bar + info + self._format_values()
            if self._dynamic_display:
                pad = max(self._total_width - len(line), 0)
                sys.stdout.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            else:
                sys.stdout.write(line + "\n")
            self._total_width = len(line)
            sys.stdout.flush()
        elif self.verbose == 2 and finalize:
            target = self.target if self.target is not None else current
            digits = int(math.log10(target)) + 1 if target > 0 else 1
            elapsed = now - self._start
            # Keras 3's order: the time per step right after the elapsed time, then the values
            line = f"{current:{digits}d}/{target} - {elapsed:.0f}s -" + _format_time(per_step, self.unit_name)
            line += self._format_values()
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self._last_update = now

    def add(self, n: int, values=None) -> None:
        self.update(self._seen_so_far + n, values)
