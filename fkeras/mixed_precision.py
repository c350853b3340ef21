"""`fkeras.mixed_precision` (Keras names): dtype policies for bf16/fp16 compute with float32 variables.

    fkeras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = fkeras.nn.Dense(10)                         # computes in bfloat16, kernel stays float32
    head = fkeras.nn.Activation("softmax", dtype="float32")   # float32 probabilities for the loss

Defined once in `fkeras.nn.dtype_policies`.
"""

from fkeras.nn.dtype_policies import (  # noqa: F401
    DTypePolicy,
    FloatDTypePolicy,
    Policy,
    dtype_policy,
    get,
    global_policy,
    serialize,
    set_dtype_policy,
    set_global_policy,
)
