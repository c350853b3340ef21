"""Attention pure layers: `EinsumDense` and `MultiHeadAttention` (Keras 3.15's equations, weights and configs).

MultiHeadAttention: query (batch, T, dim_q), value (batch, S, dim_v), key (batch, S, dim_k; default value)
-> (batch, T, output_shape or dim_q); with `return_attention_scores` also (batch, heads, T, S). Params nest
the four projections under Keras's names `query`, `key`, `value`, `attention_output` (each an EinsumDense).
"""

from __future__ import annotations

import math
import re
import string

import jax
import numpy as np

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import initializers, quantized, quantizers, regularizers
from fkeras.nn.base import Layer, Variables, as_variables, cast_floats, child_variables, init_child
from fkeras.nn.kernel_bias import KernelBias, QuantizedKernel, set_weight_args, weight_args_config


def _analyze_einsum_string(equation, bias_axes, input_shape, output_shape):
    """(kernel_shape, bias_shape, full output shape, kernel input axes, kernel output axes), Keras's rule."""
    dot_replaced = re.sub(r"\.\.\.", "0", equation)
    for pattern, left in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
                          ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
                          ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False)):
        split = re.match(pattern, dot_replaced)
        if split:
            return _analyze_split(split, bias_axes, input_shape, output_shape, left)
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form [X],[Y]->[Z], "
                     "...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def _analyze_split(split, bias_axes, input_shape, output_shape, left_elided):
    input_spec, weight_spec, output_spec = split.group(1), split.group(2), split.group(3)
    elided = len(input_shape) - len(input_spec)
    output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output_shape.insert(0, input_shape[0])
    if elided > 0 and left_elided:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif elided > 0:
        for i in range(len(input_shape) - elided, len(input_shape)):
            output_shape.append(input_shape[i])
    if left_elided:
        input_dim_map = {d: (i + elided) - len(input_shape) for i, d in enumerate(input_spec)}
        output_dim_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        input_dim_map = {d: i for i, d in enumerate(input_spec)}
        output_dim_map = {d: i for i, d in enumerate(output_spec)}
    for d in input_spec:
        if d in output_dim_map:
            out_d = output_shape[output_dim_map[d]]
            if out_d is not None and out_d != input_shape[input_dim_map[d]]:
                raise ValueError(f"Input shape and output shape do not match at shared dimension '{d}'. Input shape "
                                 f"is {input_shape[input_dim_map[d]]}, and output shape is {out_d}.")
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ValueError(f"Dimension '{d}' was specified in the output '{output_spec}' but has no corresponding "
                             f"dim in the input spec '{input_spec}' or weight spec '{weight_spec}'.")
    weight_shape, input_axes, output_axes = [], [], []
    for i, d in enumerate(weight_spec):
        if d in output_dim_map:
            weight_shape.append(output_shape[output_dim_map[d]])
            output_axes.append(i)
        elif d in input_dim_map:
            weight_shape.append(input_shape[input_dim_map[d]])
            input_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{d}' did not have a match in either the input spec '{input_spec}' "
                             f"or the output spec '{output_spec}'. For this layer, the weight must be fully "
                             "specified.")
    bias_shape = None
    if bias_axes is not None:
        n_left = elided if left_elided else 0
        idx = {c: output_shape[i + n_left] for i, c in enumerate(output_spec)}
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(f"Bias dimension '{c}' was requested, but is not part of the output spec "
                                 f"'{output_spec}'.")
        first = min(output_spec.find(c) for c in bias_axes)
        bias_shape = [idx[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left_elided:
            bias_shape += [1] * elided
    return weight_shape, bias_shape, output_shape, input_axes, output_axes


class EinsumDense(QuantizedKernel, KernelBias, Layer):
    """A dense layer of any rank: `activation(einsum(equation, inputs, kernel) + bias)`.

    `output_shape`: the output's dims without the batch (None where they equal the input's); `bias_axes`:
    the output letters the bias spans. The kernel's shape follows from the equation, as in Keras. Quantizes
    to int8, int4 and float8 as Keras's EinsumDense does (`nn.quantized`), and to GPTQ/AWQ codes calibrated by
    `model.quantize` (`nn.gptq`, `nn.awq`)."""

    quantized_save_order = quantized.EINSUM_SAVE_ORDER
    calibrated_zero_name = "zero_point"  # Keras's weight name of GPTQ/AWQ zero points

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, name=None, dtype=None, trainable=True, activity_regularizer=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        if not isinstance(equation, str) or "->" not in equation:
            raise self.error(f"expected an einsum `equation` like 'ab,bc->ac', got {equation!r}.")
        if lora_rank is not None:
            raise self.error("LoRA is not supported; expected lora_rank=None.")
        quantized.set_config(self, quantization_config)
        self.gptq_unpacked_column_size = gptq_unpacked_column_size  # a GPTQ layer's kernel columns (config only)
        self.equation = equation
        self.partial_output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.bias_axes = bias_axes
        self.set_kernel_bias(activation, bias_axes is not None, kernel_initializer, bias_initializer,
                             kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)

    def _shapes(self, spec):
        try:
            return _analyze_einsum_string(self.equation, self.bias_axes, tuple(spec.shape), self.partial_output_shape)
        except ValueError as e:
            raise self.error(str(e)) from None

    def _contraction(self, ndim, kernel_shape):
        return quantized.EinsumContraction(self.equation, ndim, kernel_shape)

    def build(self, rng, spec):
        kshape, bshape, _, in_axes, out_axes = self._shapes(spec)
        k1, k2 = jax.random.split(rng) if rng is not None else (None, None)
        mode = quantized.mode_of(self)
        params, state = {}, {}
        if mode == "int8":
            c = self._contraction(len(spec.shape), kshape)
            state = {"kernel": ops.zeros(tuple(kshape), "int8"),
                     "kernel_scale": ops.ones(c.kernel_scale_shape(), self.variable_dtype)}
        elif mode == "int4":
            rows, cols = self._contraction(len(spec.shape), kshape).rows_columns()
            state = quantized.int4_layout(rows, cols, quantized.block_size(self), self.variable_dtype)
        elif mode in ("gptq", "awq"):
            state = quantized.calibrated_layout(self, kshape)
        else:
            if mode == "float8":  # Keras makes the float8 meta weights first
                params.update(quantized.float8_layout(quantized.amax_history_length(self)))
            init = self.kernel_initializer
            if isinstance(init, initializers.VarianceScaling) and (init.input_axes is None or init.output_axes is None):
                cfg = init.get_config() | {"input_axes": in_axes, "output_axes": out_axes}
                init = type(init).from_config(cfg)  # Keras's fans along the equation's axes
            params["kernel"] = init(tuple(kshape), self.variable_dtype, key=k1)
        if bshape is not None:
            params["bias"] = self.bias_initializer(tuple(bshape), self.variable_dtype, key=k2)
        return Variables(params, state)

    def quantized_kernel(self, kernel, mode, config, input_spec=None):
        """The int8/int4 weights of `kernel`, as Keras's `EinsumDense.quantize`: int8 kernel abs-max over the
        equation's contracted kernel axes with `kernel_scale` laid out against the output; int4: the kernel
        flattened to (contracted, kept), per column or grouped by `config.block_size` rows, packed two per byte.
        `input_spec` (the input shape) is needed when the equation has an ellipsis."""
        c = self._contraction(self._input_ndim(input_spec), kernel.shape)
        if mode == "int8":
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(axis=c.info.kernel_reduced_axes))
            q, scale = wq(kernel, to_numpy=True)
            return {"kernel": q, "kernel_scale": ops.cast(c.kernel_scale(scale), self.variable_dtype)}
        rows, cols = c.rows_columns()  # Keras's EinsumDense int4 takes no custom weight quantizer
        block = quantized.block_size(self, config)
        packed, scale, zero = quantized.quantize_int4(ops.reshape(kernel, (rows, cols)), block)
        return self.int4_weights(rows, cols, block, packed, scale, zero)

    def _input_ndim(self, input_spec):
        if input_spec is not None:
            return len(input_spec.shape if hasattr(input_spec, "shape") else input_spec)
        if "..." in self.equation:
            raise self.error(f"quantizing the equation {self.equation!r} needs the input's shape: pass "
                             "input_spec=(batch, ...).")
        return len(self.equation.split(",")[0])

    def call(self, variables, x, training=False, rng=None):
        mode, variables = self.quantized_call_variables(variables)
        bias = variables.params.get("bias")
        if mode in ("int8", "int4"):
            kshape = self._shapes(x)[0]
            c = self._contraction(len(x.shape), kshape)
            if mode == "int8":
                y = quantized.int8_call(c, x, variables.state["kernel"], variables.state["kernel_scale"],
                                        self.compute_dtype, quantized.inputs_quantizer(self, mode))
            else:
                y = quantized.int4_call(c, x, variables.state, c.rows_columns()[1], self.compute_dtype,
                                        quantized.inputs_quantizer(self, mode))
        elif mode == "float8":
            kernel = variables.params["kernel"]
            y = quantized.float8_call(self._contraction(len(x.shape), kernel.shape), x, kernel, variables.params,
                                      self.compute_dtype, training)
            bias = None if bias is None else quantized.float8_bias(bias, self.compute_dtype)
        elif mode in ("gptq", "awq"):
            kshape = self._shapes(x)[0]
            y = quantized.calibrated_call(self._contraction(len(x.shape), kshape), x, variables.state, kshape,
                                          self.dtype_policy.weight_bits, self.compute_dtype)
        else:
            y = ops.einsum(self.equation, x, variables.params["kernel"])
        if bias is not None:
            y = ops.add(y, bias)
        return self.activation(y)

    def get_config(self):
        return super().get_config() | {
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "bias_axes": self.bias_axes,
        } | self.kernel_bias_config(use_bias=False) | {
            "quantization_config": quantizers.serialize(self.quantization_config),
        } | ({"gptq_unpacked_column_size": self.gptq_unpacked_column_size} if self.gptq_unpacked_column_size else {})


def _letter(i):
    return string.ascii_lowercase[i]


def _build_attention_equation(rank, attn_axes):
    target = "".join(_letter(i) for i in range(rank))
    batch_dims = tuple(np.delete(range(rank), attn_axes + (rank - 1,)))
    offset, source = rank, ""
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += _letter(offset)
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _build_proj_equation(free_dims, bound_dims, output_dims):
    inp = kern = out = bias = ""
    for i in range(free_dims):
        inp += _letter(i)
        out += _letter(i)
    for i in range(bound_dims):
        c = _letter(free_dims + i)
        inp += c
        kern += c
    for i in range(output_dims):
        c = _letter(free_dims + bound_dims + i)
        kern += c
        out += c
        bias += c
    return f"{inp},{kern}->{out}", bias, len(out)


def _output_shape(rank, last):
    return [None] * (rank - len(last)) + list(last)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.), Keras's layer: project query/key/value per head (EinsumDense),
    softmax(q k^T / sqrt(key_dim)) over `attention_axes` (default: all but batch, heads and features), masked by
    `attention_mask` (batch, T, S) (True = attend) and/or `use_causal_mask`, then the output projection.

    `apply(variables, query, value, key=None, attention_mask=None, return_attention_scores=False,
    use_causal_mask=False, query_mask=None, value_mask=None, key_mask=None, training=..., rng=...)`."""

    stateful = False
    build_shape_names = ("query_shape", "value_shape", "key_shape")  # Keras's build_config shapes_dict keys
    projection_order = ("query", "key", "gate", "value", "attention_output")  # Keras's build (weights) order

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None,
                 name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise self.error(f"expected `{arg}` to be a positive int, got {v!r}.")
        if value_dim is not None and (isinstance(value_dim, bool) or not isinstance(value_dim, int) or value_dim <= 0):
            raise self.error(f"expected `value_dim` to be a positive int or None, got {value_dim!r}.")
        if sliding_window is not None and (not isinstance(sliding_window, int) or sliding_window <= 0):
            raise self.error(f"expected `sliding_window` to be None or a positive int, got {sliding_window!r}.")
        if flash_attention and dropout > 0:
            raise self.error("dropout is not supported with flash attention; set dropout=0.0.")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = dropout
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise self.error(f"`attention_axes` must be an int, list, or tuple; got {attention_axes!r}.")
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        self.seed = seed
        set_weight_args(self, ("kernel", "bias"), kernel_initializer, bias_initializer, kernel_regularizer,
                        bias_regularizer, kernel_constraint, bias_constraint)
        self.mha_activity_regularizer = self.lookup(regularizers.get, activity_regularizer, "activity_regularizer")
        # {projection name: (quantized dtype policy, QuantizationConfig)}: the projections a model's `quantize`
        # reached (Keras quantizes the EinsumDense sublayers, not the attention layer; its config keeps no trace)
        self.sublayer_quantization = {}

    # -- sub-layers (made per input ranks; pure, so cheap to rebuild) ---------------------------------
    def _dense(self, equation, out_shape, bias_axes, name, activation=None):
        policy, config = self.sublayer_quantization.get(name, (self.dtype_policy, None))
        return EinsumDense(equation, output_shape=out_shape, bias_axes=bias_axes if self.use_bias else None,
                           activation=activation, name=name, kernel_initializer=self.kernel_initializer,
                           bias_initializer=self.bias_initializer, kernel_regularizer=self.kernel_regularizer,
                           bias_regularizer=self.bias_regularizer, kernel_constraint=self.kernel_constraint,
                           bias_constraint=self.bias_constraint, dtype=policy, quantization_config=config)

    def projections(self, query, value, key=None):
        """{name: EinsumDense} of the projections for inputs shaped like `query`, `value`, `key` (shapes or
        arrays), with their dtype policies: the sublayers Keras's `model.quantize` quantizes."""
        shape = [tuple(getattr(a, "shape", a)) for a in (query, value, value if key is None else key)]
        return self._sublayers(len(shape[0]), len(shape[1]), len(shape[2]), shape[0][-1])

    def quantize_projection(self, variables, name, mode, config, query, value, key=None, calibration=None):
        """`(variables, (policy, config))`: `variables` with the projection `name` quantized to `mode` by its
        EinsumDense's `quantize_variables` (its params and state nested under `name`), and the quantized
        dtype policy Keras gives that sublayer ("int8_from_float32", ...). Nothing changes on `self`: the caller
        records it with `set_projection_quantization` once every weight is in place."""
        variables = as_variables(variables)
        subs = self.projections(query, value, key)
        if name not in subs:
            raise self.error(f"has no projection {name!r}; expected one of {list(subs)}.")
        sub = subs[name]
        config = quantizers.validate_and_resolve_config(mode, config)
        extra = {} if calibration is None else {"calibration": calibration}  # GPTQ/AWQ statistics
        new = sub.quantize_variables(child_variables(variables, name), config.mode, config, **extra)
        params = {k: v for k, v in variables.params.items() if k != name}
        state = {k: v for k, v in variables.state.items() if k != name}
        params, state = self._nest(params, name, new.params), self._nest(state, name, new.state)
        block = quantized.block_size(sub, config)
        return Variables(params, state), (quantized.policy_for(config.mode, config, block, sub.dtype_policy.name),
                                          config)

    def _nest(self, tree, name, sub_tree):
        """`tree` with `sub_tree` under `name`, the projections in their build order."""
        order = self.projection_order
        merged = {**tree, name: sub_tree}
        return {k: merged[k] for k in sorted(merged, key=lambda k: order.index(k) if k in order else len(order))
                if merged[k]}

    def set_projection_quantization(self, name, policy_and_config):
        """Record that projection `name` is quantized (`(policy, config)` from `quantize_projection`): later
        builds and calls make that sublayer with this policy."""
        object.__setattr__(self, "sublayer_quantization", {**self.sublayer_quantization, name: policy_and_config})

    def _sublayers(self, q_rank, v_rank, k_rank, q_last):
        subs = {}
        eq, b, r = _build_proj_equation(q_rank - 1, 1, 2)
        subs["query"] = self._dense(eq, _output_shape(r - 1, [self.num_heads, self.key_dim]), b, "query")
        eq, b, r = _build_proj_equation(k_rank - 1, 1, 2)
        subs["key"] = self._dense(eq, _output_shape(r - 1, [self.num_heads, self.key_dim]), b, "key")
        if self.use_gate:
            eq, b, r = _build_proj_equation(q_rank - 1, 1, 2)
            subs["gate"] = self._dense(eq, _output_shape(r - 1, [self.num_heads, self.value_dim]), b, "gate",
                                       "sigmoid")
        eq, b, r = _build_proj_equation(v_rank - 1, 1, 2)
        subs["value"] = self._dense(eq, _output_shape(r - 1, [self.num_heads, self.value_dim]), b, "value")
        out = self.output_shape or (q_last,)
        eq, b, r = _build_proj_equation(q_rank - 1, 2, len(out))
        subs["attention_output"] = self._dense(eq, _output_shape(r - 1, out), b, "attention_output")
        return subs

    def _axes(self, rank):
        if self.attention_axes is None:
            return tuple(range(1, rank - 2))
        return tuple(a if a >= 0 else (rank - 1) + a for a in self.attention_axes)

    def build(self, rng, query, value, key=None):
        key = value if key is None else key
        if tuple(value.shape[1:-1]) != tuple(key.shape[1:-1]):
            raise self.error(f"all dimensions of `value` and `key`, except the last one, must be equal; got "
                             f"value shape {tuple(value.shape)} and key shape {tuple(key.shape)}.")
        subs = self._sublayers(len(query.shape), len(value.shape), len(key.shape), query.shape[-1])
        params = {}
        q_proj = jax.ShapeDtypeStruct(tuple(query.shape[:-1]) + (self.num_heads, self.key_dim), query.dtype)
        o_in = jax.ShapeDtypeStruct(tuple(query.shape[:-1]) + (self.num_heads, self.value_dim), query.dtype)
        inputs = {"query": query, "key": key, "value": value, "gate": query, "attention_output": o_in}
        del q_proj
        state = {}
        for name, sub in subs.items():  # a quantized projection's integer weights go in `state`
            init_child(sub, rng, (inputs[name],), params, state, name)
        return Variables(params, state)

    supports_masking = True  # the output keeps the query's mask (Keras)

    def apply(self, variables, query, value, key=None, *, query_mask=None, value_mask=None, key_mask=None,
              attention_mask=None, return_attention_scores=False, training=False, rng=None, use_causal_mask=False):
        variables = as_variables(variables)
        dtype = self.compute_dtype
        query, value = cast_floats(query, dtype), cast_floats(value, dtype)
        key = value if key is None else cast_floats(key, dtype)
        params, state = variables.params, variables.state
        subs = self._sublayers(len(query.shape), len(value.shape), len(key.shape), query.shape[-1])

        def run(name, x):
            sub, p = subs[name], params.get(name, {})
            if sub.cast_variables and dtype != self.variable_dtype:  # a quantized one casts its own
                p = cast_floats(p, dtype)
            return sub.call(Variables(p, state.get(name, {})), x, training=training)

        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                                    use_causal_mask)
        gate = run("gate", query) if self.use_gate else None
        q, k, v = run("query", query), run("key", key), run("value", value)
        k, v = self._expand_kv(k), self._expand_kv(v)
        out, scores = self._attention(q, k, v, mask, training, rng, return_attention_scores)
        if gate is not None:
            out = out * gate
        out = run("attention_output", out)
        result = (out, scores) if return_attention_scores else out
        return result, variables.state

    def call(self, variables, query, value, key=None, training=False, rng=None, **kwargs):
        return self.apply(variables, query, value, key, training=training, rng=rng, **kwargs)[0]

    def _expand_kv(self, x):
        """Projected keys/values as the attention takes them (GroupQueryAttention repeats its kv heads)."""
        return x

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, causal):
        auto = None

        def both(a, b):
            return b if a is None else ops.logical_and(a, b)

        if query_mask is not None:
            auto = ops.expand_dims(ops.cast(query_mask, "bool"), -1)
        if value_mask is not None:
            auto = both(auto, ops.expand_dims(ops.cast(value_mask, "bool"), -2))
        if key_mask is not None:
            auto = both(auto, ops.expand_dims(ops.cast(key_mask, "bool"), -2))
        t, s = query.shape[1], value.shape[1]
        if causal:
            auto = both(auto, ops.convert_to_tensor(np.tril(np.ones((1, t, s), bool))))
        if self.sliding_window is not None:
            idx = np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < self.sliding_window
            auto = both(auto, ops.convert_to_tensor(idx[None]))
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
        if auto is not None:
            attention_mask = auto if attention_mask is None else ops.logical_and(attention_mask, auto)
        return attention_mask

    def _attention(self, q, k, v, mask, training, rng, return_scores):
        rank = len(q.shape)
        axes = self._axes(rank)
        scale = 1.0 / math.sqrt(float(self.key_dim))
        dropping = training and self.dropout > 0
        if rank == 4 and not return_scores and not dropping and axes == (1,):
            if mask is not None:
                while len(mask.shape) < 4:
                    mask = ops.expand_dims(mask, -len(axes) * 2 - 1)
            return ops.dot_product_attention(q, k, v, mask=mask, scale=scale), None
        dot_eq, combine_eq, scores_rank = _build_attention_equation(rank, axes)
        scores = ops.einsum(dot_eq, k, ops.multiply(q, ops.cast(scale, ops.dtype(q))))
        norm_axes = tuple(range(scores_rank - len(axes), scores_rank))
        if mask is not None:
            while len(mask.shape) < len(scores.shape):
                mask = ops.expand_dims(mask, -len(axes) * 2 - 1)
            scores_for_softmax = ops.where(mask, scores, ops.cast(-1e9 if ops.dtype(scores) == "float32" else -3e4,
                                                                  ops.dtype(scores)))
        else:
            scores_for_softmax = scores
        probs = _softmax(scores_for_softmax, norm_axes)
        if mask is not None:
            probs = ops.where(mask, probs, ops.zeros_like(probs))
        final = probs
        if dropping:
            if rng is None:
                if self.seed is None and ops.framework_of(q) == "jax":
                    raise self.error("training with dropout needs an `rng` key (or a `seed`); got rng=None.")
                rng = None if self.seed is None else int(self.seed)
            final = frandom.dropout(probs, self.dropout, seed=rng)
        return ops.einsum(combine_eq, final, v), probs

    def regularization_losses(self, params):
        if isinstance(params, Variables):
            params = params.params
        total = 0.0
        for sub in params.values():
            for leaf, reg in (("kernel", self.kernel_regularizer), ("bias", self.bias_regularizer)):
                if reg is not None and leaf in sub:
                    total = total + reg(sub[leaf])
        return total

    def apply_constraints(self, params):
        if isinstance(params, Variables):
            return Variables(self.apply_constraints(params.params), params.state)
        out = {}
        for name, sub in params.items():
            sub = dict(sub)
            if self.kernel_constraint is not None and "kernel" in sub:
                sub["kernel"] = self.kernel_constraint(sub["kernel"])
            if self.bias_constraint is not None and "bias" in sub:
                sub["bias"] = self.bias_constraint(sub["bias"])
            out[name] = sub
        return out

    def saving_layout(self, params, state):
        """Keras saves the projections under `query_dense`, `key_dense`, `value_dense`, `output_dense`
        (and `_gate_dense`), and empty `_dropout_layer` / `_softmax` groups."""
        return self._saving_layout(params, state, {"query": "query_dense", "key": "key_dense",
                                                   "value": "value_dense", "attention_output": "output_dense",
                                                   "gate": "_gate_dense"})

    def _saving_layout(self, params, state, names):
        """Each projection's weights at Keras's path: a float one's params, a quantized one's params and state
        in Keras's order for its mode (int8: kernel, bias, kernel_scale)."""
        out = [("", []), ("_dropout_layer", []), ("_softmax", [])]
        params, state = params or {}, state or {}
        for sub, rel in names.items():
            if sub not in params and sub not in state:
                continue
            leaves = list(params.get(sub, {})) + list(state.get(sub, {}))
            policy = self.sublayer_quantization.get(sub, (self.dtype_policy, None))[0]
            if policy.quantization_mode is not None:
                order = quantized.KERNEL_SAVE_ORDER[policy.quantization_mode]
                leaves = [leaf for leaf in order if leaf in leaves]
            out.append((rel, [(sub, leaf) for leaf in leaves]))
        return out

    def get_config(self):
        return super().get_config() | {
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": self.output_shape,
            "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
        } | weight_args_config(self, ("kernel", "bias"), activity="mha_activity_regularizer") | {"seed": self.seed}


