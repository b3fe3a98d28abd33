"""Every public name of ``keras.regularizers`` is in ``deepgrad.regularizers``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.regularizers
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.regularizers))
def test_name_and_signature(name):
    check_same_surface("regularizers", keras.regularizers, deepgrad.regularizers, name)
