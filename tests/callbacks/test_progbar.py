"""Progbar output, captured: the Keras line formats, throttling and the tty/newline logic."""
import io
import re
import sys

import pytest

from deepgrad.callbacks import Progbar, ProgbarLogger, progbar


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class Captured:
    """What a terminal shows, as the lines drawn (each redraw after a ``\\r`` is a line of its own)."""

    def __init__(self, capsys):
        self.capsys = capsys

    def getvalue(self):
        drawn = self.capsys.readouterr().out.replace("\r", "\n").splitlines()
        return "".join(line.rstrip() + "\n" for line in drawn if line.strip())


@pytest.fixture
def stdout(capsys, monkeypatch):
    monkeypatch.setattr(progbar, "_is_terminal", lambda stream: True)
    return Captured(capsys)


def test_first_step_and_final_line_format(stdout):
    bar = Progbar(469)
    bar.update(1, [("loss", 2.30123), ("accuracy", 0.109375)])
    bar.update(469, [("loss", 0.5), ("accuracy", 0.9)])
    first, last = stdout.getvalue().splitlines()
    assert first == "  1/469 [" + "." * 20 + "] - ETA: " + first.split("ETA: ")[1]
    assert re.fullmatch(r"  1/469 \[\.{20}\] - ETA: \d+s - loss: 2\.3012 - accuracy: 0\.1094", first)
    # values are averaged over steps: loss (2.30123 * 1 + 0.5 * 468) / 469
    avg_loss, avg_acc = (2.30123 + 0.5 * 468) / 469, (0.109375 + 0.9 * 468) / 469
    assert re.fullmatch(r"469/469 \[={20}\] - \d+s \d+(us|ms)/step - loss: " + f"{avg_loss:.4f}"
                        + " - accuracy: " + f"{avg_acc:.4f}", last), last


def test_bar_shape_mid_epoch(stdout):
    bar = Progbar(10, stateful_metrics=["loss"])
    bar.update(5, [("loss", 1.0)])
    line = stdout.getvalue().splitlines()[0]
    assert line.startswith(" 5/10 [=========>..........] - ETA:")
    assert line.endswith(" - loss: 1.0000")


def test_small_values_use_scientific_notation(stdout):
    Progbar(1, stateful_metrics=["loss"]).update(1, [("loss", 0.0001234)])
    assert stdout.getvalue().rstrip().endswith("loss: 1.2340e-04")


def test_updates_are_throttled_except_the_last(stdout):
    bar = Progbar(1000, interval=10.0)
    for step in range(1, 1001):
        bar.update(step, [("loss", 1.0)])
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("1000/1000 [=")


def test_tty_redraws_in_place(monkeypatch):
    out = FakeTTY()
    monkeypatch.setattr(sys, "stdout", out)
    bar = Progbar(3, interval=0.0)
    for step in (1, 2, 3):
        bar.update(step, [("loss", 1.0)])
    text = out.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")


def test_verbose_2_prints_one_line_at_the_end(stdout):
    bar = Progbar(20, verbose=2, stateful_metrics=["loss", "val_loss"])
    for step in range(1, 21):
        bar.update(step, [("loss", 0.25), ("val_loss", 0.5)])
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1
    # Keras 3's line: count, seconds, time per step, then the values
    assert re.fullmatch(r"20/20 - \d+s - \d+(s|ms|us)/step - loss: 0\.2500 - val_loss: 0\.5000", lines[0]), lines[0]


def test_progbar_logger_epoch_lines(stdout):
    logger = ProgbarLogger()
    logger.set_params({"verbose": 1, "epochs": 2, "steps": 3})
    logger.on_train_begin()
    for epoch in range(2):
        logger.on_epoch_begin(epoch)
        for step in range(3):
            logger.on_train_batch_end(step, {"loss": 1.0 - 0.1 * step})
        logger.on_epoch_end(epoch, {"loss": 0.9, "val_loss": 0.8})
    lines = stdout.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and "Epoch 2/2" in lines
    final = [line for line in lines if line.startswith("3/3 [=")]
    assert len(final) == 2 and all(line.endswith("- loss: 0.9000 - val_loss: 0.8000") for line in final)


def test_not_a_terminal_prints_only_the_final_line(capsys):
    """Standard output is a pipe or a file here: no redraws, no ``\\r``, one line per bar."""
    bar = Progbar(50, interval=0.0)
    for step in range(1, 51):
        bar.update(step, [("loss", 1.0)])
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 1 and out.startswith("50/50 [=")


def test_interactive_logging_off_prints_plain_lines_on_a_terminal(monkeypatch):
    from deepgrad import config
    out = FakeTTY()
    monkeypatch.setattr(sys, "stdout", out)
    config.disable_interactive_logging()
    try:
        assert not config.is_interactive_logging_enabled()
        bar = Progbar(5, interval=0.0)
        for step in range(1, 6):
            bar.update(step, [("loss", 1.0)])
    finally:
        config.enable_interactive_logging()
    assert "\r" not in out.getvalue() and out.getvalue().count("\n") == 1
    assert config.is_interactive_logging_enabled()


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_a_single_step_is_timed_from_the_start_of_predict_and_evaluate(capsys, method):
    # Keras starts the bar's clock in on_predict_begin / on_test_begin, so a one-step call
    # shows the step's real duration (it showed microseconds when the bar began after the step)
    import time

    import numpy as np

    import deepgrad as dg

    class Slow(dg.layers.Layer):
        def call(self, x):
            time.sleep(0.05)
            return x

    inputs = dg.Input((3,))
    model = dg.Model(inputs, Slow()(inputs))
    model.compile("sgd", "mse")
    x = np.ones((4, 3), "float32")
    capsys.readouterr()
    if method == "predict":
        model.predict(x, batch_size=4, verbose=2)
    else:
        model.evaluate(x, x, batch_size=4, verbose=2)
    line = capsys.readouterr().out
    per_step = re.search(r"(\d+)(ms|us)/step", line)
    assert per_step is not None, line
    assert per_step.group(2) == "ms" and int(per_step.group(1)) >= 45
