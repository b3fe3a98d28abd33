"""``Distiller``: a model that trains a student on labels and on a frozen teacher's outputs.

One training step, as Keras's ``keras.distillation.Distiller`` takes it:

    total = w * student_loss(y, student(x)) + (1 - w) * sum_i a_i * distill_i(teacher(x), student(x))

where ``w`` is ``student_loss_weight`` and ``a_i`` the ``distillation_loss_weights``. Only the
student's weights train (the teacher is frozen when the Distiller is made); ``fit``/``evaluate``
report ``loss`` (= ``total_loss``), the compiled metrics, and the three parts as running means:
``student_loss``, ``distillation_loss``, ``total_loss``. Feature distillation reads named layers
through one model per network whose outputs are ``{"final_output": ..., layer name: layer.output}``,
so each network runs once a step for all of its features.
"""
from __future__ import annotations

from .. import metrics, ops, tree
from ..autograd import Tensor, no_grad
from ..models import Model, Sequential
from ..models.model import deserialize_layer, serialize_layer
from ..saving.object_registration import register_keras_serializable
from .distillation_loss import _as_loss, deserialize_distillation_loss, serialize_distillation_loss

FINAL_OUTPUT = "final_output"


@register_keras_serializable(package="distillation")
class Distiller(Model, config_names=("Distiller",)):
    """Knowledge distillation from ``teacher`` (a trained model, frozen here) into ``student``.

    distillation_losses:       one distillation loss (``LogitsDistillation``, ``FeatureDistillation``
                               or a subclass of ``DistillationLoss``) or a list of them
    distillation_loss_weights: one weight per loss of a list (default: all 1.0)
    student_loss_weight:       ``w`` in [0, 1], the share of the supervised loss (default 0.5)

    ``compile(optimizer, loss, metrics)`` takes the student's supervised loss; calling the
    Distiller, ``predict`` and ``evaluate`` run the student; ``distiller.student`` is the model
    to keep after training.
    """

    keras_module = "keras.distillation"   # where Keras's class is, named in a .keras file

    def __init__(self, teacher, student, distillation_losses, distillation_loss_weights=None,
                 student_loss_weight=0.5, name="distiller", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_models(teacher, student)
        self.teacher = teacher
        self.student = student
        if not isinstance(student_loss_weight, (int, float)):
            raise ValueError(f"student_loss_weight must be a number, got {type(student_loss_weight)}")
        if not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(f"student_loss_weight must be between 0.0 and 1.0, got {student_loss_weight}")
        self.student_loss_weight = student_loss_weight
        if distillation_losses is None:
            raise ValueError("'distillation_losses' cannot be `None`. Provide a distillation loss (e.g., "
                             "LogitsDistillation or FeatureDistillation) or a list of distillation losses.")
        if not isinstance(distillation_losses, (list, tuple)):
            # one loss: its weight is 1.0 whatever distillation_loss_weights says, as in Keras
            self.distillation_losses, self.distillation_loss_weights = [distillation_losses], [1.0]
        else:
            self.distillation_losses = distillation_losses
            if distillation_loss_weights is None:
                self.distillation_loss_weights = [1.0] * len(distillation_losses)
            elif len(distillation_loss_weights) != len(distillation_losses):
                raise ValueError(f"Number of distillation_loss_weights ({len(distillation_loss_weights)}) must "
                                 f"match number of distillation_losses ({len(distillation_losses)})")
            else:
                self.distillation_loss_weights = distillation_loss_weights
        for loss in self.distillation_losses:
            check = getattr(loss, "validate_model_compatibility", None)
            if check is None or not callable(getattr(loss, "compute_loss", None)):
                raise TypeError(f"Distiller: each distillation loss must be a DistillationLoss (with "
                                f"compute_loss and validate_model_compatibility), got {loss!r}")
            check(teacher, student)
        self._teacher_feature_extractor = _feature_extractor(teacher, _layer_names(self.distillation_losses,
                                                                                    "teacher_layer_name"))
        self._student_feature_extractor = _feature_extractor(student, _layer_names(self.distillation_losses,
                                                                                    "student_layer_name"))
        self.teacher.trainable = False
        self.student_loss_tracker = metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = metrics.Mean(name="distillation_loss")
        self.total_loss_tracker = metrics.Mean(name="total_loss")
        self._student_loss = None

    # ----------------------------------------------------------------- compile and call
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """``loss`` is the student's supervised loss (required; a name, a ``Loss`` or a structure
        of them for several outputs); ``metrics`` a list or tuple, scored on the student's output."""
        if loss is None:
            raise ValueError("'loss' cannot be `None`.")
        self._student_loss = tree.map_structure(_as_loss, loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(f"metrics must be a list or tuple, got {type(metrics)}")
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)
        # the file keeps the student's loss, so a loaded Distiller comes back compiled
        self._compile_config["loss"] = loss

    def call(self, inputs, training=None, **kwargs):
        """The student's outputs."""
        return self.student(inputs, training=training, **kwargs)

    # ----------------------------------------------------------------- the loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """w * student_loss + (1 - w) * sum_i a_i * distill_i; updates the three trackers.
        ``sample_weight`` is not used (neither part is weighted per sample, as in Keras), nor are
        the student's regularisation losses."""
        if y_pred is None:
            y_pred = self(x, training=training)
        w = self.student_loss_weight
        student_loss = 0.0
        if w > 0.0 and y is not None:
            if self._student_loss is None:
                raise RuntimeError(f"You must call compile() on Distiller {self.name!r} before training or "
                                   "evaluating it, e.g. distiller.compile(optimizer='adam', "
                                   "loss='sparse_categorical_crossentropy')")
            flat = tree.flatten(tree.map_structure(lambda loss, target, pred: loss(target, pred),
                                                   self._student_loss, y, y_pred))
            student_loss = ops.sum(ops.stack(flat)) if len(flat) > 1 else flat[0]
            if isinstance(student_loss, Tensor) and student_loss.ndim > 0:  # a loss function's per-sample values
                student_loss = ops.mean(student_loss)

        distillation_loss = 0.0
        if w < 1.0:
            with no_grad():  # the teacher is a constant of the student's loss
                teacher_features = self._teacher_features(x)
            student_features = self._student_features(x, y_pred)
            for loss_fn, weight in zip(self.distillation_losses, self.distillation_loss_weights):
                if getattr(loss_fn, "teacher_layer_name", None) is not None:
                    try:
                        teacher_out = _features_of(loss_fn, teacher_features, "teacher_layer_name")
                        student_out = _features_of(loss_fn, student_features, "student_layer_name")
                    except ValueError as e:
                        raise RuntimeError(
                            f"Failed to extract features for {type(loss_fn).__name__} targeting teacher layer "
                            f"{loss_fn.teacher_layer_name!r} and student layer "
                            f"{getattr(loss_fn, 'student_layer_name', None)!r}. Original error: {e}") from e
                else:  # logits, or features of the final outputs
                    teacher_out, student_out = teacher_features[FINAL_OUTPUT], y_pred
                loss_fn.validate_outputs(teacher_out, student_out)
                value = loss_fn.compute_loss(teacher_out, student_out)
                if getattr(value, "ndim", 0) > 0:
                    raise ValueError(f"Distillation loss {type(loss_fn).__name__} returned a non-scalar loss "
                                     f"with shape {tuple(value.shape)}. The compute_loss method must return a "
                                     "scalar tensor.")
                distillation_loss = distillation_loss + weight * value

        total_loss = ops.convert_to_tensor(w * student_loss + (1.0 - w) * distillation_loss)
        self.student_loss_tracker.update_state(_value(student_loss))
        self.distillation_loss_tracker.update_state(_value(distillation_loss))
        self.total_loss_tracker.update_state(_value(total_loss))
        return total_loss

    def _teacher_features(self, x) -> dict:
        if self._teacher_feature_extractor is not None:
            return self._teacher_feature_extractor(x, training=False)
        return {FINAL_OUTPUT: self.teacher(x, training=False)}

    def _student_features(self, x, y_pred) -> dict:
        if self._student_feature_extractor is not None:  # a second student pass, as Keras makes it
            return self._student_feature_extractor(x, training=True)
        return {FINAL_OUTPUT: y_pred}

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "teacher": serialize_layer(self.teacher),
            "student": serialize_layer(self.student),
            "distillation_losses": [serialize_distillation_loss(loss) for loss in self.distillation_losses],
            "distillation_loss_weights": list(self.distillation_loss_weights),
            "student_loss_weight": self.student_loss_weight,
        })
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        config["teacher"] = _model_from(config["teacher"], custom_objects)
        config["student"] = _model_from(config["student"], custom_objects)
        config["distillation_losses"] = [deserialize_distillation_loss(loss, custom_objects)
                                         for loss in config["distillation_losses"]]
        return cls(**config)


