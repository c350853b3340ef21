"""`TextVectorization`: strings -> standardized -> split -> n-grams -> vocabulary indices or vectors.

Strings are Python `str`; punctuation is stripped with the `regex` package. The built-in options do
what Keras's TensorFlow ops do, so vocabularies and indices equal Keras's: "lower" lowercases ASCII
letters only (`tf.strings.lower`), "whitespace" splits on ASCII whitespace (`tf.strings.split`),
"character" splits into Unicode code points (`tf.strings.unicode_split`). A callable `standardize`
gets a NumPy str array (batch,) or (batch, 1) and returns strings of the same shape (Keras's non-TF
backends do the same); a callable `split` gets a NumPy str array (batch,) and returns one sequence of
tokens per element (a list of lists, or a tf RaggedTensor: `tf.strings` callables work as in Keras).
"""

from __future__ import annotations

import numpy as np

from fkeras.nn import registration
from fkeras.nn.base import as_variables
from fkeras.nn.preprocessing import _common
from fkeras.nn.preprocessing.lookup import StringLookup

PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'  # Keras's DEFAULT_STRIP_REGEX
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _regex():
    try:
        import regex
    except ImportError:
        raise ImportError('TextVectorization needs regex, which is not installed: pip install "fkeras[text]"') from None
    return regex


