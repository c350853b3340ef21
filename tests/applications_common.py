"""Shared checks for tests/test_applications_*.py: an fkeras application against Keras 3.15's.

`same_structure` compares layer names, classes, weight paths/shapes (in order) and parameter counts.
`same_numbers` gives Keras's model random weights (BatchNormalization statistics included), saves
them as `.weights.h5`, loads them into the fkeras model and compares predictions; then the reverse
(fresh fkeras weights, saved by fkeras, loaded by Keras).

Both models are built under `host_initial_values()`: their initial weights are never compared (each
test overwrites them with one file's), and drawing them with JAX costs one XLA compile per weight
shape, which was most of each test's time.
"""

import contextlib
import re

import jax
import numpy as np

import fkeras

keras = __import__("keras")

TOL = 1e-4


@contextlib.contextmanager
def host_initial_values(seed=0):
    """Keras and fkeras draw every floating-point initial weight with NumPy instead of a compiled JAX
    program per shape: kernels normal with variance 1 / fan-in (activations stay finite through deep
    models), vectors uniform in [0.5, 1.5) (positive, as BatchNormalization's variances must be)."""
    from keras.src.backend.common import variables as keras_variables

    from fkeras.nn import initializers

    rng = np.random.default_rng(seed)

    def draw(shape, dtype):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            return rng.uniform(0.5, 1.5, shape).astype(dtype)
        return (rng.standard_normal(shape) / np.sqrt(max(1, int(np.prod(shape[:-1]))))).astype(dtype)

    keras_init = keras_variables.Variable._initialize_with_initializer
    fkeras_call = initializers.Initializer.__call__

    def keras_host(self, initializer):
        if not np.issubdtype(np.dtype(self._dtype), np.floating):
            return keras_init(self, initializer)
        self._initialize(self._convert_to_tensor(draw(self._shape, self._dtype)))

    def fkeras_host(self, shape, dtype=None, key=None):
        dtype = np.dtype(dtype or "float32")
        if not np.issubdtype(dtype, np.floating):
            return fkeras_call(self, shape, dtype, key)
        return fkeras.ops.convert_to_tensor(draw(shape, dtype))

    keras_variables.Variable._initialize_with_initializer = keras_host
    initializers.Initializer.__call__ = fkeras_host
    try:
        yield
    finally:
        keras_variables.Variable._initialize_with_initializer = keras_init
        initializers.Initializer.__call__ = fkeras_call


def build_pair(name, module=None, **kwargs):
    """(Keras model, fkeras model) of application `name`, each built in a fresh naming session."""
    kfn = getattr(getattr(keras.applications, module) if module else keras.applications, name)
    ffn = getattr(getattr(fkeras.applications, module) if module else fkeras.applications, name)
    with host_initial_values():
        keras.backend.clear_session(free_memory=False)
        km = kfn(weights=None, **kwargs)
        fkeras.backend.clear_session(free_memory=False)
        fm = ffn(weights=None, **kwargs)
    return km, fm


def _weight_key(w):
    """The variable's own and owning layer's names. Two known differences are normalized: Keras
    numbers unnamed variables per session (`variable_3`), and prefixes the variables of a nested
    Sequential with its name (`stem/stem_conv/kernel`); fkeras gives `variable`, `stem_conv/kernel`."""
    parts = w.path.split("/")[-2:]
    parts[-1] = re.sub(r"^variable_\d+$", "variable", parts[-1])
    return "/".join(parts), tuple(w.shape)


def structure(model):
    return [(layer.name, type(layer).__name__, [_weight_key(w) for w in layer.weights]) for layer in model.layers]


def same_structure(km, fm):
    assert fm.name == km.name
    ks, fs = structure(km), structure(fm)
    assert [s[0] for s in fs] == [s[0] for s in ks]
    assert fs == ks
    assert [_weight_key(w) for w in fm.weights] == [_weight_key(w) for w in km.weights]
    assert fm.count_params() == km.count_params()
    assert tuple(fm.output.shape) == tuple(km.output.shape)


def _randomized(weights, rng):
    out = []
    for w in weights:
        w = np.asarray(w)
        if w.ndim == 1:  # BN/LN vectors: variances must stay positive
            out.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
        else:
            out.append((np.asarray(w) + rng.normal(0, 0.02, w.shape)).astype(w.dtype))
    return out


def _has_normalization(km):
    return any(type(layer).__name__ == "Normalization" for layer in km._flatten_layers(include_self=False))


def _close(got, ref):
    ref, got = np.asarray(ref), np.asarray(got)
    assert np.isfinite(ref).all() and np.abs(ref).max() > 0, "non-finite or all-zero outputs prove nothing"
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=TOL, atol=TOL * scale)


def same_numbers(km, fm, tmp_path, input_shape, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch,) + tuple(input_shape)).astype("float32")
    # Keras's Normalization reads its mean/variance weights only when loading, and its compiled predict
    # keeps them as constants: such a model loads its own file and is traced again after each load.
    normalization = _has_normalization(km)
    # fkeras's model as one jitted function of its variables (`model.apply`, what predict runs): one trace
    # for both directions.
    forward = jax.jit(lambda variables, x: fm.apply(variables, x)[0])
    km.set_weights(_randomized(km.get_weights(), rng))
    path = str(tmp_path / "keras.weights.h5")
    km.save_weights(path)
    if normalization:
        km.load_weights(path)
    fm.load_weights(path)
    _close(forward(fm.variables_tree, x), km.predict_on_batch(x))

    fm.set_weights(_randomized(fm.get_weights(), rng))
    path = str(tmp_path / "fkeras.weights.h5")
    fm.save_weights(path)
    km.load_weights(path)
    if normalization:
        km.predict_function = None
    _close(forward(fm.variables_tree, x), km.predict_on_batch(x))


def check_against_keras(name, kwargs, tmp_path):
    """Build both, compare structure, then numbers both ways through `.weights.h5` files."""
    km, fm = build_pair(name, **kwargs)
    same_structure(km, fm)
    same_numbers(km, fm, tmp_path, kwargs["input_shape"])
    return km, fm
