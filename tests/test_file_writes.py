"""The files the command line and the reports write go through ``files.atomic``: flushed and
fsync'ed to a temporary file, then renamed; a failure leaves the old file as it was."""
import csv
import json
import os

import pytest

from deepgrad import cli, reports


@pytest.fixture
def fsyncs(monkeypatch):
    """Counts fsync calls on regular files (directory fsyncs are counted apart)."""
    calls = {"files": 0}
    real = os.fsync

    def counting(fd):
        import stat

        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls["files"] += 1
        return real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_cli_json_is_written_atomically(tmp_path, fsyncs):
    path = tmp_path / "metrics.json"
    cli._write_json(str(path), {"accuracy": 0.5, "classes": ["a", "b"]})
    assert json.loads(path.read_text(encoding="utf-8")) == {"accuracy": 0.5, "classes": ["a", "b"]}
    assert fsyncs["files"] == 1 and os.listdir(tmp_path) == ["metrics.json"]

    with pytest.raises(TypeError):
        cli._write_json(str(path), {"bad": object()})   # not JSON: nothing replaces the good file
    assert json.loads(path.read_text(encoding="utf-8"))["accuracy"] == 0.5
    assert os.listdir(tmp_path) == ["metrics.json"]


class _Backup:
    def __init__(self, last):
        self.last = last

    def last_epoch(self):
        return self.last


def test_cli_resume_history_keeps_the_epochs_of_the_backup(tmp_path, fsyncs):
    history = tmp_path / "history.csv"
    with open(history, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss"])
        writer.writerows([[0, 0.9], [1, 0.7], [2, 0.5]])
    cli.resume_history(str(history), _Backup(1), str(tmp_path))
    with open(history, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["epoch"], r["loss"]) for r in rows] == [("0", "0.9"), ("1", "0.7")]
    assert fsyncs["files"] == 1 and sorted(os.listdir(tmp_path)) == ["history.csv"]


def test_report_figures_are_written_atomically(tmp_path, fsyncs):
    path = tmp_path / "history.png"
    reports.plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fsyncs["files"] == 1 and os.listdir(tmp_path) == ["history.png"]
    before = path.read_bytes()

    class FailingFigure:  # fails halfway through writing its PNG
        def savefig(self, f, **kwargs):
            f.write(b"\x89PNG half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        reports._save(FailingFigure(), str(path))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["history.png"]
