import atexit
import os
import shutil
import signal
import sys
import tempfile

import numpy as np
import pytest

# The suite never reads or writes the user's home folder: caches (deepgrad's datasets,
# Keras's config) go to a folder of the run's own, removed at exit. Subprocesses inherit it.
_HOME = tempfile.mkdtemp(prefix="deepgrad-tests-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["HOME"] = _HOME
os.environ["DEEPGRAD_HOME"] = os.path.join(_HOME, ".deepgrad")
os.environ.pop("KERAS_HOME", None)
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras, the oracle, on PyTorch (its NumPy backend needs JAX)

# A suite started in the background by a non-interactive shell (`make test &`) inherits SIGINT
# ignored, and so would every program it starts: the tests of Ctrl-C handling send SIGINT to
# such programs and need Python's default there, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared `oracle` helpers

from hypothesis import settings  # noqa: E402

settings.register_profile("deepgrad", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("deepgrad")


@pytest.fixture(autouse=True)
def _seed_everything():
    import deepgrad as dg

    dg.backend.seed(1234)
    np.random.seed(1234)
    yield