class TextVectorization(_common.PreprocessingLayer):
    """Text -> int sequences (`output_mode="int"`, (batch, output_sequence_length or the longest), 0-padded)
    or (batch, depth) vectors ("multi_hot", "count", "tf_idf"; "one_hot" as StringLookup). Index 0 is the
    padding/mask token "", 1 the OOV token "[UNK]".

    The vocabulary lives in an inner `StringLookup` (`lookup_layer`); `adapt`, `set_vocabulary`,
    `load_assets` and `load_own_variables` return a new layer holding it (the `updates` protocol).
    """

    builds_no_variables = True  # the facade layer is built as made
    input_dtype = "string"  # Keras's `layer.input_dtype`: a Sequential starting with it takes strings

    updates = ("adapt", "set_vocabulary", "load_assets", "load_own_variables")
    hooks = ("get_vocabulary", "vocabulary_size", "save_own_variables", "save_assets")  # facade methods too
    autocast = False

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        if sparse:
            raise self.error("`sparse=True` can only be used with the TensorFlow backend.")
        if ragged:
            raise self.error("`ragged=True` can only be used with the TensorFlow backend.")
        if not (standardize is None or callable(standardize)
                or standardize in ("lower_and_strip_punctuation", "lower", "strip_punctuation")):
            raise self.error(f"invalid `standardize` {standardize!r}; expected None, a callable, or one of "
                             "'lower_and_strip_punctuation', 'lower', 'strip_punctuation'.")
        if not (split is None or callable(split) or split in ("whitespace", "character")):
            raise self.error(f"invalid `split` {split!r}; expected None, a callable, 'whitespace' or 'character'.")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise self.error(f"invalid `output_mode` {output_mode!r}; expected one of 'int', 'one_hot', 'multi_hot', "
                             "'count', 'tf_idf'.")
        if not (ngrams is None or isinstance(ngrams, int)
                or isinstance(ngrams, tuple) and all(isinstance(i, int) for i in ngrams)):
            raise self.error(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise self.error("`output_sequence_length` must be either None or an integer when `output_mode` is "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise self.error("`output_sequence_length` must not be set if `output_mode` is not 'int'. "
                             f"Received output_sequence_length={output_sequence_length}.")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.ngrams_arg = ngrams
        self.ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self.ragged = ragged
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.encoding = encoding
        self.sparse = sparse
        self.lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                         pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                         sparse=sparse, has_input_vocabulary=has_input_vocabulary, encoding=encoding,
                                         vocabulary_size=vocabulary_size)

    # -- preprocessing (host, NumPy/str) -------------------------------------------------------------
    def _standardize(self, a: np.ndarray) -> np.ndarray:
        if callable(self.standardize):
            out = self.standardize(a.astype(str) if a.size else a.astype("U1"))
            return _common.as_text(_common.to_numpy(out)).reshape(a.shape)
        ops = []
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            ops.append(lambda s: s.translate(_ASCII_LOWER))
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            pattern = _regex().compile(PUNCTUATION)
            ops.append(lambda s: pattern.sub("", s))
        if not ops:
            return a
        out = np.empty(a.shape, dtype=object)
        for idx, s in np.ndenumerate(a):
            for op in ops:
                s = op(s)
            out[idx] = s
        return out

    def _split(self, a: np.ndarray) -> list:
        if a.ndim > 1:
            if a.shape[-1] != 1:
                raise self.error("when using `TextVectorization` to tokenize strings, the input rank must be 1 or the "
                                 f"last shape dimension must be 1. Received: inputs.shape={a.shape} with rank={a.ndim}")
            a = a[..., 0]
        if self.split == "whitespace":
            return [[t.decode("utf-8") for t in s.encode("utf-8").split()] for s in a.reshape(-1)]
        if self.split == "character":
            return [list(s) for s in a.reshape(-1)]
        out = self.split(a.astype(str) if a.size else a.astype("U1"))
        return [[t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in _common.to_numpy(row).reshape(-1)]
                if not isinstance(row, (list, tuple)) else [str(t) for t in row] for row in out]

    def _ngrams(self, tokens: list) -> list:
        out = []
        for width in self.ngrams:
            out += [" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1)]
        return out

    def preprocess(self, x):
        """Standardized, split and n-grammed text: a list of token lists (one per element of a (batch,) or
        (batch, 1) input) when splitting, else the standardized str array."""
        a = _common.as_text(_common.to_numpy(x) if not isinstance(x, (list, tuple, str)) else np.asarray(x, object))
        if a.dtype.kind != "O":
            raise self.error(f"expected string inputs, got an array of dtype {a.dtype}.")
        a = self._standardize(a)
        if self.split is None:
            if self.ngrams is not None:
                raise self.error("`ngrams` needs a `split` (the tokens to join).")
            return a
        scalar = a.ndim == 0
        docs = self._split(a[None] if scalar else a)
        if self.ngrams is not None:
            docs = [self._ngrams(d) for d in docs]
        return docs[0] if scalar else docs

    # -- vocabulary ------------------------------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens=True):
        return self.lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self.lookup_layer.vocabulary_size()

    def _with_lookup(self, lookup):
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_frozen"})
        new.__dict__["lookup_layer"] = lookup
        object.__setattr__(new, "_frozen", True)
        return new

    def adapt(self, variables, data, batch_size=None, steps=None):
        """A copy with the vocabulary of the preprocessed `data` (array/list of strings, tf.data Dataset or
        iterable of batches). Returns `(new layer, variables, None)`."""
        if self.lookup_layer._has_input_vocabulary:
            raise self.lookup_layer.error("cannot adapt the layer after setting a static vocabulary via "
                                          "`vocabulary` argument or `set_vocabulary()` method.")
        direct = isinstance(data, (list, tuple, np.ndarray)) or (
            hasattr(data, "shape") and _common.framework(data) != "numpy")

        def documents():
            for batch in ([data] if direct else _common.batches(data, steps)):
                a = np.asarray(batch, object) if isinstance(batch, (list, tuple)) else _common.to_numpy(batch)
                if direct and a.ndim == 1:
                    a = a[:, None]
                docs = self.preprocess(a)
                if isinstance(docs, np.ndarray):  # split=None: rows are documents, a rank-1 batch is one
                    docs = [list(docs)] if docs.ndim <= 1 else [list(r.reshape(-1)) for r in docs]
                elif docs and not isinstance(docs[0], list):  # a scalar batch: one document
                    docs = [docs]
                yield from docs

        lookup, _, _ = self.lookup_layer._adapted(documents(), None)
        return self._with_lookup(lookup), variables, None

    def set_vocabulary(self, variables, vocabulary, idf_weights=None):
        lookup, _, _ = self.lookup_layer.set_vocabulary(None, vocabulary, idf_weights)
        return self._with_lookup(lookup), variables, None

    def save_own_variables(self, store):
        self.lookup_layer.save_own_variables(store)

    def load_own_variables(self, variables, store):
        lookup, _, _ = self.lookup_layer.load_own_variables(None, store)
        return self._with_lookup(lookup), variables, None

    def save_assets(self, dir_path):
        self.lookup_layer.save_assets(dir_path)

    def load_assets(self, variables, dir_path):
        lookup, _, _ = self.lookup_layer.load_assets(None, dir_path)
        return self._with_lookup(lookup), variables, None

    def saving_children(self):
        """Objects Keras's saving also walks: the inner StringLookup at `_lookup_layer`."""
        return (("_lookup_layer", self.lookup_layer),)

    # -- call -------------------------------------------------------------------------------------------
    def _numpy(self, x):
        docs = self.preprocess(x)
        lookup = self.lookup_layer
        if isinstance(docs, np.ndarray):  # no split: a lookup of the strings as they are
            return lookup._encode_np(docs)
        if self.output_mode != "int":
            depth = lookup._depth()
            mode = "count" if self.output_mode == "tf_idf" else self.output_mode
            rows = []
            for d in docs:
                ids = lookup._lookup_np(np.asarray(d, dtype=object))
                if mode == "one_hot":
                    rows.append(_common.encode_np(ids, mode, depth, "int64"))
                else:
                    rows.append(_common.encode_np(ids, mode, depth, "int64") if len(d) else np.zeros(depth, "int64"))
            out = np.stack(rows) if rows else np.zeros((0, depth), "int64")
            if self.output_mode == "tf_idf":
                out = out.astype("float32") * lookup.idf_weights
            return out
        length = self.output_sequence_length
        if length is None:
            length = max((len(d) for d in docs), default=0)
        out = np.zeros((len(docs), length), dtype=np.int64)
        for i, d in enumerate(docs):
            ids = lookup._lookup_np(np.asarray(d[:length], dtype=object))
            out[i, :len(ids)] = ids
        return out

    def _out_shape(self, shape):
        batch = shape[0] if shape else 1
        if self.output_mode == "int":
            if self.split is None:
                return tuple(shape)
            return (batch, self.output_sequence_length if self.output_sequence_length is not None else None)
        depth = self.lookup_layer._depth()
        return (batch, depth)

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (batch,) or (batch, 1) (None dims allowed)."""
        return self._out_shape(tuple(input_shape))

    @property
    def output_dtype(self) -> str:
        """The symbolic outputs' dtype, Keras's rule: int64 for "int", float32 otherwise (a symbolic call on
        string inputs reads it)."""
        return "int64" if self.output_mode == "int" else "float32"

    def apply(self, variables, x, training=False, rng=None):
        variables = as_variables(variables)
        lookup = self.lookup_layer
        if self.output_mode != "int" and not lookup.pad_to_max_tokens and lookup._frozen_vocab_size is None:
            raise self.error(f"when using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must "
                             "set the layer's vocabulary before calling it. Either pass a `vocabulary` argument to "
                             "the layer, or call `adapt` with some sample data.")
        if isinstance(x, (list, tuple, str)):
            x = np.asarray(x, dtype=object)
        shape = self._out_shape
        if self.output_mode == "int" and self.output_sequence_length is None and self.split is not None:
            shape = lambda s: (s[0] if s else 1, None)  # noqa: E731 - the longest sequence of the batch
        dtype = "float32" if self.output_mode == "tf_idf" else "int64"
        return _common.host_call(self._numpy, x, shape, dtype), variables.state

    def get_config(self):
        config = super().get_config()
        lookup = self.lookup_layer
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self.standardize, "split": self.split,
            "ngrams": self.ngrams_arg, "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length, "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": lookup.sparse, "ragged": self.ragged, "vocabulary": lookup.input_vocabulary,
            "idf_weights": lookup.input_idf_weights, "encoding": self.encoding,
            "vocabulary_size": self.vocabulary_size(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("standardize", "split"):
            if isinstance(config.get(key), dict):
                config[key] = _function(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)


def _function(cfg: dict):
    """A registered function from its Keras config (`{"class_name": "function", "config": name, ...}`)."""
    name = cfg.get("registered_name") or cfg.get("config")
    fn = registration.get_registered_object(name) if isinstance(name, str) else None
    if fn is None:
        raise ValueError(f"TextVectorization: could not find the function {name!r} of the config; register it with "
                         "fkeras.saving.register_keras_serializable() or pass it in `custom_objects`.")
    return fn
