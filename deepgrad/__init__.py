"""deepgrad: a define-by-run autograd engine on NumPy with a Keras-compatible API.

``import deepgrad as dg`` (or ``import deepgrad as keras``).
"""
from . import backend
from .autograd import Function, Tensor, Variable, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import epsilon, floatx, set_epsilon, set_floatx
from .ops import *  # noqa: F401,F403 - every op is a top-level function

__version__ = "0.1.0"
