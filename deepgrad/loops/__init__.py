"""Compiled loops: element-wise chains that NumPy runs as many passes over whole arrays, written
once in Cython (``*.pyx`` here) and built into C extensions when the package is installed with a C
compiler at hand (``setup.py``).

Each loop does, per element, the operations of its NumPy form in the same order, each rounded to
the arrays' dtype as NumPy rounds it: the extensions are compiled without fast-math and without
fused multiply-adds, float32 arrays are computed in float32 (``sqrtf``, not ``sqrt``), and scalars
come in the arrays' dtype, as NumPy casts a Python float. The result is NumPy's bits, in one pass
that keeps an element's values in registers. The loops release the GIL, so the runtime's second
thread works meanwhile.

A missing extension (no compiler at install) or ``DEEPGRAD_LOOPS=0`` in the environment leaves
the NumPy passes to run: ``deepgrad.runtime.compiled_loop`` looks the loops up.
"""
