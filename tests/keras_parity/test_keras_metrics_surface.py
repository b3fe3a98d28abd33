"""Every public name of ``keras.metrics`` is in ``deepgrad.metrics``, with Keras's parameters, their
order and their defaults."""
import keras
import pytest

import deepgrad.metrics
from surface import check_same_surface, surface_cases


@pytest.mark.parametrize("name", surface_cases(keras.metrics))
def test_name_and_signature(name):
    check_same_surface("metrics", keras.metrics, deepgrad.metrics, name)
