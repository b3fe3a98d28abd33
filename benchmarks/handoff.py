"""The cost of one two-thread hand-off (``runtime.for_batch_halves`` of a function that does
nothing), against another version of deepgrad/runtime.py loaded beside this one.

    python benchmarks/handoff.py [--against main] [--rounds 7] [--calls 2000]

``--against REV`` loads deepgrad/runtime.py as of a git revision (``git show REV:...``) as a
second module; the two are alternated round by round. For each: the calling thread's Python
bytecodes per hand-off (``bytecodes.count``; the worker thread's loop is not counted), and the
process CPU time and wall time per hand-off, the worker running its half (``take_back`` off)
and with take-back on (as the library runs it), minus the time of the two plain calls.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types

import bytecodes
from deepgrad import runtime

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(rev: str):
    source = subprocess.run(["git", "-C", HERE, "show", f"{rev}:deepgrad/runtime.py"], capture_output=True,
                            text=True, check=True).stdout
    module = types.ModuleType(f"runtime_{rev}")
    module.__file__ = f"{rev}:deepgrad/runtime.py"
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _noop(rows):
    return None


def _per_call(module, calls: int, take_back: bool):
    module._TAKE_BACK_UNSTARTED = take_back
    size = module._PARALLEL_MIN_SIZE
    split = module.for_batch_halves
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        split(_noop, 2, size)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        _noop(slice(0, 1))
        _noop(slice(1, None))
    return (wall - (time.perf_counter() - w0)) / calls, (cpu - (time.process_time() - c0)) / calls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", default="main")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    modules = {"this tree": runtime, args.against: _load(args.against)}
    for m in modules.values():
        if not m.two_threads():
            raise SystemExit("one core or one thread asked: no hand-off to measure")
    print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    results = {(name, tb): [] for name in modules for tb in (False, True)}
    for r in range(args.rounds):
        for name in (list(modules) if r % 2 == 0 else list(modules)[::-1]):
            for tb in (False, True):
                results[name, tb].append(_per_call(modules[name], args.calls, tb))
    print(f"{'runtime':>10} {'bytecodes':>9} {'cpu us (worker)':>16} {'wall us':>8} "
          f"{'cpu us (take-back)':>19} {'wall us':>8}")
    for name, m in modules.items():
        m._TAKE_BACK_UNSTARTED = False
        m.for_batch_halves(_noop, 2, m._PARALLEL_MIN_SIZE)
        count = bytecodes.count(lambda: m.for_batch_halves(_noop, 2, m._PARALLEL_MIN_SIZE))
        m._TAKE_BACK_UNSTARTED = True
        cols = []
        for tb in (False, True):
            v = results[name, tb]
            cols += [statistics.median(t[1] for t in v) * 1e6, statistics.median(t[0] for t in v) * 1e6]
        print(f"{name:>10} {count:9d} {cols[0]:16.2f} {cols[1]:8.2f} {cols[2]:19.2f} {cols[3]:8.2f}")


if __name__ == "__main__":
    main()
