"""The ``deepgrad`` command: train, evaluate, predict, export, summary, datasets, explain.

``deepgrad train`` with no options trains seed 004's CNN on real handwritten digits (full
MNIST when its files are present, otherwise the 5,000 real MNIST digits that install
offline) and writes a run folder: the model, history.csv, metrics.json and PNG plots.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import runpy
import sys
import time

import numpy as np

from . import runtime

MODELS = ("cnn", "mlp", "lstm", "gan", "vae")
GENERATIVE = ("gan", "vae")  # trained by cli_generative: no classifier report
MNIST_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class CLIError(Exception):
    """A problem with what the user asked for: printed as one line, exit code 2."""


class _Interrupt:
    """Ctrl-C that is never lost.

    Python raises KeyboardInterrupt wherever the main thread happens to be. When that is inside
    a weakref callback (matplotlib's callback registries hold WeakMethods), the interpreter
    prints "Exception ignored" and carries on as if no key was pressed, so a run would go on
    to finish. The handler therefore also records the interrupt, and ``check`` raises it again
    at the command's next safe point: after each training batch and between report steps.
    """

    pending = False

    @classmethod
    def handler(cls, signum, frame):
        cls.pending = True
        raise KeyboardInterrupt

    @classmethod
    def check(cls, *_) -> None:
        if cls.pending:
            raise KeyboardInterrupt

    @classmethod
    def installed(cls):
        """A context in which Ctrl-C goes through ``handler``; the previous handling comes back after."""
        import contextlib
        import signal
        import threading

        @contextlib.contextmanager
        def scope():
            cls.pending = False
            # only where Ctrl-C is Python's default (a launcher that ignores SIGINT keeps it ignored),
            # and only from the main thread, the one signal handlers belong to
            if (threading.current_thread() is not threading.main_thread()
                    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
                yield
                return
            previous_hook = sys.unraisablehook

            def unraisable(info):  # the swallowed interrupt is raised again by check: no traceback
                if not (cls.pending and isinstance(info.exc_value, KeyboardInterrupt)):
                    previous_hook(info)
            signal.signal(signal.SIGINT, cls.handler)
            sys.unraisablehook = unraisable
            try:
                yield
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                sys.unraisablehook = previous_hook
        return scope()


# --------------------------------------------------------------------------- data
def default_dataset() -> str:
    from . import datasets

    found = dict(datasets.available())
    return "mnist" if found.get("mnist", "missing") != "missing" else "mnist_subset"


def class_names(dataset: str, num_classes: int) -> list[str]:
    known = {"mnist": MNIST_NAMES, "mnist_subset": MNIST_NAMES, "digits": MNIST_NAMES,
             "fashion_mnist": FASHION_NAMES, "cifar10": CIFAR10_NAMES}
    names = known.get(dataset)
    return names if names and len(names) == num_classes else [str(i) for i in range(num_classes)]


def prepare_images(x) -> np.ndarray:
    """uint8 images -> float32 in [0, 1], always with a channel axis (N, H, W, C)."""
    x = np.asarray(x)
    scale = 255.0 if x.dtype == np.uint8 or x.max() > 1 else 1.0
    x = x.astype("float32") / np.float32(scale)
    return x[..., None] if x.ndim == 3 else x


def load_dataset(name: str):
    from . import datasets

    try:
        (x_train, y_train), (x_test, y_test) = datasets.load(name)
    except KeyError as e:
        raise CLIError(f"unknown dataset {name!r}; `deepgrad datasets` lists them") from e
    except (FileNotFoundError, ConnectionError, OSError) as e:
        raise CLIError(f"dataset {name!r} is not available here: {e}") from e
    x_train, x_test = prepare_images(x_train), prepare_images(x_test)
    y_train, y_test = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


# --------------------------------------------------------------------------- models
def build_model(kind: str, input_shape: tuple, num_classes: int):
    from . import Sequential, layers

    if kind == "cnn":  # seed 004
        return Sequential([
            layers.Input(shape=input_shape),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ], name="cnn")
    if kind == "mlp":  # seed 003
        return Sequential([
            layers.Input(shape=input_shape),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ], name="mlp")
    if kind == "lstm":  # image rows as time steps
        h, w, c = input_shape
        return Sequential([
            layers.Input(shape=input_shape),
            layers.Reshape((h, w * c)),
            layers.LSTM(64),
            layers.Dense(num_classes, activation="softmax"),
        ], name="lstm")
    check_model_name(kind)
    if not kind.endswith(".py"):
        raise CLIError(f"model {kind!r} is not a classifier")
    namespace = runpy.run_path(kind)
    if "build_model" not in namespace:
        raise CLIError(f"{kind} must define build_model(input_shape, num_classes)")
    return namespace["build_model"](input_shape, num_classes)


def check_model_name(kind: str) -> None:
    """Refuse a --model that is neither a built-in model nor an existing FILE.py."""
    if kind in MODELS:
        return
    if not kind.endswith(".py"):
        raise CLIError(f"unknown model {kind!r}: choose one of {', '.join(MODELS)} or a FILE.py")
    if not os.path.isfile(kind):
        raise CLIError(f"model file {kind!r} does not exist")


def make_optimizer(name: str, learning_rate):
    from . import optimizers

    try:
        opt = optimizers.get(name)
    except (ValueError, KeyError) as e:
        raise CLIError(f"unknown optimizer {name!r}") from e
    if learning_rate is not None:
        opt.learning_rate = learning_rate
    return opt


# --------------------------------------------------------------------------- train
TRAIN_KEYS = ("model", "dataset", "epochs", "batch_size", "optimizer", "learning_rate",
              "validation_split", "seed")


def _write_json(path: str, obj) -> None:
    from .files.atomic import write_bytes_atomic

    write_bytes_atomic(path, json.dumps(obj, indent=2).encode("utf-8"))


def _read_history_csv(path: str) -> dict:
    """history.csv as {metric: [value per epoch]}; "NA" cells (a metric an epoch did not
    report, e.g. validation with --validation-split 0) are NaN, all-"NA" columns dropped."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    history = {}
    for key in (rows[0] if rows else {}):
        if key == "epoch":
            continue
        cells = [r[key] for r in rows]
        if all(c in ("NA", "", None) for c in cells):
            continue
        history[key] = [float("nan") if c in ("NA", "", None) else float(c) for c in cells]
    return history


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_train_args(args, source: str = "") -> None:
    """Refuse settings training cannot use before anything is written."""
    where = f" (in {source})" if source else ""
    if not _positive_int(args.epochs):
        raise CLIError(f"--epochs must be a whole number >= 1, not {args.epochs!r}{where}")
    if not _positive_int(args.batch_size):
        raise CLIError(f"--batch-size must be a whole number >= 1, not {args.batch_size!r}{where}")
    lr = args.learning_rate
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                           or not math.isfinite(lr) or lr <= 0):
        raise CLIError(f"--learning-rate must be a finite number > 0, not {lr!r}{where}")
    vs = args.validation_split
    if isinstance(vs, bool) or not isinstance(vs, (int, float)) or not 0 <= vs < 1:
        raise CLIError(f"--validation-split must be in [0, 1), not {vs!r}{where}")
    seed = args.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise CLIError(f"--seed must be a whole number in [0, 2**32), not {seed!r}{where}")
    samples = getattr(args, "samples", None)
    if samples is not None and not _positive_int(samples):
        raise CLIError(f"--samples must be a whole number >= 1, not {samples!r}{where}")
    for key in ("model", "dataset", "optimizer"):
        if not isinstance(getattr(args, key), (str, type(None))):
            raise CLIError(f"--{key} must be a name, not {getattr(args, key)!r}{where}")


