"""Run an fkeras pytree natively on TensorFlow: `to_tf(model, variables)` -> `tf.Module`.

    module = to_tf(model, variables, input_spec=(None, 28, 28, 1))
    y = module(x)                                   # the forward (a tf.function when eager), inference mode
    with tf.GradientTape() as tape:
        loss = loss_fn(y_true, module(x, training=True))   # state (BN statistics) assigned back
    grads = tape.gradient(loss, module.trainable_variables)
    tf.saved_model.save(module, path)               # serves without fkeras installed
    variables = to_variables(module)                # Variables(params, state) of JAX arrays

The module holds one `tf.Variable` per pytree leaf, named by its path (`conv2d/kernel`);
params are trainable, state is not. Its forward is the model's own `apply` running on TF
tensors through `fkeras.ops` (no second copy of any layer's math).
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.interop._extras import import_tensorflow

tf = import_tensorflow("fkeras.interop.tf (to_tf / to_variables)")  # quiet: no absl/oneDNN lines

from fkeras.interop import dlpack  # noqa: E402
from fkeras.nn.base import Variables, as_variables  # noqa: E402
from fkeras.ops._dispatch import default_framework  # noqa: E402
from fkeras.nn.base import Layer

__all__ = ["TFModule", "to_tf", "to_variables"]


# --- pytree paths ------------------------------------------------------------------------
def _key_str(k) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _flatten(tree):
    """[(path, leaf)], treedef: paths are '/'-joined dict keys (`conv2d/kernel`)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [("/".join(_key_str(k) for k in path), leaf) for path, leaf in leaves], treedef


_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]")


def _var_name(path: str) -> str:
    return _BAD_NAME_CHARS.sub("_", path) or "value"


def _shape_dtype(x):
    return tuple(x.shape), np.dtype(x.dtype).name if not isinstance(x.dtype, tf.DType) else x.dtype.name


def _check_tree(kind, expected, got):
    """Raise ValueError naming the first missing, unexpected or mis-shaped leaf of `got`."""
    want = dict(_flatten(expected)[0])
    have = dict(_flatten(got)[0])
    for path, spec in want.items():
        if path not in have:
            shape, dt = _shape_dtype(spec)
            raise ValueError(f"to_tf: `variables.{kind}` has no entry {path!r} (expected shape {shape}, {dt}).")
        if tuple(have[path].shape) != tuple(spec.shape):
            raise ValueError(
                f"to_tf: `variables.{kind}` entry {path!r} has shape {tuple(have[path].shape)}; "
                f"expected {tuple(spec.shape)}."
            )
    extra = sorted(set(have) - set(want))
    if extra:
        raise ValueError(f"to_tf: `variables.{kind}` has entries the model does not use: {extra}.")


# --- input specs ---------------------------------------------------------------------------
def _is_shape(x) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _leaf_spec(s) -> tf.TensorSpec:
    """A TensorSpec with a free batch dimension from a shape, an array/ShapeDtypeStruct or a TensorSpec."""
    if isinstance(s, tf.TensorSpec):
        shape, dtype = s.shape.as_list(), s.dtype
    elif _is_shape(s):
        shape, dtype = list(s), tf.float32
    elif hasattr(s, "shape") and hasattr(s, "dtype"):
        shape = list(s.shape)
        dtype = s.dtype if isinstance(s.dtype, tf.DType) else tf.as_dtype(np.dtype(s.dtype).name)
    else:
        raise TypeError(
            f"to_tf: expected an input spec as a shape tuple (batch first), an array, a ShapeDtypeStruct or a "
            f"tf.TensorSpec, got {type(s).__name__}."
        )
    if not shape:
        raise ValueError("to_tf: an input spec needs a batch dimension; got a scalar shape ().")
    return tf.TensorSpec([None] + [None if d is None else int(d) for d in shape[1:]], dtype)


def _input_specs(spec):
    """Normalize to a tuple of positional-input specs (each a TensorSpec or a dict of them)."""
    if isinstance(spec, (tuple, list)) and not _is_shape(spec):
        return tuple(_input_specs_one(s) for s in spec)
    return (_input_specs_one(spec),)


def _input_specs_one(s):
    if isinstance(s, dict):
        return {k: _leaf_spec(v) for k, v in s.items()}
    return _leaf_spec(s)