def _softmax(x, axes):
    """Softmax over several axes (Keras's Softmax(axis=tuple)): exp(x - logsumexp(x, axes))."""
    return ops.exp(x - ops.logsumexp(x, axis=axes, keepdims=True))


class Attention(Layer):
    """Dot-product (Luong) attention over a list `[query, value]` or `[query, value, key]`:
    query (batch, Tq, dim), value/key (batch, Tv, dim) -> (batch, Tq, dim).

    score_mode 'dot': q k^T (times a learned scalar `scale` with use_scale); 'concat':
    concat_score_weight * sum(tanh(scale * (q + k))). `mask=[query_mask, value_mask]` (True = keep);
    `use_causal_mask`; `return_attention_scores` also returns the (batch, Tq, Tv) weights."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise self.error(f"invalid score_mode {score_mode!r}; expected 'dot' or 'concat'.")
        self.use_scale, self.score_mode, self.dropout, self.seed = bool(use_scale), score_mode, dropout, seed

    def check_input(self, inputs, *rest):
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise self.error("expected a list of inputs [query, value] or [query, value, key], got "
                             f"{type(inputs).__name__}" + (f" of length {len(inputs)}" if isinstance(
                                 inputs, (list, tuple)) else "") + ".")

    def build(self, rng, inputs):
        params = {}
        if self.use_scale:
            params["scale"] = ops.ones((), self.variable_dtype)
        if self.score_mode == "concat":
            params["concat_score_weight"] = ops.ones((), self.variable_dtype)
        return Variables(params, {})

    def _scores(self, params, q, k):
        if self.score_mode == "dot":
            scores = ops.matmul(q, ops.swapaxes(k, -2, -1))
            return scores * params["scale"] if self.use_scale else scores
        s = ops.expand_dims(q, -2) + ops.expand_dims(k, -3)
        if self.use_scale:
            s = params["scale"] * s
        return params["concat_score_weight"] * ops.sum(ops.tanh(s), axis=-1)

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """The query's mask (`mask[0]`), or None."""
        if not isinstance(mask, (list, tuple)) or not mask or mask[0] is None:
            return None
        return mask[0]

    def apply(self, variables, inputs, training=False, rng=None, mask=None, return_attention_scores=False,
              use_causal_mask=False):
        variables = as_variables(variables)
        self.check_input(inputs)
        inputs = cast_floats(list(inputs), self.compute_dtype)
        params = variables.params
        if self.compute_dtype != self.variable_dtype:
            params = cast_floats(params, self.compute_dtype)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise self.error("expected `mask` as a list [query_mask, value_mask].")
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(params, q, k)
        smask = None if v_mask is None else ops.expand_dims(ops.cast(v_mask, "bool"), -2)
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = ops.convert_to_tensor(np.tril(np.ones((1, tq, tv), bool)))
            smask = causal if smask is None else ops.logical_and(smask, causal)
        if smask is not None:
            big = 65504.0 if ops.dtype(scores) == "float16" else 1.0e9
            scores = ops.where(ops.logical_not(smask), scores - big, scores)
        weights = ops.softmax(scores, axis=-1)
        used = weights
        if training and self.dropout > 0:
            if rng is None:
                if self.seed is None and ops.framework_of(q) == "jax":
                    raise self.error("training with dropout needs an `rng` key (or a `seed`); got rng=None.")
                rng = None if self.seed is None else int(self.seed)
            used = frandom.dropout(weights, self.dropout, seed=rng)
        out = ops.matmul(used, v)
        if q_mask is not None:
            out = ops.where(ops.expand_dims(ops.cast(q_mask, "bool"), -1), out, ops.zeros_like(out))
        result = (out, weights) if return_attention_scores else out
        return result, variables.state

    def call(self, variables, inputs, training=False, rng=None, **kwargs):
        return self.apply(variables, inputs, training=training, rng=rng, **kwargs)[0]

    def get_config(self):
        return super().get_config() | {"use_scale": self.use_scale, "score_mode": self.score_mode,
                                       "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores = sum(scale * tanh(q + k)), `scale` (dim,) learned
    (glorot_uniform) with use_scale (default True). Inputs and masks as `Attention`."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, rng, inputs):
        if not self.use_scale:
            return Variables({}, {})
        dim = inputs[0].shape[-1]
        return Variables({"scale": initializers.get("glorot_uniform")((dim,), self.variable_dtype, key=rng)}, {})

    def _scores(self, params, q, k):
        s = ops.tanh(ops.expand_dims(q, -2) + ops.expand_dims(k, -3))
        if self.use_scale:
            s = params["scale"] * s
        return ops.sum(s, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config


class GroupQueryAttention(MultiHeadAttention):
    """Grouped-query attention (Ainslie et al.): `num_query_heads` query heads share `num_key_value_heads`
    key/value heads (each kv head repeated num_query_heads // num_key_value_heads times). query (batch, T, dim),
    value/key (batch, S, dim) -> (batch, T, dim). Keras 3.15's weights (query, key, value, attention_output),
    masks and config; `apply` takes the same arguments as MultiHeadAttention's."""

    build_shape_names = ("query_shape", "value_shape", "key_shape")
    # Keras's class is GroupedQueryAttention (exported and serialized as GroupQueryAttention): its weights file
    # names the layer's group after the class
    saving_path_name = "grouped_query_attention"

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(num_query_heads, head_dim, dropout=dropout, use_bias=use_bias,
                         sliding_window=sliding_window, flash_attention=flash_attention,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, use_gate=use_gate, seed=seed, **kwargs)
        if isinstance(num_key_value_heads, bool) or not isinstance(num_key_value_heads, int) or \
                num_key_value_heads <= 0 or num_query_heads % num_key_value_heads:
            raise self.error(f"`num_query_heads` ({num_query_heads}) must be divisible by `num_key_value_heads` "
                             f"({num_key_value_heads}).")
        self.head_dim, self.num_query_heads, self.num_key_value_heads = head_dim, num_query_heads, num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads

    def _sublayers(self, q_rank, v_rank, k_rank, q_last):
        if q_rank != 3 or v_rank != 3 or k_rank != 3:
            raise self.error(f"expected query, value and key of rank 3 (batch, seq, dim); got ranks {q_rank}, "
                             f"{v_rank}, {k_rank}.")
        h, d, kv = self.num_query_heads, self.head_dim, self.num_key_value_heads
        subs = {"query": self._dense("bqm,muh->bquh", (None, h, d), "uh", "query"),
                "key": self._dense("bkm,mvh->bkvh", (None, kv, d), "vh", "key")}
        if self.use_gate:
            subs["gate"] = self._dense("bqm,muh->bquh", (None, h, d), "uh", "gate", "sigmoid")
        subs["value"] = self._dense("bkm,mvh->bkvh", (None, kv, d), "vh", "value")
        subs["attention_output"] = self._dense("bquh,uhm->bqm", (None, q_last), "m", "attention_output")
        return subs

    def build(self, rng, query, value, key=None):
        key = value if key is None else key
        if query.shape[-1] != value.shape[-1]:
            raise self.error(f"the last dimension of query and value must be equal; got query shape "
                             f"{tuple(query.shape)} and value shape {tuple(value.shape)}.")
        return super().build(rng, query, value, key)

    def _expand_kv(self, x):
        return ops.repeat(x, self.num_repeats, axis=2)

    def saving_layout(self, params, state):
        """Keras saves GroupQueryAttention's projections under its private names (`_query_dense`, ...)."""
        return self._saving_layout(params, state, {"query": "_query_dense", "key": "_key_dense",
                                                   "value": "_value_dense", "attention_output": "_output_dense",
                                                   "gate": "_gate_dense"})

    def get_config(self):
        config = MultiHeadAttention.get_config(self)
        for k in ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes"):
            config.pop(k)
        return config | {"head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                         "num_key_value_heads": self.num_key_value_heads}
