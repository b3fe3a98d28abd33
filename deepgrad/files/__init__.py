"""Bytes on disk: atomic writes, safetensors arrays, checked zip archives, weights and model files.

Below ``models`` and ``callbacks``, which read and write through it: it knows the formats
and treats a model only through what the model says about itself (``weights``,
``get_config()``, ``get_compile_config()``, ``optimizer.get_state()``). No pickle is ever
loaded, every write is atomic, and hostile files are refused with an ``UnsafeFileError``
(a ValueError) naming the problem.
"""
from .atomic import atomic_write, write_bytes_atomic
from .model_file import read_model_file, save_model
from .safetensors_format import UnsafeFileError
from .safetensors_format import load_file as load_safetensors
from .safetensors_format import save_file as save_safetensors
from .weights import assign_arrays, weights_to_arrays
from .weights_file import load_weights, save_weights

__all__ = ["UnsafeFileError", "assign_arrays", "atomic_write", "load_safetensors", "load_weights", "read_model_file",
           "save_model", "save_safetensors", "save_weights", "weights_to_arrays", "write_bytes_atomic"]
