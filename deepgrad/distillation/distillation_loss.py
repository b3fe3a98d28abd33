"""What a student is scored on against its teacher: ``keras.distillation``'s loss objects.

A distillation loss takes the teacher's and the student's outputs (one tensor or a nested
structure of them) and returns one scalar. ``LogitsDistillation`` softens both sets of logits
by a temperature ``T`` first; ``FeatureDistillation`` compares what two named layers produce.
Each holds a loss (a name such as ``"mse"``, a ``Loss`` object or a function) per output, or
``None`` to leave an output out, and sums the per-output means.
"""
from __future__ import annotations

import inspect

from .. import losses, ops, tree
from ..registry import find_custom_object
from ..saving.object_registration import register_keras_serializable


def _as_loss(item):
    """A loss given by name becomes the function or object Keras's name stands for."""
    if item is None or not isinstance(item, str):
        return item
    found = losses.get(item)
    if found is None:
        raise ValueError(f"Unknown loss function: {item!r}.")
    return found


def _resolve(loss):
    """The loss structure with every name resolved, and the check that something is left to compute."""
    resolved = tree.map_structure(_as_loss, loss)
    return resolved, all(item is None for item in tree.flatten(resolved))


def serialize_losses(loss):
    """A loss structure as JSON: a built-in function by its name, a ``Loss`` by its config."""
    return tree.map_structure(lambda item: None if item is None else losses.serialize(item), loss)


