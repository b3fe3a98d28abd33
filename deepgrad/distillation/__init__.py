"""Floor 8: knowledge distillation, by Keras's names (``keras.distillation``).

``Distiller(teacher, student, distillation_losses)`` is a model whose ``fit`` trains the
student on its labels and on the frozen teacher's outputs; ``LogitsDistillation`` and
``FeatureDistillation`` say what is matched, ``DistillationLoss`` is the base for others.
"""
from .distillation_loss import DistillationLoss, FeatureDistillation, LogitsDistillation
from .distiller import Distiller

__all__ = ["DistillationLoss", "Distiller", "FeatureDistillation", "LogitsDistillation"]
