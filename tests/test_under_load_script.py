"""``benchmarks/under_load.py``: its arguments and its neighbour process (nothing timed here)."""
import importlib.util
import sys
from pathlib import Path

import pytest

_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def under_load():
    sys.path.insert(0, str(_DIR))  # the script imports its sibling modules (train_speed, interleaved)
    try:
        spec = importlib.util.spec_from_file_location("benchmarks_under_load", _DIR / "under_load.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(_DIR))


def test_defaults_are_the_mlp_and_the_mnist_cnn(under_load):
    args = under_load.parse_args([])
    assert args.models == ["mlp", "cnn"] and args.rounds == 9 and args.steps is None
    assert args.neighbour == "matmul" and not args.memory
    assert under_load.DEFAULT_STEPS["mlp"] == 150 and under_load.DEFAULT_STEPS["cnn"] == 15


def test_arguments_are_parsed_and_checked(under_load):
    args = under_load.parse_args(["--models", "mlp", "--rounds", "2", "--steps", "3", "--neighbour", "spin"])
    assert (args.models, args.rounds, args.steps, args.neighbour) == (["mlp"], 2, 3, "spin")
    for bad in (["--neighbour", "sleep"], ["--models", "resnet"], ["--rounds", "0"], ["--steps", "0"]):
        with pytest.raises(SystemExit):
            under_load.parse_args(bad)


@pytest.mark.parametrize("kind", ["spin", "matmul"])
def test_the_neighbour_runs_inside_the_block_and_is_gone_after(under_load, kind):
    with under_load.Neighbour(kind) as neighbour:
        proc = neighbour.proc
        assert proc.poll() is None  # started and still busy
    assert proc.poll() is not None and proc.returncode < 0  # killed by a signal, and reaped


def test_a_neighbour_that_cannot_run_is_an_error(under_load, monkeypatch):
    monkeypatch.setitem(under_load.NEIGHBOURS, "broken", "raise SystemExit(3)")
    with pytest.raises(RuntimeError, match="exited before its loop"):
        with under_load.Neighbour("broken"):
            pass