def deserialize_losses(config, custom_objects=None):
    """The inverse of ``serialize_losses``; a ``{"class_name", "config"}`` entry is one loss, not a dict of them."""
    if config is None:
        return None
    if isinstance(config, str) or (isinstance(config, dict) and "class_name" in config):
        return losses.deserialize(config, custom_objects)
    if isinstance(config, dict):
        return {key: deserialize_losses(value, custom_objects) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(deserialize_losses(value, custom_objects) for value in config)
    return config


def _sum_of(values) -> object:
    """The per-output losses added up (an output left out counts as 0.0)."""
    return ops.sum(ops.stack(tree.flatten(values)))


class DistillationLoss:
    """The base of every distillation loss: ``compute_loss(teacher_outputs, student_outputs)``
    returns a scalar; ``validate_outputs`` and ``validate_model_compatibility`` refuse what
    cannot be compared. Subclass it and write ``compute_loss`` for a loss of your own."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        raise NotImplementedError("Subclasses must implement compute_loss")

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Teacher and student outputs must be nested the same way (ValueError otherwise)."""
        tree.assert_same_structure(teacher_outputs, student_outputs)

    def validate_model_compatibility(self, teacher, student):
        """Checked once, when the ``Distiller`` is made; any pair of models is accepted here."""


@register_keras_serializable(package="distillation")
class FeatureDistillation(DistillationLoss):
    """Matches what a teacher layer produces with what a student layer produces.

    ``loss`` compares the two (``"mse"`` by default; ``"cosine_similarity"`` when the widths
    differ in scale); ``teacher_layer_name``/``student_layer_name`` name the layers (None: the
    model's final output). Named layers need Functional or Sequential models, whose layers'
    outputs can be read off the graph. The value is ``sum_k mean(loss_k(teacher_k, student_k))``.
    """

    keras_module = "keras.distillation"   # where Keras's class is, named in a .keras file

    def __init__(self, loss="mse", teacher_layer_name=None, student_layer_name=None):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.loss, empty = _resolve(loss)
        if empty:
            raise ValueError("The `loss` argument in `FeatureDistillation` must contain at least one "
                             "non-`None` value.")

    def validate_model_compatibility(self, teacher, student):
        """Named layers must exist, and be reachable: the models must have symbolic inputs."""
        if self.teacher_layer_name is not None or self.student_layer_name is not None:
            without_graph = [role for role, model in (("teacher", teacher), ("student", student))
                             if getattr(model, "inputs", None) is None]
            if without_graph:
                raise ValueError(
                    f"FeatureDistillation with specific layer names requires Functional or Sequential models. "
                    f"The {' and '.join(without_graph)} model(s) appear to be subclassed (no symbolic "
                    "inputs/outputs). Either use Functional/Sequential models, or use FeatureDistillation "
                    "without layer names (to distill final outputs only), or use LogitsDistillation instead.")
        for role, model, name in (("teacher", teacher, self.teacher_layer_name),
                                  ("student", student, self.student_layer_name)):
            if name is not None:
                try:
                    model.get_layer(name=name)
                except ValueError as e:
                    raise ValueError(f"In {role} model: {e}") from None

    def validate_outputs(self, teacher_outputs, student_outputs):
        """As the base, and the loss structure must match the outputs' structure."""
        super().validate_outputs(teacher_outputs, student_outputs)
        try:
            tree.assert_same_structure(self.loss, teacher_outputs)
        except ValueError as e:
            raise ValueError(f"Loss structure mismatch. Loss structure: {_structure(self.loss)}, "
                             f"Output structure: {_structure(teacher_outputs)}. Error: {e}") from None

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """sum_k mean(loss_k(teacher_k, student_k)): the teacher's features are the targets."""
        def one(loss_fn, teacher, student):
            return 0.0 if loss_fn is None else ops.mean(loss_fn(teacher, student))

        return _sum_of(tree.map_structure(one, self.loss, teacher_outputs, student_outputs))

    def get_config(self) -> dict:
        return {"loss": serialize_losses(self.loss), "teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        config["loss"] = deserialize_losses(config.get("loss", "mse"), custom_objects)
        return cls(**config)


@register_keras_serializable(package="distillation")
class LogitsDistillation(DistillationLoss):
    """Matches the student's logits with the teacher's, both divided by ``temperature`` first.

    With a ``KLDivergence`` loss object the scaled logits go through a softmax and the result
    is multiplied by ``T**2`` (Hinton et al.): ``T**2 * mean(KL(softmax(t/T) || softmax(s/T)))``,
    which keeps the gradients' size independent of ``T``. Any other loss, the default
    ``"kl_divergence"`` function included, as Keras does, sees the scaled logits as they are:
    ``mean(loss(t/T, s/T))``.
    """

    keras_module = "keras.distillation"   # where Keras's class is, named in a .keras file

    def __init__(self, temperature=3.0, loss="kl_divergence"):
        self.temperature = temperature
        self.loss, empty = _resolve(loss)
        if empty:
            raise ValueError("At least one loss must be non-`None`.")
        # a Python int or float, as Keras checks (a NumPy float32 is refused too)
        if not isinstance(temperature, (int, float)):
            raise ValueError(f"temperature must be a number, got {type(temperature)}")
        if temperature <= 0.0:
            raise ValueError("temperature must be positive.")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The loss of each output on the logits divided by T, summed over the outputs."""
        t = self.temperature
        teacher_scaled = tree.map_structure(lambda x: ops.divide(x, t), teacher_outputs)
        student_scaled = tree.map_structure(lambda x: ops.divide(x, t), student_outputs)

        def one(loss_fn, teacher, student):
            if loss_fn is None:
                return 0.0
            if isinstance(loss_fn, losses.KLDivergence):
                value = ops.mean(loss_fn(ops.softmax(teacher, axis=-1), ops.softmax(student, axis=-1)))
                return value * (t ** 2)
            return ops.mean(loss_fn(teacher, student))

        return _sum_of(tree.map_structure(one, self.loss, teacher_scaled, student_scaled))

    def get_config(self) -> dict:
        return {"temperature": self.temperature, "loss": serialize_losses(self.loss)}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        config["loss"] = deserialize_losses(config.get("loss", "kl_divergence"), custom_objects)
        return cls(**config)


def _structure(x):
    """The nesting of ``x`` with every leaf shown as ``*`` (for error messages)."""
    return tree.map_structure(lambda _: "*", x)


def distillation_loss_class(name: str, custom_objects=None) -> type:
    """The distillation loss class a config names: the caller's, the registered ones, or a
    subclass of ``DistillationLoss`` defined so far; a ValueError for any other name."""
    found = find_custom_object(name, custom_objects)
    if isinstance(found, type) and issubclass(found, DistillationLoss):
        return found
    stack = [DistillationLoss]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name and cls.__module__.startswith("deepgrad."):
            return cls
        stack.extend(cls.__subclasses__())
    raise ValueError(f"Unknown distillation loss {name!r}; pass your own class with custom_objects={{{name!r}: cls}}")


def serialize_distillation_loss(loss: DistillationLoss) -> dict:
    if not hasattr(loss, "get_config"):
        raise ValueError(f"Distiller: cannot serialize the distillation loss {type(loss).__name__}: it has no "
                         "get_config()")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize_distillation_loss(config, custom_objects=None) -> DistillationLoss:
    if isinstance(config, DistillationLoss):
        return config
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"Could not interpret distillation loss config {config!r}: expected "
                         "{'class_name': ..., 'config': {...}}")
    cls = distillation_loss_class(config["class_name"], custom_objects)
    inner = config.get("config") or {}
    from_config = getattr(cls, "from_config", None)
    if from_config is None:  # a user's loss with no config methods: its constructor takes the config
        return cls(**inner)
    if "custom_objects" in inspect.signature(from_config).parameters:
        return from_config(inner, custom_objects=custom_objects)
    return from_config(inner)


__all__ = ["DistillationLoss", "FeatureDistillation", "LogitsDistillation"]
