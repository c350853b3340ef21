"""`fkeras.losses`: Keras's loss classes, functions and `get` (defined in `fkeras.train.losses`)."""

from fkeras.train.losses import (  # noqa: F401
    MAE, MSE, BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss, LossFunctionWrapper, MeanAbsoluteError,
    MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, get, huber, mae,
    mean_absolute_error, mean_squared_error, mse, reduce_weighted_values, serialize, sparse_categorical_crossentropy,
)


def deserialize(config, custom_objects=None):
    return get(config)
