"""`StringLookup` and `IntegerLookup`: tokens <-> vocabulary indices, vocabularies given, read from a file
or learned by `adapt` (Keras's order: by frequency, ties by the larger token first).

A vocabulary is a hyperparameter of the layer, not an array leaf (strings cannot live in a JAX pytree):
`adapt`, `set_vocabulary`, `load_assets` and `load_own_variables` return a new layer holding the new
table (`(layer, variables, None)`, the `updates` protocol the facade uses to swap it in). The lookup
runs on the host (NumPy + Python dicts); inside `jax.jit` through `jax.pure_callback` (integer input),
inside a `tf.data` map through `tf.numpy_function`.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from fkeras.nn.base import as_variables
from fkeras.nn.preprocessing import _common

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(_common.PreprocessingLayer):
    """The shared lookup math of StringLookup / IntegerLookup (Keras's `IndexLookup`).

    Indices: [mask (output_mode "int" with a mask_token)] [num_oov_indices OOV buckets] [tokens...].
    Output: int64 indices of the input's shape ("int"), or vectors of depth `vocabulary_size()`
    (`max_tokens` with `pad_to_max_tokens`) for "one_hot"/"multi_hot"/"count" (int64) and "tf_idf"
    (float32, counts times `idf_weights`). `invert=True` maps indices back to tokens.
    """

    builds_no_variables = True  # the facade layer is built as made

    updates = ("adapt", "set_vocabulary", "load_assets", "load_own_variables")
    hooks = ("get_vocabulary", "vocabulary_size", "save_own_variables", "save_assets")  # facade methods too
    autocast = False
    _text = True  # string tokens (StringLookup); False: int tokens

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", name=None, salt=None, **kwargs):
        frozen_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        if max_tokens is not None and max_tokens <= 1:
            raise self.error(f"if set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise self.error(f"if pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise self.error(f"`num_oov_indices` must be greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        if oov_method not in ("floormod", "farmhash"):
            raise self.error(f"invalid `oov_method` {oov_method!r}; expected 'floormod' or 'farmhash'.")
        if salt is not None:
            if not self._text and oov_method != "farmhash":
                raise self.error(f"`salt` can only be used when `oov_method='farmhash'`. Received: oov_method={oov_method}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, int):
                salt = [salt, salt]
            else:
                raise self.error(f"the `salt` argument can only be a tuple of 2 integers, or a single integer. "
                                 f"Received: salt={salt}.")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise self.error(f"invalid `output_mode` {output_mode!r}; expected one of {_MODES}.")
        if invert and output_mode != "int":
            raise self.error(f"`output_mode` must be `'int'` when `invert` is true. Received: output_mode={output_mode}")
        if sparse:
            raise self.error("`sparse=True` can only be used with the TensorFlow backend.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise self.error("`idf_weights` should only be set if `output_mode` is `'tf_idf'`. "
                             f"Received: idf_weights={idf_weights} and output_mode={output_mode}")
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method = oov_method
        self.salt = salt
        self.input_vocabulary = None if isinstance(vocabulary, str) else _listify(vocabulary)
        self.input_idf_weights = _listify(idf_weights)
        self._has_input_vocabulary = has_input_vocabulary
        self._frozen_vocab_size = frozen_size
        self._tokens = ()  # the learned/given tokens, without the special ones
        self._idf = None  # full idf weights (special positions and padding included), a tuple of floats
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise self.error("when specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if idf_weights is not None:
            self._set("_idf", tuple(float(w) for w in np.asarray(idf_weights, "float32").reshape(-1)))
        if isinstance(vocabulary, str):
            self._set_table(*self._from_file(vocabulary))
        elif vocabulary is not None:
            self._set_table(*self._checked(vocabulary, idf_weights))

    # -- immutable copies ----------------------------------------------------------------------
    def _set(self, key, value):
        object.__setattr__(self, key, value)

    def _copy(self):
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_frozen"})
        object.__setattr__(new, "_frozen", True)
        return new

    def _set_table(self, tokens, idf=None):
        self._set("_tokens", tuple(tokens))
        if idf is not None:
            self._set("_idf", tuple(float(w) for w in idf))
        self._set("_frozen_vocab_size", len(self._tokens) + self._token_start())
        self._set("_index", None)

    # -- indices ----------------------------------------------------------------------------------
    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self):
        """Size of the vocabulary, special tokens included."""
        return len(self._tokens) + self._token_start()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary, index order: mask and OOV tokens first unless `include_special_tokens=False`."""
        vocab = [self.oov_token] * self._token_start() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start():]

    @property
    def idf_weights(self):
        return None if self._idf is None else np.asarray(self._idf, "float32")

    # -- vocabulary ----------------------------------------------------------------------------------
    def _token(self, v):
        return str(v) if self._text else int(v)

    def _checked(self, vocabulary, idf_weights=None):
        """Keras's `set_vocabulary` checks; returns (tokens, full idf weights or None)."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise self.error("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise self.error("`idf_weights` should only be set if output_mode is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode} and idf_weights={idf_weights}")
        flat = vocabulary if isinstance(vocabulary, (list, tuple)) else _common.to_numpy(vocabulary).reshape(-1)
        vocab = [self._token(v.decode("utf-8") if isinstance(v, bytes) else v) for v in flat]
        if not vocab:
            raise self.error(f"cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        found_special = vocab[:start] == special
        tokens = vocab[start:] if found_special else vocab
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise self.error("the passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise self.error(f"found reserved mask token at unexpected location in `vocabulary`. Either remove all "
                             f"mask and OOV tokens, or include them only at the start of the vocabulary in "
                             f"precisely this order: {special}. Received: mask_token={self.mask_token}")
        if self.oov_token is not None and self.invert and self.oov_token in tokens:
            raise self.error(f"found reserved OOV token at unexpected location in `vocabulary`. Either remove all "
                             f"mask and OOV tokens, or include them only at the start of the vocabulary in "
                             f"precisely this order: {special}. Received: oov_token={self.oov_token}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise self.error("attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary "
                             f"size is {start + len(tokens)}; `max_tokens` is {self.max_tokens}.")
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.asarray(idf_weights, "float64")
            if idf.ndim != 1:
                raise self.error(f"TF-IDF data must be a 1-index array; got shape {idf.shape}.")
            if len(vocab) != len(idf):
                raise self.error(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(idf)}; len(vocabulary) is {len(vocab)}")
            front, front_value = (0, 0) if found_special else (start, np.average(idf))
            back = self.max_tokens - front - len(idf) if self.pad_to_max_tokens and self.max_tokens else 0
            idf = np.pad(idf, (front, back), "constant", constant_values=(front_value, 0)).astype("float32")
        return tokens, idf

    def _from_file(self, path):
        if not os.path.exists(path):
            raise self.error(f"vocabulary file {path} does not exist.")
        if self.output_mode == "tf_idf":
            raise self.error("output_mode `'tf_idf'` does not support loading a vocabulary from file.")
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        return [self._token(v) for v in lines], None

    def set_vocabulary(self, variables, vocabulary, idf_weights=None):
        """A copy of this layer with `vocabulary` (a list/array, or a file path) and, for "tf_idf",
        `idf_weights`. Returns `(new layer, variables, None)`."""
        new = self._copy()
        if isinstance(vocabulary, str):
            new._set_table(*new._from_file(vocabulary))
        else:
            new._set_table(*new._checked(vocabulary, idf_weights))
        return new, variables, None

    # -- adapt ------------------------------------------------------------------------------------------
    def _documents(self, data, steps):
        """Lists of tokens per document, by Keras's rules: data given directly is one batch whose rank-1
        form means one document per element; each batch of an iterable or dataset is a document list
        (a rank-0/1 batch is one document)."""
        direct = isinstance(data, (list, tuple, np.ndarray)) or (
            hasattr(data, "shape") and _common.framework(data) != "numpy")
        for batch in ([data] if direct else _common.batches(data, steps)):
            if isinstance(batch, list) and batch and isinstance(batch[0], (list, tuple)):
                yield from ([self._token(t) for t in doc] for doc in batch)  # ragged documents
                continue
            a = _common.as_text(_common.to_numpy(batch))
            if a.ndim == 0:
                a = a[None]
            if a.ndim == 1:
                a = a[:, None] if direct else a[None]
            for doc in a.reshape(a.shape[0], -1):
                yield [self._token(t.decode("utf-8") if isinstance(t, bytes) else t) for t in doc]

    def adapt(self, variables, data, steps=None):
        """A copy of this layer whose vocabulary is learned from `data` (array, list, tf.data Dataset or
        iterable of batches): the most frequent tokens (ties: larger token first), at most
        `max_tokens - special`; for "tf_idf" also idf = log(1 + documents / (1 + documents with the token)).
        Returns `(new layer, variables, None)`."""
        if self._has_input_vocabulary:
            raise self.error("cannot adapt the layer after setting a static vocabulary via `vocabulary` argument "
                             "or `set_vocabulary()` method.")
        return self._adapted(self._documents(data, steps), variables)

    def _adapted(self, documents, variables):
        counts, doc_counts, n_docs = collections.Counter(), collections.Counter(), 0
        for doc in documents:
            counts.update(doc)
            if self.output_mode == "tf_idf":
                doc_counts.update(set(doc))
                n_docs += 1
        new = self._copy()
        if not counts:
            new._set("_frozen_vocab_size", new.vocabulary_size())
            return new, variables, None
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        # Keras: np.lexsort((tokens, counts))[::-1] -> count descending, then token descending
        tokens = sorted(counts, key=lambda t: (counts[t], t.encode("utf-8") if isinstance(t, str) else t),
                        reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start()]
        idf = None
        if self.output_mode == "tf_idf":
            docs = np.asarray([doc_counts[t] for t in tokens], "float64")
            w = np.log(1 + n_docs / (1 + docs)).astype("float32")
            idf = np.concatenate([np.full(self._token_start(), np.mean(w, dtype="float32"), "float32"), w])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size))
        new._set_table(tokens, idf)
        return new, variables, None

    # -- the lookup ---------------------------------------------------------------------------------------
    def _table(self):
        index = self.__dict__.get("_index")
        if index is None:
            start = self._token_start()
            if self.invert:
                index = {i + start: t for i, t in enumerate(self._tokens)}
            else:
                index = {t: i + start for i, t in enumerate(self._tokens)}
            self._set("_index", index)
        return index

    def _lookup_np(self, x):
        """Indices (int64) of the tokens in `x`, or tokens of the indices when `invert`."""
        x = np.asarray(x)
        table = self._table()
        flat = x.reshape(-1)
        if self.invert:
            out = [table.get(int(i), self.oov_token) for i in flat]
            if self.mask_token is not None:
                out = [self.mask_token if int(i) == 0 else o for i, o in zip(flat, out)]
            res = np.empty(len(out), dtype=object if self._text else np.int64)
            res[:] = out
            return res.reshape(x.shape)
        keys = [self._token(v.decode("utf-8") if isinstance(v, bytes) else v) for v in flat]
        n = self.num_oov_indices
        default = self._oov_start() if n == 1 else -1
        out = np.asarray([table.get(k, default) for k in keys], dtype=np.int64)
        if self.mask_token is not None:
            masked = np.asarray([k == self.mask_token for k in keys], bool)
            out = np.where(masked, 0 if self.output_mode == "int" else np.iinfo(np.int64).max, out)
        if n == 0 and (out == -1).any():
            raise self.error(f"when `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                             f"{[k for k, o in zip(keys, out) if o == -1][:10]}, consider setting `num_oov_indices=1`.")
        if n > 1:
            oov = out == -1
            if oov.any():
                if not self._text and self.oov_method != "farmhash":
                    buckets = np.mod(np.asarray(keys, np.int64), n)
                else:
                    buckets = _common.hash_buckets(np.asarray(keys, dtype=object), n, self.salt)
                out = np.where(oov, buckets + self._oov_start(), out)
        return out.reshape(x.shape)

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _encode_np(self, x):
        x = np.asarray(x)
        scalar = x.ndim == 0
        ids = self._lookup_np(x[None] if scalar else x)
        if self.output_mode == "int" or self.invert:
            return ids[0] if scalar else ids
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = _common.encode_np(ids, mode, self._depth(), "int64")
        if self.output_mode == "tf_idf":
            if self._idf is None:
                raise self.error("when `output_mode` is `'tf_idf'`, `idf_weights` must be provided.")
            out = out.astype("float32") * np.asarray(self._idf, "float32")
        return out

    def _out_dtype(self):
        if self.invert:
            return "object" if self._text else "int64"
        return "float32" if self.output_mode == "tf_idf" else "int64"

    def _out_shape(self, shape):
        return _common.encoded_shape(shape, self.output_mode, self._depth()) if not self.invert else shape

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (None dims allowed; the depth is None before a vocabulary)."""
        return self._out_shape(tuple(input_shape))

    @property
    def output_dtype(self) -> str:
        """The symbolic outputs' dtype, Keras's rule: int64 for "int", float32 otherwise ("string" for an
        inverted string lookup). A symbolic call on strings reads it."""
        if self.invert and self._out_dtype() == "object":
            return "string"
        return "int64" if self.output_mode == "int" else "float32"

    def apply(self, variables, x, training=False, rng=None):
        variables = as_variables(variables)
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise self.error(f"when using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must "
                             "set the layer's vocabulary before calling it. Either pass a `vocabulary` argument to "
                             "the layer, or call `adapt` with some sample data.")
        if isinstance(x, (list, tuple, str, int)):
            x = np.asarray(x, dtype=object if self._text else np.int64)
        text_out = self.invert and self._text
        return _common.host_call(self._encode_np, x, self._out_shape, self._out_dtype(),
                                 text_out=text_out), variables.state

    # -- saving (Keras's own-variables and assets protocols) -----------------------------------------
    def save_own_variables(self, store):
        if self.output_mode == "tf_idf":
            store["idf_weights"] = self.idf_weights

    def load_own_variables(self, variables, store):
        """A copy holding the idf weights of `store` ("tf_idf" only)."""
        new = self._copy()
        if self.output_mode == "tf_idf":
            new._set("_idf", tuple(float(w) for w in np.asarray(store["idf_weights"], "float32").reshape(-1)))
        return new, variables, None

    def save_assets(self, dir_path):
        """Write `vocabulary.txt` (one token per line, special tokens first) unless the vocabulary is in
        the config."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, variables, dir_path):
        """A copy whose vocabulary is `dir_path/vocabulary.txt` (idf weights kept)."""
        if self.input_vocabulary is not None:
            return self, variables, None
        path = os.path.join(dir_path, "vocabulary.txt")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        values = [self._token(v) for v in lines]
        idf = self.idf_weights if self.output_mode == "tf_idf" else None
        new = self._copy()
        new._set_table(*new._checked(values, idf))
        return new, variables, None

    def get_config(self):
        config = super().get_config()
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": self.input_idf_weights,
            "vocabulary": self.input_vocabulary, "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method, "salt": self.salt,
        })
        return config


def _listify(x):
    if x is None or isinstance(x, str):
        return x
    if hasattr(x, "tolist") or _common.framework(x) != "numpy":
        return _common.to_numpy(x).tolist()
    return list(x) if isinstance(x, tuple) else x


class StringLookup(IndexLookup):
    """Strings -> indices (or back with `invert=True`). See `IndexLookup` for indices and output modes.

    Input: str/bytes arrays of any shape (NumPy, lists, tf string tensors). Output: int64 indices
    (JAX arrays; tf tensors for tf input), encoded vectors, or a NumPy str array when inverting."""

    input_dtype = "string"  # Keras's `layer.input_dtype`: a Sequential starting with it takes strings

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config


class IntegerLookup(IndexLookup):
    """Integers -> indices (or back with `invert=True`); OOV buckets by `floormod` (or `farmhash`).
    See `IndexLookup`. Input: int arrays of any shape; usable inside a jitted model."""

    _text = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only `vocabulary_dtype='int64'` is supported at this time. "
                             f"Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, vocabulary_dtype=vocabulary_dtype,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config

