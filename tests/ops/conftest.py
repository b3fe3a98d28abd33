import pytest

from deepgrad.ops.recurrent.common import BlasThreads


@pytest.fixture
def threaded_ways(monkeypatch):
    """The recurrent loops' chooser offering OpenBLAS's threaded ways whatever this machine's BLAS
    does with them (``BlasThreads._threaded_ways``): for tests of the choosing itself."""
    BlasThreads()  # looks for OpenBLAS's thread-local setting once
    monkeypatch.setattr(BlasThreads, "_threaded_ways", True)
