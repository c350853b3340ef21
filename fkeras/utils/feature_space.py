"""`FeatureSpace`: Keras's one-stop preprocessing of structured data (a dict of columns) into model inputs.

Each named feature gets a preprocessing layer (identity, `Rescaling`, `Normalization`, `Discretization`,
`IntegerLookup`, `StringLookup`, `Hashing`), `adapt` learns their state from the data, crosses combine
categorical features with `HashedCrossing`, one-hot features are multi-hot encoded with their layer's
cardinality, and the result is one concatenated float array `(batch, dims)` (features in sorted name
order, then the crosses) or a dict of per-feature arrays (`output_mode="dict"`).

A `FeatureSpace` is a Keras `Layer` (as in Keras 3.15), holding its preprocessing layers as sub-layers.
`space(data)` takes a dict of arrays (a scalar or `(batch,)` column becomes `(batch, 1)`; a dict of
scalars gives one unbatched sample), eagerly or in `tf.data`'s `map`. `get_inputs()` and
`get_encoded_features()` give the symbolic graph of a model that takes the raw features, strings included.
"""

from __future__ import annotations

import numpy as np

from fkeras import layers, ops
from fkeras.nn.base import unique_name
from fkeras.saving import saving_lib
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


_AUTOGRAPH_SKIPPED = []


def _skip_autograph():
    """Keep TensorFlow's AutoGraph out of this module when a FeatureSpace runs in a `tf.data` map: it is
    plain Python over static shapes, and converting it statement by statement costs ~15 s per map (the
    preprocessing layers do the same for `fkeras.layers`/`fkeras.nn`). Uses AutoGraph's conversion rules,
    a private module: skipped if they move."""
    import sys

    if _AUTOGRAPH_SKIPPED or "tensorflow" not in sys.modules:
        return
    _AUTOGRAPH_SKIPPED.append(True)
    try:
        from tensorflow.python.autograph.core import config

        config.CONVERSION_RULES = (config.DoNotConvert("fkeras.utils"),) + tuple(config.CONVERSION_RULES)
    except (ImportError, AttributeError):
        pass


def _deserialize(config):
    # Keras's own configs name its identity preprocessor TFDIdentity
    return deserialize_keras_object(config, custom_objects={"Feature": Feature, "Cross": Cross,
                                                            "TFDIdentity": layers.Identity})


