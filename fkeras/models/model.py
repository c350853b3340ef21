"""`fkeras.Model`: a Layer with Keras's training methods (from `fkeras.train.Trainer`).

Subclass it with `__init__` (create sub-layers) and `call` (use them), or call it as
`Model(inputs=..., outputs=...)` for the Functional API. Like every facade layer, a model
is also a pure function: `model.init(rng, x)` and `model.apply(variables, x, training, rng)`.
Once compiled, the Trainer's `train_state` is the one place the weights live; `weights`,
`get_weights`, `variables_tree` and `summary` read it.
"""

from __future__ import annotations

import json

import jax

from fkeras import saving
from fkeras.callbacks.callback_list import CallbackList
from fkeras.export import export_model
from fkeras.interop import torch_engine  # noqa: F401  (registers compile(engine="torch"); torch loads on first use)
from fkeras.layers.adapter import pure_of
from fkeras.layers.layer import Layer, _as_key, _is_keras_tensor, _leaves, _map, _to_spec, _unset, next_key
from fkeras.layers.variables import get_path
from fkeras.layers.wrapped import NNLayer
from fkeras.models.summary import print_summary
from fkeras.nn import attention as _nn_attention, awq as _awq, core as _nn_core, gptq as _gptq
from fkeras.nn.base import Variables
from fkeras.nn.quantizers import validate_and_resolve_config
from fkeras.saving import saving_lib
from fkeras.saving.serialization_lib import serialize_keras_object
from fkeras.train.trainer import Trainer


def _functional_arguments(args, kwargs):
    """True when called as `Model(inputs, outputs)` with KerasTensors."""
    inputs = kwargs.get("inputs", args[0] if args else None)
    outputs = kwargs.get("outputs", args[1] if len(args) > 1 else None)
    if inputs is None or outputs is None:
        return False
    return any(_is_keras_tensor(x) for x in _leaves(inputs)) and any(_is_keras_tensor(x) for x in _leaves(outputs))


_FUNCTIONAL_VERSIONS = {}


def _functional_version(cls, functional):
    version = _FUNCTIONAL_VERSIONS.get(cls)
    if version is None:
        version = type(cls.__name__, (cls, functional), {"__module__": cls.__module__,
                                                         "__qualname__": cls.__qualname__})
        _FUNCTIONAL_VERSIONS[cls] = version
    return version


