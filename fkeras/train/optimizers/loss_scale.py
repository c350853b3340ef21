"""`LossScaleOptimizer`: Keras 3's dynamic loss scaling around another optimizer, written over `fkeras.ops`."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, check_number, register, registered
from fkeras.train.optimizers.optax_optimizer import OptaxOptimizer
from fkeras.train.state import StateCell


class LossScaleState(NamedTuple):
    """A `LossScaleOptimizer`'s state, its leaves in Keras's `optimizer.variables` order: `iterations` (int32)
    and `learning_rate` (float32), the wrapper's own base variables, which Keras keeps at 0 (the real ones
    are the inner optimizer's); `step_counter` (int32, finite steps since the scale last changed);
    `dynamic_scale` (float32, the current loss scale); `inner` (the inner optimizer's state)."""

    iterations: Any
    learning_rate: Any
    step_counter: Any
    dynamic_scale: Any
    inner: Any


# Keras's base-optimizer arguments LossScaleOptimizer accepts only at their defaults (old configs carry them).
_LSO_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                      "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                      "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _all_finite(leaves):
    """True when every element of every array is finite (`|x| < inf` is False for inf and NaN)."""
    finite = True
    for g in leaves:
        ok = ops.all(ops.abs(g) < float("inf"))
        finite = ok if finite is True else ops.logical_and(finite, ok)
    return finite


def _serialize_inner(opt):
    """The inner optimizer's config as Keras writes it (`serialize_keras_object`'s form)."""
    cls = type(opt)
    builtin = registered().get(cls.__name__) is cls
    return {"module": "keras.optimizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": opt.get_config(), "registered_name": None if builtin else cls.__name__}


@register
class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around another optimizer (Keras 3's rule), against float16 gradient underflow.

    The train step differentiates `scale_loss(loss) = loss * dynamic_scale`; `apply` then checks the
    gradients: all finite -> divide them by the scale, run the inner optimizer, and double the scale
    after `dynamic_growth_steps` finite steps in a row; any inf/nan -> keep params and the inner state
    and halve the scale. `compile()` wraps the optimizer in one automatically when the model's dtype
    policy is "mixed_float16" (`auto_scale_loss=True`).
    """

    _state_type = LossScaleState

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`; set `loss_scale_factor` on the "
                             "inner optimizer instead.")
        for arg, default in _LSO_BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`; set `{arg}` on the "
                                 "`inner_optimizer` instead.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: {sorted(kwargs)}.")
        if not isinstance(inner_optimizer, (Optimizer, OptaxOptimizer)) or isinstance(inner_optimizer,
                                                                                      LossScaleOptimizer):
            raise TypeError("LossScaleOptimizer: expected `inner_optimizer` to be an fkeras optimizer instance "
                            f"(not itself a LossScaleOptimizer), got {type(inner_optimizer).__name__}: "
                            f"{inner_optimizer!r:.80}.")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, (int, float)) \
                or not 0 < initial_scale < float("inf"):
            raise ValueError(f"LossScaleOptimizer: expected `initial_scale` a finite number > 0, got "
                             f"{initial_scale!r}.")
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = check_number("LossScaleOptimizer", "dynamic_growth_steps", dynamic_growth_steps,
                                                 low=1, integral=True)
        super().__init__(0.0, name=name)

    # -- delegated to the inner optimizer -----------------------------------------------------
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def bind_state(self, cell: StateCell, path: tuple = ()):
        """Bind this optimizer at `path` and the inner one at `path + ("inner",)` in the same cell."""
        super().bind_state(cell, path)
        self.inner_optimizer.bind_state(cell, tuple(path) + ("inner",))

    # -- pure API ---------------------------------------------------------------------------
    def init(self, params) -> LossScaleState:
        return LossScaleState(ops.zeros((), "int32"), ops.zeros((), "float32"), ops.zeros((), "int32"),
                              ops.full((), self.initial_scale, dtype="float32"), self.inner_optimizer.init(params))

    def _apply_pure(self, grads, state: LossScaleState, params):
        """Both outcomes computed, one selected with `ops.where` (so the same rule runs on any framework)."""
        finite = _all_finite(jax.tree.leaves(grads))
        scale = state.dynamic_scale
        unscaled = jax.tree.map(lambda g: g / ops.cast(scale, ops.dtype(g)), grads)
        new_params, inner = self.inner_optimizer.apply(unscaled, state.inner, params)
        grow = state.step_counter == self.dynamic_growth_steps - 1
        counter = ops.where(finite, ops.where(grow, 0, state.step_counter + 1), 0)
        new_scale = ops.where(finite, ops.where(grow, scale * 2.0, scale), scale * 0.5)

        def pick(new, old):
            return ops.where(finite, ops.cast(new, ops.dtype(old)), old)

        params = jax.tree.map(pick, new_params, params)
        new = state._replace(step_counter=ops.cast(counter, "int32"), dynamic_scale=ops.cast(new_scale, "float32"),
                             inner=jax.tree.map(pick, inner, state.inner))
        return params, new

    def set_variable_names(self, variables, keras_order=None):
        super().set_variable_names(variables, keras_order)
        inner = getattr(self.inner_optimizer, "set_variable_names", None)
        if inner is not None:
            inner(variables, keras_order)

    def state_to_list(self, state) -> list:
        """Keras's order: the wrapper's four variables, then the inner optimizer's `variables`."""
        return [state.iterations, state.learning_rate, state.step_counter, state.dynamic_scale] + list(
            self.inner_optimizer.state_to_list(state.inner))

    def variable_paths(self, state) -> list:
        """Keras's paths: the wrapper's four, then the inner optimizer's."""
        return [f"{self.name}/{n}" for n in ("iteration", "learning_rate", "step_counter", "dynamic_scale")] + \
            self.inner_optimizer.variable_paths(state.inner)

    def state_from_list(self, values, template):
        values = list(values)
        if len(values) < 4:
            raise ValueError(f"{type(self).__name__}: expected at least 4 optimizer variables, got {len(values)}.")
        return LossScaleState(*values[:4], self.inner_optimizer.state_from_list(values[4:], template.inner))

    def scale_loss(self, loss, state=None):
        """`loss * dynamic_scale`. `state`: this optimizer's `LossScaleState`, or its variables as a flat list
        (Keras's `optimizer_variables`, the scale at index 3); None: the current state (inside a custom
        `train_step`, the step's optimizer variables), else `initial_scale`."""
        if state is None:
            scale = self._current_scale()
        elif isinstance(state, LossScaleState):
            scale = state.dynamic_scale
        elif isinstance(state, (list, tuple)) and len(state) >= 4:
            scale = state[3]
        else:
            raise TypeError(f"{type(self).__name__}.scale_loss: expected `state` to be a LossScaleState, the "
                            f"optimizer variables (a list of >= 4 arrays) or None, got {type(state).__name__}.")
        return loss * scale

    def _current_scale(self):
        traced = self._cell.traced_optimizer_variables  # set by the Trainer while it traces a custom train_step
        if traced is not None:
            return traced[3]
        st = self._state()
        return self.initial_scale if st is None else st.dynamic_scale

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "inner_optimizer": _serialize_inner(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "inner_optimizer" not in config:
            raise ValueError(f"LossScaleOptimizer.from_config: the config has no 'inner_optimizer'; got keys "
                             f"{sorted(config)}.")
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            table = registered()
            name = inner.get("class_name")
            inner_cls = table.get(name) if inner.get("registered_name") in (None, name) else None
            for key in (inner.get("registered_name"), name):
                if inner_cls is None and key in (custom_objects or {}):
                    inner_cls = custom_objects[key]
            if inner_cls is None:
                raise ValueError(f"LossScaleOptimizer.from_config: unknown inner optimizer class {name!r}; expected "
                                 f"one of {sorted(table)} or a class passed in `custom_objects`.")
            inner = inner_cls.from_config(inner.get("config", {}))
        return cls(inner, **config)

    def __repr__(self):
        return f"<LossScaleOptimizer name={self.name} inner={self.inner_optimizer!r}>"