def _declared_input(model):
    """The input a model declares (facade `inputs`/`input_shape`, an nn `Input`/`input_shape=`), or None."""
    try:
        inputs = getattr(model, "inputs", None)
    except (AttributeError, ValueError, TypeError):
        inputs = None
    if isinstance(inputs, (list, tuple)) and inputs and all(
        hasattr(t, "shape") and hasattr(t, "dtype") for t in inputs
    ):
        return list(inputs)  # symbolic inputs carry their dtype (e.g. int32 token ids)
    try:
        shape = getattr(model, "input_shape", None)
    except (AttributeError, ValueError, TypeError):
        shape = None
    if shape is not None and (_is_shape(shape) or isinstance(shape, (list, tuple, dict))):
        return shape
    candidates = [model, *list(getattr(model, "layers", ()) or ())[:1]]
    for layer in candidates:
        shape = getattr(layer, "_batch_input_shape", None)
        if shape is not None:
            dtype = getattr(layer, "dtype", "float32") if type(layer).__name__ == "InputLayer" else "float32"
            return tf.TensorSpec([None if d is None else int(d) for d in shape], tf.as_dtype(str(dtype)))
    return None


def _as_jax_specs(specs):
    """Concrete ShapeDtypeStructs (unknown dims taken as 1) for `model.init` shape inference."""
    def one(s):
        return jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in s.shape.as_list()), s.dtype.as_numpy_dtype)

    return tuple(tf.nest.map_structure(one, s) for s in specs)


# --- the module -----------------------------------------------------------------------------
class TFModule(tf.Module):
    """A `tf.Module` view of an fkeras model: tf.Variables per pytree leaf and a `tf.function` forward.

    `module(inputs, training=False)` runs `model.apply` on TF tensors; with `training=True` the
    new state (e.g. BatchNormalization's moving statistics) is assigned back to the state
    variables. When the input spec is known, both modes are traced at construction with a free
    batch dimension, so `tf.saved_model.save(module, path)` exports them and `serve` (inference,
    with an input signature) is the SavedModel's `serving_default`.
    """

    def __init__(self, model, variables, input_spec=None, name=None):
        super().__init__(name=name or _var_name(getattr(model, "name", None) or "fkeras_model"))
        variables = as_variables(variables)
        self._model = model
        self._param_vars, self._params_def = self._make_vars(variables.params, trainable=True)
        self._state_vars, self._state_def = self._make_vars(variables.state, trainable=False)
        self._specs = None if input_spec is None else _input_specs(input_spec)
        if self._specs is not None:
            example = self._specs if len(self._specs) > 1 else self._specs[0]
            for training in (False, True):
                self.graph_call.get_concrete_function(example, training=training)
            # The one tf.function with an input signature: tf.saved_model.save makes it serving_default.
            self.serve = tf.function(self._serve, input_signature=list(self._specs), autograph=False)

    @staticmethod
    def _make_vars(tree, trainable):
        pairs, treedef = _flatten(tree)
        out = []
        for path, leaf in pairs:
            v = tf.Variable(dlpack.to_tf(leaf, copy=True), trainable=trainable, name=_var_name(path))
            v._fkeras_path = path
            out.append(v)
        return out, treedef

    # -- pytree face ---------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """`{path: tf.Variable}` of the trainable leaves, e.g. `{"dense/kernel": <tf.Variable>}`."""
        return {v._fkeras_path: v for v in self._param_vars}

    @property
    def state(self) -> dict:
        """`{path: tf.Variable}` of the non-trainable leaves (moving statistics, ...)."""
        return {v._fkeras_path: v for v in self._state_vars}

    @property
    def input_signature(self):
        """The TensorSpecs (batch dimension None) the module was traced for, or None."""
        return self._specs

    @property
    def variables_tree(self) -> Variables:
        """The current values as `Variables(params, state)` of JAX arrays (copies), like a facade model's."""
        return to_variables(self)

    def assign(self, variables) -> None:
        """Set every variable from a `Variables(params, state)` shaped like the module's."""
        variables = as_variables(variables)
        groups = (("params", self._param_vars, self._params_def, variables.params),
                  ("state", self._state_vars, self._state_def, variables.state))
        for kind, vars_, treedef, tree in groups:  # check everything before changing anything
            _check_tree(kind, jax.tree_util.tree_unflatten(treedef, [_Spec(v) for v in vars_]), tree)
        for _, vars_, _, tree in groups:
            values = dict(_flatten(tree)[0])
            for v in vars_:
                v.assign(dlpack.to_tf(values[v._fkeras_path], copy=True))

    # -- running -------------------------------------------------------------------------------
    def _forward(self, inputs, training):
        if tf.is_tensor(training):
            raise TypeError(
                "TFModule: expected `training` as a Python bool (each mode is its own traced graph), got a tensor."
            )
        training = bool(training)
        params = jax.tree_util.tree_unflatten(self._params_def, list(self._param_vars))
        state = jax.tree_util.tree_unflatten(self._state_def, list(self._state_vars))
        args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        with default_framework("tensorflow"):  # a layer's ops.eye(n)/linspace(...) make TF tensors here
            outputs, new_state = self._model.apply(Variables(params, state), *args, training=training)
        if training:
            self._assign_state(new_state)
        return outputs

    def _assign_state(self, new_state):
        index = self.state
        for path, value in _flatten(new_state)[0]:
            var = index.get(path)
            if var is None:
                raise ValueError(
                    f"to_tf: the model returned new state {path!r}, which is not among the module's state "
                    f"variables {sorted(index)}."
                )
            if value is not var:
                var.assign(tf.cast(value, var.dtype))

    # do_not_convert: a caller's autograph would otherwise convert all of fkeras's layer code (slow).
    @tf.autograph.experimental.do_not_convert
    def __call__(self, inputs, training=False):
        """Forward pass: `model.apply` on TF tensors. `inputs` is a tensor (or a tuple, one per input).

        Eager calls run `graph_call`. Inside the caller's own `tf.function` the forward is traced
        inline, with the caller's static shapes: a nested call would reach the batch-free trace, and
        under `jit_compile=True` its gradient's runtime shapes made XLA key its cache on the step's
        input values, recompiling every step.
        """
        if tf.inside_function():
            return self._forward(inputs, training)
        return self.graph_call(inputs, training=training)

    # autograph=False: fkeras math has no tensor-dependent Python control flow, and converting it is slow.
    @tf.function(reduce_retracing=True, autograph=False)
    def graph_call(self, inputs, training=False):
        """The forward as the module's own `tf.function` (eager calls; SavedModel's `__call__`)."""
        return self._forward(inputs, training)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "savedmodel":  # the loaded object is callable, `m(x)`, without fkeras
            children["__call__"] = self.graph_call
        return children

    def _serve(self, *inputs):
        return self._forward(inputs if len(inputs) > 1 else inputs[0], False)


