"""Floor 7: models and their training loop."""
from ..files import save_model
from ..symbolic import KerasTensor
from .functional import Functional
from .cloning import clone_model
from .loading import load_model, model_from_json
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "KerasTensor", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