# --------------------------------------------------------------------- checks when made
def _check_models(teacher, student) -> None:
    """Both are models, with inputs and outputs of matching shapes (None matches any size) and dtypes."""
    for role, model in (("Teacher", teacher), ("Student", student)):
        if not isinstance(model, Model):
            raise ValueError(f"{role} must be a keras.Model, got {type(model)}")
    for what in ("input", "output"):
        ours, theirs = getattr(teacher, f"{what}s", None), getattr(student, f"{what}s", None)
        if ours is None or theirs is None:  # a subclassed model: nothing known before its first call
            continue
        tree.map_structure(lambda t, s: _check_shapes(t.shape, s.shape, what), ours, theirs)
        tree.map_structure(lambda t, s: _check_dtypes(t.dtype, s.dtype, what), ours, theirs)


def _check_shapes(teacher_shape, student_shape, what: str) -> None:
    if len(teacher_shape) != len(student_shape):
        raise ValueError(f"Teacher and student {what} shapes have different dimensions. Teacher: "
                         f"{tuple(teacher_shape)}, Student: {tuple(student_shape)}.")
    if any(a is not None and b is not None and a != b for a, b in zip(teacher_shape, student_shape)):
        raise ValueError(f"Teacher and student {what} shapes are incompatible. Teacher: {tuple(teacher_shape)}, "
                         f"Student: {tuple(student_shape)}. All dimensions must match.")


