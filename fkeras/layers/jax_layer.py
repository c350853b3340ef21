"""`fkeras.layers.JaxLayer` / `FlaxLayer`: the facade views of `fkeras.nn.jax_layer`'s pure layers, with
Keras 3.15's signatures, `params`/`state` trees of Variables and configs (functions and the Flax module
serialized as Keras does)."""

from __future__ import annotations

from fkeras.layers import wrapped as _wrapped
from fkeras.nn import jax_layer as _jax
from fkeras.saving.serialization_lib import deserialize_keras_object, in_safe_mode, serialize_keras_object

__all__ = ["JaxLayer", "FlaxLayer"]


def _register(facade_cls):
    """Make `facade_cls` the facade of its nn class (so `as_facade`/`NNLayer.from_nn` return it)."""
    _wrapped._WRAPPERS[facade_cls._fk_nn_class] = facade_cls
    return facade_cls


def _refuse_unsafe(what, safe_mode):
    """Keras's refusal to load code-carrying configs (a pickled module, an external SavedModel) in safe mode."""
    effective = safe_mode if safe_mode is not None else in_safe_mode()
    if effective is not False:
        raise ValueError(f"Requested the deserialization of {what}. This carries a potential risk of arbitrary code "
                         "execution and thus it is disallowed by default. If you trust the source of the artifact, "
                         "you can override this error by passing `safe_mode=False` to the loading function, or "
                         "calling `keras.config.enable_unsafe_deserialization()`.")


def _build_at_init(layer):
    """Keras builds these at construction: the weights exist before any call, whatever the input."""
    layer._fk_make_nn_vars((), None)
    layer.__dict__["_fk_build_specs"] = ()
    layer.__dict__["built"] = True


@_register
class JaxLayer(_wrapped.NNLayer):
    __doc__ = _jax.JaxLayer.__doc__
    _fk_nn_class = _jax.JaxLayer

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 native_serialization_platforms=None, **kwargs):
        super().__init__(call_fn, init_fn=init_fn, params=params, state=state, seed=seed,
                         native_serialization_platforms=native_serialization_platforms, **kwargs)
        if self.__dict__["_fk_nn"]._fk_structures["given"] is not None:
            _build_at_init(self)

    def _fk_tree_of_variables(self, kind):
        structures = self.__dict__["_fk_nn"]._fk_structures
        pair = structures.get("given") or structures.get("built")
        if pair is None:
            return None
        by_name = {v._fk_subpath[0]: v for v in self._fk_vars}
        return (pair[0] if kind == "params" else pair[1]).tree(by_name)

    @property
    def params(self):
        """The params pytree with this layer's `Variable`s as leaves (None before build), as Keras's."""
        return self._fk_tree_of_variables("params")

    @property
    def state(self):
        """The state pytree with this layer's `Variable`s as leaves (None before build), as Keras's."""
        return self._fk_tree_of_variables("state")

    def get_config(self):
        config = super().get_config()
        for key in ("call_fn", "init_fn"):
            config[key] = serialize_keras_object(config[key])
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("call_fn", "init_fn"):
            config[key] = deserialize_keras_object(config.get(key))
        return cls(**config)


@_register
class FlaxLayer(JaxLayer):
    __doc__ = _jax.FlaxLayer.__doc__
    _fk_nn_class = _jax.FlaxLayer

    def __init__(self, module, method=None, variables=None, **kwargs):
        _wrapped.NNLayer.__init__(self, module, method=method, variables=variables, **kwargs)
        if self.__dict__["_fk_nn"]._fk_structures["given"] is not None:
            _build_at_init(self)

    def get_config(self):
        config = _wrapped.NNLayer.get_config(self)
        config["module"] = serialize_keras_object(config["module"])
        config["method"] = serialize_keras_object(config["method"])
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        module = deserialize_keras_object(config["module"])
        method = config.get("method")
        method = getattr(module, method) if isinstance(method, str) else deserialize_keras_object(method)
        config.update(module=module, method=method)
        return cls(**config)
