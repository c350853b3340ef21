"""`fkeras.optimizers.schedules`: Keras's learning-rate schedules as functions of the step."""

from fkeras.train.schedules import (  # noqa: F401
    CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, LearningRateSchedule,
    PiecewiseConstantDecay, PolynomialDecay, deserialize, serialize,
)