class Cross:
    """A crossing of categorical features, hashed into `crossing_dim` bins."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in {"int", "one_hot"}:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {{'int', 'one_hot'}}. "
                             f"Received: output_mode={output_mode}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Feature:
    """One feature: its input dtype, its preprocessing layer, and its output mode ("int", "one_hot", "float")."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in {"int", "one_hot", "float"}:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {{'int', 'one_hot', "
                             f"'float'}}. Received: output_mode={output_mode}")
        self.dtype = dtype
        self.preprocessor = _deserialize(preprocessor) if isinstance(preprocessor, dict) else preprocessor
        self.output_mode = output_mode

    def get_config(self):
        return {"dtype": self.dtype, "preprocessor": serialize_keras_object(self.preprocessor),
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_NAMED = ("float", "float_normalized", "float_rescaled", "float_discretized", "integer_categorical",
          "string_categorical", "integer_hashed", "string_hashed")


class FeatureSpace(layers.Layer):
    """Preprocess a dict of feature columns into one float array (or a dict of arrays), Keras's FeatureSpace.

    Args:
        features: `{name: feature}`, each a string ("float", "float_normalized", "float_rescaled",
            "float_discretized", "integer_categorical", "string_categorical", "integer_hashed",
            "string_hashed") or a `FeatureSpace.<kind>(...)` feature.
        output_mode: "concat" (one `(batch, dims)` array) or "dict".
        crosses: feature-name tuples (or `FeatureSpace.cross(...)`) to cross.
        crossing_dim, hashing_dim, num_discretization_bins: defaults for crosses, hashed and discretized
            features given by name.
    """

    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or unique_name("float")
        return Feature("float32", layers.Identity(name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or unique_name("float_rescaled")
        return Feature("float32", layers.Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor"),
                       "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or unique_name("float_normalized")
        return Feature("float32", layers.Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        name = name or unique_name("float_discretized")
        return Feature("float32", layers.Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                                                           name=f"{name}_preprocessor"), output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or unique_name("integer_categorical")
        return Feature("int32", layers.IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                                        num_oov_indices=num_oov_indices), output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or unique_name("string_categorical")
        return Feature("string", layers.StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                                        num_oov_indices=num_oov_indices), output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or unique_name("string_hashed")
        return Feature("string", layers.Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or unique_name("integer_hashed")
        return Feature("int32", layers.Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32, hashing_dim=32,
                 num_discretization_bins=32, name=None):
        if not features:
            raise ValueError("The `features` argument cannot be None or empty.")
        if output_mode not in {"dict", "concat"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of {'dict', 'concat'}. "
                             f"Received: output_mode={output_mode}")
        crosses = [_deserialize(c) if isinstance(c, dict) else c for c in crosses or ()]
        for cross in crosses:
            if not isinstance(cross, Cross):
                if not crossing_dim:
                    raise ValueError("When specifying `crosses`, the argument `crossing_dim` (dimensionality of "
                                     "the crossing space) should be specified as well.")
                if any(key not in features for key in cross):
                    raise ValueError("All features referenced in the `crosses` argument should be present in "
                                     f"the `features` dict. Received unknown features: {cross}")
        super().__init__(name=name)
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {n: self._standardize_feature(n, v) for n, v in features.items()}
        self.crosses = [c if isinstance(c, Cross) else Cross(c, crossing_dim=crossing_dim) for c in crosses]
        self.crosses_by_name = {c.name: c for c in self.crosses}
        self.output_mode = output_mode
        self.preprocessors = {n: f.preprocessor for n, f in self.features.items()}
        self.crossers = {c.name: layers.HashedCrossing(c.crossing_dim, name=c.name) for c in self.crosses}
        self.one_hot_encoders = {}
        self.concat = None
        self.inputs = None
        self.encoded_features = None
        self._is_adapted = False
        self._encoders_made = False
        _skip_autograph()

    def _standardize_feature(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return _deserialize(feature)
        if feature not in _NAMED:
            raise ValueError(f"Invalid value provided for feature '{name}': {feature}")
        if feature == "float_discretized":
            return self.float_discretized(name=name, num_bins=self.num_discretization_bins)
        if feature in ("integer_hashed", "string_hashed"):
            return getattr(self, feature)(self.hashing_dim, name=name)
        return getattr(self, feature)(name=name)

    # -- adapt ----------------------------------------------------------------------------------
    def _adaptable(self):
        out = []
        for name, p in self.preprocessors.items():
            if type(p).__name__ == "Normalization" and getattr(p, "input_mean", None) is not None:
                continue
            if hasattr(p, "adapt"):
                out.append(name)
        return out

    def adapt(self, dataset):
        """Learn each adaptable preprocessor's state (vocabularies, means and variances, bin edges) from
        `dataset`: a dict of arrays or a `tf.data.Dataset` of dicts."""
        columns = self._columns(dataset)
        for name in self._adaptable():
            if name not in columns:
                raise ValueError(f"FeatureSpace.adapt: the data has no feature {name!r} (it has {sorted(columns)}).")
            x = columns[name]
            if x.ndim in (0, 1):
                x = x.reshape(-1, 1)
            self.preprocessors[name].adapt(x)
        self._is_adapted = True
        self._make_encoders()
        self.get_encoded_features()  # as Keras: every preprocessor is built on its `(None, 1)` input

    @staticmethod
    def _columns(dataset):
        if isinstance(dataset, dict):
            return {k: np.asarray(v) for k, v in dataset.items()}
        if any(c.__name__ in ("DatasetV2", "Dataset") and "tensorflow" in c.__module__ for c in type(dataset).__mro__):
            parts = {}
            for element in dataset.as_numpy_iterator():
                if not isinstance(element, dict):
                    raise ValueError("FeatureSpace.adapt: expected a dataset of dicts of features; got elements of "
                                     f"type {type(element).__name__}.")
                for k, v in element.items():
                    parts.setdefault(k, []).append(np.asarray(v))
            return {k: np.concatenate([p.reshape(-1, *p.shape[2:]) if p.ndim > 1 else p.reshape(-1) for p in v])
                    for k, v in parts.items()}
        raise ValueError("`adapt()` can only be called on a tf.data.Dataset or a dict of arrays. Received: "
                         f"{type(dataset).__name__}")

    def _check_if_adapted(self):
        if not self._is_adapted:
            if self._adaptable():
                raise ValueError("You need to call `.adapt(dataset)` on the FeatureSpace before you can start "
                                 "using it.")
            self._is_adapted = True
        self._make_encoders()

    # -- encoding -------------------------------------------------------------------------------
    def _cardinality(self, name, layer):
        kind = type(layer).__name__
        if kind in ("IntegerLookup", "StringLookup"):
            return layer.vocabulary_size()
        if kind == "CategoryEncoding":
            return layer.num_tokens
        if kind in ("Discretization", "HashedCrossing", "Hashing"):
            return layer.num_bins
        raise ValueError(f"Feature '{name}' has `output_mode='one_hot'`. Thus its preprocessor should return an "
                         f"integer dtype. Instead it returns a {kind} output.")

    def _make_encoders(self):
        if self._encoders_made:
            return
        specs = {**{n: f for n, f in self.features.items()}, **self.crosses_by_name}
        for name, spec in specs.items():
            if spec.output_mode == "one_hot":
                layer = self.preprocessors.get(name) or self.crossers.get(name)
                self.one_hot_encoders[name] = layers.CategoryEncoding(
                    num_tokens=self._cardinality(name, layer), output_mode="multi_hot")
            elif self.output_mode == "concat" and spec.output_mode == "int":
                raise ValueError(f"Cannot concatenate features because feature '{name}' has not been encoded "
                                 "(it has an integer dtype). Set `output_mode='one_hot'` on the feature, or "
                                 "use the FeatureSpace with `output_mode='dict'`.")
        self.concat = layers.Concatenate(axis=-1)
        self._encoders_made = True
        self.built = True

    def _encode(self, features):
        pre = {n: self.preprocessors[n](features[n]) for n in features}
        crossed = {c.name: self.crossers[c.name]([pre[n] for n in c.feature_names]) for c in self.crosses}
        names = sorted(pre) + sorted(crossed)
        values = [pre[n] for n in sorted(pre)] + [crossed[n] for n in sorted(crossed)]
        out = {}
        for name, value in zip(names, values):
            encoder = self.one_hot_encoders.get(name)
            out[name] = encoder(value) if encoder is not None else value
        if self.output_mode == "dict":
            return out
        return self.concat([out[n] for n in names])

    def get_inputs(self):
        """`{name: Input((1,), dtype)}`: the raw-feature inputs of a model built on `get_encoded_features()`."""
        self._check_if_adapted()
        if self.inputs is None:
            self.inputs = {n: layers.Input(shape=(1,), dtype=f.dtype, name=n) for n, f in self.features.items()}
        return self.inputs

    def get_encoded_features(self):
        """The symbolic encoded features of `get_inputs()` (a tensor with "concat", a dict with "dict")."""
        if self.encoded_features is None:
            self.encoded_features = self._encode(self.get_inputs())
        return self.encoded_features

    def __call__(self, data):
        """Encode `data`, a dict of feature columns (arrays of `(batch,)` or `(batch, 1)`, or scalars)."""
        _skip_autograph()
        self._check_if_adapted()
        if not isinstance(data, dict):
            raise ValueError(f"A FeatureSpace can only be called with a dict. Received: data={data} "
                             f"(of type {type(data)}")
        missing = [n for n in self.features if n not in data]
        if missing:
            raise ValueError(f"FeatureSpace: the data has no features {missing} (it has {sorted(data)}).")
        columns, rebatched = {}, False
        for name in self.features:
            x = data[name]
            x = x if hasattr(x, "shape") and not isinstance(x, np.ndarray) else np.asarray(x)
            if len(x.shape) == 0:
                x, rebatched = np.reshape(x, (1, 1)), True
            elif len(x.shape) == 1:
                x = x[:, None] if isinstance(x, np.ndarray) else _expand(x)
            if isinstance(x, np.ndarray) and self.features[name].dtype != "string":
                x = x.astype(self.features[name].dtype)
            columns[name] = x
        out = self._encode(columns)
        if rebatched:
            if self.output_mode == "concat":
                return out[0]
            return {k: v[0] if len(v.shape) == 2 and v.shape[0] == 1 else v for k, v in out.items()}
        return out

    # -- config ---------------------------------------------------------------------------------
    def get_config(self):
        return {"features": {n: _as_keras_saveable(f) for n, f in self.features.items()},
                "output_mode": self.output_mode, "crosses": [_as_keras_saveable(c) for c in self.crosses],
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        """Keras's: each feature's preprocessor build config, so a reader builds them before their weights load."""
        out = {n: serialize_keras_object(f.preprocessor).get("build_config") or {} for n, f in self.features.items()}
        for build in out.values():  # a preprocessor adapted on arrays was built with their batch size
            if isinstance(build.get("input_shape"), list) and build["input_shape"]:
                build["input_shape"] = [None, *build["input_shape"][1:]]
        return out

    def build_from_config(self, config):
        for name, build in config.items():
            preprocessor = self.features[name].preprocessor
            if not preprocessor.built and build.get("input_shape") is not None:
                preprocessor.build(tuple(build["input_shape"]))
        self._is_adapted = True

    def save(self, filepath):
        """Write this FeatureSpace to a `.keras` file, as Keras does; `fkeras.models.load_model` reads it back
        (and so does Keras's)."""
        saving_lib.save_model(self, filepath)


def _as_keras_saveable(obj):
    """A `Feature`'s or `Cross`'s config as Keras writes it (under Keras's module, so Keras reads it back)."""
    name = type(obj).__name__
    return {"module": "keras.src.layers.preprocessing.feature_space", "class_name": name,
            "config": serialize_keras_object(obj.get_config()), "registered_name": name}


def _expand(x):
    return ops.expand_dims(x, -1)
