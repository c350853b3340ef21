"""Run an fkeras pytree natively in PyTorch: `to_torch(model) -> torch.nn.Module`, `to_variables(module)`.

    module = to_torch(model, variables)          # params -> nn.Parameter, state -> buffers
    y = module(torch_x)                           # the SAME model.apply, on torch tensors via fkeras.ops
    opt = torch.optim.SGD(module.parameters(), lr=0.1); loss.backward(); opt.step()
    variables = to_variables(module)              # Variables(params, state) of JAX arrays
    module.assign(variables)                      # checked in-place copy back into the module

`state_dict()` keys are the pytree paths joined by "." (`conv2d.kernel`,
`batch_normalization.moving_mean`); params and state share one namespace, as torch's own
BatchNorm keeps `weight` beside `running_mean`. `module.train()` / `module.eval()` set
`training=`; Dropout draws its mask from torch's generator (`torch.manual_seed` decides);
state updates returned by a training forward (BatchNorm moving statistics) are written
back into the buffers. Nothing here holds layer math: `forward` calls `model.apply`.
"""

from __future__ import annotations

from fkeras.interop._extras import require

torch = require("torch", "fkeras.interop.torch (to_torch / to_variables)")

from fkeras.interop import dlpack  # noqa: E402
from fkeras.nn.base import Variables  # noqa: E402
from fkeras.ops._dispatch import default_framework  # noqa: E402

__all__ = ["FkerasModule", "to_torch", "to_variables"]

_KINDS = ("params", "state")


def _flatten(tree, prefix=()):
    """[(path tuple, leaf)] of a nested dict, in insertion order."""
    if not isinstance(tree, dict):
        raise TypeError(
            f"to_torch: expected nested dicts of arrays, got {type(tree).__name__} at "
            f"{'.'.join(prefix) or '<root>'}."
        )
    out = []
    for key, value in tree.items():
        if not isinstance(key, str):
            raise TypeError(f"to_torch: pytree keys must be strings, got {key!r} at {'.'.join(prefix) or '<root>'}.")
        path = prefix + (key,)
        if isinstance(value, dict):
            out += _flatten(value, path)
        else:
            out.append((path, value))
    return out


def _unflatten(items):
    tree: dict = {}
    for path, leaf in items:
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = leaf
    return tree


class _Node(torch.nn.Module):
    """One level of the pytree; its children are sub-dicts, its parameters/buffers are leaves."""

    def forward(self, *args, **kwargs):  # pragma: no cover - never called
        raise RuntimeError("internal fkeras node; call the FkerasModule instead.")


