import os
import sys

import numpy as np
import pytest

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
