"""`fkeras.metrics`: Keras's metrics as pure state (`init/update/result`) with Keras's stateful face
(defined in `fkeras.train.metrics`)."""

from fkeras.train.metrics import (  # noqa: F401
    CategoricalHinge, CosineSimilarity, Hinge, KLDivergence, LogCoshError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Poisson, RootMeanSquaredError, SquaredHinge,
    AUC, Accuracy, BinaryAccuracy, BinaryCrossentropy, CategoricalAccuracy, CategoricalCrossentropy, Mean,
    MeanAbsoluteError, MeanMetricWrapper, MeanSquaredError, Metric, Precision, Recall, SparseCategoricalAccuracy,
    SparseCategoricalCrossentropy, SparseTopKCategoricalAccuracy, Sum, TopKCategoricalAccuracy, accuracy,
    binary_accuracy, categorical_accuracy, get, serialize, sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy, top_k_categorical_accuracy,
)
from fkeras.train.losses import (  # noqa: F401  (Keras exposes these under keras.metrics too)
    binary_crossentropy, categorical_crossentropy, mean_absolute_error, mean_squared_error,
    sparse_categorical_crossentropy,
)


def deserialize(config, custom_objects=None):
    return get(config)
