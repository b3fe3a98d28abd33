"""The compiled loops (``deepgrad/loops/*.pyx``, Cython): built when a C compiler is at hand, left out
with a warning otherwise (every loop has a NumPy form that then runs; see ``deepgrad.loops``)."""
import glob
import os
import sys

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # a build without its declared requirements (--no-build-isolation): NumPy passes only
    cythonize = None


def _compile_args() -> list[str]:
    """Optimised for this machine's CPU (``DEEPGRAD_PORTABLE=1``: for any x86-64/ARM of its kind),
    without fast-math and without fused multiply-adds, so a loop doing NumPy's operations in
    NumPy's order gives NumPy's bits."""
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    native = [] if os.environ.get("DEEPGRAD_PORTABLE") == "1" else ["-march=native"]
    return ["-O3", "-ffp-contract=off", "-fno-math-errno", *native]


def _extensions() -> list:
    if cythonize is None:
        print("deepgrad: Cython is not installed: the compiled loops are left out", file=sys.stderr)
        return []
    sources = sorted(glob.glob(os.path.join("deepgrad", "loops", "*.pyx")))
    extensions = [Extension(f"deepgrad.loops.{os.path.splitext(os.path.basename(s))[0]}", [s],
                            extra_compile_args=_compile_args(), optional=True) for s in sources]
    directives = {"language_level": 3, "boundscheck": False, "wraparound": False, "initializedcheck": False,
                  "cdivision": True, "nonecheck": False}
    return cythonize(extensions, compiler_directives=directives, quiet=True)


setup(ext_modules=_extensions())
