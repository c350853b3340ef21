"""Shared checks for tests/test_applications_*.py: an fkeras application against Keras 3.15's.

`same_structure` compares layer names, classes, weight paths/shapes (in order) and parameter counts.
`same_numbers` gives Keras's model random weights (BatchNormalization statistics included), saves
them as `.weights.h5`, loads them into the fkeras model and compares predictions; then the reverse
(fresh fkeras weights, saved by fkeras, loaded by Keras).
"""

import re

import numpy as np

import fkeras

keras = __import__("keras")

TOL = 1e-4


def build_pair(name, module=None, **kwargs):
    """(Keras model, fkeras model) of application `name`, each built in a fresh naming session."""
    kfn = getattr(getattr(keras.applications, module) if module else keras.applications, name)
    ffn = getattr(getattr(fkeras.applications, module) if module else fkeras.applications, name)
    keras.backend.clear_session()
    km = kfn(weights=None, **kwargs)
    fkeras.backend.clear_session()
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


def same_numbers(km, fm, tmp_path, input_shape, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch,) + tuple(input_shape)).astype("float32")
    km.set_weights(_randomized(km.get_weights(), rng))
    path = str(tmp_path / "keras.weights.h5")
    km.save_weights(path)
    km.load_weights(path)  # Keras's Normalization reads its mean/variance weights only when loading
    fm.load_weights(path)
    ref = np.asarray(km.predict(x, verbose=0))
    got = np.asarray(fm.predict(x, verbose=0))
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=TOL, atol=TOL * scale)

    fm.set_weights(_randomized(fm.get_weights(), rng))
    path = str(tmp_path / "fkeras.weights.h5")
    fm.save_weights(path)
    km.load_weights(path)
    km.predict_function = None  # Keras's compiled predict keeps Normalization's old mean/variance as constants
    ref = np.asarray(km.predict(x, verbose=0))
    got = np.asarray(fm.predict(x, verbose=0))
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=TOL, atol=TOL * scale)


def check_against_keras(name, kwargs, tmp_path):
    """Build both, compare structure, then numbers both ways through `.weights.h5` files."""
    km, fm = build_pair(name, **kwargs)
    same_structure(km, fm)
    same_numbers(km, fm, tmp_path, kwargs["input_shape"])
    return km, fm
