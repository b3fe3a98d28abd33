"""The compiled loops (``deepgrad/loops/*.pyx``, Cython): built when a C compiler is at hand, left out
with a warning otherwise (every loop has a NumPy form that then runs; see ``deepgrad.loops``)."""
import glob
import os
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from Cython.Build import cythonize
except ImportError:  # a build without its declared requirements (--no-build-isolation): NumPy passes only
    cythonize = None

# Optimised for this machine's CPU (DEEPGRAD_PORTABLE=1: for any CPU of its architecture), without
# fast-math and without fused multiply-adds, so a loop doing NumPy's operations in NumPy's order
# gives NumPy's bits (-fno-trapping-math only lets the compiler ignore the floating-point
# exception flags, which no loop reads: no value changes). The loops write several arrays that the
# compiler cannot prove apart, so it vectorises them behind run-time overlap checks: GCC's default
# allows ten such checks a loop.
_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
          "--param=vect-max-version-for-alias-checks=200", "-march=native"]


class _BuildLoops(build_ext):
    """build_ext with the flags of ``_FLAGS`` that this compiler takes (each tried on an empty file)."""

    def build_extensions(self):
        wanted = [f for f in _FLAGS if not (f == "-march=native" and os.environ.get("DEEPGRAD_PORTABLE") == "1")]
        flags = [] if self.compiler.compiler_type == "msvc" else [f for f in wanted if self._takes(f)]
        for extension in self.extensions:
            extension.extra_compile_args = flags
        super().build_extensions()

    def _takes(self, flag: str) -> bool:
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "flag.c")
            with open(source, "w") as f:
                f.write("int main(void) { return 0; }\n")
            try:
                self.compiler.compile([source], output_dir=folder, extra_postargs=[flag, "-Werror"])
            except Exception:  # the compiler refused it: CompileError, or a missing tool
                return False
        return True


def _extensions() -> list:
    if cythonize is None:
        print("deepgrad: Cython is not installed: the compiled loops are left out", file=sys.stderr)
        return []
    sources = sorted(glob.glob(os.path.join("deepgrad", "loops", "*.pyx")))
    extensions = [Extension(f"deepgrad.loops.{os.path.splitext(os.path.basename(s))[0]}", [s], optional=True)
                  for s in sources]
    directives = {"language_level": 3, "boundscheck": False, "wraparound": False, "initializedcheck": False,
                  "cdivision": True, "nonecheck": False}
    return cythonize(extensions, compiler_directives=directives, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": _BuildLoops})