class _Spec:
    """A leaf placeholder with a shape and dtype (for checking trees against a module)."""

    def __init__(self, v):
        self.shape, self.dtype = tuple(v.shape), v.dtype


def to_tf(model, variables=None, input_spec=None, *, seed=0, name=None) -> TFModule:
    """A `tf.Module` running `model` (anything with fkeras's `init`/`apply`) on TF tensors.

    variables: `Variables(params, state)` (or a `(params, state)` pair); None takes the model's
        own `variables_tree` (facade models), else initializes with `jax.random.key(seed)`.
    input_spec: a batch-first shape like `(None, 28, 28, 1)`, an array, a ShapeDtypeStruct or a
        `tf.TensorSpec` (or a list of them for several inputs); the batch dimension is always
        left free. None uses the model's declared input (an `Input` first layer, `input_shape=`).
    """
    if not (callable(getattr(model, "apply", None)) and callable(getattr(model, "init", None))):
        raise TypeError(
            f"to_tf: expected a model with fkeras's `init`/`apply` (an fkeras.nn layer or an fkeras Model), "
            f"got {type(model).__name__}."
        )
    if input_spec is None:
        input_spec = _declared_input(model)
    specs = None if input_spec is None else _input_specs(input_spec)
    jax_specs = None if specs is None else _as_jax_specs(specs)

    if variables is None:
        tree = getattr(model, "variables_tree", None)
        if isinstance(tree, tuple) and len(tree) == 2 and jax.tree_util.tree_leaves(tree):
            variables = as_variables(tree)
        else:
            try:
                variables = model.init(jax.random.key(seed), *(jax_specs or ()))
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"to_tf: no `variables` given and the model could not be initialized ({e}). Pass `variables`, "
                    "or an `input_spec` such as (None, 28, 28, 1)."
                ) from e
    else:
        variables = as_variables(variables)
        expected = _expected_variables(model, jax_specs)
        if expected is not None:
            _check_tree("params", expected.params, variables.params)
            _check_tree("state", expected.state, variables.state)
    return TFModule(model, variables, input_spec=specs, name=name)


def _expected_variables(model, jax_specs):
    """Shapes `model.init` would produce, without computing anything (None when unknowable)."""

    if not isinstance(model, Layer):
        tree = getattr(model, "variables_tree", None)
        if isinstance(tree, tuple) and len(tree) == 2 and jax.tree_util.tree_leaves(tree):
            return as_variables(tree)
        return None
    try:
        return jax.eval_shape(lambda: model.init(jax.random.key(0), *(jax_specs or ())))
    except (ValueError, TypeError):
        return None


def to_variables(module: TFModule) -> Variables:
    """`Variables(params, state)` of JAX arrays holding the module's current values (own copies)."""
    if not isinstance(module, TFModule):
        raise TypeError(
            f"to_variables: expected a module made by fkeras.interop.tf.to_tf, got {type(module).__name__}."
        )

    def read(v):
        return jnp.array(dlpack.to_jax(v.read_value()))  # jnp.array copies: later TF updates do not alias

    params = jax.tree_util.tree_unflatten(module._params_def, [read(v) for v in module._param_vars])
    state = jax.tree_util.tree_unflatten(module._state_def, [read(v) for v in module._state_vars])
    return Variables(params, state)
