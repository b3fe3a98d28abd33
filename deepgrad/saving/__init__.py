"""Floor 7: safe model and weights files.

``save_model``/``load_model`` write and read one zip (config.json, model.weights.safetensors,
optimizer.safetensors, metadata.json); ``save_weights``/``load_weights`` read and write
``.weights.safetensors`` or ``.weights.npz``. No pickle is ever loaded, every write is atomic,
and hostile files are refused with an ``UnsafeFileError`` (a ValueError) naming the problem.
"""
from .atomic import atomic_write
from .model_file import load_model, save_model
from .safetensors_format import UnsafeFileError
from .safetensors_format import load_file as load_safetensors
from .safetensors_format import save_file as save_safetensors
from .weights import load_weights, save_weights

__all__ = ["UnsafeFileError", "atomic_write", "load_model", "load_safetensors", "load_weights", "save_model",
           "save_safetensors", "save_weights"]
