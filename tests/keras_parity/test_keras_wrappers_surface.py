"""Every public name of ``keras.wrappers`` exists in ``deepgrad.wrappers`` with Keras's parameter
names, order and defaults."""
import pytest

from surface import cases, run

NOT_YET = {}  # name -> why deepgrad does not have it yet

CASES = cases("wrappers")


def test_the_namespace_is_not_empty():
    assert len(CASES) >= 3


@pytest.mark.parametrize("namespace,name", CASES, ids=[f"{s}.{n}" for s, n in CASES])
def test_name_exists_with_kerass_parameters(namespace, name):
    run(namespace, name, NOT_YET)