class FkerasModule(torch.nn.Module):
    """A `torch.nn.Module` view of an fkeras model and its pytree (built by `to_torch`).

    forward(*inputs) -> model.apply(variables, *inputs, training=self.training)[0], with the
    variables taken from this module's parameters (params) and buffers (state).
    """

    def __init__(self, model, variables, trainable_mask=None):
        super().__init__()
        params, state = _as_variables(variables)
        self.model = model
        self._paths = {kind: [] for kind in _KINDS}
        self._checked = False
        seen = {}
        for kind, tree in (("params", params), ("state", state)):
            for path, leaf in _flatten(tree):
                name = ".".join(path)
                if name in seen:
                    raise ValueError(
                        f"to_torch: leaf {name!r} is in both params and state; state_dict keys would collide."
                    )
                seen[name] = kind
                node = self._node(path[:-1], create=True)
                tensor = _leaf_to_torch(leaf, name)
                _check_name(node, path[-1], name)
                if kind == "params":
                    trainable = tensor.is_floating_point() and _mask_at(trainable_mask, path)
                    node.register_parameter(path[-1], torch.nn.Parameter(tensor, requires_grad=trainable))
                else:
                    node.register_buffer(path[-1], tensor)
                self._paths[kind].append(path)

    # -- pytree <-> module -------------------------------------------------------------
    def _node(self, path, create=False):
        node = self
        for key in path:
            child = node._modules.get(key)
            if child is None:
                if not create:
                    raise KeyError(".".join(path))
                _check_name(node, key, ".".join(path))
                child = _Node()
                node.add_module(key, child)
            node = child
        return node

    def _leaf(self, path):
        node = self._node(path[:-1])
        name = path[-1]
        return node._parameters[name] if name in node._parameters else node._buffers[name]

    def torch_variables(self) -> Variables:
        """`Variables(params, state)` whose leaves are this module's live parameters and buffers."""
        return Variables(*(_unflatten([(p, self._leaf(p)) for p in self._paths[k]]) for k in _KINDS))

    @torch.no_grad()
    def assign(self, variables) -> None:
        """Copy `Variables(params, state)` (JAX, NumPy or torch leaves) into the parameters and
        buffers in place (optimizers keep their references). Checks every leaf first: a missing,
        extra or mis-shaped leaf is a ValueError and nothing changes."""
        given = _as_variables(variables)
        mine = self.torch_variables()
        name = getattr(self.model, "name", type(self.model).__name__)
        for kind, want, got in zip(_KINDS, mine, given):
            _compare_shapes(name, kind, _shapes(want), _shapes(got))
        for kind, tree in zip(_KINDS, given):
            for path, leaf in _flatten(tree):
                target = self._leaf(path)
                target.copy_(dlpack.to_torch(leaf).to(target.device))

    # -- torch API -----------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        inputs = tuple(self._to_device_tensor(x) for x in inputs)
        variables = self.torch_variables()
        if not self._checked:
            _check_against_model(self.model, variables, inputs)
            self._checked = True
        with default_framework("torch"):  # a layer's ops.eye(n)/linspace(...) make torch tensors here
            outputs, new_state = self.model.apply(variables, *inputs, training=self.training, rng=None, **kwargs)
        if self.training and new_state:
            self._write_state(new_state)
        return outputs

    def _to_device_tensor(self, x):
        """NumPy/JAX/TF arrays (also inside lists, tuples, dicts) as torch tensors on the module's device."""
        if isinstance(x, torch.Tensor) or x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, (list, tuple)):
            return type(x)(self._to_device_tensor(v) for v in x)
        if isinstance(x, dict):
            return {k: self._to_device_tensor(v) for k, v in x.items()}
        t = dlpack.to_torch(x)
        ref = next(iter(self.parameters()), None)
        return t.to(ref.device) if ref is not None and t.device != ref.device else t

    @torch.no_grad()
    def _write_state(self, new_state):
        for path, value in _flatten(new_state):
            try:
                buf = self._leaf(path)
            except KeyError:
                raise ValueError(
                    f"to_torch: the model returned state {'.'.join(path)!r}, which the module has no buffer for."
                ) from None
            if value is buf:
                continue
            if not isinstance(value, torch.Tensor):
                value = dlpack.to_torch(value)
            buf.copy_(value.detach())

    def extra_repr(self):
        return f"model={getattr(self.model, 'name', type(self.model).__name__)!r}"


def _as_variables(variables):
    if isinstance(variables, Variables):
        return variables
    if isinstance(variables, (tuple, list)) and len(variables) == 2:
        return Variables(*variables)
    if isinstance(variables, dict) and set(variables) <= set(_KINDS):
        return Variables(variables.get("params", {}), variables.get("state", {}))
    raise TypeError(
        f"to_torch: expected variables as Variables(params, state) (or a (params, state) pair), "
        f"got {type(variables).__name__}."
    )


def _mask_at(mask, path) -> bool:
    """The bool a (possibly prefix) trainable mask gives `path`; True where the mask says nothing."""
    if mask is None:
        return True
    for key in path:
        if not isinstance(mask, dict):
            break
        mask = mask.get(key, True)
    return mask if isinstance(mask, bool) else True


def _leaf_to_torch(leaf, name):
    if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
        raise TypeError(f"to_torch: leaf {name!r} must be an array, got {type(leaf).__name__}.")
    # A private copy: the optimizer updates parameters in place, and JAX arrays are immutable.
    return dlpack.to_torch(leaf, copy=True).detach()


