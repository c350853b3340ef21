"""Wrappers: `TimeDistributed` (one layer applied to every time step of (batch, timesteps, ...)) and
`SpectralNormalization` (a layer's kernel divided by its largest singular value, by power iteration)."""

from __future__ import annotations

import jax

from fkeras import ops
from fkeras.nn import initializers
from fkeras.nn.base import Container, Variables, as_variables, child_variables, expect_rank, fold_name, init_child
from fkeras.nn.recurrent import _serialize, as_nn_layer, child_layout


class TimeDistributed(Container):
    """Apply `layer` to each slice `inputs[:, t]` with the same weights.

    (batch, timesteps, *in) -> (batch, timesteps, *out). A layer without state runs once on the merged
    (batch * timesteps, ...) input; a layer with state (BatchNormalization) runs step by step with its state
    carried from one step to the next, as Keras calls it once per step. Params nest under the layer's name."""

    stateful = True
    autocast = False  # the inner layer casts for itself

    def __init__(self, layer, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.layer = as_nn_layer(layer, "layer")

    def check_input(self, x, *rest):
        expect_rank(self, x, range(3, 64), "input (batch, timesteps, ...)")

    def build(self, rng, spec, *rest):
        step = jax.ShapeDtypeStruct((spec.shape[0],) + tuple(spec.shape[2:]), spec.dtype)
        params, state = {}, {}
        init_child(self.layer, rng, (step,), params, state)
        return Variables(params, state)

    def apply(self, variables, *inputs, training: bool = False, rng=None, mask=None):
        variables = as_variables(variables)
        self.check_input(*inputs)
        return self.call(variables, *inputs, training=training, rng=rng, mask=mask)

    def call(self, variables, x, training=False, rng=None, mask=None):
        name = self.layer.name
        sub = child_variables(variables, name)
        key = fold_name(rng, name)
        b, t = x.shape[0], x.shape[1]
        if not sub.state:
            y, _ = self.layer.apply(sub, ops.reshape(x, (b * t,) + tuple(x.shape[2:])), training=training, rng=key)
            return ops.reshape(y, (b, t) + tuple(y.shape[1:])), variables.state
        xs = ops.transpose(x, (1, 0) + tuple(range(2, len(x.shape))))

        def step(state, inp):
            x_t, i = inp
            k = None if key is None else jax.random.fold_in(key, i)
            y, new = self.layer.apply(Variables(sub.params, state), x_t, training=training, rng=k)
            return new, y

        state, ys = ops.scan(step, sub.state, (xs, ops.arange(t)))
        ys = ops.transpose(ys, (1, 0) + tuple(range(2, len(ys.shape))))
        return ys, {**variables.state, name: state}

    def children(self):
        return [self.layer]

    def saving_layout(self, params, state):
        """Keras writes the wrapped layer's weights under `<wrapper>/layer`."""
        return [("", [])] + child_layout(self.layer, params, state, "layer")

    def get_config(self):
        return super().get_config() | {"layer": _serialize(self.layer)}


class SpectralNormalization(Container):
    """Spectral normalization of `layer`'s `kernel` (or `embeddings`): in training the kernel is divided
    by sigma, its largest singular value estimated by `power_iterations` steps of power iteration from
    the non-trainable `vector_u` (1, kernel.shape[-1]), and the new `vector_u` is returned in the state;
    u and v enter sigma as constants (stop_gradient). A kernel of all zeros is left as it is. Inference
    runs `layer` on its kernel unchanged (Keras's rule).

    Params nest the wrapped layer's under its name; state: `{"vector_u": (1, units)}` (plus the layer's
    own state). Keras's eager training call also writes the normalized kernel back into the layer; a
    pure layer returns only state, which is what Keras's compiled JAX train step keeps as well."""

    stateful = True
    cast_variables = False  # the wrapped layer casts its own params; u and sigma stay in the variable dtype

    def __init__(self, layer, power_iterations=1, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.layer = as_nn_layer(layer, "layer")
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations <= 0:
            raise ValueError(f"`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations!r}`")
        self.power_iterations = int(power_iterations)

    def check_input(self, x, *rest):
        expect_rank(self, x, range(1, 64), "input")

    def _kernel_key(self, params):
        for key in ("kernel", "embeddings"):
            if key in params:
                return key
        raise self.error(f"{type(self.layer).__name__} object has no attribute 'kernel' nor 'embeddings'")

    def build(self, rng, spec, *rest):
        name = self.layer.name
        v = self.layer.init(fold_name(rng, name), spec)
        kernel = v.params[self._kernel_key(v.params)]
        u = initializers.TruncatedNormal(stddev=0.02)((1, kernel.shape[-1]), kernel.dtype,
                                                      key=fold_name(rng, "vector_u"))
        state = {name: v.state} if v.state else {}
        return Variables({name: v.params}, {**state, "vector_u": u})

    def normalized_weights(self, kernel, vector_u):
        """(new vector_u, kernel / sigma) after `power_iterations` steps from `vector_u`; a kernel of all
        zeros (sigma 0) comes back unchanged, with `vector_u`."""
        shape = tuple(kernel.shape)
        w = ops.reshape(kernel, (-1, shape[-1]))
        u = vector_u
        for _ in range(self.power_iterations):
            v = ops.normalize(ops.matmul(u, ops.transpose(w)), axis=None)
            u = ops.normalize(ops.matmul(v, w), axis=None)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.matmul(ops.matmul(v, w), ops.transpose(u))
        zero = ops.all(ops.equal(kernel, 0))
        sigma = ops.where(zero, ops.ones_like(sigma), sigma)
        new_u = ops.where(zero, vector_u, ops.cast(u, vector_u.dtype))
        return new_u, ops.cast(ops.reshape(ops.divide(w, sigma), shape), kernel.dtype)

    def call(self, variables, x, training=False, rng=None):
        name = self.layer.name
        params, state = dict(variables.params[name]), dict(variables.state)
        if training:
            key = self._kernel_key(params)
            state["vector_u"], params[key] = self.normalized_weights(params[key], state["vector_u"])
        sub = Variables(params, state.get(name, {}))
        y, sub_state = self.layer.apply(sub, x, training=training, rng=fold_name(rng, name))
        if sub_state:
            state[name] = sub_state
        return ops.cast(y, ops.dtype(x)), state

    def children(self):
        return [self.layer]

    def saving_layout(self, params, state):
        """Keras saves the kernel twice: as the wrapper's own variable (before `vector_u`) and in `layer`."""
        name = self.layer.name
        own = [(name, self._kernel_key((params or {}).get(name, {}))), ("vector_u",)]
        return [("", own)] + child_layout(self.layer, params, state, "layer")

    def get_config(self):
        return super().get_config() | {"layer": _serialize(self.layer), "power_iterations": self.power_iterations}
