"""`TFSMLayer`: an endpoint of a TF SavedModel as a pure layer (Keras 3.15's `TFSMLayer`; its facade is
`fkeras.layers.tfsm_layer`).

The variables the endpoints use are the weights (trainable ones params, the others state), keyed by Keras's names
("/" replaced by "_"). On TF tensors (the TF shim) the endpoint runs natively; on JAX arrays through `host_call`
(`jax.pure_callback`, gradients from `tf.GradientTape`). TensorFlow is imported when a layer is made.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fkeras.nn.base import Layer, Variables, unique_name
from fkeras.nn.host_call import host_call, seed_of, tensor_framework
from fkeras.runtime.extras import import_tensorflow

__all__ = ["TFSMLayer"]


def _resolve_endpoint(obj, endpoint):
    if hasattr(obj, endpoint):
        return getattr(obj, endpoint)
    if endpoint in obj.signatures:
        return obj.signatures[endpoint]
    raise ValueError(f"The endpoint '{endpoint}' is neither an attribute of the reloaded SavedModel, nor an entry in "
                     "the `signatures` field of the reloaded SavedModel. Select another endpoint via the "
                     "`call_endpoint` argument. Available endpoints for this SavedModel: "
                     f"{list(obj.signatures.keys())}")


def _variables_used_by(fns):
    """(trainable, non-trainable) tf.Variables the endpoint functions read, in Keras's order."""
    trainable, other, seen = [], [], set()
    for fn in fns:
        if hasattr(fn, "concrete_functions"):
            concrete = fn.concrete_functions
        elif hasattr(fn, "get_concrete_function"):
            concrete = [fn.get_concrete_function()]
        else:
            concrete = [fn]
        for c in concrete:
            for v in c.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    trainable.append(v)
            for v in c.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    other.append(v)
    return trainable, other


