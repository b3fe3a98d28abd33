"""The ``deepgrad`` command under conditions that used to crash it or lose work."""
import json
import os
import sys

import pytest

from deepgrad import cli

PLOTS = ("curves.png", "confusion_matrix.png", "predictions.png", "most_confident_mistakes.png")
QUICK = ("--model", "mlp", "--dataset", "digits", "--epochs", 1, "--verbose", 0, "--seed", 3)


def train(*args):
    return cli.main(["train", *map(str, args)])


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))
            if (folder / name).is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    assert train(*QUICK, "--validation-split", 0, "--out", out) == 0
    return out


@pytest.mark.slow
def test_validation_split_0_completes_with_every_file(finished_run):
    for name in ("run.json", "history.csv", "model.deepgrad", "metrics.json", *PLOTS):
        assert (finished_run / name).is_file(), name
    assert "NA" in (finished_run / "history.csv").read_text()  # no validation columns to plot
    history = cli._read_history_csv(str(finished_run / "history.csv"))
    assert set(history) == {"loss", "accuracy"} and len(history["loss"]) == 1


@pytest.mark.slow
def test_resume_finishes_a_run_killed_before_its_report(finished_run, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    for name in ("run.json", "history.csv", "model.deepgrad"):
        (out / name).write_bytes((finished_run / name).read_bytes())
    model_bytes = (out / "model.deepgrad").read_bytes()
    assert train("--resume", out) == 0
    for name in ("metrics.json", *PLOTS):
        assert (out / name).is_file(), name
    assert (out / "model.deepgrad").read_bytes() == model_bytes  # not trained again
    got = json.loads((out / "metrics.json").read_text())
    want = json.loads((finished_run / "metrics.json").read_text())
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["confusion_matrix"] == want["confusion_matrix"]
    capsys.readouterr()
    assert train("--resume", out) == 2
    assert "already finished" in capsys.readouterr().err


@pytest.mark.slow
def test_a_failed_report_is_finished_by_resume(tmp_path, monkeypatch):
    out = tmp_path / "r"
    from deepgrad import reports

    def broken(*a, **k):
        raise RuntimeError("plotting failed")

    with monkeypatch.context() as m:
        m.setattr(reports, "plot_confusion_matrix", broken)
        with pytest.raises(RuntimeError):
            train(*QUICK, "--out", out)
    assert (out / "model.deepgrad").is_file() and not (out / "confusion_matrix.png").exists()
    assert train("--resume", out) == 0
    for name in ("metrics.json", *PLOTS):
        assert (out / name).is_file(), name


def _ctrl_c_inside_a_weakref_callback():
    """Ctrl-C delivered while Python runs a weakref callback: the interpreter cannot raise it
    there, so it prints "Exception ignored" and carries on (matplotlib's registries hold such
    callbacks, so a Ctrl-C during the report lands there now and then)."""
    import signal
    import weakref

    class Target:
        pass

    def callback(_):
        signal.raise_signal(signal.SIGINT)
        for _ in range(1000):  # the handler runs at one of these bytecodes, inside the callback
            pass

    target = Target()
    ref = weakref.ref(target, callback)
    del target
    return ref


@pytest.mark.slow
@pytest.mark.parametrize("where", ["report", "training"])
def test_ctrl_c_swallowed_by_a_weakref_callback_still_interrupts(tmp_path, monkeypatch, capsys, where):
    out = tmp_path / "r"
    from deepgrad import callbacks, reports

    calls = []
    if where == "report":
        plot = reports.plot_confusion_matrix

        def plot_then_ctrl_c(*a, **k):
            calls.append(_ctrl_c_inside_a_weakref_callback())
            return plot(*a, **k)
        monkeypatch.setattr(reports, "plot_confusion_matrix", plot_then_ctrl_c)
    else:
        end = callbacks.CSVLogger.on_train_batch_end

        def batch_end_then_ctrl_c(self, batch, logs=None):
            if not calls:
                calls.append(_ctrl_c_inside_a_weakref_callback())
            return end(self, batch, logs)
        monkeypatch.setattr(callbacks.CSVLogger, "on_train_batch_end", batch_end_then_ctrl_c, raising=False)
    assert train(*QUICK, "--epochs", 2, "--out", out) == 130
    err = capsys.readouterr().err
    assert calls and "interrupted" in err and "Exception ignored" not in err and "Traceback" not in err
    if where == "report":
        assert (out / "model.deepgrad").is_file() and not (out / "predictions.png").exists()
    else:
        assert not (out / "model.deepgrad").exists() and (out / "interrupted.deepgrad").is_file()
    monkeypatch.undo()
    assert train("--resume", out) == 0
    for name in ("model.deepgrad", "metrics.json", *PLOTS):
        assert (out / name).is_file(), name


@pytest.mark.slow
def test_without_matplotlib_the_run_completes_and_says_how_to_get_plots(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert train(*QUICK, "--out", out) == 0
    err = capsys.readouterr().err
    assert 'pip install "deepgrad[io]"' in err and "matplotlib" in err
    for name in ("run.json", "history.csv", "model.deepgrad", "metrics.json"):
        assert (out / name).is_file(), name
    assert not any((out / name).exists() for name in PLOTS)
    monkeypatch.undo()
    assert train("--resume", out) == 0  # once matplotlib is there, resume draws the plots
    assert all((out / name).is_file() for name in PLOTS)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("args, message", [
    (("--batch-size", -5), "--batch-size"),
    (("--batch-size", 0), "--batch-size"),
    (("--learning-rate", "nan"), "--learning-rate"),
    (("--learning-rate", "inf"), "--learning-rate"),
    (("--learning-rate", -1), "--learning-rate"),
    (("--epochs", 0), "--epochs"),
    (("--validation-split", 1), "--validation-split"),
    (("--validation-split", -0.1), "--validation-split"),
    (("--seed", -1), "--seed"),
])
def test_bad_numbers_are_refused_before_anything_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "r"
    assert train("--model", "mlp", "--dataset", "digits", "--out", out, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepgrad: error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # no run folder, in particular no untrained model


def test_out_that_is_a_file_or_another_run_is_refused_and_left_alone(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    assert train(*QUICK, "--out", a_file) == 2
    assert "is a file" in capsys.readouterr().err and a_file.read_text() == "keep me"
    other_run = tmp_path / "earlier"
    other_run.mkdir()
    (other_run / "run.json").write_text('{"model": "cnn"}')
    (other_run / "model.deepgrad").write_bytes(b"weights")
    before = snapshot(other_run)
    assert train(*QUICK, "--out", other_run) == 2
    assert "--resume" in capsys.readouterr().err
    assert snapshot(other_run) == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_out_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert train(*QUICK, "--out", ro / "r") == 2
        assert "deepgrad: error: cannot" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_unwritable_out_is_refused(tmp_path, capsys, monkeypatch):
    # root ignores permission bits, so the refusal is checked through the access test too
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert train(*QUICK, "--out", tmp_path / "r") == 2
    assert "cannot write in the run folder" in capsys.readouterr().err


@pytest.mark.parametrize("run_json", ["{not json", "[]", '{"model": "mlp"}',
                                      json.dumps({"model": "mlp", "dataset": "digits", "epochs": 0,
                                                  "batch_size": 8, "optimizer": "adam",
                                                  "learning_rate": None, "validation_split": 0,
                                                  "seed": 0})])
def test_resume_with_a_broken_run_json_is_refused(tmp_path, capsys, run_json):
    out = tmp_path / "r"
    out.mkdir()
    (out / "run.json").write_text(run_json)
    assert train("--resume", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepgrad: error: ") and "Traceback" not in err
    assert (out / "run.json").read_text() == run_json


@pytest.mark.slow
def test_resume_with_a_broken_history_csv_is_refused_and_keeps_it(tmp_path, capsys):
    out = tmp_path / "r"
    assert train(*QUICK, "--epochs", 2, "--out", out) == 0
    # make it look interrupted after epoch 0: a backup exists, so training would continue
    (out / "model.deepgrad").unlink()
    from deepgrad import callbacks
    backup = callbacks.BackupAndRestore(str(out / "backup"))
    model = cli.build_model("mlp", (8, 8, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    backup.set_model(model)
    backup.on_epoch_end(0, {})
    broken = "epoch,loss\nzero,1.0\n"
    (out / "history.csv").write_text(broken)
    assert train("--resume", out) == 2
    err = capsys.readouterr().err
    assert "history.csv" in err and "Traceback" not in err
    assert (out / "history.csv").read_text() == broken


def test_top_k_0_is_refused(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "model.deepgrad"), "x.png", "--top-k", "0"]) == 2
    assert "--top-k" in capsys.readouterr().err


# --------------------------------------------------------------------------- divergence
@pytest.mark.slow
def test_a_diverging_run_ends_with_a_warning(tmp_path, capsys):
    out = tmp_path / "r"
    assert train(*QUICK, "--epochs", 2, "--learning-rate", 1000, "--out", out) == 0
    err = capsys.readouterr().err
    assert "deepgrad: warning: training diverged" in err and "--learning-rate" in err
    assert (out / "metrics.json").is_file()


@pytest.mark.slow
def test_a_nan_loss_stops_training_and_says_so(tmp_path, capsys):
    out = tmp_path / "r"
    code = train(*QUICK, "--epochs", 3, "--optimizer", "sgd", "--learning-rate", 1e30, "--out", out)
    err = capsys.readouterr().err
    assert code == 1
    assert "became NaN in epoch 1 and training stopped" in err
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 2  # the header and the one epoch that ran, not 3


@pytest.mark.slow
def test_a_good_run_has_no_warning(tmp_path, capsys):
    assert train(*QUICK, "--epochs", 2, "--out", tmp_path / "r") == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("history, expected", [
    ({"loss": [2.0, 1.0], "val_loss": [2.1, 1.2]}, None),
    ({"loss": [2.0, 5.0]}, "diverged"),                   # 5 > 2 ln 10
    ({"loss": [2.0, 1.0], "val_loss": [2.0, 40.0]}, "validation loss ended at 40"),
    ({"loss": [2.0, float("nan")]}, "NaN in epoch 2"),
    ({"loss": [float("inf")]}, "infinite in epoch 1"),
    ({}, None),
])
def test_divergence_rule(history, expected):
    got = cli.divergence(history, 10)
    assert (got is None) if expected is None else (expected in got)
