"""Weight initializers with Keras names, defaults and fan rules, drawing from explicit JAX keys.

An initializer is called as `init(shape, dtype=None, key=None)`. Pure code passes `key`;
Keras-style code (`GlorotNormal(seed=1)(shape)`) may leave it out, and then the
initializer's own `seed` (or a fresh one) is used.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.nn import registration
from fkeras.nn._lookup import Configurable, make_get
from fkeras.nn.base import snake_case


def _fans(shape, input_axes=None, output_axes=None):
    """Keras's fan computation: (fan_in, fan_out); conv kernels multiply by the receptive field."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(Configurable):
    """Base class: subclasses implement `draw(key, shape, dtype)`."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None, key=None):
        dtype = jnp.dtype(dtype or "float32")
        if key is None:
            key = jax.random.key(self.seed if self.seed is not None else np.random.randint(2**31))
        return self.draw(key, tuple(int(d) for d in shape), dtype)

    def draw(self, key, shape, dtype):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def draw(self, key, shape, dtype):
        return jnp.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def draw(self, key, shape, dtype):
        return self.mean + self.stddev * jax.random.normal(key, shape, dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def draw(self, key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def draw(self, key, shape, dtype):
        return self.mean + self.stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        self.input_axes, self.output_axes = input_axes, output_axes
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "VarianceScaling: distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', "
                f"got {distribution!r}."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def draw(self, key, shape, dtype):
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / 0.87962566103423978
            return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
        if self.distribution == "untruncated_normal":
            return math.sqrt(scale) * jax.random.normal(key, shape, dtype)
        limit = math.sqrt(3.0 * scale)
        return jax.random.uniform(key, shape, dtype, -limit, limit)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution):
    class Preset(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    Preset.__name__ = Preset.__qualname__ = name
    return Preset


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def draw(self, key, shape, dtype):
        return self.gain * jax.nn.initializers.orthogonal()(key, shape, dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = gain

    def draw(self, key, shape, dtype):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer expects a 2D shape, got {shape}.")
        return self.gain * jnp.eye(*shape, dtype=dtype)

    def get_config(self):
        return {} if self.gain == 1.0 else {"gain": self.gain}  # Keras 3.15 writes {}


class STFT(Initializer):
    """Kernel of a short-time Fourier transform as a conv: shape (frame_length, input_channels, fft_bins),
    the cosine (`side="real"`) or sine (`side="imag"`) of -2*pi*t*f, times `window` (a scipy.signal window
    name or an array of length frame_length) divided by its "density" (L2) or "spectrum" (L1) scaling."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        super().__init__()
        if side not in ("real", "imag"):
            raise ValueError(f"side should be 'real' or 'imag', not {side}")
        if isinstance(window, str):
            import scipy.signal

            scipy.signal.get_window(window, 1)  # raises for an unknown window name
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"Scaling is invalid, it must be `None`, 'density' or 'spectrum'. Received scaling={scaling}")
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def draw(self, key, shape, dtype):
        if len(shape) != 3:
            raise ValueError(f"STFT initializer expects a shape (frame_length, input_channels, fft_bins), got {shape}.")
        frame_length, _, bins = shape
        time = np.arange(frame_length, dtype="float64").reshape(frame_length, 1, 1)
        freq = np.arange(bins, dtype="float64").reshape(1, 1, bins) / ((bins - 1) * 2)
        args = -2 * time * freq * np.pi
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                import scipy.signal

                win = scipy.signal.get_window(win, frame_length, self.periodic)
            win = np.asarray(win, "float64")
            if win.ndim != 1 or win.shape[-1] != frame_length:
                raise ValueError(f"The shape of `window` must be equal to [frame_length].Received: window shape={win.shape}")
            win = win.reshape(frame_length, 1, 1)
            scale = {"density": np.sqrt(np.sum(win ** 2)), "spectrum": np.sum(np.abs(win))}.get(self.scaling, 1.0)
            kernel = kernel * win / scale
        return jnp.asarray(np.broadcast_to(kernel, shape), dtype)

    def get_config(self):
        return {"side": self.side, "window": self.window, "periodic": self.periodic, "scaling": self.scaling}


_ALL = [
    Constant, Zeros, Ones, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal, Identity, STFT,
]
_BY_NAME = {snake_case(c.__name__): c for c in _ALL} | {c.__name__: c for c in _ALL}
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal, "random_uniform": RandomUniform,
                 "random_normal": RandomNormal, "truncated_normal": TruncatedNormal, "orthogonal": Orthogonal,
                 "variance_scaling": VarianceScaling})
_BY_NAME.update({"zeros": Zeros, "ones": Ones, "constant": Constant, "identity": Identity, "stft": STFT,
                 "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal, "STFTInitializer": STFT})

# Keras's other spellings of the same classes (`keras.initializers.glorot_uniform is GlorotUniform`).
IdentityInitializer, OrthogonalInitializer, STFTInitializer = Identity, Orthogonal, STFT
constant, zeros, ones, identity, orthogonal, stft = Constant, Zeros, Ones, Identity, Orthogonal, STFT
random_normal, random_uniform, truncated_normal, variance_scaling = (RandomNormal, RandomUniform, TruncatedNormal,
                                                                     VarianceScaling)
glorot_normal, glorot_uniform, he_normal, he_uniform, lecun_normal, lecun_uniform = (
    GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform)
_BY_NAME.update({"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
                 "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform})


_get = make_get("initializer", _BY_NAME)


def get(identifier) -> Initializer | None:
    """An initializer from a name (`"glorot_uniform"`), a Keras config dict, an instance or a callable."""
    return identifier if isinstance(identifier, Initializer) else _get(identifier)


def serialize(init) -> dict | None:
    """Keras-style `{"module", "class_name", "config", "registered_name"}` for an initializer."""
    if init is None:
        return None
    registered = registration.GLOBAL_CUSTOM_NAMES.get(type(init))
    return {
        "module": "keras.initializers" if registered is None else type(init).__module__,
        "class_name": type(init).__name__,
        "config": init.get_config(),
        "registered_name": registered,
    }

def deserialize(config, custom_objects=None):
    """An initializer from its Keras config dict (or name); `custom_objects` maps class names to your own."""
    with registration.custom_object_scope(custom_objects):
        return get(config)

# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity", "IdentityInitializer",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "OrthogonalInitializer",
    "RandomNormal", "RandomUniform", "STFT", "STFTInitializer", "TruncatedNormal", "VarianceScaling", "Zeros",
    "constant", "deserialize", "get", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform", "serialize",
    "stft", "truncated_normal", "variance_scaling", "zeros",
]