class TFSMLayer(Layer):
    """A TF SavedModel endpoint as a pure layer: the trainable variables it reads are params, the others state,
    keyed by Keras's names ("/" replaced by "_"). `apply(variables, x)` returns the endpoint's outputs for `x`
    (`call_training_endpoint`'s when training and given); the state is never changed."""

    autocast = False

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        tf = import_tensorflow("TFSMLayer")
        super().__init__(name=name or unique_name("tfsm_layer"), dtype=dtype, trainable=trainable)
        self.filepath = str(filepath) if not isinstance(filepath, str) else filepath
        self.call_endpoint = call_endpoint
        self.call_training_endpoint = call_training_endpoint
        obj = tf.saved_model.load(self.filepath)
        self.reloaded = obj
        self.call_endpoint_fn = _resolve_endpoint(obj, call_endpoint)
        self.call_training_endpoint_fn = (_resolve_endpoint(obj, call_training_endpoint)
                                          if call_training_endpoint else None)
        fns = [self.call_endpoint_fn] + ([self.call_training_endpoint_fn] if call_training_endpoint else [])
        tvs, ntvs = _variables_used_by(fns)
        names, taken = [], set()
        for v in tvs + ntvs:
            base = v.name.rsplit(":", 1)[0].replace("/", "_")  # Keras's name ("/" -> "_"), without TF's ":0"
            key, i = base, 1
            while key in taken:
                key, i = f"{base}_{i}", i + 1
            taken.add(key)
            names.append(key)
        self.tf_variables = tuple(tvs + ntvs)
        self.param_names = tuple(names[:len(tvs)])
        self.state_names = tuple(names[len(tvs):])
        self._fk_specs = {}  # output structure per input signature (found by one call on zeros): a cache

    def init(self, rng, *input_specs):
        return self.build(rng)  # the weights are the SavedModel's: no input shape needed

    def build(self, rng, *input_specs):
        values = [jnp.asarray(v.numpy()) for v in self.tf_variables]
        n = len(self.param_names)
        return Variables(dict(zip(self.param_names, values[:n])), dict(zip(self.state_names, values[n:])))

    def _endpoint(self, training):
        if training and self.call_training_endpoint_fn is not None:
            return self.call_training_endpoint_fn
        return self.call_endpoint_fn

    def _assign(self, p, s):
        for v, k in zip(self.tf_variables, self.param_names + self.state_names):
            v.assign(p[k] if k in p else s[k])

    def _host_forward(self, p, s, x, seed, training):
        import tensorflow as tf

        self._assign(p, s)
        out = self._endpoint(training)(jax.tree_util.tree_map(tf.constant, x))
        return jax.tree_util.tree_map(lambda t: t.numpy(), out), dict(s)

    def _host_backward(self, p, s, x, seed, cot, training):
        import tensorflow as tf

        self._assign(p, s)
        x_leaves, x_def = jax.tree_util.tree_flatten(x)
        x_t = [tf.constant(a) for a in x_leaves]
        watched = [t for t in x_t if t.dtype.is_floating]
        params = [v for v, k in zip(self.tf_variables, self.param_names)]
        with tf.GradientTape() as tape:
            tape.watch(watched)
            out = self._endpoint(training)(jax.tree_util.tree_unflatten(x_def, x_t))
        outs = jax.tree_util.tree_leaves(out)
        grads = tape.gradient(outs, params + watched, output_gradients=[tf.constant(c, o.dtype) for o, c in
                                                                        zip(outs, cot)])
        to_np = lambda g: None if g is None else tf.convert_to_tensor(g).numpy()  # noqa: E731
        g_params = {k: to_np(g) for k, g in zip(self.param_names, grads[:len(params)])}
        g_watched = iter(grads[len(params):])
        g_inputs = [to_np(next(g_watched)) if t.dtype.is_floating else None for t in x_t]
        return g_params, g_inputs

    def call(self, variables, *inputs, training=False, rng=None):
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        framework = tensor_framework((x, variables.params))
        if framework == "tf":
            return self._call_tf(variables.params, variables.state, x, training)
        if framework == "torch":
            raise NotImplementedError("TFSMLayer runs on JAX arrays and TF tensors, not on torch tensors.")
        out, _ = host_call(lambda p, s, xx, seed: self._host_forward(p, s, xx, seed, training),
                            lambda p, s, xx, seed, cot: self._host_backward(p, s, xx, seed, cot, training),
                            dict(variables.params), dict(variables.state), x, seed_of(None, False),
                            self._fk_specs.setdefault(bool(training), {}))
        return out

    def _call_tf(self, params, state, x, training):
        """The endpoint on TF tensors, natively: the SavedModel's variables take the values of `params`/`state`,
        and a custom gradient hands the gradients of those variables back to `params` (so the TF shim trains it)."""
        import tensorflow as tf

        fn = self._endpoint(training)
        n_params = len(self.param_names)
        tvars = self.tf_variables[:n_params]
        flat_x, x_def = jax.tree_util.tree_flatten(x)
        structure = {}

        @tf.custom_gradient
        def run(*args):
            xs, ps = list(args[:len(flat_x)]), args[len(flat_x):]
            for v, value in zip(self.tf_variables, list(ps) + [state[k] for k in self.state_names]):
                v.assign(value)
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = fn(jax.tree_util.tree_unflatten(x_def, xs))
            ys, structure["def"] = jax.tree_util.tree_flatten(y)

            def grad(*dys, variables=None):
                grads = tape.gradient(ys, xs + list(tvars), output_gradients=list(dys))
                return grads, [None] * len(variables or ())

            return ys, grad

        ys = run(*flat_x, *[tf.convert_to_tensor(params[k]) for k in self.param_names])
        return jax.tree_util.tree_unflatten(structure["def"], list(ys))

    def get_config(self):
        return super().get_config() | {"filepath": self.filepath, "call_endpoint": self.call_endpoint,
                                       "call_training_endpoint": self.call_training_endpoint}
