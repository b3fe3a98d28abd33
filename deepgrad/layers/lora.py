"""Low-rank adaptation (LoRA, Hu et al., 2021) of a layer's main weight, as Keras's ``Dense``,
``EinsumDense`` and ``Embedding`` do it.

``enable_lora(rank)`` freezes the weight ``W`` (``kernel`` or ``embeddings``) and adds two
trainable factors ``A`` (``W.shape[:-1] + (rank,)``, He-uniform) and ``B`` (``(rank, W.shape[-1])``,
zeros), so the layer computes with

    W' = W + (lora_alpha / rank) * A @ B

which equals ``W`` until training moves ``B``. The factors are named ``lora_<weight>_a`` and
``lora_<weight>_b`` and come after the layer's other weights, as in Keras.
"""
from __future__ import annotations

from .. import initializers
from .. import ops as dg_ops


def _positive_rank(layer: str, rank) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        raise ValueError(f"{layer}: lora_rank must be a positive integer, got {rank!r}")
    return rank


class LoRAMixin:
    """``enable_lora`` and the low-rank update for a layer whose main weight is ``lora_target``."""

    lora_target = "kernel"

    def _init_lora(self, lora_rank, lora_alpha) -> None:
        kind = type(self).__name__
        self.lora_rank = None if lora_rank is None else _positive_rank(kind, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else self.lora_rank
        self.lora_enabled = False

    def _build_lora(self) -> None:
        """Called at the end of ``build``: a ``lora_rank`` given to the constructor enables LoRA."""
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros") -> None:
        """Freeze the main weight and train the low-rank update ``A @ B`` in its place."""
        kind, target = type(self).__name__, self.lora_target
        if getattr(self, f"{target}_constraint", None) is not None:
            raise ValueError(f"{kind} {self.name!r}: LoRA is incompatible with a {target} constraint; "
                             f"remove the {target}_constraint argument to enable it")
        if not self.built:
            raise ValueError(f"{kind} {self.name!r}: cannot enable LoRA on a layer that is not built yet")
        if self.lora_enabled:
            raise ValueError(f"{kind} {self.name!r}: LoRA is already enabled; this can be done once per layer")
        rank = _positive_rank(kind, rank)
        weight = getattr(self, target)
        regularizer = getattr(self, f"{target}_regularizer", None)
        self.__dict__[f"lora_{target}_a"] = self.add_weight(
            name=f"lora_{target}_a", shape=tuple(weight.shape[:-1]) + (rank,),
            initializer=initializers.get(a_initializer), regularizer=regularizer)
        self.__dict__[f"lora_{target}_b"] = self.add_weight(
            name=f"lora_{target}_b", shape=(rank, weight.shape[-1]),
            initializer=initializers.get(b_initializer), regularizer=regularizer)
        weight.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def lora_factors(self):
        target = self.lora_target
        return self.__dict__[f"lora_{target}_a"], self.__dict__[f"lora_{target}_b"]

    def effective_weight(self):
        """``W + (lora_alpha / lora_rank) * A @ B`` with LoRA enabled, else ``W``."""
        weight = getattr(self, self.lora_target)
        if not self.lora_enabled:
            return weight
        a, b = self.lora_factors()
        return weight + dg_ops.matmul(a, b) * (self.lora_alpha / self.lora_rank)

    def lora_config(self) -> dict:
        return {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}


__all__ = ["LoRAMixin"]
