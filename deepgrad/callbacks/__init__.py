"""Callbacks: hooks into ``fit``/``evaluate``/``predict`` with Keras's names and behaviour."""
from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .model_checkpoint import ModelCheckpoint
from .progbar import Progbar
from .progbar_logger import ProgbarLogger
from .simple import LambdaCallback, TerminateOnNaN
from .orbax_checkpoint import OrbaxCheckpoint
from .remote_monitor import RemoteMonitor
from .swap_ema_weights import SwapEMAWeights
from .tensorboard import TensorBoard

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
           "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "Progbar", "ProgbarLogger",
           "ReduceLROnPlateau", "TerminateOnNaN"]
__all__ += ["OrbaxCheckpoint", "RemoteMonitor", "SwapEMAWeights", "TensorBoard"]
