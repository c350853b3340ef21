"""Recurrent pure layers: the cells (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells), the loop
`RNN(cell)` over `ops.scan`, the layers SimpleRNN / LSTM / GRU, and `Bidirectional`.

Shapes: sequences (batch, timesteps, features) -> (batch, units) or, with `return_sequences`,
(batch, timesteps, units); with `return_state` the final states follow the output as Keras returns
them (`output, h, c` for an LSTM). Params nest the cell's leaves under the cell's name, as Keras's
weight paths (`lstm/lstm_cell/kernel`).

A cell is any nn layer with `state_size` (an int or a list) whose `call(variables, inputs, states,
training=..., rng=...)` returns `(output, new_states)`. The loop hands the cell the same `rng` at
every step, so a cell's dropout mask is drawn once per batch and reused at each step (Keras's rule).

`stateful=True` keeps the final states in the layer's non-trainable `state` (`{"rnn_state":
{"0": h, "1": c}}`) and starts the next call from them; `reset_states(variables)` zeroes them. Keras
does not save these states, and neither does `.keras` saving here (see `saving_layout`).
"""

from __future__ import annotations

import jax

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import activations, regularizers
from fkeras.nn.base import (Container, Layer, Variables, as_variables, cast_floats, child_variables, expect_rank,
                            fold_name, init_child, snake_case)
from fkeras.nn.containers import deserialize, serialize
from fkeras.nn.kernel_bias import RECURRENT_CONSTRAINTS, RECURRENT_REGULARIZERS, KernelBias


# --- helpers ------------------------------------------------------------------------------------
def as_nn_layer(layer, what="layer"):
    """An nn layer from an nn layer, a facade layer (its `nn_layer`) or a Keras/fkeras config dict."""
    if isinstance(layer, Layer):
        return layer
    if isinstance(layer, dict):

        return deserialize(layer)
    nn_layer = getattr(layer, "nn_layer", None)
    if isinstance(nn_layer, Layer):
        return nn_layer
    raise TypeError(f"Expected `{what}` to be an fkeras layer (or its config dict), got {type(layer).__name__}.")


def _serialize(layer):

    return serialize(layer)


def _is_nested(x):
    return isinstance(x, (list, tuple))


def _map2(fn, a, b):
    """`fn` over the leaves of two lists/tuples of the same nesting."""
    if _is_nested(a):
        return [_map2(fn, x, y) for x, y in zip(a, b)]
    return fn(a, b)


def _flatten(tree):
    if _is_nested(tree):
        return [leaf for t in tree for leaf in _flatten(t)]
    return [tree]


def _unflatten(like, leaves):
    """Leaves back into the nesting of `like` (consumes from the list `leaves`)."""
    if _is_nested(like):
        return [_unflatten(t, leaves) for t in like]
    return leaves.pop(0)


def forward_args(args):
    """A constructor's arguments as keywords, its `**kwargs` merged in, from its `locals()` taken first thing:
    for the classes that restate Keras's signature and hand every argument on."""
    return {k: v for k, v in args.items() if k not in ("self", "__class__", "kwargs")} | args.get("kwargs", {})


