"""Activation functions with Keras names and defaults, over `fkeras.ops` (so they run on any framework)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn import registration


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's ReLU: `x` above `threshold` (else 0), capped at `max_value`, minus
    `negative_slope * relu(threshold - x)` below."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    negative = ops.relu(threshold - x) if negative_slope != 0.0 else None
    if threshold != 0.0:
        y = ops.where(ops.greater(x, threshold), x, ops.zeros_like(x))
    else:
        y = ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0.0, max_value)
    if negative is not None:
        y = y - negative_slope * negative
    return y


def relu6(x):
    return ops.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def selu(x):
    return ops.selu(x)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def silu(x):
    return ops.silu(x)


swish = silu


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    return ops.hard_sigmoid(x)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return ops.softsign(x)


def tanh(x):
    return ops.tanh(x)


def exponential(x):
    return ops.exp(x)


def mish(x):
    return x * ops.tanh(ops.softplus(x))


def _in_float32(fn, x, **kwargs):
    """Run `fn` in float32 for half-precision `x` and cast back: the sum over classes stays accurate
    under mixed precision (Keras keeps the output in the compute dtype; so do we)."""
    dtype = ops.dtype(x)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(fn(ops.cast(x, "float32"), **kwargs), dtype)
    return fn(x, **kwargs)


def softmax(x, axis=-1):
    return _in_float32(ops.softmax, x, axis=axis)


def log_softmax(x, axis=-1):
    return _in_float32(ops.log_softmax, x, axis=axis)


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: max(x, 0) + alpha * min(0, exp(x / alpha) - 1)."""
    return ops.celu(x, alpha=alpha)


def glu(x, axis=-1):
    """Gated linear unit: the first half of `axis` times the sigmoid of the second half."""
    return ops.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return ops.hard_shrink(x, threshold=threshold)


def hard_silu(x):
    """x * hard_sigmoid(x) (also `hard_swish`)."""
    return ops.hard_silu(x)


hard_swish = hard_silu


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return ops.hard_tanh(x)


def log_sigmoid(x):
    """log(sigmoid(x)), computed stably."""
    return ops.log_sigmoid(x)


def soft_shrink(x, threshold=0.5):
    """x - threshold above it, x + threshold below -threshold, else 0."""
    return ops.soft_shrink(x, threshold=threshold)


def sparse_plus(x):
    """0 below -1, x above 1, (x + 1)^2 / 4 between."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """0 below -1, 1 above 1, (x + 1) / 2 between."""
    return ops.sparse_sigmoid(x)


def sparsemax(x, axis=-1):
    """Euclidean projection of `x` onto the probability simplex along `axis` (sparse softmax)."""
    return ops.sparsemax(x, axis=axis)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2, a smooth ReLU."""
    return ops.squareplus(x, b=b)


def tanh_shrink(x):
    """x - tanh(x)."""
    return ops.tanh_shrink(x)


def threshold(x, threshold, default_value):
    """x where x > threshold, else `default_value`."""
    return ops.threshold(x, threshold, default_value)


_BY_NAME = {
    f.__name__: f
    for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, silu, sigmoid, hard_sigmoid, softplus,
              softsign, tanh, exponential, mish, softmax, log_softmax, celu, glu, hard_shrink, hard_silu, hard_tanh,
              log_sigmoid, soft_shrink, sparse_plus, sparse_sigmoid, sparsemax, squareplus, tanh_shrink, threshold)
}
_BY_NAME["hard_swish"] = hard_silu
_BY_NAME["swish"] = silu


def get(identifier):
    """An activation function from a name, None (linear), a Keras config dict or a callable.

    Names that are not built in are looked up among your registered functions
    (`register_keras_serializable`) and the active `custom_object_scope` (what `load_model`'s
    `custom_objects` opens)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and "class_name" in identifier:
        config = identifier.get("config")
        if identifier["class_name"] == "function" or isinstance(config, str):
            identifier = config if isinstance(config, str) else identifier["class_name"]
        else:  # an activation object (a registered class) with its config
            cls = registration.get_registered_object(identifier.get("registered_name") or identifier["class_name"])
            if cls is None:
                raise ValueError(f"Unknown activation class {identifier['class_name']!r}: register it with "
                                 "fkeras.saving.register_keras_serializable() or pass it in `custom_objects`.")
            return cls.from_config(config or {})
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier) or registration.get_registered_object(identifier)
        if fn is None:
            raise ValueError(f"Unknown activation {identifier!r}; expected one of: {', '.join(sorted(_BY_NAME))}, "
                             "or a function registered with fkeras.saving.register_keras_serializable() or passed "
                             "in `custom_objects`.")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation {identifier!r}: expected a name or a callable.")


def serialize(fn):
    """The Keras config value of an activation: a built-in's name, else Keras's function dict
    (`{"module": "builtins", "class_name": "function", "config": <registered name>, ...}`)."""
    name = getattr(fn, "__name__", None)
    if name is not None and _BY_NAME.get(name) is fn:
        return name
    if fn is silu or fn is hard_silu:
        return name
    if not callable(fn):
        raise ValueError(f"Cannot serialize activation {fn!r}: expected a function.")
    if hasattr(fn, "get_config") and not isinstance(fn, type):
        return {"module": type(fn).__module__, "class_name": type(fn).__name__, "config": fn.get_config(),
                "registered_name": registration.get_registered_name(type(fn))}
    return {"module": "builtins", "class_name": "function", "config": registration.get_registered_name(fn),
            "registered_name": "function"}


def deserialize(config, custom_objects=None):
    """An activation from its Keras config (a name or a function/class dict); `custom_objects` maps
    names to your own functions."""
    with registration.custom_object_scope(custom_objects):
        return get(config)

# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "celu", "deserialize", "elu", "exponential", "gelu", "get", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "serialize", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
]