def _check_name(node, key, full):
    if not key or "." in key:
        raise ValueError(f"to_torch: pytree key {key!r} (at {full!r}) cannot be a torch name; no dots or empty keys.")
    if hasattr(node, key) and key not in node._parameters and key not in node._buffers and key not in node._modules:
        raise ValueError(f"to_torch: pytree key {key!r} (at {full!r}) clashes with a torch.nn.Module attribute.")


def _shapes(tree):
    return {".".join(p): tuple(int(d) for d in leaf.shape) for p, leaf in _flatten(tree)}


def _check_against_model(model, variables, inputs):
    """ValueError naming the first missing, extra or mis-shaped leaf, before any math runs."""
    expected = None
    if hasattr(model, "variables_tree"):
        try:
            expected = model.variables_tree
        except Exception:  # an unbuilt facade model: nothing to compare against yet
            expected = None
    if expected is None and hasattr(model, "init"):
        import jax

        specs = [jax.ShapeDtypeStruct(tuple(x.shape), str(x.dtype).split(".")[-1]) for x in inputs
                 if isinstance(x, torch.Tensor)]
        try:
            expected = jax.eval_shape(lambda: model.init(jax.random.key(0), *specs))
        except Exception:  # the model cannot say; apply will raise its own error
            return
    name = getattr(model, "name", type(model).__name__)
    for kind, want, got in zip(_KINDS, expected, variables):
        _compare_shapes(name, kind, _shapes(want), _shapes(got))


def _compare_shapes(name, kind, want, got):
    """ValueError naming the first missing, extra or mis-shaped leaf ({path: shape} dicts)."""
    missing = [k for k in want if k not in got]
    if missing:
        raise ValueError(
            f"to_torch: variables do not fit model {name!r}: {kind} leaf {missing[0]!r} is missing "
            f"(expected shape {want[missing[0]]}); {len(missing)} missing in all."
        )
    extra = [k for k in got if k not in want]
    if extra:
        raise ValueError(f"to_torch: variables do not fit model {name!r}: unexpected {kind} leaf {extra[0]!r}.")
    for k, shape in want.items():
        if got[k] != shape:
            raise ValueError(
                f"to_torch: variables do not fit model {name!r}: {kind} leaf {k!r} has shape {got[k]}, "
                f"expected {shape}."
            )


def to_torch(model, variables=None) -> FkerasModule:
    """A `torch.nn.Module` running `model.apply` on torch tensors over a copy of `variables`.

    `model`: anything with the nn protocol (`init`/`apply`): an `fkeras.nn` layer or
    `Sequential`, or a facade model. `variables`: `Variables(params, state)`; when None the
    model's own `variables_tree` is used (facade models), and weights the facade marks frozen
    get `requires_grad=False`. Leaves are copied, so training the
    module never changes the JAX arrays; `to_variables(module)` brings the result back.
    """
    if not hasattr(model, "apply"):
        raise TypeError(f"to_torch: expected a model with `apply` (an fkeras.nn layer or model), got "
                        f"{type(model).__name__}.")
    if variables is None:
        if not hasattr(model, "variables_tree"):
            raise ValueError(
                f"to_torch: {type(model).__name__} holds no variables; pass them: to_torch(model, model.init(rng, x))."
            )
        variables = model.variables_tree
    # Facade models say which weights are frozen (`layer.trainable = False`): no gradient for those.
    mask = model._trainable_mask() if hasattr(model, "_trainable_mask") else None
    return FkerasModule(model, variables, trainable_mask=mask)


def to_variables(module: FkerasModule) -> Variables:
    """`Variables(params, state)` of JAX arrays holding the module's current values (copies)."""
    if not isinstance(module, FkerasModule):
        raise TypeError(f"to_variables: expected a module made by to_torch, got {type(module).__name__}.")
    torch_vars = module.torch_variables()

    def to_jax(t):
        return dlpack.to_jax(t.detach().clone())

    return Variables(*(_unflatten([(p, to_jax(v)) for p, v in _flatten(tree)]) for tree in torch_vars))
