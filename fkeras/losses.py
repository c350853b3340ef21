"""`fkeras.losses`: Keras's loss classes, functions and `get` (defined in `fkeras.train.losses`)."""

from fkeras.train.losses import (  # noqa: F401
    CategoricalHinge, CosineSimilarity, Hinge, KLDivergence, LogCosh, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Poisson, SquaredHinge, categorical_hinge, cosine_similarity, hinge, kl_divergence,
    log_cosh, mean_absolute_percentage_error, mean_squared_logarithmic_error, poisson, squared_hinge,
    MAE, MSE, BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss, LossFunctionWrapper, MeanAbsoluteError,
    MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, get, huber, mae,
    mean_absolute_error, mean_squared_error, mse, reduce_weighted_values, serialize, sparse_categorical_crossentropy,
)


def deserialize(config, custom_objects=None):
    return get(config)
