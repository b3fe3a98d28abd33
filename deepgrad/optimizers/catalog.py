"""The optimisers that update variables themselves, by name: what ``optimizers.get("adam")``
and the wrappers (``LossScaleOptimizer``, ``MultiOptimizer``) look their inner optimisers up in."""
from __future__ import annotations

from ..registry import Registry
from .adafactor import Adafactor
from .adagrad import Adadelta, Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .muon import Muon
from .nadam import Nadam
from .rmsprop import RMSprop
from .schedule_free_adamw import ScheduleFreeAdamW
from .sgd import SGD

CLASSES = (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Adafactor, Ftrl, Lamb, Lion, Muon,
           ScheduleFreeAdamW)
# "adam", "Adam" and "ADAM" are one name, as in Keras
REGISTRY = Registry("optimizer", CLASSES, base=Optimizer, case_sensitive=False, snake_case=False)
