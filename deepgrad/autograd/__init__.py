"""Floor 2: the Tensor, the graph and reverse-mode differentiation."""
from .checkpoint import checkpoint
from .function import FloatMath, Function, unbroadcast
from .functional import grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor, as_tensor
from .variable import Variable

__all__ = [
    "FloatMath", "Function", "Tensor", "Variable", "as_tensor", "checkpoint", "enable_grad", "grad", "is_grad_enabled",
    "no_grad", "set_grad_enabled", "unbroadcast",
]
