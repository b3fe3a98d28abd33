"""Every public name of ``keras.constraints`` is in ``deepgrad.constraints``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.constraints
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.constraints))
def test_name_and_signature(name):
    check_same_surface("constraints", keras.constraints, deepgrad.constraints, name)
