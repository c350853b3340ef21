"""`fkeras.optimizers`: Keras 3 optimizers as optax transforms (defined in `fkeras.train.optimizers`)."""

from fkeras.optimizers import schedules  # noqa: F401
from fkeras.train.optimizers import (  # noqa: F401
    SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Ftrl, Lamb, Lion, LossScaleOptimizer, LossScaleState, Muon,
    MultiOptimizer, Nadam, OptaxOptimizer, Optimizer, OptimizerMap, OptState, RMSprop, ScheduleFreeAdamW, deserialize,
    get, serialize,
)
