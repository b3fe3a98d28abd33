"""Every public name of ``keras.datasets`` (and its submodules) exists in ``deepgrad.datasets``
with Keras's parameter names, order and defaults."""
import pytest

from surface import cases, run

NOT_YET = {}  # name -> why deepgrad does not have it yet

CASES = cases("datasets")


@pytest.mark.parametrize("namespace,name", CASES, ids=[f"{s}.{n}" for s, n in CASES])
def test_name_exists_with_kerass_parameters(namespace, name):
    run(namespace, name, NOT_YET)
