"""Keras masks: which timesteps (or entries) of a tensor are real, as a bool array beside it.

A mask travels with the tensor it describes, as Keras's `tensor._keras_mask`:

    set_keras_mask(x, mask)     # eager arrays get the attribute; JAX tracers (inside jit/grad) are kept
    get_keras_mask(x)           #   in a registry keyed by identity, cleared when the tracer dies

A layer that `supports_masking` passes masks on: after a call, its outputs get
`compute_mask(inputs, previous_mask)` (default: the previous mask unchanged). A layer whose `apply`
takes `mask=` (or `<argument>_mask=` for several tensor arguments, as MultiHeadAttention's
`query_mask`/`value_mask`) receives the masks of its inputs when none is passed (Keras's rule).
The containers (`nn.Sequential`, `nn.functional.Graph`) run this per layer with `call_with_masks`;
the train step turns the output's mask into sample weights (`apply_mask`, Keras's
`keras.src.losses.loss.apply_mask`).
"""

from __future__ import annotations

import functools
import inspect
import sys
import weakref

import jax

from fkeras import ops

# nn layers (by class name, anywhere in the MRO) whose Keras counterpart sets `supports_masking = True`
# and keeps the default `compute_mask` (the mask passes through). Layers in this package's own files set
# `supports_masking` on the class; these live in other families' modules.
PASSTHROUGH_CLASSES = frozenset({
    "ELU", "LeakyReLU", "ReLU", "Softmax", "PReLU", "BatchNormalization", "LayerNormalization",
    "UnitNormalization", "GroupNormalization", "ActivityRegularization", "AlphaDropout", "GaussianDropout",
    "TimeDistributed", "Normalization",
})

_registry: dict = {}  # id(tracer) -> (weakref to it, mask)


def _forget(key):
    return lambda _ref: _registry.pop(key, None)


