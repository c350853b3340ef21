"""`ExportArchive`: Keras's lower-level SavedModel writer (`track`, `add_endpoint`, `add_variable_collection`,
`write_out`), over the TF shim.

A tracked fkeras model becomes a `fkeras.interop.tf.TFModule` (its params and state as `tf.Variable`s named
by path, its forward as TF ops); an endpoint built on a tracked model's `call`/`__call__` runs that TF
graph, so the artifact needs neither fkeras nor JAX. An endpoint that is some other Python function over
fkeras/JAX code is converted with `jax2tf` (its weights become constants of the graph); a `tf.function`
is used as given.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from fkeras.export._atomic import atomic_path
from fkeras.interop._extras import import_tensorflow
from fkeras.ops._array_face import ArrayFace  # fkeras's Variables: layer weights, optimizer variables
from fkeras.nn.base import as_variables


def _tf():
    return import_tensorflow("fkeras.export")


def _is_fkeras_model(obj):
    return callable(getattr(obj, "apply", None)) and callable(getattr(obj, "init", None)) \
        and hasattr(obj, "variables_tree")


def _tensor_spec(s, name=None):
    """A `tf.TensorSpec` from a TensorSpec, an InputSpec/KerasTensor/array (shape + dtype) or a shape tuple."""
    tf = _tf()
    if isinstance(s, tf.TensorSpec):
        return s
    if isinstance(s, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in s):
        return tf.TensorSpec([None if d is None else int(d) for d in s], tf.float32, name=name)
    shape, dtype = getattr(s, "shape", None), getattr(s, "dtype", None)
    if shape is None and dtype is None:
        raise TypeError(f"Expected an input spec (a tf.TensorSpec, keras.InputSpec, KerasTensor, array or a shape "
                        f"tuple), got {type(s).__name__} {s!r:.80}.")
    shape = None if shape is None else [None if d is None else int(d) for d in shape]
    dtype = tf.as_dtype(np.dtype(dtype or "float32").name if not isinstance(dtype, tf.DType) else dtype)
    return tf.TensorSpec(shape, dtype, name=name or getattr(s, "name", None))


def _signature(input_signature):
    """Keras's `input_signature` (one entry per positional argument; an entry may be a list/dict of specs) as
    a flat list of TensorSpecs and the nesting to rebuild."""
    if isinstance(input_signature, dict) or not isinstance(input_signature, (list, tuple)):
        input_signature = [input_signature]
    return jax.tree.map(_tensor_spec, list(input_signature), is_leaf=lambda s: not isinstance(s, (list, tuple, dict))
                        or all(d is None or isinstance(d, (int, np.integer)) for d in s))


def model_signature(model):
    """The input signature a built fkeras model declares: one TensorSpec per input, batch free."""
    try:
        inputs = getattr(model, "inputs", None)
    except (AttributeError, ValueError, TypeError):
        inputs = None
    if isinstance(inputs, (list, tuple)) and inputs and all(hasattr(t, "shape") and hasattr(t, "dtype")
                                                            for t in inputs):
        specs = [_tensor_spec(t, name=getattr(t, "name", None)) for t in inputs]
        return specs
    from fkeras.interop.tf import _declared_input

    declared = _declared_input(model)
    if declared is None:
        raise ValueError(
            f"The model '{getattr(model, 'name', model)}' declares no input shape and has never been built: build "
            "it (an Input, `build(input_shape)`, or one call on data) or pass `input_signature` to export.")
    declared = declared if isinstance(declared, list) else [declared]
    return [_tensor_spec(s) for s in declared]


def input_specs(model, input_signature=None):
    """[(shape list with None for free dims, dtype name, name)] per flat model input (for ONNX/torch export)."""
    specs = model_signature(model) if input_signature is None else jax.tree.leaves(_signature(input_signature))
    out = []
    for s in specs:
        shape = s.shape.as_list()
        shape[0] = None if shape and shape[0] is None else shape[0]
        out.append((shape, s.dtype.name, s.name))
    return out


class ExportArchive:
    """Keras's `keras.export.ExportArchive`: a SavedModel with chosen endpoints and variable collections.

        archive = ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec((None, 3), tf.float32)])
        archive.add_variable_collection("optimizer_variables", model.optimizer.variables)
        archive.write_out("path/to/dir")      # tf.saved_model.load(...).serve(x)
    """

    def __init__(self, format="saved_model"):
        if format != "saved_model":
            raise ValueError(f"Unsupported format: {format!r}; fkeras's ExportArchive writes 'saved_model'.")
        tf = _tf()
        self._root = tf.Module()
        self._modules = {}  # id(facade model) -> (model, TFModule)
        self._endpoint_names = []
        self._endpoint_signatures = {}

    # -- variables --------------------------------------------------------------------
    @property
    def variables(self):
        return list(self._root.variables)

    @property
    def trainable_variables(self):
        return list(self._root.trainable_variables)

    @property
    def non_trainable_variables(self):
        return [v for v in self._root.variables if not v.trainable]

    # -- tracking ---------------------------------------------------------------------
    def track(self, resource):
        """Track a model's or layer's variables (or a TF trackable resource, e.g. a lookup table)."""
        tf = _tf()
        if _is_fkeras_model(resource):
            if not getattr(resource, "built", True):
                raise ValueError("The layer provided has not yet been built. It must be built before export.")
            if id(resource) not in self._modules:
                from fkeras.interop.tf import TFModule

                module = TFModule(resource, as_variables(resource.variables_tree), input_spec=None)
                self._modules[id(resource)] = (resource, module)
                setattr(self._root, f"tracked_{len(self._modules) - 1}", module)
            return self._modules[id(resource)][1]
        if isinstance(resource, tf.__internal__.tracking.Trackable):
            tracked = getattr(self._root, "tracked_resources", [])
            self._root.tracked_resources = [*tracked, resource]
            return resource
        raise ValueError("Invalid resource type. Expected an fkeras `Layer` or `Model` or a TensorFlow `Trackable` "
                         f"object. Received object {resource!r:.80} of type '{type(resource).__name__}'.")

    def _module_of(self, fn):
        """The TFModule behind `fn` when it is a tracked model, or its `call` / `__call__`."""
        owner = fn if _is_fkeras_model(fn) else getattr(fn, "__self__", None)
        method = getattr(getattr(fn, "__func__", None), "__name__", "__call__")
        if owner is not None and id(owner) in self._modules and method in ("call", "__call__"):
            return self._modules[id(owner)][1]
        return None

    # -- endpoints ----------------------------------------------------------------------
    def add_endpoint(self, name, fn, input_signature=None, **kwargs):
        """Register `fn` as the endpoint `name` (a tracked model's `call`, a `tf.function`, or a JAX function)."""
        tf = _tf()
        if name in self._endpoint_names:
            raise ValueError(f"Endpoint name '{name}' is already taken.")
        unknown = set(kwargs) - {"is_static", "jax2tf_kwargs"}
        if unknown:
            raise TypeError(f"add_endpoint: unexpected keyword arguments {sorted(unknown)}.")
        module = self._module_of(fn)
        if input_signature is None:
            if module is not None:
                model = self._modules[id(getattr(fn, "__self__", fn))][0]
                input_signature = model_signature(model)
            elif isinstance(fn, tf.types.experimental.PolymorphicFunction):
                if not fn._list_all_concrete_functions():
                    raise ValueError(
                        f"The provided tf.function '{fn}' has never been called. To specify the expected shape and "
                        "dtype of the function's arguments, you must either provide a function that has been "
                        "called at least once, or alternatively pass an `input_signature` argument in "
                        "`add_endpoint()`.")
                setattr(self._root, name, fn)
                self._endpoint_names.append(name)
                return fn
            else:
                raise ValueError(
                    "If the `fn` argument provided is not a `tf.function`, you must provide an `input_signature` "
                    "argument to specify the shape and dtype of the function arguments. Example:\n\n"
                    "export_archive.add_endpoint(\n    name='call',\n    fn=model.call,\n    input_signature=[\n"
                    "        keras.InputSpec(\n            shape=(None, 224, 224, 3),\n            dtype='float32',\n"
                    "        )\n    ],\n)")
        signature = _signature(input_signature)
        if module is not None:
            def serve(*args):
                inputs = args[0] if len(args) == 1 else tuple(args)
                return module._forward(inputs, False)
            endpoint = tf.function(serve, input_signature=signature, autograph=False)
        elif isinstance(fn, tf.types.experimental.PolymorphicFunction):
            endpoint = tf.function(fn, input_signature=signature, autograph=False)
        else:
            endpoint = self._jax2tf_endpoint(fn, signature, kwargs.get("jax2tf_kwargs"))
        setattr(self._root, name, endpoint)
        self._endpoint_names.append(name)
        self._endpoint_signatures[name] = signature
        return endpoint

    @staticmethod
    def _jax2tf_endpoint(fn, signature, jax2tf_kwargs=None):
        """A Python function over fkeras/JAX, converted by jax2tf (free dims polymorphic; weights as constants)."""
        tf = _tf()
        from jax.experimental import jax2tf

        leaves, treedef = jax.tree.flatten(signature)
        shapes = []
        for i, s in enumerate(leaves):
            dims = ["b" if j == 0 and d is None else (f"d{i}_{j}" if d is None else str(d))
                    for j, d in enumerate(s.shape.as_list())]
            shapes.append("(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")")
        kwargs = dict(jax2tf_kwargs or {})
        kwargs.setdefault("polymorphic_shapes", shapes)
        kwargs.setdefault("native_serialization_platforms", ("cpu", "cuda"))

        def flat_fn(*flat):
            return fn(*jax.tree.unflatten(treedef, flat))

        converted = jax2tf.convert(flat_fn, **kwargs)

        def serve(*args):
            return converted(*jax.tree.leaves(list(args)))

        return tf.function(serve, input_signature=signature, autograph=False)

    def track_and_add_endpoint(self, name, resource, input_signature=None, **kwargs):
        """`track(resource)`, then its forward as the endpoint `name`."""
        self.track(resource)
        return self.add_endpoint(name, resource.__call__, input_signature, **kwargs)

    def add_variable_collection(self, name, variables):
        """Variables to find on the reloaded object as `reloaded.<name>` (copied as `tf.Variable`s)."""
        tf = _tf()
        if not isinstance(variables, (list, tuple, set)):
            raise ValueError(f"Expected `variables` to be a list/tuple/set. Received instead object of type "
                             f"'{type(variables)}'.")
        if not all(isinstance(v, (tf.Variable, ArrayFace)) for v in variables):
            raise ValueError("Expected all elements in `variables` to be `tf.Variable` instances. Found instead the "
                             f"following types: {list(set(type(v) for v in variables))}")
        converted = [v if isinstance(v, tf.Variable) else
                     tf.Variable(np.asarray(v.value), trainable=bool(v.trainable), name=v.name)
                     for v in variables]
        setattr(self._root, name, converted)

    # -- writing ----------------------------------------------------------------------
    def _endpoint_concrete(self, name):
        fn = getattr(self._root, name)
        if name in self._endpoint_signatures:
            return fn.get_concrete_function()
        return fn._list_all_concrete_functions()[0]

    def write_out(self, filepath, options=None, verbose=True):
        """Write the SavedModel folder (atomically); the first endpoint is also `serving_default`."""
        tf = _tf()
        if not self._endpoint_names:
            raise ValueError("No endpoints have been set yet. Call add_endpoint().")
        signatures = {name: self._endpoint_concrete(name) for name in self._endpoint_names}
        if "serving_default" not in signatures:
            signatures["serving_default"] = signatures[self._endpoint_names[0]]
        atomic_path(filepath, lambda tmp: tf.saved_model.save(self._root, tmp, signatures=signatures,
                                                               options=options))
        if verbose:
            endpoints = "\n\n".join(self._describe(name, verbose) for name in self._endpoint_names)
            print(f"Saved artifact at '{os.fspath(filepath)}'. The following endpoints are available:\n\n{endpoints}")

    def _describe(self, name, verbose):
        lines = self._endpoint_concrete(name).pretty_printed_signature(verbose=verbose).split("\n")
        return "\n".join([f"* Endpoint '{name}'"] + lines[1:])
