"""`fkeras.mixed_precision` (Keras names): dtype policies for bf16/fp16 compute with float32 variables.

    fkeras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = fkeras.nn.Dense(10)                         # computes in bfloat16, kernel stays float32
    head = fkeras.nn.Activation("softmax", dtype="float32")   # float32 probabilities for the loss

What happens under a mixed policy (as Keras 3):
- params and state are created and stored in float32 (`variable_dtype`); gradients w.r.t. them are float32;
- `Layer.apply` casts floating inputs, and floating params, to `compute_dtype` (integer inputs are left alone);
- BatchNormalization and LayerNormalization compute their statistics in float32 and keep BN's gamma/beta and
  moving statistics in float32; their outputs are in the compute dtype;
- softmax / log_softmax activations are evaluated in float32 and returned in the compute dtype, so the
  probabilities are correctly rounded. For float32 model outputs pin the last layer:
  `Activation("softmax", dtype="float32")` (Keras's advice); losses should cast `y_pred` to float32 (Keras does);
- under "mixed_float16", `compile()` wraps the optimizer in a `LossScaleOptimizer` (Keras's `auto_scale_loss=True`):
  the train step differentiates the loss times a dynamic scale, so float16 gradients do not underflow, then
  unscales them; a step with inf/nan gradients is skipped and halves the scale. "mixed_bfloat16" needs no scaling.

Defined once in `fkeras.nn.dtype_policies` (`LossScaleOptimizer` in `fkeras.train.optimizers`).
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
from fkeras.train.optimizers import LossScaleOptimizer  # noqa: F401