class Model(Layer, Trainer):
    """A trainable model. See the module docstring."""

    _fk_functional_class = None  # fkeras.models.functional.Functional, set when that module loads

    def __new__(cls, *args, **kwargs):
        Functional = Model._fk_functional_class
        if Functional is not None and _functional_arguments(args, kwargs):
            if not issubclass(cls, Functional):
                # Model(inputs, outputs) is a Functional; a Model subclass called that way becomes a
                # Functional keeping its own methods (e.g. a custom `train_step`), as in Keras.
                target = Functional if cls is Model else _functional_version(cls, Functional)
                return target.__new__(target, *args, **kwargs)
        obj = super().__new__(cls, *args, **kwargs)
        obj.__dict__.setdefault("train_state", None)
        return obj

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args:
            raise TypeError(
                f"{type(self).__name__}: unexpected positional arguments {args!r:.80}; subclasses call "
                "`super().__init__()` and the Functional API is `Model(inputs=..., outputs=...)`."
            )
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        Trainer._init_trainer(self)

    # -- the pure counterpart ---------------------------------------------------------
    # `_fk_container()` (Layer's hook): the pure nn container running this model (Sequential,
    # Functional), or None when the model's math is a user's `call` (a `SubclassAdapter` then).

    @property
    def nn_layer(self):
        """This model's pure counterpart (an `fkeras.nn` layer): what the engine, the shims and
        saving run. Made afresh from the current layers (cheap; read when a step is traced)."""
        return pure_of(self)

    def _fk_apply(self, variables, inputs, kwargs, training, rng):
        """A stateless call (`apply`, an eager `model(x)`): a container model runs its pure
        counterpart; a subclassed model binds its Variables and runs its `call` (Layer's way)."""
        if self._fk_container() is None:
            return Layer._fk_apply(self, variables, inputs, kwargs, training, rng)
        if not isinstance(variables, (tuple, list)) or len(variables) != 2:
            raise TypeError(f"Model '{self.name}': apply expects `variables` as Variables(params, state), got "
                            f"{type(variables).__name__}.")
        kwargs = {k: v for k, v in kwargs.items() if k not in ("mask", "training")}
        if kwargs:
            raise TypeError(f"Model '{self.name}': unexpected call argument(s) {sorted(kwargs)}; a "
                            f"{type(self).__name__} takes its inputs, `training` and `mask`.")
        if not self.built:
            self.init(next_key(), *inputs)
        params, state = variables
        self._fk_check_variables(params, state)
        self._fk_check_call_input(inputs)
        out, new_state, aux = self._fk_container().apply_with_losses(
            Variables(params, state), *inputs, training=None if training is None else bool(training),
            rng=_as_key(rng))
        return out, new_state, [] if isinstance(aux, float) and aux == 0.0 else [aux]

    def init(self, rng, *example_inputs, **kwargs) -> Variables:
        """Fresh `Variables(params, state)` for inputs like `example_inputs`, drawn from the JAX key
        `rng`. A built container model asks its pure counterpart (`nn_layer.init`: each layer's key
        folded from `rng` with its name, as the facade's walk does); otherwise the facade traces its
        `call` to build the layers first (Layer's way)."""
        container = self._fk_container() if self.built and example_inputs and not kwargs else None
        if container is None:
            return Layer.init(self, rng, *example_inputs, **kwargs)
        rng = _as_key(rng)
        if rng is None:
            raise ValueError(f"Model '{self.name}': init needs a JAX key (jax.random.key(seed)), got None.")
        specs = [_map(_to_spec, x) for x in example_inputs]
        self._fk_check_call_input(specs)
        values = container.init(rng, *specs)
        if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(values)):
            params, state = values
            for var, kind, path in self._fk_variables():
                if _unset(var):  # a weight with no value anywhere yet takes the new one
                    var._value = get_path(params if kind == "params" else state, path)
        return values

    # -- the Trainer's host protocol ------------------------------------------------
    def _forward(self, params, state, x, training, rng):
        """`(y_pred, new_state, aux_loss)`: the model's pure counterpart, `nn_layer.apply_with_losses`
        (aux_loss sums add_loss terms, activity and weight regularization, in float32)."""
        if not self.built:
            self.init(next_key(), x)
        self._fk_check_call_input((x,))
        out, new_state, aux = self.nn_layer.apply_with_losses(Variables(params, state), x, training=training,
                                                              rng=_as_key(rng))
        return out, new_state, aux

    def _build_from_data(self, x):
        """Build the model from an example batch `x` (no-op when built)."""
        if not self.built:
            self.init(next_key(), x)

    def _callback_list(self, callbacks, *, add_history, add_progbar, verbose, epochs, steps):
        """The `fkeras.callbacks.CallbackList` that fit/evaluate/predict drive (History and the progress
        bar added as in Keras)."""
        return CallbackList(callbacks, add_history=add_history, add_progbar=add_progbar, model=self,
                            verbose=verbose, epochs=epochs, steps=steps)

    def build(self, input_shape=None):
        """Build for `input_shape` (a shape with None batch, or a list/dict of them)."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build needs an input shape, got None.")
        self.init(next_key(), _map(_to_spec, input_shape))

    # -- Keras model API -------------------------------------------------------------
    def get_layer(self, name=None, index=None):
        """A direct sub-layer by `name` or by `index` (Keras order)."""
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("Provide only `name` or `index`, not both.")
        if index is not None:
            if not isinstance(index, int) or not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(layers)} layers; index {index!r} is out of range."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name!r}. Existing layers are: {[layer.name for layer in layers]}."
            )
        raise ValueError("Provide either a layer `name` or `index`.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras's summary table (Layer (type) / Output Shape / Param #, with totals)."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Write the model for inference: a TF SavedModel (default), "onnx", "torch" or "litert" (`fkeras.export`)."""
        return export_model(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Quantize every leaf layer that has a quantized form (Keras's `model.quantize`): Dense and EinsumDense
        to "int8", "int4" or "float8", Embedding to "int8" or "int4" (`layer.quantize`, `config` a
        `QuantizationConfig`); others are skipped with a warning. `filters`: a regex, a list of regexes
        (matched against layer names/paths) or a callable `layer -> bool`. "gptq"/"awq" (a `GPTQConfig`/
        `AWQConfig` with `dataset`, `tokenizer` and a `quantization_layer_structure`, else this model's
        `get_quantization_layer_structure(mode)`) calibrate the Dense/EinsumDense layers and attention
        projections inside the structure's `sequential_blocks`, block by block (`fkeras.nn.gptq`); layers outside
        the blocks stay float. The TrainState is rebuilt from the new weights (the compiled steps are traced
        again)."""
        import re
        import warnings
        from collections.abc import Callable

        type_check = kwargs.pop("type_check", True)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if filters is not None and not isinstance(filters, (str, Callable, list, tuple)):
            raise ValueError("The `filters` argument must be a regex string, a list of regex strings, or a callable. "
                             f"Received: {type(filters)}")

        resolved = validate_and_resolve_config(mode, config)  # bad mode/config: an error before any change
        calibrated = resolved.mode in ("gptq", "awq")
        if calibrated:
            mode = resolved.mode
            structure = resolved.quantization_layer_structure
            if structure is None:
                structure = self.get_quantization_layer_structure(mode)
            if structure is None:
                raise ValueError(f"For mode={mode!r}, a valid quantization structure must be provided either via "
                                 "`config.quantization_layer_structure` or by overriding "
                                 "`model.get_quantization_layer_structure(mode)`. The structure should be a "
                                 "dictionary with keys 'pre_block_layers' and 'sequential_blocks'.")
            if resolved.dataset is None or resolved.tokenizer is None:
                raise ValueError(f"{mode.upper()} quantization requires a dataset and a tokenizer. Please provide "
                                 f"them in the `{type(resolved).__name__}`.")
            if not isinstance(structure, dict) or not structure.get("sequential_blocks"):
                raise ValueError("No sequential blocks found in the provided structure to quantize: expected a dict "
                                 "with a non-empty 'sequential_blocks' list (and optional 'pre_block_layers'), "
                                 f"got {structure!r}.")

        def wanted(layer, path):
            if filters is None:
                return True
            if callable(filters):
                return bool(filters(layer))
            names = (layer.name, "/".join(path))
            return any(re.search(f, n) for f in ([filters] if isinstance(filters, str) else filters) for n in names)

        leaves = [(layer, path) for layer, path in self._fk_walk()
                  if layer is not self and not list(layer._fk_children())]
        if self.train_state is not None:  # the weights live in the TrainState: hand them back to the Variables
            for var, _, _ in self._fk_variables():
                var._value = var._stored()
        changed = False
        if calibrated:  # Keras's layer-wise calibration over the structure's blocks (`fkeras.nn.gptq`)
            self._fk_quantize_calibrated(resolved, structure, wanted)
            leaves, changed = [], True
        for layer, path in leaves:
            # Keras's leaves inside a MultiHeadAttention/GroupQueryAttention are its EinsumDense projections
            projections = getattr(layer, "_fk_quantize_projections", None)
            done = None if projections is None else projections(
                resolved.mode, resolved, lambda view, name, path=path: wanted(view, (*path, name)))
            if done is not None:
                changed = changed or done
                continue
            if not wanted(layer, path):
                continue
            try:
                layer.quantize(mode, type_check=type_check, config=config)
                changed = True
            except NotImplementedError as e:
                warnings.warn(str(e), stacklevel=2)
            except AttributeError:
                pass
        if changed:
            self.train_state = None
            self._engine = None
            self._opt_key = None

    def get_quantization_layer_structure(self, mode=None):
        """The `{"pre_block_layers": [...], "sequential_blocks": [...]}` GPTQ/AWQ calibrate (Keras's hook for
        model authors to override); None by default, so the config's `quantization_layer_structure` is needed."""
        del mode
        return None

    def _fk_quantize_calibrated(self, config, structure, wanted):
        """GPTQ/AWQ: the Dense/EinsumDense layers inside each block, calibrated block by block on the config's
        dataset and quantized in place (`gptq.calibrate_layerwise`)."""
        facades = {}  # (block id, name) -> (facade layer, projection name or None) to quantize

        def targets_of(block):
            found = {}
            for layer, path in block._fk_walk():
                nn_layer = layer.__dict__.get("_fk_nn")
                if list(layer._fk_children()) or nn_layer is None:
                    continue
                name = getattr(layer, "path", None) or layer.name
                specs = layer.__dict__.get("_fk_build_specs")
                if callable(getattr(layer, "_fk_quantize_projections", None)) and specs and callable(
                        getattr(nn_layer, "projections", None)):  # an attention layer: its EinsumDense projections
                    kernels = {v._fk_subpath[0]: v.shape for v in layer._fk_vars
                               if v.trainable and len(v._fk_subpath) == 2 and v._fk_subpath[1] == "kernel"}
                    for proj, sub in nn_layer.projections(*specs).items():
                        if (sub.dtype_policy.quantization_mode is None and proj in kernels
                                and wanted(NNLayer.from_nn(sub), (*path, proj))):
                            facades[(id(block), f"{name}/{proj}")] = (layer, proj)
                            found[f"{name}/{proj}"] = ((nn_layer, proj), _gptq.kernel_rows_columns(kernels[proj])[0])
                    continue
                if not isinstance(nn_layer, (_nn_core.Dense, _nn_attention.EinsumDense)):
                    continue
                if layer.dtype_policy.quantization_mode is not None or not wanted(layer, path):
                    continue
                kernel = next(v for v in layer._fk_vars if v._fk_subpath == ("kernel",) and v.trainable)
                facades[(id(block), name)] = (layer, None)
                found[name] = (nn_layer, _gptq.kernel_rows_columns(kernel.shape)[0])
            return found

        def quantize(block, name, stats):
            layer, proj = facades[(id(block), name)]
            if proj is None:
                layer._fk_quantize(config.mode, True, config, calibration=stats)
            else:
                layer._fk_quantize_projections(config.mode, config, wanted=lambda view, n: n == proj,
                                               calibration={proj: stats})

        loader = _gptq.get_dataloader(config.tokenizer, config.sequence_length, config.dataset,
                                      num_samples=config.num_samples)
        make_stats = _gptq.HessianStats if config.mode == "gptq" else _awq.ActivationStats
        _gptq.calibrate_layerwise(loader[:config.num_samples], config.num_samples,
                                  list(structure.get("pre_block_layers", [])), list(structure["sequential_blocks"]),
                                  targets_of, make_stats, quantize)

    def save(self, filepath, overwrite=True, **kwargs):
        """Save as a `.keras` archive laid out as Keras 3 writes it (`fkeras.saving`)."""
        return saving_lib.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        return saving_lib.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        return saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as Keras's JSON (`keras.models.model_from_json` reads it); `kwargs`
        go to `json.dumps`."""
        return json.dumps(serialize_keras_object(self), default=saving_lib.json_default, **kwargs)

    def get_config(self):
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if cls is Model and "layers" in config and "input_layers" in config:
            return Model._fk_functional_class.from_config(config, custom_objects=custom_objects)
        return super().from_config(config)


Model.build._fk_default_build = True
