"""Timing shared by the benchmarks: two training steps timed in alternation (A B A B ...), so
machine noise hits both frameworks alike."""
from __future__ import annotations

import time


def timed(step, n: int, clock=time.perf_counter) -> float:
    start = clock()
    for _ in range(n):
        step()
    return clock() - start


def settle(seconds: float = 0.3) -> None:
    """Let the other framework's worker threads go to sleep before timing this one.

    After a parallel region OpenBLAS's threads spin for up to about 0.1 s and OpenMP's for
    its block time; on two cores a spinning thread takes a core from whatever runs next.
    """
    time.sleep(seconds)


def rates(ours, theirs, rounds: int, steps: int, batch: int, clock=time.perf_counter) -> tuple[list, list, list]:
    """Samples per second of each step over ``rounds`` interleaved rounds, and their ratios
    (``clock=time.process_time`` counts this process's CPU time instead of wall time)."""
    for s in (ours, theirs):  # warm-up: allocation, lazy builds
        timed(s, 2)
    our_rates, their_rates = [], []
    for _ in range(rounds):
        settle()
        our_rates.append(steps * batch / timed(ours, steps, clock))
        settle()
        their_rates.append(steps * batch / timed(theirs, steps, clock))
    return our_rates, their_rates, [a / b for a, b in zip(our_rates, their_rates)]


def rates_of(steppers: dict, rounds: int, steps: int, batch: int, clock=time.perf_counter) -> dict:
    """``rates`` for any number of named steps: ``{name: [samples/s of each round]}``, the steps
    interleaved in each round in the dict's order."""
    for s in steppers.values():  # warm-up: allocation, lazy builds
        timed(s, 2)
    samples = {name: [] for name in steppers}
    for _ in range(rounds):
        for name, s in steppers.items():
            settle()
            samples[name].append(steps * batch / timed(s, steps, clock))
    return samples
