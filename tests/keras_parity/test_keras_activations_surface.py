"""Every public name of ``keras.activations`` is in ``deepgrad.activations``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.activations
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.activations))
def test_name_and_signature(name):
    check_same_surface("activations", keras.activations, deepgrad.activations, name)
