"""Keras learning-rate schedules as pure functions of the optimizer step (jit-traceable).

`schedule(step) -> learning rate`, where `step` is the number of updates already applied
(Keras's `optimizer.iterations`). Each class keeps Keras's arguments and `get_config()`.
"""

from __future__ import annotations

import math

import jax.numpy as jnp


class LearningRateSchedule:
    """Base class: implement `__call__(step)` and `get_config()`."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()`.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_steps(name, decay_steps):
    if decay_steps is None or decay_steps <= 0:
        raise ValueError(f"{name}: expected `decay_steps` > 0, got {decay_steps!r}.")


class _RateDecay(LearningRateSchedule):
    """Schedules of `initial_learning_rate`, `decay_steps`, `decay_rate` and `staircase` (Keras's arguments),
    driven by the progress `step / decay_steps` (floored if `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        _check_steps(type(self).__name__, decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def _progress(self, step):
        p = jnp.asarray(step, jnp.float32) / self.decay_steps
        return jnp.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored exponent if `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * jnp.power(jnp.float32(self.decay_rate), self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while step <= boundaries[0], `values[i]` in (boundaries[i-1], boundaries[i]], then `values[-1]`."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("PiecewiseConstantDecay: expected len(values) == len(boundaries) + 1, got "
                             f"{len(boundaries)} boundaries and {len(values)} values.")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        step = jnp.asarray(step)
        idx = jnp.searchsorted(jnp.asarray(self.boundaries, step.dtype), step, side="left")
        return jnp.asarray(self.values, jnp.float32)[idx]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored if `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`; with `cycle`, decay_steps grows
    to the next multiple of itself instead of holding at `end_learning_rate`."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_steps("PolynomialDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = end_learning_rate, power, cycle, name

    def __call__(self, step):
        step = jnp.asarray(step, jnp.float32)
        steps = jnp.float32(self.decay_steps)
        if self.cycle:
            steps = steps * jnp.where(step == 0, 1.0, jnp.ceil(step / self.decay_steps))
        else:
            step = jnp.minimum(step, steps)
        p = step / steps
        return (self.initial_learning_rate - self.end_learning_rate) * jnp.power(1.0 - p, self.power) \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from `initial_learning_rate` to `warmup_target` over `warmup_steps`, then
    cosine decay over `decay_steps` down to `alpha` times the starting value."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_steps("CosineDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        frac = step / self.decay_steps
        cos = 0.5 * (1.0 + jnp.cos(math.pi * frac))
        return decay_from * ((1 - self.alpha) * cos + self.alpha)

    def __call__(self, step):
        step = jnp.asarray(step, jnp.float32)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, self.decay_steps), jnp.float32(self.initial_learning_rate))
        step = jnp.minimum(step, self.decay_steps + self.warmup_steps)
        warm = (self.warmup_target - self.initial_learning_rate) * (step / max(self.warmup_steps, 1)) \
            + self.initial_learning_rate
        return jnp.where(step < self.warmup_steps, warm,
                         self._decay(step - self.warmup_steps, jnp.float32(self.warmup_target)))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay from `initial_learning_rate` to `alpha` times it over `first_decay_steps`, then a
    restart; each period is `t_mul` times longer than the last and starts `m_mul` times lower."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        if first_decay_steps is None or first_decay_steps <= 0:
            raise ValueError("CosineDecayRestarts: expected `first_decay_steps` > 0, got "
                             f"{first_decay_steps!r}.")
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step):
        frac = jnp.asarray(step, jnp.float32) / jnp.float32(self.first_decay_steps)
        t_mul = jnp.float32(self._t_mul)
        if self._t_mul == 1.0:
            i_restart = jnp.floor(frac)
            frac = frac - i_restart
        else:  # period i lasts t_mul**i: the restart index from the geometric sum
            i_restart = jnp.floor(jnp.log(1.0 - frac * (1.0 - t_mul)) / jnp.log(t_mul))
            sum_r = (1.0 - jnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            frac = (frac - sum_r) / jnp.power(t_mul, i_restart)
        cosine = 0.5 * jnp.power(jnp.float32(self._m_mul), i_restart) * (1.0 + jnp.cos(jnp.float32(math.pi) * frac))
        alpha = jnp.float32(self.alpha)
        return jnp.float32(self.initial_learning_rate) * ((1 - alpha) * cosine + alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_ALL = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay,
                                CosineDecay, CosineDecayRestarts)}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    cls = _ALL.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown learning rate schedule {config.get('class_name')!r}; expected one of {sorted(_ALL)}.")
    return cls.from_config(config["config"])
