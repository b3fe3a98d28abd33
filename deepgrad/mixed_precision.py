"""Floor 6: ``keras.mixed_precision``, Keras 2's names for the dtype policies and the loss-scale optimiser.

``mixed_precision.set_global_policy("mixed_float16")`` makes later layers compute in float16
with float32 variables; ``LossScaleOptimizer`` keeps small float16 gradients from underflowing.
See ``deepgrad.dtype_policies`` (and there, why bfloat16 computes in float32 on NumPy).
"""
from .dtype_policies import DTypePolicy, dtype_policy, set_dtype_policy
from .optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = ["DTypePolicy", "LossScaleOptimizer", "Policy", "dtype_policy", "global_policy", "set_dtype_policy",
           "set_global_policy"]