def read_run_json(out: str) -> dict:
    run_file = os.path.join(out, "run.json")
    if not os.path.isfile(run_file):
        raise CLIError(f"{out!r} is not a run folder (no run.json)")
    try:
        with open(run_file, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot resume {out!r}: run.json is unreadable ({e})") from e
    missing = [k for k in TRAIN_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise CLIError(f"cannot resume {out!r}: run.json lacks {', '.join(missing)}")
    return saved


def make_run_folder(out: str) -> None:
    """Create the run folder, refusing a file, an unwritable folder or another run's folder."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out!r} is a file, not a folder")
    if os.path.isfile(os.path.join(out, "run.json")):
        raise CLIError(f"{out!r} already holds a run; continue it with `deepgrad train --resume {out}` "
                       f"or choose another --out")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the run folder {out!r}: {e.strerror or e}") from e
    if not os.access(out, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write in the run folder {out!r}: permission denied")


PLOTS = ("curves.png", "confusion_matrix.png", "predictions.png", "most_confident_mistakes.png")


def report_complete(out: str) -> bool:
    return all(os.path.isfile(os.path.join(out, name)) for name in ("metrics.json", *PLOTS))


def _run_folder(args) -> str:
    """The run folder, made (or, with --resume, read back into ``args``)."""
    if args.resume:
        out = args.resume
        saved = read_run_json(out)
        for key in TRAIN_KEYS:
            setattr(args, key, saved[key])
        args.samples = saved.get("samples")  # absent from the runs of earlier versions
        check_train_args(args, os.path.join(out, "run.json"))
        return out
    check_train_args(args)
    out = _default_run(args)
    # a name that cannot be trained leaves no run folder behind
    check_model_name(args.model)
    from . import datasets

    try:
        datasets.where(args.dataset)
    except KeyError as e:
        raise CLIError(f"unknown dataset {args.dataset!r}; `deepgrad datasets` lists them") from e
    make_run_folder(out)
    try:
        _write_json(os.path.join(out, "run.json"), {k: getattr(args, k) for k in (*TRAIN_KEYS, "samples")})
    except OSError as e:
        raise CLIError(f"cannot write in the run folder {out!r}: {e.strerror or e}") from e
    return out


def _default_run(args) -> str:
    """Fill in the default dataset (Fashion-MNIST for the generative models) and return the run
    folder: ``--out``, or ``runs/<model>-<dataset>-<time>``."""
    args.dataset = args.dataset or ("fashion_mnist" if args.model in GENERATIVE else default_dataset())
    return args.out or os.path.join("runs", f"{os.path.basename(args.model).removesuffix('.py')}-"
                                            f"{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")


def _join_ranks():
    """Under ``mpiexec`` (``--workers`` or by hand): join the job and train data-parallel
    (each rank its shard of every global batch of --batch-size); returns the MPI
    communicator, or None in a single process."""
    from .distributed.launch import under_mpi

    if not under_mpi():
        return None
    from . import distributed, distribution

    try:
        comm = distributed.init()
    except ImportError as e:
        raise CLIError(str(e)) from e
    if comm.Get_size() == 1:
        return None
    distribution.set_distribution(distribution.DataParallel())
    return comm


def _agree(comm, work):
    """``work()`` on rank 0, its result (or its CLIError) on every rank."""
    if comm is None:
        return work()
    result = error = None
    if comm.Get_rank() == 0:
        try:
            result = work()
        except CLIError as e:
            error = str(e)
    result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise CLIError(error) if comm.Get_rank() == 0 else SystemExit(2)
    return result


def cmd_train(args) -> int:
    from . import callbacks, utils

    if getattr(args, "workers", None) and _launcher_needed():
        return _launch_workers(args)
    comm = _join_ranks()
    chief = comm is None or comm.Get_rank() == 0
    out, settings = _agree(comm, lambda: (_run_folder(args), {k: getattr(args, k) for k in (*TRAIN_KEYS, "samples")}))
    for key, value in settings.items():
        setattr(args, key, value)

    utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    if args.samples:
        x_train, y_train = x_train[:args.samples], y_train[:args.samples]
    num_classes = int(max(y_train.max(), y_test.max()) + 1)
    names = class_names(args.dataset, num_classes)
    backup = callbacks.BackupAndRestore(os.path.join(out, "backup"))
    history_csv = os.path.join(out, "history.csv")
    if args.model in GENERATIVE:
        return train_generative(args, out, x_train, x_test, y_test, names, backup, history_csv)
    model_path = os.path.join(out, "model.deepgrad")

    def finished_already() -> bool:
        if not (args.resume and _training_finished(backup, model_path, out)):
            return False
        # killed (or the report failed) after the model was written: only the report is left
        if report_complete(out):
            raise CLIError(f"the run in {out!r} has already finished")
        return True
    if _agree(comm, finished_already):
        return finish_run(load_model_file(model_path), x_test, y_test, names, out, _train_speed(out)) if chief else 0
    if chief:
        print(f"dataset {args.dataset}: {len(x_train)} training and {len(x_test)} test images of shape "
              f"{x_train.shape[1:]}, {num_classes} classes")
        if comm is not None:
            print(f"training on {comm.Get_size()} ranks (data parallel: --batch-size {args.batch_size} is the "
                  f"global batch, {args.batch_size // comm.Get_size()} or so per rank)")

    model = build_model(args.model, x_train.shape[1:], num_classes)
    model.compile(optimizer=make_optimizer(args.optimizer, args.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if chief:
        model.summary()
    if args.resume and chief:
        resume_history(history_csv, backup, out)
    # The history row is written before the backup: a run killed between the two has one
    # row too many, which resume_history drops, never one too few.
    cbs = [callbacks.CSVLogger(history_csv, append=bool(args.resume)), backup, callbacks.TerminateOnNaN(),
           callbacks.LambdaCallback(on_train_batch_end=_Interrupt.check)]
    start = time.perf_counter()
    try:
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                  validation_split=args.validation_split, callbacks=cbs, verbose=args.verbose)
    except KeyboardInterrupt:
        if not chief:
            return 130
        model.save(os.path.join(out, "interrupted.deepgrad"))
        print(f"\ninterrupted: the last finished epoch is backed up in {out}; "
              f"continue with `deepgrad train --resume {out}`", file=sys.stderr)
        return 130
    train_seconds = time.perf_counter() - start
    _Interrupt.check()
    speed = dict(train_seconds=round(train_seconds, 3),
                 train_samples_per_second=round(len(x_train) * (1 - args.validation_split)
                                                * args.epochs / max(train_seconds, 1e-9), 1))
    if not chief:  # rank 0 alone writes the model and the report
        return 0
    if comm is not None:  # rank 0 alone evaluates the test set: not the ranks' shards
        from . import distribution
        distribution.set_distribution(None)
    # kept beside the model so that a report finished by --resume still states the speed
    _write_json(os.path.join(out, "train_speed.json"), speed)
    model.save(model_path)
    problem = divergence(getattr(model.history, "history", {}), num_classes)
    status = finish_run(model, x_test, y_test, names, out, speed)
    if problem:
        print(f"deepgrad: warning: {problem}; try a smaller --learning-rate "
              f"(the run folder {out} holds what was trained)", file=sys.stderr)
        if "NaN" in problem or "infinite" in problem:
            return 1
    return status


def _launcher_needed() -> bool:
    from .distributed.launch import under_mpi
    return not under_mpi()


def _launch_workers(args) -> int:
    """``deepgrad train --workers N``: this same command on N ranks under ``mpiexec``."""
    from .distributed import launch

    if args.hosts and args.hostfile:
        raise CLIError("give --hosts or --hostfile, not both")
    if args.workers < 1:
        raise CLIError(f"--workers must be a whole number >= 1, not {args.workers}")
    if args.hostfile and not os.path.isfile(args.hostfile):
        raise CLIError(f"--hostfile {args.hostfile!r} does not exist")
    if not args.resume and args.out is None:
        # every rank must name the same run folder: fix the time-stamped default once, here
        check_train_args(args)
        args.out = _default_run(args)
    command = [sys.executable, "-m", "deepgrad", "train"] + _train_argv(args)
    try:
        return launch.run(command, args.workers, hosts=args.hosts, hostfile=args.hostfile)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from e


def _train_argv(args) -> list[str]:
    """``args`` as ``deepgrad train`` options again (without --workers, --hosts, --hostfile)."""
    argv = []
    for key in ("model", "dataset", "epochs", "batch_size", "optimizer", "learning_rate", "validation_split",
                "seed", "samples", "out", "resume", "verbose"):
        value = getattr(args, key)
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def train_generative(args, out, x_train, x_test, y_test, names, backup, history_csv) -> int:
    """``--model gan|vae``: see ``cli_generative``; a finished run refuses ``--resume``."""
    from . import callbacks, cli_generative

    done = os.path.join(out, "metrics.json")
    if args.resume:
        if _training_finished(backup, done, out):
            raise CLIError(f"the run in {out!r} has already finished")
        resume_history(history_csv, backup, out)
    print(f"dataset {args.dataset}: {len(x_train)} training images of shape {x_train.shape[1:]}")
    logger = callbacks.CSVLogger(history_csv, append=bool(args.resume))
    try:
        metrics = cli_generative.train(args, out, x_train, x_test, y_test, names, backup, history_csv, logger,
                                       callbacks.TerminateOnNaN())
    except cli_generative.GenerativeError as e:
        raise CLIError(str(e)) from e
    from . import reports

    if reports.have_matplotlib() and os.path.isfile(history_csv):
        # from history.csv, which holds the epochs before a --resume too
        cli_generative.plot_losses(_read_history_csv(history_csv), os.path.join(out, "curves.png"))
    _write_json(done, metrics)
    print(f"run folder: {os.path.abspath(out)}")
    print("final " + ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    if any(not math.isfinite(v) for v in metrics["final"].values()):
        print("deepgrad: warning: a loss became NaN or infinite; try a smaller --learning-rate", file=sys.stderr)
        return 1
    return 0


def divergence(history: dict, num_classes: int) -> str | None:
    """Why the training went wrong, or None: a loss that became NaN/inf (training stopped there)
    or ended worse than guessing, whose loss is ln(classes) for a uniform prediction."""
    chance = math.log(max(num_classes, 2))
    for key in ("loss", "val_loss"):
        values = [v for v in history.get(key, []) if v is not None]
        if not values:
            continue
        last = float(values[-1])
        if not math.isfinite(last):
            kind = "NaN" if math.isnan(last) else "infinite"
            return f"the {key.replace('val_', 'validation ')} became {kind} in epoch {len(values)} and training stopped"
        if last > 2 * chance:
            return (f"training diverged: the {key.replace('val_', 'validation ')} ended at {last:.4g} after "
                    f"epoch {len(values)}, worse than guessing (ln {num_classes} = {chance:.3f})")
    return None


def _training_finished(backup, model_path: str, out: str) -> bool:
    try:
        last = backup.last_epoch()
    except ValueError as e:  # a corrupted backup
        raise CLIError(f"cannot resume {out!r}: {e}") from e
    return last is None and os.path.isfile(model_path)


def _train_speed(out: str) -> dict:
    try:
        with open(os.path.join(out, "train_speed.json"), encoding="utf-8") as f:
            speed = json.load(f)
        return speed if isinstance(speed, dict) else {}
    except (OSError, ValueError):
        return {}


def finish_run(model, x_test, y_test, names, out: str, speed: dict) -> int:
    """Evaluate, write metrics.json, then the plots (which need matplotlib)."""
    metrics, probs = evaluate_run(model, x_test, y_test, names)
    metrics.update(speed)
    _Interrupt.check()
    plotted = write_plots(probs, x_test, y_test, names, out, metrics)
    if plotted:
        write_explanation_grid(model, x_test, y_test, probs, names, out)
    _Interrupt.check()
    # last: its presence marks the report complete (see report_complete), so a run killed while a
    # plot is drawn is finished by --resume, which also removes the killed writer's temporary file
    _write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"run folder: {os.path.abspath(out)}")
    print(f"test accuracy: {metrics['test_accuracy']:.4f}  (test loss {metrics['test_loss']:.4f})")
    if not plotted:
        print("deepgrad: the plots were not drawn because matplotlib is not installed; "
              "install it with `pip install \"deepgrad[io]\"`, then draw them with "
              f"`deepgrad train --resume {out}`", file=sys.stderr)
    return 0


def resume_history(history_csv: str, backup, out: str) -> None:
    """Keep only the history rows of the epochs the backup holds, which training resumes after."""
    import csv

    from .files.atomic import write_bytes_atomic

    try:
        last = backup.last_epoch()
    except ValueError as e:  # a corrupted backup
        raise CLIError(f"cannot resume {out!r}: {e}") from e
    rows, fields = [], None
    if os.path.isfile(history_csv):
        try:
            with open(history_csv, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                fields = reader.fieldnames
                rows = [r for r in reader if last is not None and int(r["epoch"]) <= last]
        except (OSError, ValueError, TypeError, KeyError, csv.Error) as e:
            raise CLIError(f"cannot resume {out!r}: history.csv is unreadable ({type(e).__name__}: {e})") from e
    text = io.StringIO(newline="")
    if fields and rows:
        writer = csv.DictWriter(text, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    write_bytes_atomic(history_csv, text.getvalue().encode("utf-8"))


def evaluate_run(model, x_test, y_test, names) -> dict:
    """Evaluate on the test set; returns metrics.json's content and the predicted probabilities."""
    from . import reports

    start = time.perf_counter()
    probs = model.predict(x_test, batch_size=256, verbose=0)
    predict_seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    pred = probs.argmax(axis=1)
    counts = reports.confusion_matrix(y_test, pred, len(names))
    precision, recall = reports.per_class_precision_recall(counts)
    metrics = {
        "test_loss": float(loss), "test_accuracy": float(acc),
        "per_class": {n: {"precision": p, "recall": r} for n, p, r in zip(names, precision, recall)},
        "confusion_matrix": counts.tolist(),
        "predict_seconds": round(predict_seconds, 3),
        "predict_samples_per_second": round(len(x_test) / max(predict_seconds, 1e-9), 1),
    }
    return metrics, probs


def write_plots(probs, x_test, y_test, names, out: str, metrics: dict) -> bool:
    """The run's PNG plots; False (nothing drawn) when matplotlib is not installed."""
    from . import reports

    if not reports.have_matplotlib():
        return False
    pred = probs.argmax(axis=1)
    history_csv = os.path.join(out, "history.csv")
    if os.path.isfile(history_csv):
        try:
            history = _read_history_csv(history_csv)
        except (OSError, ValueError) as e:
            print(f"deepgrad: curves.png not drawn: history.csv is unreadable ({e})", file=sys.stderr)
        else:
            reports.plot_history(history, os.path.join(out, "curves.png"))
    _Interrupt.check()
    reports.plot_confusion_matrix(np.asarray(metrics["confusion_matrix"]), names,
                                  os.path.join(out, "confusion_matrix.png"))
    _Interrupt.check()
    confidence = probs[np.arange(len(pred)), pred]
    first = np.arange(min(32, len(x_test)))
    reports.plot_image_grid(x_test[first], y_test[first], pred[first], confidence[first], names,
                            os.path.join(out, "predictions.png"), "Test images: predicted (probability) / true")
    _Interrupt.check()
    wrong = np.flatnonzero(pred != y_test)
    worst = wrong[np.argsort(-confidence[wrong])][:16]
    reports.plot_image_grid(x_test[worst], y_test[worst], pred[worst], confidence[worst], names,
                            os.path.join(out, "most_confident_mistakes.png"), "Most confidently wrong")
    _Interrupt.check()
    return True


# --------------------------------------------------------------------------- other commands
def load_model_file(path: str):
    from .models import load_model

    if not os.path.isfile(path):
        raise CLIError(f"model file {path!r} does not exist")
    try:
        return load_model(path)
    except Exception as e:  # a corrupted or hostile file: say so in one line
        raise CLIError(f"cannot load model {path!r}: {e}") from e


def _names_for(model_path: str, num_classes: int) -> list[str]:
    run_file = os.path.join(os.path.dirname(os.path.abspath(model_path)), "run.json")
    if os.path.isfile(run_file):
        with open(run_file, encoding="utf-8") as f:
            return class_names(json.load(f).get("dataset", ""), num_classes)
    return [str(i) for i in range(num_classes)]


def cmd_evaluate(args) -> int:
    model = load_model_file(args.model)
    _, (x_test, y_test) = load_dataset(args.dataset)
    try:
        loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    except ValueError as e:
        raise CLIError(f"the model cannot take dataset {args.dataset!r}: {e}") from e
    print(f"test loss {loss:.4f}  test accuracy {acc:.4f}  ({len(x_test)} images of {args.dataset})")
    return 0


def _predictor(path: str):
    """(input shape without the batch axis, predict function) of a model file; an ``.onnx`` file
    runs on onnxruntime."""
    if not path.lower().endswith(".onnx"):
        model = load_model_file(path)
        shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
        return shape, lambda x: model.predict(x, verbose=0)
    from .export.runtime import OnnxPredictor

    if not os.path.isfile(path):
        raise CLIError(f"model file {path!r} does not exist")
    try:
        onnx_model = OnnxPredictor(path)
    except ImportError as e:
        raise CLIError(str(e)) from e
    except Exception as e:  # not an ONNX file, or one onnxruntime cannot run
        raise CLIError(f"cannot load ONNX model {path!r}: {e}") from e
    return onnx_model.input_shapes[0][1:], onnx_model.predict


def cmd_export(args) -> int:
    """A saved model as an ONNX file, float32 or int8 (static quantisation on calibration images)."""
    model = load_model_file(args.model)
    calibration = None
    if args.calibration_dataset:
        if args.quantize != "int8":
            raise CLIError("--calibration-dataset goes with --quantize int8")
        if args.calibration_samples < 1:
            raise CLIError(f"--calibration-samples must be a whole number >= 1, not {args.calibration_samples}")
        (x_train, _), _ = load_dataset(args.calibration_dataset)
        calibration = x_train[: args.calibration_samples]
    try:
        model.export(args.output, format="onnx", opset_version=args.opset, quantize=args.quantize,
                     calibration_data=calibration)
    except ImportError as e:
        raise CLIError(str(e)) from e
    except ValueError as e:
        raise CLIError(f"cannot export {args.model!r}: {e}") from e
    kind = "int8" if args.quantize else "float32"
    print(f"wrote {args.output} ({kind}, {os.path.getsize(args.output) / 1e6:.2f} MB)")
    return 0


def cmd_predict(args) -> int:
    from .preprocessing import image

    if args.top_k < 1:
        raise CLIError(f"--top-k must be a whole number >= 1, not {args.top_k}")
    shape, predict = _predictor(args.model)
    if shape is None or len(shape) != 3:
        raise CLIError(f"the model takes inputs of shape {shape}, not images")
    h, w, c = shape
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(c)
    if mode is None:
        raise CLIError(f"the model takes images with {c} channels; only 1, 3 or 4 are supported")
    batch = []
    for path in args.images:
        if not os.path.isfile(path):
            raise CLIError(f"image {path!r} does not exist")
        try:
            img = image.load_img(path, color_mode=mode, target_size=(h, w))
        except Exception as e:
            raise CLIError(f"cannot read image {path!r}: {e}") from e
        batch.append(image.img_to_array(img) / 255.0)
    probs = predict(np.stack(batch).astype("float32"))
    names = _names_for(args.model, probs.shape[1])
    for path, p in zip(args.images, probs):
        top = np.argsort(-p)[: args.top_k]
        print(f"{path}: " + ", ".join(f"{names[k]} ({p[k]:.3f})" for k in top))
    return 0


def cmd_summary(args) -> int:
    load_model_file(args.model).summary()
    return 0


def cmd_datasets(args) -> int:
    from . import datasets

    for name, where in datasets.available():
        print(f"{name:15s} {where}")
    return 0


# --------------------------------------------------------------------------- explanations
EXPLAIN_METHODS = ("grad_cam", "ig", "saliency", "smoothgrad", "occlusion")
EXPLAIN_TITLES = {"grad_cam": "Grad-CAM", "ig": "integrated gradients", "saliency": "saliency",
                  "smoothgrad": "SmoothGrad", "occlusion": "occlusion"}


def _conv_layer(model):
    """The last convolutional layer, or None."""
    from . import explain

    try:
        layer = explain.default_layer(model)
    except ValueError:
        return None
    return layer if "Conv" in type(layer).__name__ else None


def explanation_maps(model, x, target, method: str, layer=None, steps: int = 50, seed: int = 0) -> np.ndarray:
    """Attributions of ``method`` (one of EXPLAIN_METHODS) for images ``x`` (n, h, w, c)."""
    from . import explain

    if method == "grad_cam":
        layer = layer or _conv_layer(model)
        if layer is None:
            raise CLIError("the model has no convolutional layer for Grad-CAM; name a layer with --layer "
                           "or choose another --method (ig, saliency, smoothgrad, occlusion)")
        return explain.grad_cam(model, x, target, layer)
    if method == "ig":
        return explain.integrated_gradients(model, x, target, steps=steps)
    if method == "saliency":
        return explain.saliency(model, x, target)
    if method == "smoothgrad":
        return explain.smoothgrad(model, x, target, samples=steps, seed=seed, absolute=True)
    if method == "occlusion":
        # a patch about a seventh of the image, moved by half a patch
        window = max(1, round(min(x.shape[1:3]) / 7)) if x.ndim == 4 else 1
        return explain.occlusion(model, x, target, window=window, stride=max(1, window // 2))
    raise CLIError(f"unknown explanation method {method!r}: choose one of {', '.join(EXPLAIN_METHODS)}")


def write_explanation_grid(model, x_test, y_test, probs, names, out: str, count: int = 6) -> str | None:
    """explanations.png: a few test images, each explained by every method that applies to the
    model (none for data that are not images; a warning for a model the methods cannot explain)."""
    from . import reports

    x = x_test[:count]
    if x.ndim != 4:   # not images: nothing to draw a heat map over
        return None
    pred = probs[:len(x)].argmax(axis=1)
    methods = [m for m in EXPLAIN_METHODS if m != "grad_cam" or _conv_layer(model) is not None]
    try:
        maps = {EXPLAIN_TITLES[m]: explanation_maps(model, x, pred, m) for m in methods}
    except (ValueError, CLIError) as e:
        print(f"deepgrad: explanations.png not drawn: {e}", file=sys.stderr)
        return None
    titles = [f"{names[p]} ({probs[i, p]:.2f})\ntrue {names[y_test[i]]}" for i, p in enumerate(pred)]
    return reports.plot_explanation_grid(x, maps, titles, os.path.join(out, "explanations.png"))


def _read_images(model, paths) -> np.ndarray:
    """Image files as the model's input batch (resized, its number of channels, in [0, 1])."""
    from .preprocessing import image

    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 3:
        raise CLIError(f"the model takes inputs of shape {shape}, not images")
    h, w, c = shape
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(c)
    if mode is None:
        raise CLIError(f"the model takes images with {c} channels; only 1, 3 or 4 are supported")
    batch = []
    for path in paths:
        if not os.path.isfile(path):
            raise CLIError(f"image {path!r} does not exist")
        try:
            img = image.load_img(path, color_mode=mode, target_size=(h, w))
        except Exception as e:
            raise CLIError(f"cannot read image {path!r}: {e}") from e
        batch.append(image.img_to_array(img) / 255.0)
    return np.stack(batch).astype("float32")


def cmd_explain(args) -> int:
    from . import reports

    if args.steps < 2:
        raise CLIError(f"--steps must be a whole number >= 2, not {args.steps}")
    if not reports.have_matplotlib():
        raise CLIError("drawing explanations needs matplotlib; install it with `pip install \"deepgrad[io]\"`")
    model = load_model_file(args.model)
    x = _read_images(model, args.images)
    probs = model.predict(x, verbose=0)
    pred = probs.argmax(axis=1)
    names = _names_for(args.model, probs.shape[1])
    if args.target is not None and not 0 <= args.target < probs.shape[1]:
        raise CLIError(f"--target {args.target} is out of range: the model has {probs.shape[1]} classes "
                       f"(0 to {probs.shape[1] - 1})")
    target = pred if args.target is None else np.full(len(x), args.target)
    try:
        maps = explanation_maps(model, x, target, args.method, layer=args.layer, steps=args.steps, seed=args.seed)
    except ValueError as e:
        raise CLIError(str(e)) from e
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.model)), "explanations")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the folder {out!r}: {e.strerror or e}") from e
    for i, path in enumerate(args.images):
        stem = os.path.splitext(os.path.basename(path))[0]
        title = (f"{EXPLAIN_TITLES[args.method]}\npredicted {names[pred[i]]} ({probs[i, pred[i]]:.2f}), "
                 f"target {names[target[i]]}")
        written = reports.plot_explanation(x[i], maps[i], title, os.path.join(out, f"{stem}_{args.method}.png"))
        print(written)
    return 0


# --------------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepgrad", description="Train and use deepgrad models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and write a run folder")
    t.add_argument("--model", default="cnn", help="cnn (seed 004), mlp (seed 003), lstm, gan (a DCGAN), "
                                                  "vae (a variational autoencoder), or FILE.py")
    t.add_argument("--dataset", default=None, help="mnist, fashion_mnist, cifar10, digits, mnist_subset, ...")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", default="adam")
    t.add_argument("--learning-rate", type=float, default=None)
    t.add_argument("--validation-split", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--samples", type=int, default=None, help="train on the first N training images only")
    t.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATASET-TIME)")
    t.add_argument("--resume", default=None, metavar="DIR", help="continue an interrupted run")
    t.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    t.add_argument("--workers", type=int, default=None, metavar="N",
                   help="train data-parallel on N ranks under mpiexec (pip install deepgrad[distributed])")
    t.add_argument("--hosts", default=None, metavar="H1,H2", help="with --workers: the machines to run on")
    t.add_argument("--hostfile", default=None, metavar="FILE", help="with --workers: an MPI hostfile")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a saved model on a dataset's test set")
    e.add_argument("model")
    e.add_argument("--dataset", default="mnist_subset")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify image files with a saved model (or an .onnx file)")
    pr.add_argument("model")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--top-k", type=int, default=3)
    pr.set_defaults(func=cmd_predict)

    ex = sub.add_parser("export", help="write a saved model as an ONNX file (float32 or int8)")
    ex.add_argument("model")
    ex.add_argument("output", help="the .onnx file to write")
    ex.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 18)")
    ex.add_argument("--quantize", default=None, choices=("int8",),
                    help="int8 with onnxruntime: dynamic, or static with --calibration-dataset")
    ex.add_argument("--calibration-dataset", default=None, help="static int8: calibrate on this dataset's images")
    ex.add_argument("--calibration-samples", type=int, default=256)
    ex.set_defaults(func=cmd_export)

    s = sub.add_parser("summary", help="print a saved model's layers and parameter counts")
    s.add_argument("model")
    s.set_defaults(func=cmd_summary)

    d = sub.add_parser("datasets", help="which datasets are available here, and where")
    d.set_defaults(func=cmd_datasets)

    x = sub.add_parser("explain", help="heat maps of what made a saved model classify images as it did")
    x.add_argument("model")
    x.add_argument("images", nargs="+")
    x.add_argument("--method", default="grad_cam", choices=EXPLAIN_METHODS)
    x.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    x.add_argument("--layer", default=None, help="Grad-CAM's layer (default: the last convolutional layer)")
    x.add_argument("--steps", type=int, default=50, help="integration steps (ig) or noisy samples (smoothgrad)")
    x.add_argument("--seed", type=int, default=0, help="SmoothGrad's noise seed")
    x.add_argument("--out", default=None, help="folder for the PNGs (default: explanations/ beside the model)")
    x.set_defaults(func=cmd_explain)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # an application's choices (see their docstrings): reuse freed blocks instead of remapping
    # them, and let idle BLAS threads sleep soon instead of competing with element-wise work
    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    try:
        with _Interrupt.installed():
            status = args.func(args)
            _Interrupt.check()  # a Ctrl-C swallowed after the last safe point still ends as interrupted
        return status
    except CLIError as e:
        print(f"deepgrad: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