def _check_rate(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise layer.error(f"expected `{name}` as a float in [0, 1], got {value!r}.")
    return min(1.0, max(0.0, float(value)))


def _check_units(layer, units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise layer.error(f"expected `units` to be a positive int, got {units!r}.")
    return int(units)


def leaf_layout(layer, params, state):
    """`[(relative_path, [leaf paths])]`: where `layer`'s leaves go in a Keras weights file. A layer
    declaring `saving_layout` nests its children at Keras's paths; any other keeps its params then
    its state at its own path (Keras's `layer.weights` order for leaf layers)."""
    fn = getattr(layer, "saving_layout", None)
    if fn is not None:
        return fn(params, state)
    return [("", _leaf_paths(params) + _leaf_paths(state))]


def _leaf_paths(tree, prefix=()):
    out = []
    for k, v in (tree or {}).items():
        if isinstance(v, dict):
            out += _leaf_paths(v, prefix + (k,))
        else:
            out.append(prefix + (k,))
    return out


def _nest(layout, rel, key):
    """A child's layout placed at `rel` (relative path) with its leaves under `key`."""
    return [(f"{rel}/{p}" if p else rel, [(key,) + leaf for leaf in leaves]) for p, leaves in layout]


def child_layout(child, params, state, rel):
    """The layout of a container's `child` (its leaves at `params[child.name]`, `state[child.name]`) placed at
    `rel`, the path Keras writes it under (`cell`, `layer`, `forward_layer`, ...)."""
    layout = leaf_layout(child, (params or {}).get(child.name, {}), (state or {}).get(child.name, {}))
    return _nest(layout, rel, child.name)


class _CellDropout:
    """Dropout masks of a cell, drawn from `rng` (the same at every step, so one mask per batch)."""

    def set_dropout(self, dropout, recurrent_dropout, seed):
        self.dropout = _check_rate(self, "dropout", dropout)
        self.recurrent_dropout = _check_rate(self, "recurrent_dropout", recurrent_dropout)
        self.seed = seed

    def _masks(self, x, h, training, rng, count):
        """(input masks, recurrent masks): each None or a list of `count` masks (one when count=1)."""
        dp = rdp = None
        if not training:
            return dp, rdp
        if rng is None and self.seed is not None:
            rng = jax.random.key(int(self.seed))
        if 0.0 < self.dropout < 1.0:
            dp = self._draw(x, self.dropout, rng, 0, count)
        if 0.0 < self.recurrent_dropout < 1.0:
            rdp = self._draw(h, self.recurrent_dropout, rng, 1, count)
        return dp, rdp

    def _draw(self, like, rate, rng, which, count):
        if rng is None and ops.framework_of(like) == "jax":
            raise self.error("training with dropout needs an `rng` key (or a `seed`); got rng=None.")
        ones = ops.ones_like(like)
        out = []
        for i in range(count):
            key = None if rng is None else jax.random.fold_in(jax.random.fold_in(rng, which), i)
            out.append(frandom.dropout(ones, rate, seed=key))
        return out


class _Cell(KernelBias, Layer, _CellDropout):
    """Shared arguments of the built-in cells (kernel/recurrent kernel/bias ones held by `KernelBias`)."""

    weight_regularizers = RECURRENT_REGULARIZERS
    weight_constraints = RECURRENT_CONSTRAINTS
    n_gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.units = _check_units(self, units)
        self.set_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.set_recurrent_kernel(recurrent_initializer, recurrent_regularizer, recurrent_constraint)
        self.set_dropout(dropout, recurrent_dropout, seed)

    @property
    def output_size(self):
        return self.units

    def check_input(self, x, states=None):
        expect_rank(self, x, 2, "step input (batch, features)")

    def _build_kernels(self, rng, spec, bias_shape, bias_init=None):
        k1, k2, k3 = jax.random.split(rng, 3) if rng is not None else (None, None, None)
        n, dtype = self.n_gates * self.units, self.variable_dtype
        params = {"kernel": self.kernel_initializer((spec.shape[-1], n), dtype, key=k1),
                  "recurrent_kernel": self.recurrent_initializer((self.units, n), dtype, key=k2)}
        if self.use_bias:
            params["bias"] = (bias_init or self.bias_initializer)(bias_shape, dtype, key=k3)
        return Variables(params, {})

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if _is_nested(self.state_size) else [self.state_size]
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def _config(self):
        return {"units": self.units} | self.recurrent_kernel_bias_config() | {
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}

    def get_config(self):
        return super().get_config() | self._config()


class _GatedCell(_Cell):
    """LSTMCell / GRUCell: a cell with a `recurrent_activation` for its gates and Keras's `implementation`
    (1, forced by `recurrent_dropout`: one matmul per gate, each with its own dropout mask)."""

    def __init__(self, units, recurrent_activation="sigmoid", implementation=2, **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = self.lookup(activations.get, recurrent_activation, "recurrent_activation")
        self.implementation = 1 if self.recurrent_dropout else implementation


def _first(states):
    return states[0] if _is_nested(states) else states


def unit_forget_bias_initializer(base, units):
    """An LSTM bias initializer (gates i, f, c, o of `units` each): `base` with the forget gate's part set to
    ones (Keras's `unit_forget_bias`); `base` draws the other parts with the same key."""

    def init(shape, dtype, key=None):
        return ops.concatenate([base((units,), dtype, key=key), ops.ones((units,), dtype),
                                base((2 * units,), dtype, key=key)])
    return init


def lstm_update(cell, z, c_tm1, axis=-1):
    """One LSTM state update from the gate pre-activations `z` (i, f, c, o stacked along `axis`) and the previous
    carry `c_tm1`: `(h, [h, c])`."""
    zi, zf, zc, zo = ops.split(z, 4, axis=axis)  # split's gradient is one concatenate (slices': 4 pads + adds)
    i = cell.recurrent_activation(zi)
    f = cell.recurrent_activation(zf)
    c = f * c_tm1 + i * cell.activation(zc)
    o = cell.recurrent_activation(zo)
    h = o * cell.activation(c)
    return h, [h, c]


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)`.

    x: (batch, features), states: [h_prev (batch, units)] -> (h, [h])."""

    @property
    def state_size(self):
        return self.units

    def build(self, rng, spec, *rest):
        return self._build_kernels(rng, spec, (self.units,))

    def call(self, variables, inputs, states, training=False, rng=None):
        p = variables.params
        prev = _first(states)
        dp, rdp = self._masks(inputs, prev, training, rng, 1)
        if dp is not None:
            inputs = inputs * dp[0]
        h = ops.matmul(inputs, p["kernel"])
        if self.use_bias:
            h = h + p["bias"]
        if rdp is not None:
            prev = prev * rdp[0]
        out = self.activation(h + ops.matmul(prev, p["recurrent_kernel"]))
        return out, ([out] if _is_nested(states) else out)


class LSTMCell(_GatedCell):
    """One LSTM step (gates i, f, c, o in that order along the kernels' last axis).

    x: (batch, features), states: [h, c] (batch, units) each -> (h, [h, c]). `unit_forget_bias` sets
    the forget-gate bias to ones at initialization."""

    n_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, implementation=2, **kwargs):
        args = forward_args(locals())
        self.unit_forget_bias = bool(args.pop("unit_forget_bias"))
        super().__init__(**args)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, rng, spec, *rest):
        init = unit_forget_bias_initializer(self.bias_initializer, self.units) if self.unit_forget_bias else None
        return self._build_kernels(rng, spec, (4 * self.units,), init)

    def call(self, variables, inputs, states, training=False, rng=None):
        p = variables.params
        h_tm1, c_tm1 = states[0], states[1]
        count = 4 if self.implementation == 1 else 1
        dp, rdp = self._masks(inputs, h_tm1, training, rng, count)
        z = _gated_matmul(inputs, p["kernel"], dp, 4) + _gated_matmul(h_tm1, p["recurrent_kernel"], rdp, 4)
        if self.use_bias:
            z = z + p["bias"]
        return lstm_update(self, z, c_tm1)

    def get_config(self):
        return super().get_config() | {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }


def _gated_matmul(x, kernel, masks, n):
    """`x @ kernel`, or with per-gate masks `concat([(x * m_g) @ kernel_g])` (Keras's implementation 1)."""
    if masks is None:
        return ops.matmul(x, kernel)
    if len(masks) == 1:
        return ops.matmul(x * masks[0], kernel)
    size = kernel.shape[-1] // n
    return ops.concatenate([ops.matmul(x * m, kernel[:, g * size:(g + 1) * size]) for g, m in enumerate(masks)],
                           axis=-1)


class GRUCell(_GatedCell):
    """One GRU step (gates z, r, h). `reset_after=True` (Keras's default, cuDNN-compatible) applies the reset
    gate after the recurrent matmul and has a bias of shape (2, 3 * units): input and recurrent biases.

    x: (batch, features), states: [h] -> (h, [h])."""

    n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, implementation=2, **kwargs):
        args = forward_args(locals())
        self.reset_after = bool(args.pop("reset_after"))
        super().__init__(**args)

    @property
    def state_size(self):
        return self.units

    def build(self, rng, spec, *rest):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self._build_kernels(rng, spec, shape)

    def call(self, variables, inputs, states, training=False, rng=None):
        p, u = variables.params, self.units
        h_tm1 = _first(states)
        count = 3 if self.implementation == 1 else 1
        dp, rdp = self._masks(inputs, h_tm1, training, rng, count)
        in_bias = rec_bias = None
        if self.use_bias:
            if self.reset_after:
                in_bias, rec_bias = p["bias"][0], p["bias"][1]
            else:
                in_bias = p["bias"]
        x = _gated_matmul(inputs, p["kernel"], dp, 3)
        if in_bias is not None:
            x = x + in_bias
        rk = p["recurrent_kernel"]
        hm = [h_tm1 * m for m in rdp] if rdp is not None and len(rdp) == 3 else \
            [h_tm1 * rdp[0]] * 3 if rdp is not None else [h_tm1] * 3
        rz = ops.matmul(hm[0], rk[:, :u])
        rr = ops.matmul(hm[1], rk[:, u:2 * u])
        if rec_bias is not None:
            rz, rr = rz + rec_bias[:u], rr + rec_bias[u:2 * u]
        z = self.recurrent_activation(x[:, :u] + rz)
        r = self.recurrent_activation(x[:, u:2 * u] + rr)
        if self.reset_after:
            rh = ops.matmul(hm[2], rk[:, 2 * u:])
            if rec_bias is not None:
                rh = rh + rec_bias[2 * u:]
            rh = r * rh
        else:
            rh = ops.matmul(r * hm[2], rk[:, 2 * u:])
        hh = self.activation(x[:, 2 * u:] + rh)
        h = z * h_tm1 + (1 - z) * hh
        return h, ([h] if _is_nested(states) else h)

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


class StackedRNNCells(Container):
    """Cells run one after another within a step: the output of each is the input of the next.

    states: one entry per cell (each the cell's own state structure)."""

    def __init__(self, cells, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        cells = tuple(as_nn_layer(c, "cells") for c in cells)
        for c in cells:
            if not hasattr(c, "state_size"):
                raise self.error(f"every cell needs a `state_size`; {c.name!r} ({type(c).__name__}) has none.")
        if len({c.name for c in cells}) != len(cells):
            raise self.error(f"cell names must be unique, got {[c.name for c in cells]}.")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        return last.state_size[0] if _is_nested(last.state_size) else last.state_size

    def get_initial_state(self, batch_size=None):
        out = []
        for c in self.cells:
            fn = getattr(c, "get_initial_state", None)
            if fn is not None:
                out.append(fn(batch_size=batch_size))
            elif _is_nested(c.state_size):
                out.append([ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in c.state_size])
            else:
                out.append(ops.zeros((batch_size, c.state_size), dtype=self.compute_dtype))
        return out

    def build(self, rng, spec, *rest):
        params, state = {}, {}
        for c in self.cells:
            init_child(c, rng, (spec,), params, state)
            size = getattr(c, "output_size", None)
            if size is None:
                size = c.state_size[0] if _is_nested(c.state_size) else c.state_size
            spec = jax.ShapeDtypeStruct((spec.shape[0], size), spec.dtype)
        return Variables(params, state)

    def call(self, variables, inputs, states, training=False, rng=None):
        new_states = []
        for c, s in zip(self.cells, states):
            is_list = _is_nested(s)
            s = list(s) if is_list else [s]
            sub = child_variables(variables, c.name)
            (inputs, s), _ = c.apply(sub, inputs, s, training=training, rng=fold_name(rng, c.name))
            s = list(s) if _is_nested(s) else [s]
            if len(s) == 1 and not is_list:
                s = s[0]
            new_states.append(s)
        return inputs, new_states

    def children(self):
        return self.cells

    def saving_layout(self, params, state):
        out, used = [("", [])], {}

        for c in self.cells:
            base = snake_case(type(c).__name__)
            n = used.get(base, -1) + 1
            used[base] = n
            rel = f"cells/{base}" if n == 0 else f"cells/{base}_{n}"
            out += child_layout(c, params, state, rel)
        return out

    def get_config(self):
        return super().get_config() | {"cells": [_serialize(c) for c in self.cells]}


# --- the loop ------------------------------------------------------------------------------------
class _SequenceLayer(Layer):
    """A layer whose `apply` also takes `mask=` and `initial_state=` and always returns its state."""

    def apply(self, variables, *inputs, training: bool = False, rng=None, mask=None, initial_state=None):
        variables = as_variables(variables)
        self.check_input(*inputs)
        run_vars, inputs = self.autocast_args(variables, inputs)
        if self.autocast and initial_state is not None:
            initial_state = cast_floats(initial_state, self.compute_dtype)
        return self.call(run_vars, *inputs, training=training, rng=rng, mask=mask, initial_state=initial_state)


class RNN(Container, _SequenceLayer):
    """Run `cell` over the time axis of (batch, timesteps, features) with `ops.scan` (jit- and grad-able).

    `mask` (batch, timesteps), True = use the step: a masked step keeps the previous states and repeats
    the previous output (zeros with `zero_output_for_mask`). `go_backwards` processes the sequence from its
    end (and returns the outputs in processing order, as Keras). `unroll` unrolls the scan. A list of
    cells becomes a StackedRNNCells."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, name=None, dtype=None, trainable=True,
                 activity_regularizer=None, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        cell = as_nn_layer(cell, "cell")
        size = getattr(cell, "state_size", None)
        if size is None or not isinstance(size, (int, list, tuple)):
            raise self.error(f"the cell needs a `state_size` (an int or a list of ints); "
                             f"{type(cell).__name__} {cell.name!r} has {size!r}.")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.state_size = [size] if isinstance(size, int) else list(size)
        self.single_state = isinstance(size, int)

    def check_input(self, x, *rest):
        expect_rank(self, x, range(3, 64), "input (batch, timesteps, features)")

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is None:
            return [ops.zeros((batch_size, d), dtype=self.cell.compute_dtype) for d in self.state_size]
        state = fn(batch_size=batch_size)
        return list(state) if _is_nested(state) else [state]

    def _zero_states(self, shape):
        """Zero initial states for sequences of `shape` (ConvLSTM's also depend on the spatial axes)."""
        return self.get_initial_state(shape[0])

    def build(self, rng, spec, *rest):
        step = jax.ShapeDtypeStruct((spec.shape[0],) + tuple(spec.shape[2:]), spec.dtype)
        params, state = {}, {}
        init_child(self.cell, rng, (step,), params, state)
        if self.stateful:
            leaves = _flatten(self._zero_states(tuple(spec.shape)))
            state["rnn_state"] = {str(i): ops.cast(s, self.variable_dtype) for i, s in enumerate(leaves)}
        return Variables(params, state)

    supports_masking = True

    def compute_mask(self, inputs, mask):
        """The input's timestep mask for returned sequences (None for the last output and the states)."""
        mask = _first_mask(mask)
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_size) if self.return_state else out

    def reset_states(self, variables):
        """`variables` with the carried states of a `stateful` layer set to zeros (pure)."""
        variables = as_variables(variables)
        if "rnn_state" not in variables.state:
            return variables
        zeroed = {k: ops.zeros_like(v) for k, v in variables.state["rnn_state"].items()}
        return Variables(variables.params, {**variables.state, "rnn_state": zeroed})

    reset_state = reset_states

    def nest_states(self, leaves):
        """The carried states in `rnn_state/<i>` order, nested as Keras's `layer.states`: one entry per
        state (`[h, c]` for an LSTM), one list per cell for stacked cells."""
        leaves = list(leaves)
        if not isinstance(self.cell, StackedRNNCells):
            return leaves
        like = [[0] * len(s) if _is_nested(s) else [0] for s in self.cell.state_size]
        return _unflatten(like, leaves)

    def call(self, variables, sequences, training=False, rng=None, mask=None, initial_state=None):
        batch = sequences.shape[0]
        template = self._zero_states(tuple(sequences.shape))
        if ops.framework_of(sequences) != "jax":  # zeros on the sequences' framework (torch/TF shims)
            ref = ops.zeros_like(sequences[(slice(None), 0) + (slice(0, 1),) * (len(sequences.shape) - 2)])
            template = _unflatten(template, [ops.cast(ops.broadcast_to(ref, tuple(s.shape)), ops.dtype(s))
                                             for s in _flatten(template)])
        if initial_state is None and self.stateful:
            carried = variables.state.get("rnn_state")
            if carried is None:
                raise self.error("a stateful RNN needs its `rnn_state` in the variables; init it first.")
            leaves = [carried[str(i)] for i in range(len(carried))]
            if leaves and leaves[0].shape[0] != batch:
                raise self.error(f"a stateful RNN keeps the batch size it was built with: expected a batch of "
                                 f"{leaves[0].shape[0]}, got {batch}.")
            initial_state = _unflatten(template, list(leaves))
        elif initial_state is None:
            initial_state = template
        else:
            initial_state = list(initial_state) if _is_nested(initial_state) else [initial_state]
            if len(_flatten(initial_state)) != len(_flatten(template)):
                raise self.error(f"expected {len(_flatten(template))} initial state tensor(s), got "
                                 f"{len(_flatten(initial_state))}.")
            initial_state = _unflatten(template, [ops.cast(s, self.cell.compute_dtype)
                                                  for s in _flatten(initial_state)])
        last, outputs, states = self._loop(variables, sequences, initial_state, mask, training, rng)
        dtype = self.compute_dtype
        output = ops.cast(outputs if self.return_sequences else last, dtype)
        states = _map2(lambda s, _: ops.cast(s, dtype), states, states)
        new_state = dict(variables.state)
        if self.stateful:
            new_state["rnn_state"] = {str(i): ops.cast(s, self.variable_dtype)
                                      for i, s in enumerate(_flatten(states))}
        cell_state = new_state.get(self.cell.name)
        if cell_state is not None:
            new_state[self.cell.name] = cell_state
        if self.return_state:
            return (output, *states), new_state
        return output, new_state

    def _loop(self, variables, sequences, initial_state, mask, training, rng):
        cell = self.cell
        cell_vars = child_variables(variables, cell.name)
        cell_rng = fold_name(rng, cell.name)
        rank = len(sequences.shape)
        xs = ops.transpose(sequences, (1, 0) + tuple(range(2, rank)))
        steps = xs.shape[0]
        if mask is not None:
            mask = ops.cast(mask, "bool")
            if len(mask.shape) != 2 or tuple(mask.shape) != tuple(sequences.shape[:2]):
                raise self.error(f"expected a mask of shape (batch, timesteps) = {tuple(sequences.shape[:2])}, "
                                 f"got {tuple(mask.shape)}.")
            mask = ops.transpose(mask, (1, 0))

        def run_cell(x_t, states):
            (out, new), _ = cell.apply(cell_vars, x_t, states, training=training, rng=cell_rng)
            new = list(new) if _is_nested(new) else [new]
            return out, new

        def step(states, inp):
            if mask is None:
                out, new = run_cell(inp, states)
                return new, out
            x_t, m_t = inp
            out, new = run_cell(x_t, states)
            keep = ops.reshape(ops.logical_not(m_t), (-1,) + (1,) * (len(out.shape) - 1))
            if self.zero_output_for_mask:
                out = ops.where(keep, ops.zeros_like(out), out)
            else:
                prev = states[0]
                if _is_nested(prev):
                    prev = states[-1][0] if _is_nested(states[-1]) else states[-1]
                out = ops.where(keep, prev, out)
            new = _map2(lambda s, n: ops.where(keep, s, n), states, new)
            return new, out

        xs_in = xs if mask is None else (xs, mask)
        states, outputs = ops.scan(step, initial_state, xs_in, reverse=self.go_backwards,
                                   unroll=steps if self.unroll else 1)
        if self.go_backwards:
            outputs = ops.flip(outputs, axis=0)
        last = outputs[-1]
        outputs = ops.transpose(outputs, (1, 0) + tuple(range(2, len(outputs.shape))))
        return last, outputs, states

    def children(self):
        return [self.cell]

    def saving_layout(self, params, state):
        """Keras writes the cell's weights under `<layer>/cell`; the carried states are not saved."""
        return [("", [])] + child_layout(self.cell, params, state, "cell")

    def _rnn_config(self):
        return super().get_config() | {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def get_config(self):
        return self._rnn_config() | {"cell": _serialize(self.cell)}


_CELL_ARGS = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
              "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed")


class CellArgsRNN(RNN):
    """An RNN that makes its own cell from its arguments (SimpleRNN, LSTM, GRU, ConvLSTM): the cell's arguments
    (`cell_args`, `extra_args`) read as the layer's attributes, and its config holds them instead of the cell."""

    cell_args = ()
    extra_args = ()  # cell arguments beyond the cell's `_config()`, added to the layer's config
    config_has_seed = True

    def __getattr__(self, name):
        if name in type(self).cell_args or name in type(self).extra_args:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        cell_config = self.cell._config()
        for k in type(self).extra_args:
            v = getattr(self.cell, k)
            cell_config[k] = activations.serialize(v) if k == "recurrent_activation" else v
        cell_config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if not type(self).config_has_seed:
            cell_config.pop("seed")
        return self._rnn_config() | cell_config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)


class _BuiltinRNN(CellArgsRNN):
    """SimpleRNN / LSTM / GRU: an RNN over its own cell (named `<kind>_cell`), with the cell's arguments."""

    cell_class = None
    cell_name = None
    cell_args = _CELL_ARGS

    def __init__(self, units, *, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, use_cudnn="auto", zero_output_for_mask=False, name=None, dtype=None, trainable=True,
                 activity_regularizer=None, input_shape=None, input_dim=None, batch_size=None,
                 batch_input_shape=None, **cell_kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"Invalid value for argument `use_cudnn`: expected one of 'auto', True, False; "
                             f"got {use_cudnn!r}.")
        cell = self.cell_class(units, name=self.cell_name, dtype=dtype, trainable=trainable, **cell_kwargs)
        shape_kw = {k: v for k, v in (("input_shape", input_shape), ("input_dim", input_dim),
                                      ("batch_size", batch_size), ("batch_input_shape", batch_input_shape))
                    if v is not None}
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, name=name, dtype=dtype, trainable=trainable,
                         activity_regularizer=activity_regularizer, **shape_kw)
        self.use_cudnn = use_cudnn

    def check_input(self, x, *rest):
        expect_rank(self, x, 3, "input (batch, timesteps, features)")


class SimpleRNN(_BuiltinRNN):
    """A fully connected RNN over (batch, timesteps, features): see SimpleRNNCell and RNN."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"
    config_has_seed = False  # Keras 3.15's SimpleRNN config leaves `seed` out

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        kwargs.pop("use_cudnn", None)  # not an argument of Keras's SimpleRNN: accepted and ignored
        super().__init__(**forward_args(locals()))


class LSTM(_BuiltinRNN):
    """Long Short-Term Memory over (batch, timesteps, features): see LSTMCell and RNN.
    With `return_state`: `(output, h, c)`."""

    cell_class = LSTMCell
    cell_name = "lstm_cell"
    extra_args = ("recurrent_activation", "unit_forget_bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        super().__init__(**forward_args(locals()))


class GRU(_BuiltinRNN):
    """Gated Recurrent Unit over (batch, timesteps, features): see GRUCell (`reset_after`) and RNN."""

    cell_class = GRUCell
    cell_name = "gru_cell"
    extra_args = ("recurrent_activation", "reset_after")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(**forward_args(locals()))


# --- Bidirectional -------------------------------------------------------------------------------
def _removeprefix(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


def _first_mask(mask):
    """The first mask of a (possibly nested) mask argument (Keras: `tree.flatten(mask)[0]`)."""
    while isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    return mask


def _zero_output_for_mask(layer):
    flag = getattr(layer, "zero_output_for_mask", None)
    if flag is None or flag == layer.return_sequences:
        return layer
    return type(layer).from_config({**layer.get_config(), "zero_output_for_mask": layer.return_sequences})


class Bidirectional(Container, _SequenceLayer):
    """Run a recurrent `layer` forwards and a copy backwards (`go_backwards` flipped) and merge the two
    outputs with `merge_mode` ('concat' (default), 'sum', 'mul', 'ave' or None: a pair). The sub-layers are
    named `forward_<name>` / `backward_<name>`; `initial_state` is split in halves (forward first)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        layer = as_nn_layer(layer, "layer")
        if merge_mode not in ("sum", "mul", "ave", "concat", None):
            raise self.error(f"invalid merge_mode {merge_mode!r}; expected one of 'sum', 'mul', 'ave', 'concat', "
                             "None.")
        if weights:
            raise self.error("the `weights` argument is not supported; set weights after building.")
        config = layer.get_config()
        config["name"] = f"forward_{_removeprefix(layer.name, 'forward_')}"
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["go_backwards"] = not layer.go_backwards
            config["name"] = f"backward_{_removeprefix(layer.name, 'backward_')}"
            self.backward_layer = type(layer).from_config(config)
        else:
            self.backward_layer = as_nn_layer(backward_layer, "backward_layer")
        # Keras forces zero outputs at masked steps of returned sequences, so the two directions line up
        self.forward_layer = _zero_output_for_mask(self.forward_layer)
        self.backward_layer = _zero_output_for_mask(self.backward_layer)
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise self.error("the forward and backward layers need different `go_backwards` values; both have "
                             f"{fwd.go_backwards}.")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise self.error(f"the forward and backward layers need the same `{a}`; got {getattr(fwd, a)} "
                                 f"and {getattr(bwd, a)}.")
        if fwd.name == bwd.name:
            raise self.error(f"the forward and backward layers need different names; both are {fwd.name!r}.")
        self.merge_mode = merge_mode
        self.stateful = fwd.stateful
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state

    def check_input(self, x, *rest):
        expect_rank(self, x, range(3, 64), "input (batch, timesteps, features)")

    supports_masking = True

    def compute_mask(self, inputs, mask):
        """The timestep mask for returned sequences (one per direction with merge_mode=None)."""
        mask = _first_mask(mask)
        if self.return_sequences:
            out = mask if self.merge_mode else [mask, mask]
        else:
            out = None if self.merge_mode else [None, None]
        if self.return_state:
            n = 2 * len(self.forward_layer.state_size)
            return (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def build(self, rng, spec, *rest):
        params, state = {}, {}
        for sub in (self.forward_layer, self.backward_layer):
            init_child(sub, rng, (spec,), params, state)
        return Variables(params, state)

    def call(self, variables, sequences, training=False, rng=None, mask=None, initial_state=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        new_state, results = {}, []
        for sub, init in ((self.forward_layer, fwd_state), (self.backward_layer, bwd_state)):
            out, s = sub.apply(child_variables(variables, sub.name), sequences, training=training,
                               rng=fold_name(rng, sub.name), mask=mask, initial_state=init)
            if s:
                new_state[sub.name] = s
            results.append(out)
        y, y_rev = results
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            output = (output + states) if self.merge_mode is None else (output,) + states
        return output, new_state

    def reset_states(self, variables):
        """`variables` with both directions' carried states zeroed (pure)."""
        variables = as_variables(variables)
        if not self.stateful:
            raise self.error("reset_states needs a stateful layer.")
        params, state = dict(variables.params), dict(variables.state)
        for sub in (self.forward_layer, self.backward_layer):
            v = sub.reset_states(Variables(params.get(sub.name, {}), state.get(sub.name, {})))
            if v.state:
                state[sub.name] = v.state
        return Variables(params, state)

    reset_state = reset_states

    def children(self):
        return [self.forward_layer, self.backward_layer]

    def saving_layout(self, params, state):
        out = [("", [])]
        for attr, sub in (("backward_layer", self.backward_layer), ("forward_layer", self.forward_layer)):
            out += child_layout(sub, params, state, attr)
        return out

    def get_config(self):
        return super().get_config() | {"merge_mode": self.merge_mode, "layer": _serialize(self.forward_layer),
                                       "backward_layer": _serialize(self.backward_layer)}
