"""``Optimizer``: the base every optimiser shares (Keras 3's contract, PyTorch's conveniences).

One update, in Keras's order: divide the gradients by ``loss_scale_factor`` (when set);
with ``gradient_accumulation_steps = k``, add them to an accumulator and update only every
k-th call, with (accumulated sum) / k; clip the gradients (``clipnorm`` per variable, or
``global_clipnorm`` across all, or ``clipvalue``), apply decoupled weight decay
(w -= lr * wd * w), run each subclass's ``update_step`` in place on ``variable.data``;
with ``use_ema``, move each variable's average, a = m a + (1 - m) w (m = 0 on the first
update, ``ema_momentum`` after), and copy the averages into the variables every
``ema_overwrite_frequency`` updates; count the iteration, then project every variable that
has a ``constraint``.

Per-variable state ("slots") is created by ``build`` in the order of the variables and
saved with ``get_state()`` under keys ``"<index>/<slot>"``.

An optimiser whose ``update_step`` is element-wise declares ``elementwise_update = True`` and
gets the flat-group fast path: its small variables of one dtype are updated together as one
flat array (see ``flat_group``).
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .. import backend
from ..autograd import Tensor, Variable
from ..naming import to_snake_case
from . import schedules
from .flat_group import FlatGroup
from .optimizer_state import OptimizerState
from .schedules import LearningRateSchedule


# Keras options that change nothing on a NumPy CPU run
_IGNORED_OPTIONS = ("jit_compile",)


def _clip_factor(norm: float, clip: float) -> float:
    """g * clip / max(norm, clip): unchanged when the norm is within the limit."""
    return clip / max(norm, clip)


class _StateVariable(Variable):
    """An optimizer's ``iterations`` or ``learning_rate`` as Keras shows them, a Variable. The
    optimizer steps with Python numbers (its update reads no Variable): every assignment goes
    through ``on_assign``, which checks the value, keeps the number and writes this Variable."""

    def __init__(self, value, dtype, name: str, path: str, on_assign):
        super().__init__(np.asarray(value, dtype), dtype=dtype, trainable=False, name=name)
        self._path = path
        self._on_assign = on_assign

    def assign(self, value) -> "Variable":
        self._on_assign(np.asarray(value.data if isinstance(value, Tensor) else value, self.dtype).item())
        return self

    def _update(self, ufunc, delta, where: str) -> "Variable":
        delta = np.asarray(delta.data if isinstance(delta, Tensor) else delta, self.dtype)
        self._on_assign(ufunc(self.data, delta).item())
        return self


class Optimizer(OptimizerState):
    """Base class. Subclasses set ``slot_names`` and implement ``update_step``."""

    slot_names: tuple = ()          # per-variable arrays shaped like the variable
    slot_initial_values: dict = {}  # slot name -> starting value when not 0 (Adagrad's accumulator)
    global_slots: dict = {}         # name -> initial scalar value, shared by all variables
    unnamed_globals: tuple = ()     # the global slots Keras keeps in unnamed Variables
    # The flat-group fast path (``flat_group``): ``update_step`` is element-wise, so variables
    # under ``flat_group_max_size`` elements are updated together, one flat array per dtype.
    elementwise_update: bool = False
    flat_group_max_size: int = 1 << 15
    _plan = None  # the last step's UpdatePlan (see ``apply``)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # an update_step written in a subclass is element-wise only if the subclass says so
        if "update_step" in cls.__dict__ and "elementwise_update" not in cls.__dict__:
            cls.elementwise_update = False

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        # Keras 3's rule: TF-Keras's ``decay`` is ignored with a warning (a learning-rate
        # schedule does that job now), any other unknown argument is refused
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=2)
        unknown = {key: value for key, value in kwargs.items() if key not in _IGNORED_OPTIONS}
        if unknown:
            raise ValueError(f"Argument(s) not recognized: {unknown}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set; got "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                           ("weight_decay", weight_decay)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{type(self).__name__}: {arg} must be a non-negative number, got {value!r}")
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 2):
            raise ValueError(f"{type(self).__name__}: gradient_accumulation_steps must be an integer >= 2, got "
                             f"{gradient_accumulation_steps!r}")
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError(f"{type(self).__name__}: ema_momentum must be in [0, 1], got {ema_momentum!r}")
            if ema_overwrite_frequency is not None and (not isinstance(ema_overwrite_frequency, int)
                                                        or ema_overwrite_frequency < 1):
                raise ValueError(f"{type(self).__name__}: ema_overwrite_frequency must be an integer >= 1 or "
                                 f"None, got {ema_overwrite_frequency!r}")
        # Keras's default: "adam", then "adam_1", ... ("rm_sprop" for RMSprop)
        self.name = name or backend.auto_name(to_snake_case(type(self).__name__))
        self.use_ema, self.ema_momentum = bool(use_ema), ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        # Keras's state Variables: the steps taken (int64) and a number learning rate (float32)
        self._steps = 0  # the updates applied, as the update reads them; ``iterations`` shows them
        self._iterations = _StateVariable(0, np.int64, "iteration", f"{self.name}/iteration",
                                          on_assign=self._set_iterations)
        self._learning_rate_variable = _StateVariable(0.0, np.float32, "learning_rate", f"{self.name}/learning_rate",
                                                      on_assign=self._set_number_rate)
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.built = False
        self._variables: list = []
        self._index: dict[int, int] = {}
        self._slots: list[dict[str, np.ndarray]] = []
        self._globals: dict[str, float] = dict(self.global_slots)
        if gradient_accumulation_steps:
            self._globals["accumulated_steps"] = 0.0  # calls since the last update
        self._pending_state = None
        self._exclude_ids: set[int] = set()
        self._exclude_names: tuple = ()
        self._groups: dict[tuple, FlatGroup] = {}  # the flat groups, by the ids of their variables
        self._plan = None  # the last step's UpdatePlan

    # ----------------------------------------------------------------- learning rate
    @property
    def iterations(self) -> Variable:
        """The number of updates applied, an int64 Variable as Keras's (``int()``, ``.numpy()``,
        ``assign``)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value) -> None:
        self._set_iterations(value)

    def _set_iterations(self, value) -> None:
        self._steps = int(value)
        self._iterations.data[()] = self._steps

    def _iteration(self) -> int:
        """``iterations`` as a Python int, for the update's arithmetic."""
        return self._steps

    @property
    def learning_rate(self):
        """A float32 Variable when the learning rate is a number, as Keras's (assigning it, or
        setting ``optimizer.learning_rate``, takes effect on the next step); a schedule's or a
        callable's current value as a float."""
        if callable(self._learning_rate):  # a schedule, or a function of no arguments
            return self._current_learning_rate()
        return self._learning_rate_variable

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, LearningRateSchedule) or (callable(value) and not isinstance(value, Tensor)):
            self._learning_rate = value
            return
        self._set_number_rate(float(value.item() if isinstance(value, (Tensor, np.ndarray)) else value))

    def _set_number_rate(self, value: float) -> None:
        """The number learning rate the update reads, and its Variable kept equal to it."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(f"{type(self).__name__} was created with a learning-rate schedule, so its "
                            "learning rate cannot be set to a number")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative number, got {value}")
        self._learning_rate = value
        self._learning_rate_variable.data[()] = value

    def _current_learning_rate(self) -> float:
        """The learning rate of the next update, a Python float (a schedule evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iteration()))
        if callable(lr):
            return float(lr())
        return lr

    lr = learning_rate  # the Keras 2 / PyTorch-style alias

    # ----------------------------------------------------------------- state
    def build(self, variables) -> None:
        """Create the slots of ``variables`` (once; later calls add only new variables)."""
        for var in variables:
            if id(var) not in self._index:
                self._index[id(var)] = len(self._variables)
                self._variables.append(var)
                self._slots.append({name: np.full(self._slot_shape(var, name), self.slot_initial_values.get(name, 0.0),
                                                  var.dtype)
                                    for name in self._slot_names_for(var) + self._base_slot_names()})
                self._init_slots(var, self._slots[-1])
        if not self.built:
            # a shared scalar Keras makes as an unnamed Variable at build (Nadam's u_product) takes
            # the session's next "variable", "variable_1", ... name
            names = self.__dict__.setdefault("_global_names", {})
            for name in self.unnamed_globals:
                names[name] = backend.auto_name("variable")
        self.built = True
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.set_state(state)

    def _slot_names_for(self, variable) -> tuple:
        return self.slot_names

    def _init_slots(self, variable, slots: dict) -> None:
        """Hook for slots that start from the variable (ScheduleFreeAdamW's momentum)."""

    def _base_slot_names(self) -> tuple:
        """The slots of the base options: the moving average and the gradient accumulator."""
        return (("average",) if self.use_ema else ()) + (
            ("gradient_accumulator",) if self.gradient_accumulation_steps else ())

    def _slot_shape(self, variable, name: str) -> tuple:
        """A slot's shape: the variable's, unless an optimiser keeps less (Adafactor's factors)."""
        return variable.shape

    def slots(self, variable) -> dict[str, np.ndarray]:
        """The state arrays of ``variable`` (updated in place)."""
        if type(variable) is FlatGroup:
            return variable.slots
        return self._slots[self._index[id(variable)]]

    @property
    def variables(self) -> list:
        """The optimiser's own state as Keras lists it: ``iteration``, ``learning_rate`` (a
        number, not a schedule), then each slot (``adam/<variable path>_momentum``); see
        ``state_variables``. The variables it updates are ``_built_variables()``."""
        return self.state_variables()

    def _built_variables(self) -> list:
        """The model variables this optimiser updates, in the order of ``build``."""
        return list(self._variables)

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly: iterations, learning rate, every slot."""
        state = {"iterations": np.asarray(self._iteration(), np.int64)}
        if not isinstance(self._learning_rate, LearningRateSchedule) and not callable(self._learning_rate):
            state["learning_rate"] = np.asarray(self._learning_rate, np.float64)
        for name, value in self._globals.items():
            state[name] = np.asarray(value, np.float64)
        for i, slots in enumerate(self._slots):
            for name, array in slots.items():
                state[f"{i}/{name}"] = array.copy()
        return state

    def set_state(self, state: dict) -> None:
        """Restore ``get_state()``'s output. Before ``build`` it is kept and applied when the
        variables are known; shapes and keys are checked with a clear error."""
        state = dict(state)
        if not self.built and any("/" in key for key in state):
            self._pending_state = state
            return
        expected = {"iterations", *self._globals}
        expected |= {f"{i}/{name}" for i, slots in enumerate(self._slots) for name in slots}
        optional = {"learning_rate"}
        missing = expected - set(state)
        unexpected = set(state) - expected - optional
        if missing or unexpected:
            raise ValueError(f"{type(self).__name__}.set_state: the state does not fit this optimiser "
                             f"({len(self._variables)} variables); missing keys {sorted(missing)}, "
                             f"unexpected keys {sorted(unexpected)}")
        for i, slots in enumerate(self._slots):
            for name, array in slots.items():
                value = np.asarray(state[f"{i}/{name}"])
                if value.shape != array.shape:
                    raise ValueError(f"{type(self).__name__}.set_state: slot {i}/{name} of variable "
                                     f"{self._variables[i].name!r} has shape {array.shape}, the saved value "
                                     f"has shape {value.shape}")
        for i, slots in enumerate(self._slots):
            for name, array in slots.items():
                array[...] = state[f"{i}/{name}"]
        for name in self._globals:
            self._globals[name] = float(state[name])
        self.iterations = int(state["iterations"])
        if "learning_rate" in state and not callable(self._learning_rate):
            self._set_number_rate(float(state["learning_rate"]))

    # ----------------------------------------------------------------- applying gradients
    def apply_gradients(self, grads_and_vars) -> None:
        """``[(gradient, variable), ...]``; pairs whose gradient is None are skipped."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, variables=None) -> None:
        """One update of ``variables`` (default: those of ``build``) with ``grads``."""
        grads = list(grads)
        variables = list(self._variables if variables is None else variables)
        plan = self._plan
        if plan is not None and plan.fits(grads, variables):
            # the same variables as the last step, every gradient an array of its variable's shape
            # and dtype: build would add nothing and _as_array return each gradient as it is
            kept_grads, kept, partition = grads, variables, plan.partition
        else:
            if len(grads) != len(variables):
                raise ValueError(f"{type(self).__name__}: got {len(grads)} gradients for {len(variables)} variables")
            self.build(variables)
            kept_grads, kept = [], []  # the pairs whose gradient is not None
            for g, v in zip(grads, variables):
                if g is not None:
                    kept_grads.append(self._as_array(g, v))
                    kept.append(v)
            partition = None
            if self._plannable() and len(kept) == len(variables) and all(map(operator.is_, kept_grads, grads)):
                partition = self._partition(kept) if self.elementwise_update else None
                self._plan = UpdatePlan(kept, partition)
        if Variable._overwrite_flags_set:  # Keras's overwrite_with_gradient: the gradient is the new value
            shorter_grads, shorter = self._overwrite_with_gradients(kept_grads, kept)
            if shorter is not kept:  # some variables left the update: the partition no longer fits
                kept_grads, kept, partition = shorter_grads, shorter, None
        if not kept:
            return
        grads, variables = kept_grads, kept
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        update = True
        if self.gradient_accumulation_steps:
            grads, update = self._accumulate(grads, variables)
        if update:
            grads = self._clip_gradients(grads)
            lr = self._current_learning_rate()
            self._apply_weight_decay(variables, lr)
            self._before_update()
            if partition is not None:
                self._update_partitioned(grads, variables, lr, partition)
            else:
                self._update_variables(grads, variables, lr)
        if self.use_ema:
            self._update_moving_averages()
        if update:  # the count, and its Variable (a 0-d item write: ``+= 1`` on it costs ~2 us)
            steps = self._steps = self._steps + 1
            self._iterations.data[()] = steps
        for var in variables:
            constraint = getattr(var, "constraint", None)
            if constraint is not None:
                if isinstance(constraint, (str, dict)):
                    from .. import constraints
                    constraint = var.constraint = constraints.get(constraint)
                var.data[...] = np.asarray(constraint(var.data), dtype=var.dtype)

    def step(self, variables=None) -> None:
        """PyTorch style: update ``variables`` (default: those of ``build``) with their ``.grad``."""
        variables = list(self._variables if variables is None else variables)
        if not variables:
            raise ValueError(f"{type(self).__name__}.step: no variables; pass them or call build() first")
        self.apply([v.grad for v in variables], variables)

    def zero_grad(self, variables=None) -> None:
        for var in (self._variables if variables is None else variables):
            var.grad = None

    def update_step(self, gradient: np.ndarray, variable, learning_rate: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def _update_variables(self, grads: list, variables: list, learning_rate: float) -> None:
        """``update_step`` for each variable, or, with ``elementwise_update``, once for each
        flat group of small variables (the fast path of ``flat_group``) and once for each
        large variable."""
        if not self.elementwise_update:
            for g, var in zip(grads, variables):
                self.update_step(g, var, learning_rate)
            return
        self._update_partitioned(grads, variables, learning_rate, self._partition(variables))

    def _partition(self, variables: list) -> list:
        """The updates of an element-wise optimiser, in order: the index of each large variable
        (updated alone), then per dtype of the small ones, the indices of its flat group (or the
        index alone when the group would have one variable)."""
        large, small = [], {}  # dtype -> indices of the small variables
        max_size = self.flat_group_max_size
        for i, var in enumerate(variables):
            data = var.data
            if data.size < max_size:
                small.setdefault(data.dtype, []).append(i)
            else:
                large.append(i)
        return large + [group[0] if len(group) == 1 else tuple(group) for group in small.values()]

    def _update_partitioned(self, grads: list, variables: list, learning_rate: float, partition: list) -> None:
        for part in partition:
            if type(part) is int:
                self.update_step(grads[part], variables[part], learning_rate)
            else:
                flat = self._flat_group([variables[i] for i in part])
                self.update_step(flat.gather([grads[i] for i in part]), flat, learning_rate)
                flat.scatter()

    def _plannable(self) -> bool:
        """Whether ``UpdatePlan`` may stand in for ``build`` and ``_as_array``: they and the update
        loop are the base class's."""
        cls = type(self)
        return (cls.build is Optimizer.build and cls._as_array is Optimizer._as_array
                and cls._update_variables is Optimizer._update_variables)

    def _flat_group(self, variables: list) -> FlatGroup:
        key = tuple(map(id, variables))
        group = self._groups.get(key)
        if group is None:
            # a variable's slots are views of one group's arrays at a time: forget groups sharing one
            ids = set(key)
            self._groups = {k: g for k, g in self._groups.items() if ids.isdisjoint(k)}
            group = self._groups[key] = FlatGroup(variables, [self.slots(v) for v in variables])
        return group

    def _apply_weight_decay(self, variables: list, learning_rate: float) -> None:
        """w -= lr * wd * w for every variable not excluded from weight decay."""
        if self.weight_decay:
            for var in variables:
                if self._use_weight_decay(var):
                    var.data -= (learning_rate * self.weight_decay) * var.data

    def _accumulate(self, grads: list, variables: list) -> tuple[list, bool]:
        """Keras's gradient accumulation: the first k - 1 calls of every k add their gradients
        to the accumulators and update nothing; the k-th updates with (sum of the k) / k."""
        steps = self.gradient_accumulation_steps
        accumulators = [self.slots(v)["gradient_accumulator"] for v in variables]
        count = int(self._globals["accumulated_steps"]) + 1
        if count < steps:
            for acc, g in zip(accumulators, grads):
                acc += g
            self._globals["accumulated_steps"] = float(count)
            return grads, False
        averaged = [(g + acc) / steps for g, acc in zip(grads, accumulators)]
        for acc in accumulators:
            acc[...] = 0
        self._globals["accumulated_steps"] = 0.0
        return averaged, True

    def _update_moving_averages(self) -> None:
        """a = m a + (1 - m) w for every variable of ``build``; m = 0 before the first update
        (the average starts at the variable); every ``ema_overwrite_frequency`` updates the
        variables take their averages."""
        momentum = self.ema_momentum if self._iteration() != 0 else 0.0
        for var, slots in zip(self._variables, self._slots):
            average = slots["average"]
            average *= momentum
            average += (1 - momentum) * var.data
        frequency = self.ema_overwrite_frequency
        if frequency and (self._iteration() + 1) % frequency == 0:
            self.finalize_variable_values(self._variables)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, give the variables their moving averages (``fit`` calls this at its end)."""
        if not self.use_ema:
            return
        for var in var_list:
            index = self._index.get(id(var))
            if index is not None:
                var.data[...] = self._slots[index]["average"]

    def moving_averages(self) -> list:
        """With ``use_ema``: ``[(variable, its moving average array)]`` in the order of ``build``
        (the arrays are the optimiser's own: writing into them changes its state)."""
        if not self.use_ema:
            raise ValueError(f"{type(self).__name__} keeps no moving averages: create it with use_ema=True")
        return [(var, slots["average"]) for var, slots in zip(self._variables, self._slots)]

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` when it is set (``apply`` divides the gradients by it)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def _before_update(self) -> None:
        """Hook for state shared by all variables (Nadam's momentum-schedule product)."""

    @staticmethod
    def _as_array(grad, variable) -> np.ndarray:
        g = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        like = variable.data if isinstance(variable, Tensor) else variable  # its shape and dtype, without properties
        if g.shape != like.shape:
            where = getattr(variable, "path", variable.name)
            raise ValueError(f"Gradient of shape {g.shape} does not match variable {where!r} "
                             f"of shape {variable.shape}")
        return g if g.dtype == like.dtype else g.astype(like.dtype)

    def _clip_gradients(self, grads: list) -> list:
        # never in place: a gradient may be a variable's .grad that the caller still reads
        if self.clipnorm:
            return [g * _clip_factor(float(np.sqrt(np.sum(np.square(g)))), self.clipnorm) for g in grads]
        if self.global_clipnorm:
            norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
            factor = _clip_factor(norm, self.global_clipnorm)
            return [g * factor for g in grads] if factor != 1.0 else grads
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # ----------------------------------------------------------------- weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """No weight decay for these variables, or for those whose name contains one of ``var_names``."""
        self._exclude_ids |= {id(v) for v in var_list or ()}
        self._exclude_names = tuple(var_names or ())

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        name = variable.name or ""
        return not any(part in name for part in self._exclude_names)

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": schedules.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Optimizer":
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self._current_learning_rate()} iterations={self._iteration()}>"


_array_meta = operator.attrgetter("__class__", "shape", "dtype")
_data_meta = operator.attrgetter("data.shape", "data.dtype")


class UpdatePlan:
    """What ``apply`` worked out for one list of variables, kept for the next steps: when the
    same variables come again (same objects, their arrays of the same shapes and dtypes) with
    one gradient array each of those shapes and dtypes, ``build`` and ``_as_array`` would
    change nothing and the flat groups are the same, so ``apply`` goes straight to the update.
    The checks are C-level maps; the arithmetic is the one of the plain path."""

    __slots__ = ("variables", "ids", "var_meta", "grad_meta", "partition")

    def __init__(self, variables: list, partition):
        self.variables = variables  # kept alive, so their ids cannot be reused by other objects
        self.ids = tuple(map(id, variables))
        self.var_meta = tuple(map(_data_meta, variables))
        self.grad_meta = tuple([(np.ndarray, *meta) for meta in self.var_meta])
        self.partition = partition

    def fits(self, grads: list, variables: list) -> bool:
        if tuple(map(id, variables)) != self.ids:
            return False
        try:
            return tuple(map(_array_meta, grads)) == self.grad_meta and tuple(map(_data_meta, variables)) == self.var_meta
        except AttributeError:  # a gradient of None (or of no array type)
            return False
