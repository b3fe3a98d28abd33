"""Every public name of ``keras.losses`` is in ``deepgrad.losses``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.losses
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.losses))
def test_name_and_signature(name):
    check_same_surface("losses", keras.losses, deepgrad.losses, name)