def _torch_compiling(x=None) -> bool:
    """True while `torch.compile` traces (its fake tensors carry no attributes, and it cannot trace
    JAX's pytree helpers): masks then do not travel implicitly."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def set_keras_mask(x, mask) -> None:
    """Attach `mask` to the array `x` (None removes it). Arrays that take attributes (JAX arrays, torch
    and TF tensors, KerasTensors) get `x._keras_mask`; JAX tracers are remembered by identity. Under
    `torch.compile` masks do not travel on the tensors (pass `mask=` explicitly there)."""
    if x is None or not hasattr(x, "shape") or _torch_compiling(x):
        return
    try:
        if mask is None:
            if hasattr(x, "__dict__") and "_keras_mask" in x.__dict__:
                del x._keras_mask
        else:
            x._keras_mask = mask
        return
    except (AttributeError, TypeError):
        pass
    key = id(x)
    if mask is None:
        _registry.pop(key, None)
        return
    try:
        _registry[key] = (weakref.ref(x, _forget(key)), mask)
    except TypeError:  # neither attributes nor weak references (NumPy arrays): no mask can travel with it
        pass


def get_keras_mask(x):
    """The mask attached to `x` by `set_keras_mask`, or None."""
    if x is None or _torch_compiling(x):
        return None
    try:
        mask = x.__dict__.get("_keras_mask") if hasattr(x, "__dict__") else getattr(x, "_keras_mask", None)
    except Exception:  # noqa: BLE001 - an object whose attribute lookup itself fails has no mask
        mask = None
    if mask is not None:
        return mask
    entry = _registry.get(id(x))
    if entry is not None and entry[0]() is x:
        return entry[1]
    return None


def masks_of(structure):
    """The masks of every array in a (nested list/tuple/dict) structure, in the same structure."""
    if isinstance(structure, dict):
        return {k: masks_of(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(masks_of(v) for v in structure)
    return get_keras_mask(structure)


def any_mask(masks) -> bool:
    return any(m is not None for m in jax.tree_util.tree_leaves(masks, is_leaf=lambda m: m is None))


# --- what a layer does with masks ----------------------------------------------------------------
def supports_masking(layer) -> bool:
    """Whether `layer` passes masks on (Keras's `layer.supports_masking`)."""
    flag = getattr(layer, "supports_masking", None)
    if flag is not None:
        return bool(flag)
    return any(k.__name__ in PASSTHROUGH_CLASSES for k in type(layer).__mro__)


def compute_mask(layer, inputs, previous_mask):
    """The output mask(s) of `layer` for `inputs` whose masks are `previous_mask` (Keras's
    `layer.compute_mask`); layers without their own `compute_mask` pass the mask through."""
    fn = getattr(layer, "compute_mask", None)
    if fn is None:
        return previous_mask
    return fn(inputs, previous_mask)


@functools.lru_cache(maxsize=None)
def _mask_params(cls, method="apply", skip=2):
    """(positional tensor argument names, names of `*_mask` / `mask` keywords) of `cls.<method>` (nn
    layers: `apply(self, variables, ...)`; facade layers: `call(self, ...)`, skip=1)."""
    try:
        params = list(inspect.signature(getattr(cls, method)).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return (), frozenset()
    names = {p.name for p in params}
    positional = tuple(p.name for p in params[skip:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    masks = frozenset(n for n in names if n == "mask" or n.endswith("_mask"))
    if var_kw and method == "apply":  # `apply(..., **kwargs)` delegating to `call`: read `call`'s keywords
        try:
            call_params = inspect.signature(cls.call).parameters
            masks |= frozenset(n for n in call_params if n == "mask" or n.endswith("_mask"))
        except (TypeError, ValueError):
            pass
    return positional, masks


def takes_mask(layer, name: str = "mask", method="apply", skip=2) -> bool:
    """Whether `layer.apply` (or `<method>`) takes the keyword `name` (`mask`, `query_mask`, ...)."""
    return name in _mask_params(type(layer), method, skip)[1]


def fill_masks(layer, args, kwargs, masks_of_arg, method="apply", skip=2):
    """`kwargs` with Keras's automatic mask arguments added where the call gave none: `mask` (the masks
    of the only tensor argument) or `<argument>_mask` for each tensor argument when there are several.

    Returns (kwargs, previous_mask): the mask Keras hands `compute_mask` (the `mask` argument, else the
    masks of the first argument)."""
    positional, mask_names = _mask_params(type(layer), method, skip)
    # every argument holding arrays counts, keyword ones too (Keras's `tensor_arguments_dict`): with an
    # `initial_state=` an RNN gets no automatic `mask`, exactly as in Keras
    tensor_args = [(positional[i] if i < len(positional) else None, a) for i, a in enumerate(args) if _has_array(a)]
    tensor_args += [(k, v) for k, v in kwargs.items() if _has_array(v)]
    kwargs = dict(kwargs)
    if mask_names:
        if len(tensor_args) == 1 and "mask" in mask_names and not any_mask(kwargs.get("mask")):
            m = masks_of_arg(tensor_args[0][1])
            if any_mask(m):
                kwargs["mask"] = m
        elif len(tensor_args) > 1:
            for arg_name, a in tensor_args:
                name = f"{arg_name}_mask" if arg_name else None
                if name in mask_names and not any_mask(kwargs.get(name)):
                    m = masks_of_arg(a)
                    if any_mask(m):
                        kwargs[name] = m
    previous = kwargs.get("mask")
    if not any_mask(previous) and args:
        previous = masks_of_arg(args[0])
    return kwargs, previous


def _has_array(x) -> bool:
    return any(hasattr(leaf, "shape") for leaf in jax.tree_util.tree_leaves(x))


def output_masks(layer, args, outputs, previous_mask):
    """The masks of `outputs` (same structure, None where unmasked) after `layer` ran on `args`."""
    if not supports_masking(layer) or not args:
        return broadcast_masks(outputs, None)
    return broadcast_masks(outputs, compute_mask(layer, args[0], previous_mask))


def broadcast_masks(outputs, masks):
    """`masks` laid out like `outputs`: one mask for a single output, a list for a list of outputs
    (a single mask for several outputs applies to the first, as Keras's flatten-and-zip does)."""
    flat_out, treedef = jax.tree_util.tree_flatten(outputs)
    if masks is None:
        flat_masks = [None] * len(flat_out)
    elif hasattr(masks, "shape"):
        flat_masks = [masks] + [None] * (len(flat_out) - 1)
    else:
        flat_masks = list(jax.tree_util.tree_leaves(masks, is_leaf=lambda m: m is None))
        flat_masks = (flat_masks + [None] * len(flat_out))[:len(flat_out)]
    return jax.tree_util.tree_unflatten(treedef, flat_masks)


def call_with_masks(layer, run, args, kwargs, masks_of_arg=masks_of):
    """Run `run(args, kwargs) -> (outputs, ...)` for one layer call with Keras's mask rules; returns
    `(result, output masks)` and attaches the masks to the outputs. Outputs that come back with masks
    already (a facade layer's own call set them) keep them, as Keras's `_set_mask_metadata` does."""
    if _torch_compiling():
        return run(args, kwargs), None
    kwargs, previous = fill_masks(layer, args, kwargs, masks_of_arg)
    result = run(args, kwargs)
    outputs = result[0]
    flat = jax.tree_util.tree_leaves(outputs)
    attached = [get_keras_mask(x) for x in flat]
    if flat and all(m is not None for m in attached):
        return result, jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(outputs), attached)
    masks = output_masks(layer, args, outputs, previous)
    for x, m in zip(flat, jax.tree_util.tree_leaves(masks, is_leaf=_is_none)):
        if m is not None:
            set_keras_mask(x, m)
    return result, masks


def _is_none(x) -> bool:
    return x is None


# --- masks as sample weights (Keras's losses.loss.apply_mask) ---------------------------------
def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule: make ranks equal by squeezing a trailing 1 (or expanding a rank-1 array)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, axis=-1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, axis=-1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def apply_mask(sample_weight, mask, dtype="float32", reduction="sum_over_batch_size"):
    """Merge a prediction mask into sample weights as Keras does: for mean-like reductions the kept
    entries weigh `total / valid` (so the mean runs over kept entries only), else the mask as 0/1."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        total = ops.cast(ops.prod(ops.convert_to_tensor(tuple(mask.shape), dtype="int32")), dtype)
        valid = ops.sum(ops.cast(mask, dtype))
        weight = ops.divide_no_nan(total, valid)
        float_mask = ops.where(ops.cast(mask, "bool"), weight, ops.cast(0, dtype))
    else:
        float_mask = ops.cast(mask, dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = ops.cast(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask
