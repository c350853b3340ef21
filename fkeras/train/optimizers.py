"""Keras 3 optimizers as optax gradient transformations over parameter pytrees.

Each optimizer reproduces Keras 3's update formulas (epsilon placement, bias correction,
clipping and decoupled weight decay order) and keeps its whole state, including the
current learning rate and the iteration count, in one pytree (`OptState`), so a jitted
train step can be reused when the learning rate is changed between epochs.

    opt = Adam(1e-3)
    s = opt.init(params)
    params, s = opt.apply(grads, s, params)      # new params directly (what the train step uses)
    updates, s = opt.update(grads, s, params)    # optax protocol: params + updates
    tx = opt.as_optax()                          # an optax.GradientTransformation

Frozen parameters are simply absent (None leaves) from `grads`/`params`: they get no slot,
no update and no weight decay. `LossScaleOptimizer(opt)` adds Keras's dynamic loss scaling around
any of them (what `compile` does under the "mixed_float16" policy).
"""

from __future__ import annotations

import numbers
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fkeras.train import schedules as _schedules


class OptState(NamedTuple):
    """An optimizer's state: `iterations` (int32, updates done), `learning_rate` (float32, the rate of
    the last/next update), `slots` (dict name -> pytree like the params), `extra` (dict of scalars)."""

    iterations: Any
    learning_rate: Any
    slots: Any
    extra: Any


def _is_schedule(lr):
    return isinstance(lr, _schedules.LearningRateSchedule) or (callable(lr) and not isinstance(lr, (int, float)))


def _clip_by_norm(g, clipnorm):
    l2sum = jnp.sum(jnp.square(g))
    pred = l2sum > 0
    l2norm = jnp.where(pred, jnp.sqrt(jnp.where(pred, l2sum, 1.0)), l2sum)
    return g * clipnorm / jnp.maximum(l2norm, clipnorm)


def _owner_state(opt):
    """(owner Trainer or None, its TrainState or None, the raw `opt_state` there or None)."""
    owner = opt._owner() if opt._owner is not None else None
    ts = getattr(owner, "train_state", None) if owner is not None else None
    return owner, ts, getattr(ts, "opt_state", None)


def _wrapper_of(opt):
    """The live LossScaleOptimizer wrapping `opt` (its state holds `opt`'s), or None."""
    return opt._parent() if opt._parent is not None else None


def _state_in_wrapper(parent):
    """(owner, TrainState, the inner optimizer's state) read through the wrapping `parent`."""
    owner, ts, st = parent._live_state()
    return owner, ts, None if st is None else st.inner


def _set_state_in_wrapper(parent, new):
    """Replace the inner optimizer's state inside the wrapping `parent`'s live state."""
    _, _, st = parent._live_state()
    if st is not None:
        parent._set_live_state(st._replace(inner=new))


class Optimizer:
    """Base: Keras arguments `learning_rate`, `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`.

    Subclasses declare `_slots` (name -> initial value) and implement `_update_leaf`.
    """

    _slots: dict = {}

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}.")
        if use_ema or gradient_accumulation_steps or loss_scale_factor:
            raise ValueError(f"{type(self).__name__}: use_ema, gradient_accumulation_steps and loss_scale_factor "
                             "are not supported yet; expected their defaults.")
        given = [n for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"{type(self).__name__}: only one of clipnorm, clipvalue and global_clipnorm can be "
                             f"set, got {given}.")
        if not _is_schedule(learning_rate):
            try:
                learning_rate = float(learning_rate)
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}: expected `learning_rate` to be a float or a "
                                f"LearningRateSchedule, got {learning_rate!r}.") from None
            if learning_rate < 0:
                raise ValueError(f"{type(self).__name__}: expected learning_rate >= 0, got {learning_rate}.")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        from fkeras.nn.base import snake_case

        self.name = name or snake_case(type(self).__name__)
        self._owner = None  # weakref to the Trainer whose TrainState holds this optimizer's state

    # -- the learning rate ----------------------------------------------------------------
    def lr_at(self, state: OptState):
        """The learning rate for the update that `state` is about to take."""
        if _is_schedule(self._learning_rate):
            return jnp.asarray(self._learning_rate(state.iterations), jnp.float32)
        return state.learning_rate

    _state_type = OptState  # the pytree type `init` returns
    _parent = None  # weakref to the LossScaleOptimizer wrapping this one: its state holds ours

    def _live_state(self):
        """(owner Trainer or None, its TrainState or None, this optimizer's current state or None)."""
        parent = _wrapper_of(self)
        if parent is not None:
            return _state_in_wrapper(parent)
        owner, ts, st = _owner_state(self)
        if not isinstance(st, self._state_type) and owner is None and self.__dict__.get("_eager_state") is not None:
            return None, None, self._eager_state[1]
        return owner, ts, st if isinstance(st, self._state_type) else None

    def _set_live_state(self, new):
        """Replace the current state (in the owner's TrainState, the wrapper's state, or the eager state)."""
        parent = _wrapper_of(self)
        if parent is not None:
            return _set_state_in_wrapper(parent, new)
        owner, ts, st = self._live_state()
        if st is None:
            return
        if owner is None:
            self._eager_state = (self._eager_state[0], new)
        else:
            owner.train_state = ts.replace(opt_state=new)

    @property
    def learning_rate(self):
        """Current learning rate (a float). Setting it writes into the live TrainState; no recompile."""
        _, _, st = self._live_state()
        if st is not None:
            return float(self.lr_at(st))
        if _is_schedule(self._learning_rate):
            return float(self._learning_rate(0))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if _is_schedule(self._learning_rate):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate`; its learning rate cannot be set directly.")
        value = float(value)
        self._learning_rate = value
        _, _, st = self._live_state()
        if st is not None:
            self._set_live_state(st._replace(learning_rate=jnp.asarray(value, jnp.float32)))

    lr = learning_rate

    @property
    def iterations(self):
        _, _, st = self._live_state()
        return 0 if st is None else int(st.iterations)

    # -- pure API ---------------------------------------------------------------------------
    def init(self, params) -> OptState:
        lr = 0.0 if _is_schedule(self._learning_rate) else self._learning_rate
        slots = {n: jax.tree.map(lambda p, v=v: jnp.full(p.shape, v, p.dtype), params) for n, v in self._slots.items()}
        return OptState(jnp.zeros((), jnp.int32), jnp.asarray(lr, jnp.float32), slots, self._extra_init())

    def _extra_init(self):
        return {}

    def _extra_update(self, extra, t):
        return extra

    def _update_leaf(self, g, p, slots, lr, t, extra):
        """One variable's update: returns (new_p, new_slots). `t` = iterations before this update."""
        raise NotImplementedError

    def _clip(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return jax.tree.map(lambda g: _clip_by_norm(g, self.clipnorm), grads)
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = optax.global_norm(grads)
            scale = self.global_clipnorm * jnp.minimum(1.0 / norm, 1.0 / self.global_clipnorm) + (norm - norm)
            return jax.tree.map(lambda g: g * scale, grads)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return jax.tree.map(lambda g: jnp.clip(g, -v, v), grads)
        return grads

    def _apply_pure(self, grads, state: OptState, params):
        """Keras's update: clip, decoupled weight decay, then the update rule. Returns (params, state)."""
        t = state.iterations
        lr = self.lr_at(state)
        grads = self._clip(grads)
        leaves_g, treedef = jax.tree.flatten(grads)
        leaves_p = treedef.flatten_up_to(params)
        slot_leaves = {n: treedef.flatten_up_to(s) for n, s in state.slots.items()}
        if self.weight_decay:
            wd = jnp.float32(self.weight_decay)
            leaves_p = [p - p * wd * lr.astype(p.dtype) for p in leaves_p]
        extra = self._extra_update(state.extra, t)
        new_p, new_slots = [], {n: [] for n in slot_leaves}
        for i, (g, p) in enumerate(zip(leaves_g, leaves_p)):
            s = {n: v[i] for n, v in slot_leaves.items()}
            np_, ns = self._update_leaf(g.astype(p.dtype), p, s, lr.astype(p.dtype), t, extra)
            new_p.append(np_)
            for n in new_slots:
                new_slots[n].append(ns[n])
        params = jax.tree.unflatten(treedef, new_p)
        slots = {n: jax.tree.unflatten(treedef, v) for n, v in new_slots.items()}
        lr_next = state.learning_rate if not _is_schedule(self._learning_rate) else lr
        return params, OptState(t + 1, lr_next, slots, extra)

    def update(self, grads, state: OptState, params=None):
        """optax's `update`: returns (updates, new_state) with `params + updates` = Keras's new params."""
        if params is None:
            raise ValueError(f"{type(self).__name__}.update needs `params` (Keras optimizers read the weights).")
        new_params, state = self._apply_pure(grads, state, params)
        return jax.tree.map(lambda n, p: n - p, new_params, params), state

    def as_optax(self) -> optax.GradientTransformation:
        return optax.GradientTransformation(self.init, self.update)

    def scale_loss(self, loss, state=None):
        """The loss to differentiate: unchanged here (a `LossScaleOptimizer` multiplies it by its scale)."""
        return loss

    # -- Keras's stateful face (eager loops over fkeras.Variable objects) ------------------
    def apply_gradients(self, grads_and_vars):
        """Update variables in place from `(gradient, variable)` pairs; the optimizer keeps the state."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            return self.iterations
        grads, variables = [g for g, _ in pairs], [v for _, v in pairs]
        return self.apply(grads, variables)

    def apply(self, grads, trainable_variables=None, *more):
        """Two forms: the pure `apply(grads, opt_state, params) -> (params, opt_state)`, and Keras's
        stateful `apply(grads, variables)` that assigns new values to `variables` (objects with
        `.value`/`.assign`)."""
        if more or isinstance(trainable_variables, self._state_type):
            return self._apply_pure(grads, trainable_variables, *more)
        variables = list(trainable_variables)
        grads = [jnp.asarray(g) for g in grads]
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for {len(variables)} variables.")
        values = [jnp.asarray(getattr(v, "value", v)) for v in variables]
        key = tuple(id(v) for v in variables)
        st = self.__dict__.get("_eager_state")
        if st is None or st[0] != key:
            st = (key, self.init(values))
        new, opt_state = self._apply_pure(grads, st[1], values)
        self._eager_state = (key, opt_state)
        for v, w in zip(variables, new):
            v.assign(w)
        return opt_state.iterations

    @property
    def variables(self):
        """The optimizer's state arrays (iterations, learning rate, slots...) as a flat list."""
        _, _, st = self._live_state()
        if st is None and self.__dict__.get("_eager_state") is not None:
            st = self._eager_state[1]
        return [] if st is None else jax.tree.leaves(st)

    # -- Keras-JAX custom train_step -------------------------------------------------------
    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Lists in, lists out: `(new_trainable_variables, new_optimizer_variables)`."""
        trainable_variables, grads = list(trainable_variables), list(grads)
        treedef = jax.tree.structure(self.init(trainable_variables))
        state = jax.tree.unflatten(treedef, list(optimizer_variables))
        params, state = self._apply_pure(grads, state, trainable_variables)
        return list(params), jax.tree.leaves(state)

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class SGD(Optimizer):
    """Plain SGD, or momentum `m = momentum*m - lr*g; p += m` (Nesterov: `p += momentum*m - lr*g`)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: expected `momentum` a float in [0, 1], got {momentum!r}.")
        self.momentum, self.nesterov = float(momentum), nesterov
        self._slots = {"momentum": 0.0} if self.momentum != 0 else {}

    def _update_leaf(self, g, p, s, lr, t, extra):
        if not self._slots:
            return p - g * lr, {}
        m = s["momentum"] * self.momentum - g * lr
        if self.nesterov:
            return p + (m * self.momentum - g * lr), {"momentum": m}
        return p + m, {"momentum": m}

    def get_config(self):
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's form: `alpha = lr*sqrt(1-b2^t)/(1-b1^t)`, `p -= alpha*m/(sqrt(v)+eps)`."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        self._slots = {"momentum": 0.0, "velocity": 0.0} | ({"velocity_hat": 0.0} if amsgrad else {})

    def _update_leaf(self, g, p, s, lr, t, extra):
        step = (t + 1).astype(p.dtype)
        alpha = lr * jnp.sqrt(1 - jnp.power(self.beta_2, step)) / (1 - jnp.power(self.beta_1, step))
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        v = s["velocity"] + (jnp.square(g) - s["velocity"]) * (1 - self.beta_2)
        new = {"momentum": m, "velocity": v}
        if self.amsgrad:
            v = new["velocity_hat"] = jnp.maximum(s["velocity_hat"], v)
        return p - (m * alpha) / (jnp.sqrt(v) + self.epsilon), new

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                                       "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay `p -= p*weight_decay*lr` before each update (default 0.004)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: expected a float `weight_decay`, got None.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name=name, **kwargs)


class RMSprop(Optimizer):
    """`v = rho*v + (1-rho)*g^2; p -= lr*g/sqrt(v + eps)` (centered: subtract the mean gradient^2;
    momentum: accumulate the increments)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self._slots = {"velocity": 0.0} | ({"momentum": 0.0} if momentum > 0 else {}) | (
            {"average_gradient": 0.0} if centered else {})

    def _update_leaf(self, g, p, s, lr, t, extra):
        v = self.rho * s["velocity"] + (1 - self.rho) * jnp.square(g)
        new = {"velocity": v}
        if self.centered:
            ag = new["average_gradient"] = self.rho * s["average_gradient"] + (1 - self.rho) * g
            denom = v - jnp.square(ag) + self.epsilon
        else:
            denom = v + self.epsilon
        inc = lr * g / jnp.sqrt(denom)
        if self.momentum > 0:
            m = new["momentum"] = self.momentum * s["momentum"] + inc
            return p - m, new
        return p - inc, new

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                                       "centered": self.centered}


class Adagrad(Optimizer):
    """`acc += g^2; p -= lr*g/sqrt(acc + eps)`, acc starting at `initial_accumulator_value`."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adagrad", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        self._slots = {"accumulator": float(initial_accumulator_value)}

    def _update_leaf(self, g, p, s, lr, t, extra):
        acc = s["accumulator"] + jnp.square(g)
        return p - lr * g / jnp.sqrt(acc + self.epsilon), {"accumulator": acc}

    def get_config(self):
        return super().get_config() | {"initial_accumulator_value": self.initial_accumulator_value,
                                       "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras's momentum schedule `u_t = b1*(1 - 0.5*0.96^t)`."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="nadam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._slots = {"momentum": 0.0, "velocity": 0.0}

    def _extra_init(self):
        return {"u_product": jnp.ones((), jnp.float32)}

    def _extra_update(self, extra, t):
        step = (t + 1).astype(jnp.float32)
        return {"u_product": extra["u_product"] * self.beta_1 * (1.0 - 0.5 * jnp.power(0.96, step))}

    def _update_leaf(self, g, p, s, lr, t, extra):
        dt = p.dtype
        step, nxt = (t + 1).astype(dt), (t + 2).astype(dt)
        u_t = self.beta_1 * (1.0 - 0.5 * jnp.power(jnp.asarray(0.96, dt), step))
        u_t1 = self.beta_1 * (1.0 - 0.5 * jnp.power(jnp.asarray(0.96, dt), nxt))
        u_prod = extra["u_product"].astype(dt)
        u_prod1 = u_prod * u_t1
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        v = s["velocity"] + (jnp.square(g) - s["velocity"]) * (1 - self.beta_2)
        m_hat = u_t1 * m / (1 - u_prod1) + (1 - u_t) * g / (1 - u_prod)
        v_hat = v / (1 - jnp.power(jnp.asarray(self.beta_2, dt), step))
        return p - m_hat * lr / (jnp.sqrt(v_hat) + self.epsilon), {"momentum": m, "velocity": v}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Lion(Optimizer):
    """`p -= lr*sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g`."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="lion", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: expected beta_1 in (0, 1], got {beta_1}.")
        self.beta_1, self.beta_2 = beta_1, beta_2
        self._slots = {"momentum": 0.0}

    def _update_leaf(self, g, p, s, lr, t, extra):
        m = s["momentum"]
        new_p = p - lr * jnp.sign(m * self.beta_1 + g * (1.0 - self.beta_1))
        return new_p, {"momentum": m * self.beta_2 + g * (1.0 - self.beta_2)}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2}


class OptaxOptimizer:
    """Any `optax.GradientTransformation` used as a compile() optimizer.

    `learning_rate` reads/writes the `learning_rate` hyperparameter when the transform was built
    with `optax.inject_hyperparams` (so callbacks can change it without recompiling).
    """

    def __init__(self, tx: optax.GradientTransformation, name="optax"):
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError(f"OptaxOptimizer: expected an optax.GradientTransformation, got {type(tx).__name__}.")
        self.tx, self.name, self._owner = tx, name, None

    def init(self, params):
        return self.tx.init(params)

    def apply(self, grads, state, params):
        updates, state = self.tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def update(self, grads, state, params=None):
        return self.tx.update(grads, state, params)

    def as_optax(self):
        return self.tx

    _parent = None  # weakref to a wrapping LossScaleOptimizer (whose state holds this one's)

    def scale_loss(self, loss, state=None):
        """The loss to differentiate: unchanged (loss scaling is `LossScaleOptimizer`'s job)."""
        return loss

    def _state(self):
        parent = _wrapper_of(self)
        return _state_in_wrapper(parent) if parent is not None else _owner_state(self)

    def _set_state(self, owner, ts, new):
        parent = _wrapper_of(self)
        if parent is not None:
            _set_state_in_wrapper(parent, new)
        else:
            owner.train_state = ts.replace(opt_state=new)

    @property
    def learning_rate(self):
        _, _, st = self._state()
        if st is None:
            return None
        try:
            return float(optax.tree_utils.tree_get(st, "learning_rate"))
        except KeyError:
            return None

    @learning_rate.setter
    def learning_rate(self, value):
        owner, ts, st = self._state()
        try:
            old = optax.tree_utils.tree_get(st, "learning_rate") if st is not None else None
        except KeyError:
            old = None
        if old is None:
            raise TypeError("This optax optimizer has no `learning_rate` hyperparameter in its state; build it with "
                            "`optax.inject_hyperparams(optax.adam)(learning_rate=...)` to change it during training.")
        # same dtype and weak type as before, so the jitted step is reused
        new = jnp.asarray(float(value)) if getattr(old, "weak_type", False) else jnp.asarray(value, old.dtype)
        self._set_state(owner, ts, optax.tree_utils.tree_set(st, learning_rate=new))

    @property
    def iterations(self):
        _, _, st = self._state()
        counts = optax.tree_utils.tree_get_all_with_path(st, "count") if st is not None else []
        return int(counts[0][1]) if counts else 0

    @property
    def variables(self):
        _, _, st = self._state()
        return [] if st is None else jax.tree.leaves(st)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        trainable_variables = list(trainable_variables)
        treedef = jax.tree.structure(self.init(trainable_variables))
        params, state = self.apply(list(grads), jax.tree.unflatten(treedef, list(optimizer_variables)),
                                   trainable_variables)
        return list(params), jax.tree.leaves(state)

    def __repr__(self):
        return f"<OptaxOptimizer {self.tx!r:.60}>"


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


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around another optimizer (Keras 3's rule), against float16 gradient underflow.

    The train step differentiates `scale_loss(loss) = loss * dynamic_scale`; `apply` then checks the
    gradients: all finite -> divide them by the scale, run the inner optimizer, and double the scale
    after `dynamic_growth_steps` finite steps in a row; any inf/nan -> skip the update (params and the
    inner state unchanged) and halve the scale. `compile()` wraps the optimizer in one automatically
    when the model's dtype policy is "mixed_float16" (`auto_scale_loss=True`).
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
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real) \
                or not 0 < initial_scale < float("inf"):
            raise ValueError(f"LossScaleOptimizer: expected `initial_scale` a finite number > 0, got "
                             f"{initial_scale!r}.")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, numbers.Integral) \
                or dynamic_growth_steps < 1:
            raise ValueError(f"LossScaleOptimizer: expected `dynamic_growth_steps` an int >= 1, got "
                             f"{dynamic_growth_steps!r}.")
        super().__init__(0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        inner_optimizer._parent = weakref.ref(self)

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

    # -- pure API ---------------------------------------------------------------------------
    def init(self, params) -> LossScaleState:
        return LossScaleState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32),
                              jnp.asarray(self.initial_scale, jnp.float32), self.inner_optimizer.init(params))

    def _apply_pure(self, grads, state: LossScaleState, params):
        leaves = jax.tree.leaves(grads)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in leaves])) if leaves else jnp.bool_(True)
        scale = state.dynamic_scale

        def step(operands):
            grads, state, params = operands
            unscaled = jax.tree.map(lambda g: g / scale, grads)
            new_params, inner = self.inner_optimizer.apply(unscaled, state.inner, params)
            grow = state.step_counter == self.dynamic_growth_steps - 1
            new = state._replace(step_counter=jnp.where(grow, 0, state.step_counter + 1).astype(jnp.int32),
                                 dynamic_scale=jnp.where(grow, scale * 2.0, scale), inner=inner)
            # same dtypes as the skip branch (lax.cond requires it)
            return jax.tree.map(lambda n, o: jnp.asarray(n, jnp.result_type(o)), (new_params, new), (params, state))

        def skip(operands):
            _, state, params = operands
            return params, state._replace(step_counter=jnp.zeros((), jnp.int32), dynamic_scale=scale * 0.5)

        return jax.lax.cond(finite, step, skip, (grads, state, params))

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
        owner, _, _ = _owner_state(self)
        step_vars = owner.__dict__.get("_step_opt_vars") if owner is not None else None
        if step_vars is not None:  # set by the Trainer while it traces a custom train_step
            return step_vars[3]
        _, _, st = self._live_state()
        return self.initial_scale if st is None else st.dynamic_scale

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        from fkeras.saving.serialization_lib import serialize_keras_object

        return {"name": self.name, "inner_optimizer": serialize_keras_object(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "inner_optimizer" not in config:
            raise ValueError(f"LossScaleOptimizer.from_config: the config has no 'inner_optimizer'; got keys "
                             f"{sorted(config)}.")
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            if inner.get("class_name") in _ALL:
                inner = get(inner)
            else:
                from fkeras.saving.serialization_lib import deserialize_keras_object

                inner = deserialize_keras_object(inner, custom_objects=custom_objects)
        return cls(inner, **config)

    def __repr__(self):
        return f"<LossScaleOptimizer name={self.name} inner={self.inner_optimizer!r}>"


_ALL = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad, "Nadam": Nadam,
        "Lion": Lion, "LossScaleOptimizer": LossScaleOptimizer}


def get(identifier):
    """An optimizer from an instance, a name ("adam", "SGD", ...), a `{"class_name", "config"}` dict, or
    an `optax.GradientTransformation` (wrapped in `OptaxOptimizer`)."""
    if isinstance(identifier, (Optimizer, OptaxOptimizer)):
        return identifier
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    if isinstance(identifier, dict):
        cls = _ALL.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown optimizer class {identifier.get('class_name')!r}; expected one of {sorted(_ALL)}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        table = {k.lower(): v for k, v in _ALL.items() if v is not LossScaleOptimizer}  # it needs an inner one
        cls = table.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Expected one of {sorted(table)} or an "
                             "fkeras.optimizers.Optimizer instance.")
        return cls()
    raise TypeError(f"Expected an optimizer (str or Optimizer), got {type(identifier).__name__}: {identifier!r}.")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    return get(config)


def _bind(optimizer: Optimizer, owner) -> None:
    """Let `optimizer.learning_rate` read and write the TrainState of `owner` (a Trainer)."""
    optimizer._owner = weakref.ref(owner)
    optimizer._parent = None  # compiled as itself: its state is the TrainState's, not inside a wrapper's
    if isinstance(optimizer, LossScaleOptimizer):
        optimizer.inner_optimizer._parent = weakref.ref(optimizer)

