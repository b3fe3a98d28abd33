"""``compile``/``fit``/``evaluate``/``predict``: the Keras training loop, mixed into ``Model``.

One training step: forward with ``training=True`` -> loss (compiled losses, weighted by
``loss_weights``, plus ``sum(model.losses)``) -> ``grad(loss, trainable_weights)`` ->
``_apply_gradients(grads, variables)`` -> metrics. ``_apply_gradients`` is the one point
between "gradients computed" and "gradients applied": a data-parallel strategy overrides it
to all-reduce the gradients first.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import config as settings
from .. import process_group
from .. import losses, ops, optimizers
from .. import metrics as metrics_module
from ..autograd import Tensor, grad, no_grad
from ..callbacks.callback_list import CallbackList, sort_logs
from ..callbacks.history import History
from . import compile_config
from . import data_adapter as da


class _MeanTracker:
    """A running mean weighted by sample counts (Keras's loss tracker): sum(v n) / sum(n)."""

    def __init__(self, name: str):
        self.name, self.total, self.count = name, 0.0, 0.0

    def update_state(self, value, sample_weight=1.0) -> None:
        # a custom train_step passes the loss Tensor alone (one step, weight 1), as Keras allows
        value = value.data if isinstance(value, Tensor) else np.asarray(value)
        weight = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
        if np.ndim(value) or np.ndim(weight) or weight is None:
            # arrays (``for m in self.metrics: m.update_state(y, y_pred)`` reaches the tracker
            # too): Keras's Mean rule, per-sample means weighted by the per-sample weights
            mean = metrics_module.Mean()
            mean.update_state(value, weight)
            self.total += float(mean.total)
            self.count += float(mean.count)
            return
        self.total += float(value) * float(weight)
        self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    # Keras's loss tracker is a ``metrics.Mean``: the same state, through the same methods
    variables = metrics_module.Mean.variables
    _state_names = metrics_module.Mean._state_names
    _state_values = metrics_module.Mean._state_values
    _set_state_values = metrics_module.Mean._set_state_values
    _check_state = metrics_module.Mean._check_state
    stateless_update_state = metrics_module.Mean.stateless_update_state
    stateless_result = metrics_module.Mean.stateless_result
    stateless_reset_state = metrics_module.Mean.stateless_reset_state
    dtype = metrics_module.Mean.dtype
    _dtype = None


def _as_loss(identifier):
    """A Loss object (weights and reduces): names and bare functions are wrapped."""
    loss = losses.get(identifier)
    if loss is None or isinstance(loss, losses.Loss):
        return loss
    return losses.LossFunctionWrapper(loss, name=getattr(loss, "__name__", None))


class _OnLogits(losses.Loss):
    """A cross-entropy on probabilities, computed in training from the logits that the
    softmax (on the loss's axis) or sigmoid producing ``y_pred`` received: those ops mark
    their output with ``_keras_logits``, as Keras does.

    log-softmax inside one fused op is far better conditioned than log(clip(softmax)), and
    the softmax's probabilities are reused. The values agree except where Keras's clipping
    at 1e-7 bites.
    """

    def __init__(self, loss, softmax: bool):
        super().__init__(name=loss.name, reduction=loss.reduction, dtype=loss.dtype)
        self.fn, self.softmax = loss.fn, softmax
        self.kwargs = {**loss._fn_kwargs, "from_logits": True}
        self.axis = self.kwargs.get("axis", -1)

    def applies_to(self, y_pred) -> bool:
        """Whether ``y_pred`` is that activation's direct output (and carries no mask)."""
        marker = getattr(y_pred, "_keras_logits", None)
        if marker is None or y_pred._keras_mask is not None:
            return False
        if self.dtype is not None and y_pred.dtype != self.dtype:  # the loss casts first: its own path
            return False
        if not self.softmax:
            return marker.axis is None
        return marker.axis is not None and marker.axis == self.axis % y_pred.ndim

    def call(self, y_true, y_pred):
        logits = y_pred._keras_logits.tensor
        if self.softmax:
            return self.fn(y_true, logits, softmax_output=y_pred, **self.kwargs)
        return self.fn(y_true, logits, **self.kwargs)


def _logits_twin(loss):
    """``_OnLogits(loss)`` for a cross-entropy on probabilities, else None."""
    fn = getattr(loss, "fn", None)
    softmax = {losses.categorical_crossentropy: True, losses.sparse_categorical_crossentropy: True,
               losses.binary_crossentropy: False}.get(fn)
    if softmax is None or type(loss).call is not losses.LossFunctionWrapper.call:  # a custom call() is kept as is
        return None
    if loss._fn_kwargs.get("from_logits") or loss._fn_kwargs.get("ignore_class") is not None:
        return None
    return _OnLogits(loss, softmax)


def _per_output(spec, names: list[str], what: str) -> list:
    """A single spec for every output, a list in output order, or a dict by output name."""
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(f"compile(): {what} names unknown outputs {sorted(unknown)}; outputs are {names}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and len(names) == 1 and len(spec) == 1:
        return list(spec)   # Keras's one-element list for a model with one output: ``loss=["mse"]``
    if isinstance(spec, (list, tuple)) and len(names) > 1:
        if len(spec) != len(names):
            raise ValueError(f"compile(): {len(spec)} {what} given for {len(names)} outputs {names}")
        return list(spec)
    return [spec] * len(names)


def _flat_metric_items(spec) -> list:
    """The metrics of a nested list or dict (dict values in key order), as one list."""
    if isinstance(spec, dict):
        return [m for k in sorted(spec) for m in _flat_metric_items(spec[k])]
    if isinstance(spec, (list, tuple)):
        return [m for s in spec for m in _flat_metric_items(s)]
    return [] if spec is None else [spec]


def pack_step_data(batch):
    """The batch a ``train_step``/``test_step`` receives, as Keras packs it: ``x`` alone when
    there are no targets (a tuple of inputs as ``(x,)``), else ``(x, y)``, or ``(x, y, sample_weight)``."""
    x, y, sample_weight = batch
    if sample_weight is not None:
        return x, y, sample_weight
    if y is not None:
        return x, y
    return (x,) if isinstance(x, (tuple, list)) else x


def unpack_step_data(data):
    """``(x, y, sample_weight)`` from what ``pack_step_data`` made (missing parts are None)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(f"train_step/test_step: data must be x, (x,), (x, y) or (x, y, sample_weight); "
                         f"got a tuple of {len(data)}")
    return tuple(data) + (None,) * (3 - len(data))


def _log_value(value):
    """A log entry as a Python float when it is a scalar (a Tensor, an array, a NumPy number); a
    vector result (F1Score per class, several thresholds) as a float64 array, as in Keras."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)):
        return float(value) if value.ndim == 0 else np.asarray(value, np.float64)
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return float(value)
    return value


def _as_logs(logs) -> dict:
    return {k: _log_value(v) for k, v in logs.items()} if isinstance(logs, dict) else logs


def _verbose(verbose) -> int:
    return 1 if verbose == "auto" else int(verbose)


class Trainer:
    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._losses: list = []
        self._logit_losses: list = []     # per output: its _OnLogits twin, or None
        self._loss_weights: list = []
        self._metrics: list = []          # [(output index, metric, weighted)]
        self._loss_tracker = _MeanTracker("loss")
        self._output_loss_trackers: list = []
        self._compile_config: dict | None = None   # what compile() was given (compile_config.record)

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=1, jit_compile=None, auto_scale_loss=True):
        """Set the optimiser, loss(es) and metrics; ``run_eagerly``, ``steps_per_execution`` and
        ``jit_compile`` are recorded (every step runs eagerly, one batch at a time)."""
        self.optimizer = optimizers.get(optimizer)
        policy = getattr(self, "dtype_policy", None)
        if (auto_scale_loss and policy is not None and policy.name == "mixed_float16"
                and not isinstance(self.optimizer, optimizers.LossScaleOptimizer)):
            # float16 gradients underflow without loss scaling: Keras wraps the optimiser the same way
            self.optimizer = optimizers.LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
        self.loss = loss
        names = self._output_names()
        loss_specs = _per_output(loss, names, "losses")
        self._losses = [_as_loss(spec) for spec in loss_specs]
        self._logit_losses = [None if loss is None else _logits_twin(loss) for loss in self._losses]
        if loss_weights is None:
            self._loss_weights = [1.0] * len(names)
        else:
            self._loss_weights = [1.0 if w is None else float(w) for w in _per_output(loss_weights, names,
                                                                                      "loss_weights")]
        several = len(names) > 1
        self._metrics = []
        metric_specs = []   # (output index, what rebuilds the metric, weighted), for the compile record
        for weighted, spec in ((False, metrics), (True, weighted_metrics)):
            if spec is None:
                continue
            if not several:  # Keras: with one output every metric given applies to it, whatever the nesting
                per_output = [_flat_metric_items(spec)]
            else:
                # Keras 3: a dict by output name, or a list with one entry (a metric, a list of them,
                # or None) per output; a list of another length applies to every output (tf.keras's rule)
                per_output = (_per_output(spec, names, "metrics") if isinstance(spec, dict) or
                              (isinstance(spec, (list, tuple)) and len(spec) == len(names)) or
                              (spec and all(isinstance(s, (list, tuple)) for s in spec))
                              else [spec] * len(names))
            for i, items in enumerate(per_output):
                for item in ([] if items is None else items if isinstance(items, (list, tuple)) else [items]):
                    metric = metrics_module.get(item, loss=loss_specs[i])
                    if isinstance(item, str):  # Keras logs a metric named by a string under that string
                        metric.name = item
                    metric_specs.append((i, item if isinstance(item, str)
                                         else compile_config.metric_spec(metric, self._losses[i]), weighted))
                    prefix = f"{names[i]}_" if several else ""
                    if weighted and any(m.name == prefix + metric.name for _, m, _ in self._metrics):
                        # Keras logs a weighted metric whose name is taken as "<output>_weighted_<name>"
                        metric.name = f"weighted_{metric.name}"
                    metric.name = prefix + metric.name
                    self._metrics.append((i, metric, weighted))
        # one "<output>_loss" per output that has a loss, when more than one has (Keras: none is
        # logged for an output compiled with loss None, nor any when a single loss remains)
        with_loss = [n if spec is not None else None for n, spec in zip(names, self._losses)]
        self._output_loss_trackers = ([None if n is None else _MeanTracker(f"{n}_loss") for n in with_loss]
                                      if sum(n is not None for n in with_loss) > 1 else [])
        # Keras lists these trackers in the order of a dict of losses' own keys, else the outputs'
        self._loss_tracker_order = ([names.index(k) for k in loss if k in names] if isinstance(loss, dict)
                                    else list(range(len(names))))
        self._compile_config = compile_config.record(self.optimizer, loss, metric_specs, names, self._loss_weights)
        record = getattr(self, "_record_execution", None)
        if record is not None:
            record(run_eagerly, steps_per_execution, jit_compile)
        self.compiled = True
        self.stop_training = False

    def get_compile_config(self) -> dict | None:
        """How the model was compiled, as JSON (None before ``compile()``); a model file keeps it."""
        if not self.compiled or self.optimizer is None:
            return None
        return compile_config.to_json(self._compile_config)

    def compile_from_config(self, config: dict, custom_objects=None) -> None:
        """``compile()`` again from ``get_compile_config()``'s output (``custom_objects`` names the
        user's own losses and metrics)."""
        self.compile(**compile_config.from_json(config, custom_objects))

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """tf.keras's ``self.compiled_loss(y, y_pred, regularization_losses=self.losses)`` in a custom
        ``train_step``, as Keras 3's TensorFlow trainer keeps it: ``compute_loss``, which adds the
        model's own losses itself (``regularization_losses`` is accepted and not added twice)."""
        return self.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)

    @property
    def compiled_metrics(self):
        """tf.keras's ``self.compiled_metrics.update_state(y, y_pred)`` in a custom ``train_step``,
        as Keras 3's TensorFlow trainer keeps it for old programs: the metrics given to
        ``compile()`` are updated with ``(y, y_pred)``; every other metric of ``self.metrics``
        too, a mean (the loss tracker among them) with ``y_pred`` alone, as that trainer does."""
        model = self

        class CompiledMetrics:
            def update_state(self, y, y_pred, sample_weight=None):
                model.compute_metrics(None, y, y_pred, sample_weight)
                compiled = {id(m) for _, m, _ in model._metrics}
                for metric in model.metrics:
                    if id(metric) in compiled:
                        continue
                    if isinstance(metric, (_MeanTracker, metrics_module.Mean)):
                        metric.update_state(y_pred, sample_weight=sample_weight)
                    else:
                        metric.update_state(y, y_pred, sample_weight=sample_weight)

            @property
            def metrics(self):
                return [m for _, m, _ in model._metrics]

        return CompiledMetrics()

    def __setattr__(self, key, value):
        if key == "layers":  # the property's setter refuses it (before any layer is tracked), as Keras's
            object.__setattr__(self, key, value)
        # a metric assigned to the model (``self.d_loss_tracker = metrics.Mean("d_loss")``) is
        # tracked, so ``model.metrics`` lists it and ``fit`` resets it each epoch, as in Keras
        if key[0] != "_" and isinstance(value, metrics_module.Metric):
            tracked = self.__dict__.setdefault("_tracked_metrics", [])
            if all(m is not value for m in tracked):
                tracked.append(value)
        super().__setattr__(key, value)

    @property
    def metrics(self) -> list:
        """The loss tracker(s) and compiled metrics (once compiled), then the metrics assigned
        to the model as attributes; ``fit``/``evaluate`` reset each of them first."""
        by_output = self._output_loss_trackers
        order = self.__dict__.get("_loss_tracker_order") if by_output else ()
        trackers = [self._loss_tracker] + [by_output[i] for i in order if by_output[i] is not None] \
            if self.compiled else []
        return trackers + [m for _, m, _ in self._metrics] + list(self.__dict__.get("_tracked_metrics", ()))

    @property
    def metrics_names(self) -> list[str]:
        """Keras's names: ``"loss"``, ``"compile_metrics"`` for all the compiled metrics together
        (when there are any), the per-output losses once a step has computed them, then the
        metrics assigned to the model; each metric's own name is in ``metrics``. A class that
        overrides ``metrics`` gets the names of the metrics it lists, as in Keras."""
        if type(self).metrics is not Trainer.metrics:
            return [m.name for m in self.metrics]
        names = [self._loss_tracker.name] if self.compiled else []
        if self.compiled and self._metrics:
            names.append("compile_metrics")
        if self.compiled and self.__dict__.get("_output_losses_seen"):
            by_output = self._output_loss_trackers
            names += [by_output[i].name for i in self._loss_tracker_order if by_output[i] is not None]
        return names + [m.name for m in self.__dict__.get("_tracked_metrics", ())]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def _make_step_function(self, name: str) -> None:
        """Keras's ``fit``/``evaluate``/``predict`` make their step function first (a model's own
        ``make_train_function`` is called as Keras calls it)."""
        make = getattr(self, name, None)
        if make is not None:
            make()

    def _check_compiled(self, method: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() on model {self.name!r} before {method}(), e.g. "
                               "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')")

    # ----------------------------------------------------------------- the steps
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True) -> Tensor:
        """sum_k loss_weight_k * loss_k(y_k, y_pred_k, sample_weight) + sum(model.losses)."""
        ys, preds = self._flat_targets(y), self._flat_outputs(y_pred)
        if len(ys) < len(preds) and self._losses[len(ys):].count(None) < len(preds) - len(ys):
            # one target array for a model of several outputs with losses: Keras refuses it
            raise ValueError(f"y_true and y_pred have different structures: model {self.name!r} has "
                             f"{len(preds)} outputs, but {len(ys)} target(s) were given")
        total = None
        for k, (loss, weight) in enumerate(zip(self._losses, self._loss_weights)):
            if loss is None:
                continue
            twin = self._logit_losses[k]
            if training and twin is not None and twin.applies_to(preds[k]):
                value = twin(ys[k], preds[k], sample_weight)
            else:
                value = loss(ys[k], preds[k], sample_weight)
            if self._output_loss_trackers:
                self._output_loss_trackers[k].update_state(float(value.data), preds[k].shape[0])
                self.__dict__["_output_losses_seen"] = True  # Keras lists them once its loss has run
            value = value * weight if weight != 1.0 else value
            total = value if total is None else total + value
        for extra in self.losses:
            # Keras sums each added loss to a scalar (a per-sample (batch, 1) loss from add_loss too)
            if getattr(extra, "ndim", 0):
                extra = ops.sum(extra)
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError(f"Model {self.name!r} has no loss to minimise: pass loss= to compile()")
        return total

    def _gradients(self, loss, variables) -> list:
        """d loss / d variables; over several processes each bucket's all-reduce starts during
        backward, as soon as its gradients are complete (``_apply_gradients`` waits for it)."""
        group = process_group.current()
        started = None if group is None else group.start_gradients(variables, self.optimizer)
        # every trainable weight is asked for, so there is no backward to prune
        if started is None:
            return grad(loss, variables, prune=False)
        # backward writes each gradient into its view of the all-reduce's buffer (no packing copy)
        return grad(loss, variables, on_final=started[0], prune=False, out=started[1])

    def _apply_gradients(self, grads, variables) -> None:
        """The step between "gradients computed" and "gradients applied" (all-reduce goes here)."""
        group = process_group.current()
        if group is not None:
            grads = group.reduce_gradients(grads, self.optimizer)
        self.optimizer.apply_gradients(zip(grads, variables))

    def _check_optimizer_knows(self, variables) -> None:
        """Keras 3 builds the optimiser on the trainable variables of the first step and refuses
        others later: a layer unfrozen after ``compile`` needs a recompile (a new optimiser); one
        frozen after ``compile`` only drops variables, which takes effect at once."""
        optimizer = self.optimizer
        if not getattr(optimizer, "built", False):
            return
        checked = (id(optimizer), *map(id, variables))  # the same set as last step: nothing to look up
        if self.__dict__.get("_checked_variables") == checked:
            return
        built_variables = getattr(optimizer, "_built_variables", None)
        if built_variables is None:  # an optimiser of the user's own making
            return
        known = {id(v) for v in built_variables()}
        unknown = [v for v in variables if id(v) not in known]
        if not unknown:
            self.__dict__["_checked_variables"] = checked
        else:
            raise ValueError(
                f"Unknown variable: {getattr(unknown[0], 'path', unknown[0].name)!r} of shape {tuple(unknown[0].shape)}. "
                "This optimizer can only be called for the variables it was originally built with. When working "
                "with a new set of variables, you should recreate a new optimizer instance. (A layer's `trainable` "
                f"state changed since model {self.name!r} was compiled: call `model.compile(...)` again before "
                "training.)")

    def train_step(self, data) -> dict:
        x, y, sample_weight = unpack_step_data(data)
        y_pred = self(x, training=True)
        # read after the forward pass: a model built by its first call has its weights only now
        variables = self.trainable_weights
        self._check_optimizer_knows(variables)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        if not variables:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        elif loss.requires_grad:
            # a loss-scaling optimiser multiplies the loss here and divides the gradients back
            scale_loss = getattr(self.optimizer, "scale_loss", None)
            self._apply_gradients(self._gradients(scale_loss(loss) if scale_loss else loss, variables), variables)
        return self._update_logs(loss, y, y_pred, sample_weight)

    def test_step(self, data) -> dict:
        x, y, sample_weight = unpack_step_data(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return self._update_logs(loss, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = unpack_step_data(data)
        return self(x, training=False)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch; returns every metric's result (Keras's helper
        for a custom ``train_step``: ``self.compute_loss`` then ``self.compute_metrics``)."""
        preds = [p.data if isinstance(p, Tensor) else np.asarray(p) for p in self._flat_outputs(y_pred)]
        ys = self._flat_targets(y)
        for i, metric, weighted in self._metrics:
            metric.update_state(ys[i], preds[i], sample_weight if weighted else None)
        return self.get_metrics_result()

    def zero_grad(self) -> None:
        """Forget the ``.grad`` of every weight (PyTorch's ``Module.zero_grad``), before a ``backward()``."""
        for w in self.weights:
            w.grad = None

    def _update_logs(self, loss, y, y_pred, sample_weight) -> dict:
        preds = [p.data for p in self._flat_outputs(y_pred)]
        self._loss_tracker.update_state(float(loss.data), preds[0].shape[0])
        ys = self._flat_targets(y)
        for i, metric, weighted in self._metrics:
            metric.update_state(ys[i], preds[i], sample_weight if weighted else None)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        metrics = self.metrics
        logs = {m.name: _log_value(m.result()) for m in metrics}
        if len(logs) == len(metrics):
            return logs
        # two metrics of one name (an "auc" string beside an AUC() instance): Keras logs the
        # later ones as "auc_1", "auc_2", ... in compile order
        logs, seen = {}, {}
        for m in metrics:
            name = m.name
            if name in seen:
                seen[name] += 1
                name = f"{name}_{seen[name] - 1}"
            else:
                seen[name] = 1
            logs[name] = _log_value(m.result())
        return logs

    def _metrics_result_or_logs(self, logs) -> dict:
        """The metrics' results when a step's logs name exactly the metrics (then the epoch's
        averages), else the last step's own logs, as Keras does for a custom step."""
        results = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(results):
            return results
        return _as_logs(logs)

    # ----------------------------------------------------------------- structure helpers
    def _output_names(self) -> list[str]:
        """The names the outputs' targets, losses and metrics go by: a dict of outputs' keys (in
        flatten order, sorted), else the model's ``output_names``."""
        keys = self.__dict__.get("_output_keys")
        if keys:
            return list(keys)
        names = getattr(self, "output_names", None)
        return list(names) if names else ["output"]

    def _flat_outputs(self, y_pred) -> list:
        if isinstance(y_pred, dict):
            return [y_pred[n] for n in self._output_names()]
        return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]

    def _flat_targets(self, y) -> list:
        return da.targets_by_output(y, self._output_names())

    def _data_spec(self) -> da.DataSpec:
        """What data must fit this model, for the data adapter."""
        inputs = getattr(self, "inputs", None) or []
        outputs = getattr(self, "outputs", None) or []
        if inputs:  # integer inputs stay integers for an Embedding (or an input declared as int)
            keep_int = all(t.dtype.kind in "iu" for t in inputs)
        else:
            keep_int = bool(self.layers) and type(self.layers[0]).__name__ == "Embedding"
        sparse_classes = []
        for k, loss in enumerate(self._losses):
            fn = getattr(loss, "fn", None)
            sparse = getattr(fn, "__name__", "") == "sparse_categorical_crossentropy" and k < len(outputs)
            sparse_classes.append(outputs[k].shape[-1] if sparse else None)
        # a functional model built on a dict of tensors takes its data by those keys (Keras's rule),
        # whatever the tensors are named (an intermediate tensor may serve as an input)
        names = getattr(self, "input_names", None)
        names = tuple(names) if names is not None and len(names) == len(inputs) else tuple(t.name for t in inputs)
        return da.DataSpec(self.name, tuple(self._output_names()), names,
                           tuple(t.shape for t in inputs) if inputs else None, keep_int, tuple(sparse_classes))

    def _callbacks(self, callbacks, verbose, epochs, steps):
        if isinstance(callbacks, CallbackList):
            return callbacks
        group = process_group.current()
        if group is not None:  # in a run over several processes, rank 0 alone prints and writes files
            callbacks = [cb for cb in callbacks or () if group.keep_callback(cb)]
            verbose = verbose if group.is_chief() else 0
        return CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                            verbose=verbose, epochs=epochs, steps=steps)

    # ----------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the ``History`` (also ``model.history``)."""
        self._check_compiled("fit")
        self._make_step_function("make_train_function")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit(): epochs must be a non-negative integer, got {epochs!r}")
        _check_validation_freq(validation_freq)
        verbose = _verbose(verbose)
        train, val = da.fit_batches(self._data_spec(), x, y, sample_weight, class_weight, batch_size, shuffle,
                                    steps_per_epoch, validation_split, validation_data, validation_steps,
                                    validation_batch_size)
        group = process_group.current()
        if group is not None:  # this rank's shard of the data (under DataParallel)
            train, val = group.batches(train), None if val is None else group.batches(val)

        # keras.config's caps for a quick run of a script (also KERAS_MAX_EPOCHS, KERAS_MAX_STEPS_PER_EPOCH)
        epoch_cap, step_cap = settings.max_epochs(), settings.max_steps_per_epoch()
        if epoch_cap and epoch_cap < epochs:
            warnings.warn(f"Limiting epochs to {epoch_cap} (deepgrad.config.max_epochs)", stacklevel=2)
            epochs = epoch_cap
        num_batches = train.num_batches
        if step_cap and (num_batches is None or step_cap < num_batches):
            warnings.warn(f"Limiting steps_per_epoch to {step_cap} (deepgrad.config.max_steps_per_epoch)",
                          stacklevel=2)
            num_batches = step_cap
        cbs = self._callbacks(callbacks, verbose, epochs, num_batches)
        # this fit's History, even when no epoch runs (epochs=0 returns an empty one, as Keras does)
        self.history = next((cb for cb in getattr(cbs, "callbacks", ()) if isinstance(cb, History)), None)
        self.stop_training = False
        cbs.on_train_begin()
        resumed = cbs.resume_epoch()
        start = initial_epoch if resumed is None else int(resumed)
        if group is not None:  # every rank starts from rank 0's weights, state and epoch
            start = group.begin_fit(self, start, num_batches)
        logs = {}
        for epoch in range(start, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            steps = 0
            for step, batch in enumerate(train):
                cbs.on_train_batch_begin(step)
                logs = _as_logs(self.train_step(pack_step_data(batch)))
                cbs.on_train_batch_end(step, logs)
                steps += 1
                if self.stop_training or (step_cap and steps >= step_cap):
                    break
            if steps == 0:
                warnings.warn("Your input ran out of data; interrupting training. Make sure the generator "
                              "can give at least steps_per_epoch * epochs batches (or pass a Sequence-like "
                              "object, which is read again every epoch).", stacklevel=2)
                break
            logs = self._metrics_result_or_logs(logs)
            if group is not None:
                logs = group.average_logs(logs)
            if val is not None and self._should_validate(epoch, validation_freq):
                val_logs = self._evaluate_batches(val, cbs)
                if group is not None:
                    val_logs = group.average_logs(val_logs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if group is not None:  # one rank stopping (EarlyStopping, TerminateOnNaN) stops all
                self.stop_training = group.any(self.stop_training)
            if self.stop_training:
                break
        # with use_ema the variables take their moving averages (before on_train_end, as Keras does)
        if epochs > 0 and hasattr(self.optimizer, "finalize_variable_values"):
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs)
        if group is not None:
            group.end_fit()
        return self.history

    @staticmethod
    def _should_validate(epoch: int, freq) -> bool:
        if isinstance(freq, int):
            return (epoch + 1) % freq == 0
        return epoch + 1 in freq

    # ----------------------------------------------------------------- evaluate and predict
    def _evaluate_batches(self, batches, cbs) -> dict:
        self.reset_metrics()
        cbs.on_test_begin()
        steps, cap = 0, settings.max_steps_per_epoch()
        logs = {}
        with no_grad():
            for steps, batch in enumerate(batches, 1):
                cbs.on_test_batch_begin(steps - 1)
                logs = _as_logs(self.test_step(pack_step_data(batch)))
                cbs.on_test_batch_end(steps - 1, logs)
                if cap and steps >= cap:  # deepgrad.config.max_steps_per_epoch caps evaluation too
                    break
        group = process_group.current()
        if group is not None:  # under DataParallel: each metric's totals and counts summed over ranks
            steps = group.merge_metrics(self.metrics, batches, steps)
        if steps == 0:  # metrics of nothing would read as zeros
            raise ValueError("evaluate(): no batches to run; the data is empty")
        logs = self._metrics_result_or_logs(logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """The loss (a scalar), ``[loss, *metrics]``, or a dict with ``return_dict=True``."""
        self._check_compiled("evaluate")
        self._make_step_function("make_test_function")
        batches = da.batches(self._data_spec(), x, y, sample_weight, batch_size=batch_size, steps=steps)
        group = process_group.current()
        if group is not None:  # under DataParallel: this rank's rows
            batches = group.inference_batches(batches)
        cbs = self._callbacks(callbacks, _verbose(verbose), 1, batches.num_batches)
        logs = self._evaluate_batches(batches, cbs)
        return self._format(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` batch by batch (``training=False``, no graph), concatenated."""
        self._make_step_function("make_predict_function")
        batches = da.batches(self._data_spec(), x, batch_size=batch_size, steps=steps, targets=False)
        group = process_group.current()
        if group is not None:  # under DataParallel: this rank's rows, gathered in order below
            batches = group.inference_batches(batches)
        cbs = self._callbacks(callbacks, _verbose(verbose), 1, batches.num_batches)
        cbs.on_predict_begin()
        outputs = []
        with no_grad():
            for step, (bx, _, _) in enumerate(batches):
                cbs.on_predict_batch_begin(step)
                out = self.predict_step(pack_step_data((bx, None, None)))
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": out})
                if settings.max_steps_per_epoch() and step + 1 >= settings.max_steps_per_epoch():
                    break
        cbs.on_predict_end()
        result = _concatenate(outputs) if outputs else None
        if group is not None:  # under DataParallel: every rank's rows, in order
            result = group.gather_outputs(result, batches)
        if result is None:
            raise ValueError("predict(): no batches to run; x is empty")
        return result

    # ----------------------------------------------------------------- single batches
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on one batch; returns that batch's loss (and metrics)."""
        self._check_compiled("train_on_batch")
        data = da.prepare(self._data_spec(), x, y, sample_weight, class_weight)
        self.reset_metrics()
        return self._format(_as_logs(self.train_step(pack_step_data(data))), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._check_compiled("test_on_batch")
        data = da.prepare(self._data_spec(), x, y, sample_weight)
        self.reset_metrics()
        with no_grad():
            return self._format(_as_logs(self.test_step(pack_step_data(data))), return_dict)

    def predict_on_batch(self, x):
        x, _, _ = da.prepare(self._data_spec(), x, check=False, targets=False)
        with no_grad():
            return _concatenate([self.predict_step(pack_step_data((x, None, None)))])

    def _format(self, logs: dict, return_dict: bool):
        """The logs, or their values in Keras's order: the metrics' names in ``self.metrics``
        order first, then the step's other keys sorted (a custom step's ``"moe_loss"``), a
        single value alone."""
        if return_dict:  # keys sorted, as Keras returns them
            return sort_logs(logs)
        names = [m.name for m in self.metrics]
        if len(self._output_names()) > 1:
            # Keras looks the compiled metrics up by their own names ("mae"), which a model of several
            # outputs logs prefixed ("out_a_mae"): they come with the other keys, sorted
            compiled = {m.name for _, m, _ in self._metrics}
            names = [n for n in names if n not in compiled]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values


def _check_validation_freq(freq) -> None:
    """An int >= 1 (validate every ``freq`` epochs) or a collection of 1-based epoch numbers."""
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        if freq < 1:
            raise ValueError(f"fit(): validation_freq must be >= 1 (validate every n epochs), got {freq}")
        return
    if not isinstance(freq, (list, tuple, set, frozenset, range)):
        raise ValueError(f"fit(): validation_freq must be an integer or a list of epochs, got {freq!r}")


def _concatenate(outputs):
    """The batches' outputs joined along the batch axis, leaf by leaf, in the outputs' own nesting
    (a model whose outputs are ``[[a, b], c]`` predicts ``[[A, B], C]``, as Keras does)."""
    first = outputs[0]
    if isinstance(first, dict):
        return {k: _concatenate([o[k] for o in outputs]) for k in first}
    if isinstance(first, (list, tuple)):
        return [_concatenate([o[i] for o in outputs]) for i in range(len(first))]
    return np.concatenate([o.data for o in outputs])
