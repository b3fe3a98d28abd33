"""Every public name of ``keras.initializers`` is in ``deepgrad.initializers``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.initializers
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.initializers))
def test_name_and_signature(name):
    check_same_surface("initializers", keras.initializers, deepgrad.initializers, name)