def _check_dtypes(teacher_dtype, student_dtype, what: str) -> None:
    if teacher_dtype != student_dtype:
        raise ValueError(f"Teacher and student {what} dtypes must match. Teacher: {teacher_dtype}, "
                         f"Student: {student_dtype}.")


# --------------------------------------------------------------------- features
def _layer_names(distillation_losses, attribute: str) -> list[str]:
    """The layers the losses read, each once, in first-use order."""
    names = [getattr(loss, attribute, None) for loss in distillation_losses]
    return list(dict.fromkeys(name for name in names if name))


def _feature_extractor(model, layer_names):
    """``Model(model.inputs, {"final_output": ..., name: layer.output})``, or None with no names."""
    if not layer_names:
        return None
    if getattr(model, "inputs", None) is None:
        raise ValueError(f"Cannot create feature extractor for {model.name}. The model has no symbolic inputs "
                         "attribute.")
    final = model.layers[-1].output if isinstance(model, Sequential) else model.output
    outputs = {FINAL_OUTPUT: final}
    for name in layer_names:
        outputs[name] = model.get_layer(name=name).output
    return Model(inputs=model.inputs, outputs=outputs, name=f"{model.name}_multi_feature_extractor")


def _features_of(loss_fn, features: dict, attribute: str):
    name = getattr(loss_fn, attribute, None) or FINAL_OUTPUT
    if name not in features:
        raise ValueError(f"Layer {name!r} not found in extracted features. Available: {list(features)}")
    return features[name]


def _value(x):
    """A tracker's input: the number, never the graph."""
    return x.data if isinstance(x, Tensor) else x


def _model_from(config, custom_objects):
    return config if isinstance(config, Model) else deserialize_layer(config, custom_objects)


__all__ = ["Distiller"]
