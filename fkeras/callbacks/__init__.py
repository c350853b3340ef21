"""`fkeras.callbacks`: Keras 3's callbacks, one per module.

`Callback` (callback.py) is the base; `CallbackList` (callback_list.py) is what fit, evaluate and
predict drive (the facade `Model._callback_list` builds it; the fit loop in `fkeras.train` never
imports this package). Monitoring callbacks (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint,
OrbaxCheckpoint) share one helper, `monitor.MonitorCallback`: monitor, mode with Keras's "auto"
rule, min_delta, baseline. `ProgbarLogger` lives in progbar.py (it draws `fkeras.runtime.progbar.Progbar`);
`TensorBoard`, `SwapEMAWeights` and `RemoteMonitor` in their own files.
"""

from fkeras.callbacks.backup_and_restore import BackupAndRestore
from fkeras.callbacks.callback import Callback
from fkeras.callbacks.callback_list import CallbackList
from fkeras.callbacks.csv_logger import CSVLogger
from fkeras.callbacks.early_stopping import EarlyStopping
from fkeras.callbacks.history import History
from fkeras.callbacks.lambda_callback import LambdaCallback
from fkeras.callbacks.learning_rate_scheduler import LearningRateScheduler
from fkeras.callbacks.model_checkpoint import ModelCheckpoint
from fkeras.callbacks.orbax_checkpoint import OrbaxCheckpoint
from fkeras.callbacks.progbar import ProgbarLogger
from fkeras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from fkeras.callbacks.remote_monitor import RemoteMonitor
from fkeras.callbacks.swap_ema_weights import SwapEMAWeights
from fkeras.callbacks.tensorboard import TensorBoard
from fkeras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "OrbaxCheckpoint", "ProgbarLogger", "ReduceLROnPlateau",
           "RemoteMonitor", "SwapEMAWeights", "TensorBoard", "TerminateOnNaN"]
