"""Optimizer updates as one compiled loop (``deepgrad/loops/adam.pyx``).

Adam's NumPy update makes twelve passes over each variable (``m *= b1``, ``g * (1 - b1)``,
``m += ...``, and so on), each reading and writing whole arrays: for the MNIST CNN's 692k-element
kernel that is 0.9 ms on one thread, where one pass that keeps each element in registers takes
0.25 ms (the MLP's 100k kernel: 0.13 against 0.04 ms).

The loop performs, for each element, the very operations of the NumPy path in the same order,
each rounded to the arrays' dtype as NumPy rounds it, with the scalars in the arrays' dtype, as
NumPy casts a Python float: the same bits (``Adam._adam`` uses it only where that holds). Without
the extension (``runtime.compiled_loop``) the NumPy path runs.
"""
from __future__ import annotations

from .. import runtime

loaded: dict = {}  # name -> compiled function, or None when the extension is missing or turned off


def kernel(name: str):
    """The compiled loop ``name`` ("adam"), looked up on first use; None without it
    (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("adam", name, loaded)
