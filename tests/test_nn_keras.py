"""fkeras.nn layers against Keras 3.15 (the test oracle): same weights + same input -> same output
(inference and training), same variable names, same get_config, configs that round-trip both ways.

Tolerance: float32, atol=rtol=1e-5 unless stated.
"""

import json

import chex
import jax
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)


def _inputs(shapes, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    if dtype.startswith("int") or dtype.startswith("uint"):
        return [rng.integers(0, 10, size=s).astype(dtype) for s in shapes]
    return [rng.normal(size=s).astype(dtype) for s in shapes]


def _keras_call(klayer, xs, training):
    arg = xs if len(xs) > 1 or isinstance(klayer, keras.layers.Concatenate) and False else xs[0]
    if isinstance(klayer, (keras.layers.Add, keras.layers.Multiply, keras.layers.Concatenate,
                           keras.layers.Subtract, keras.layers.Average, keras.layers.Maximum,
                           keras.layers.Minimum)):
        arg = xs
    return klayer(arg, training=training)


def _fk_args(layer, xs):
    return (xs,) if isinstance(layer, nn.merging._Merge) else (xs[0],)


def _randomize_keras(klayer, seed=1):
    """Give every Keras variable non-trivial values (BN moving stats, gamma, biases...)."""
    rng = np.random.default_rng(seed)
    for w in klayer.weights:
        value = rng.normal(size=w.shape).astype("float32")
        if "variance" in w.name:
            value = np.abs(value) + 0.5
        w.assign(value)


def _copy_from_keras(klayer, variables):
    """fkeras Variables holding Keras's values; asserts the leaf names and shapes agree."""
    kparams = {w.name: np.asarray(w.value) for w in klayer.trainable_weights}
    kstate = {w.name: np.asarray(w.value) for w in klayer.non_trainable_weights}
    assert set(variables.params) == set(kparams), (variables.params.keys(), kparams.keys())
    assert set(variables.state) == set(kstate), (variables.state.keys(), kstate.keys())
    for k, v in variables.params.items():
        assert v.shape == kparams[k].shape, k
    for k, v in variables.state.items():
        assert v.shape == kstate[k].shape, k
    return nn.Variables({k: jax.numpy.asarray(v) for k, v in kparams.items()},
                        {k: jax.numpy.asarray(v) for k, v in kstate.items()})


# (fkeras factory, keras factory, input shapes, input dtype)
CASES = {
    "dense": (lambda: nn.Dense(4, activation="relu", name="l"),
              lambda: keras.layers.Dense(4, activation="relu", name="l"), [(2, 3)], "float32"),
    "dense_rank3_nobias": (lambda: nn.Dense(5, use_bias=False, activation="tanh", name="l"),
                           lambda: keras.layers.Dense(5, use_bias=False, activation="tanh", name="l"),
                           [(2, 4, 3)], "float32"),
    "activation_gelu": (lambda: nn.Activation("gelu", name="l"), lambda: keras.layers.Activation("gelu", name="l"),
                        [(2, 7)], "float32"),
    "activation_softmax": (lambda: nn.Activation("softmax", name="l"),
                           lambda: keras.layers.Activation("softmax", name="l"), [(2, 7)], "float32"),
    "flatten": (lambda: nn.Flatten(name="l"), lambda: keras.layers.Flatten(name="l"), [(2, 3, 4, 2)], "float32"),
    "flatten_cf": (lambda: nn.Flatten(data_format="channels_first", name="l"),
                   lambda: keras.layers.Flatten(data_format="channels_first", name="l"), [(2, 3, 4, 2)], "float32"),
    "reshape": (lambda: nn.Reshape((4, -1), name="l"), lambda: keras.layers.Reshape((4, -1), name="l"),
                [(2, 2, 4, 3)], "float32"),
    "permute": (lambda: nn.Permute((2, 1), name="l"), lambda: keras.layers.Permute((2, 1), name="l"),
                [(2, 3, 4)], "float32"),
    "conv1d_causal": (lambda: nn.Conv1D(3, 2, padding="causal", dilation_rate=2, name="l"),
                      lambda: keras.layers.Conv1D(3, 2, padding="causal", dilation_rate=2, name="l"),
                      [(2, 7, 2)], "float32"),
    "conv1d_same_s2": (lambda: nn.Conv1D(3, 3, strides=2, padding="same", activation="relu", name="l"),
                       lambda: keras.layers.Conv1D(3, 3, strides=2, padding="same", activation="relu", name="l"),
                       [(2, 7, 2)], "float32"),
    "conv2d": (lambda: nn.Conv2D(3, (3, 3), name="l"), lambda: keras.layers.Conv2D(3, (3, 3), name="l"),
               [(2, 6, 6, 2)], "float32"),
    "conv2d_same_s2": (lambda: nn.Conv2D(3, 3, strides=2, padding="same", name="l"),
                       lambda: keras.layers.Conv2D(3, 3, strides=2, padding="same", name="l"),
                       [(2, 7, 7, 2)], "float32"),
    "conv2d_groups_dilated": (lambda: nn.Conv2D(4, 2, groups=2, dilation_rate=2, name="l"),
                              lambda: keras.layers.Conv2D(4, 2, groups=2, dilation_rate=2, name="l"),
                              [(2, 6, 6, 4)], "float32"),
    "conv2d_cf": (lambda: nn.Conv2D(3, 3, data_format="channels_first", name="l"),
                  lambda: keras.layers.Conv2D(3, 3, data_format="channels_first", name="l"),
                  [(2, 2, 6, 5)], "float32"),
    "maxpool1d": (lambda: nn.MaxPooling1D(name="l"), lambda: keras.layers.MaxPooling1D(name="l"),
                  [(2, 7, 3)], "float32"),
    "maxpool2d": (lambda: nn.MaxPooling2D(name="l"), lambda: keras.layers.MaxPooling2D(name="l"),
                  [(2, 6, 6, 3)], "float32"),
    "maxpool2d_same": (lambda: nn.MaxPooling2D(3, strides=2, padding="same", name="l"),
                       lambda: keras.layers.MaxPooling2D(3, strides=2, padding="same", name="l"),
                       [(2, 7, 7, 3)], "float32"),
    "avgpool1d_same": (lambda: nn.AveragePooling1D(3, strides=2, padding="same", name="l"),
                       lambda: keras.layers.AveragePooling1D(3, strides=2, padding="same", name="l"),
                       [(2, 7, 3)], "float32"),
    "avgpool2d": (lambda: nn.AveragePooling2D(2, name="l"), lambda: keras.layers.AveragePooling2D(2, name="l"),
                  [(2, 6, 6, 3)], "float32"),
    "avgpool2d_same": (lambda: nn.AveragePooling2D(3, strides=2, padding="same", name="l"),
                       lambda: keras.layers.AveragePooling2D(3, strides=2, padding="same", name="l"),
                       [(2, 7, 7, 3)], "float32"),
    "gap1d": (lambda: nn.GlobalAveragePooling1D(name="l"), lambda: keras.layers.GlobalAveragePooling1D(name="l"),
              [(2, 5, 3)], "float32"),
    "gap2d_keepdims": (lambda: nn.GlobalAveragePooling2D(keepdims=True, name="l"),
                       lambda: keras.layers.GlobalAveragePooling2D(keepdims=True, name="l"), [(2, 4, 5, 3)],
                       "float32"),
    "gmp1d": (lambda: nn.GlobalMaxPooling1D(name="l"), lambda: keras.layers.GlobalMaxPooling1D(name="l"),
              [(2, 5, 3)], "float32"),
    "gmp2d_cf": (lambda: nn.GlobalMaxPooling2D(data_format="channels_first", name="l"),
                 lambda: keras.layers.GlobalMaxPooling2D(data_format="channels_first", name="l"), [(2, 3, 4, 5)],
                 "float32"),
    "batchnorm_2d": (lambda: nn.BatchNormalization(name="l"), lambda: keras.layers.BatchNormalization(name="l"),
                     [(6, 3)], "float32"),
    "batchnorm_4d": (lambda: nn.BatchNormalization(name="l"), lambda: keras.layers.BatchNormalization(name="l"),
                     [(4, 3, 3, 2)], "float32"),
    "batchnorm_axis1_noscale": (
        lambda: nn.BatchNormalization(axis=1, scale=False, momentum=0.9, epsilon=1e-2, name="l"),
        lambda: keras.layers.BatchNormalization(axis=1, scale=False, momentum=0.9, epsilon=1e-2, name="l"),
        [(4, 3, 5)], "float32"),
    "layernorm": (lambda: nn.LayerNormalization(name="l"), lambda: keras.layers.LayerNormalization(name="l"),
                  [(2, 3, 4)], "float32"),
    "layernorm_axes": (lambda: nn.LayerNormalization(axis=[1, 2], epsilon=1e-5, name="l"),
                       lambda: keras.layers.LayerNormalization(axis=[1, 2], epsilon=1e-5, name="l"),
                       [(2, 3, 4)], "float32"),
    "embedding": (lambda: nn.Embedding(10, 4, name="l"), lambda: keras.layers.Embedding(10, 4, name="l"),
                  [(2, 3)], "int32"),
    "add": (lambda: nn.Add(name="l"), lambda: keras.layers.Add(name="l"), [(2, 3), (2, 3), (2, 3)], "float32"),
    "multiply": (lambda: nn.Multiply(name="l"), lambda: keras.layers.Multiply(name="l"), [(2, 3), (2, 3)],
                 "float32"),
    "subtract": (lambda: nn.Subtract(name="l"), lambda: keras.layers.Subtract(name="l"), [(2, 3), (2, 3)],
                 "float32"),
    "concatenate": (lambda: nn.Concatenate(name="l"), lambda: keras.layers.Concatenate(name="l"),
                    [(2, 3), (2, 4)], "float32"),
    "concatenate_axis1": (lambda: nn.Concatenate(axis=1, name="l"),
                          lambda: keras.layers.Concatenate(axis=1, name="l"), [(2, 3, 2), (2, 1, 2)], "float32"),
    "rescaling": (lambda: nn.Rescaling(1 / 255.0, offset=-1.0, name="l"),
                  lambda: keras.layers.Rescaling(1 / 255.0, offset=-1.0, name="l"), [(2, 4, 4, 3)], "uint8"),
    "zeropad1d": (lambda: nn.ZeroPadding1D(2, name="l"), lambda: keras.layers.ZeroPadding1D(2, name="l"),
                  [(2, 3, 2)], "float32"),
    "zeropad2d": (lambda: nn.ZeroPadding2D(((1, 2), (0, 1)), name="l"),
                  lambda: keras.layers.ZeroPadding2D(((1, 2), (0, 1)), name="l"), [(2, 3, 3, 2)], "float32"),
    "upsample1d": (lambda: nn.UpSampling1D(3, name="l"), lambda: keras.layers.UpSampling1D(3, name="l"),
                   [(2, 3, 2)], "float32"),
    "upsample2d": (lambda: nn.UpSampling2D(name="l"), lambda: keras.layers.UpSampling2D(name="l"),
                   [(2, 3, 3, 2)], "float32"),
    "upsample2d_bilinear": (lambda: nn.UpSampling2D((2, 3), interpolation="bilinear", name="l"),
                            lambda: keras.layers.UpSampling2D((2, 3), interpolation="bilinear", name="l"),
                            [(2, 3, 4, 2)], "float32"),
    "relu_capped_threshold": (lambda: nn.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, name="l"),
                              lambda: keras.layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, name="l"),
                              [(3, 7)], "float32"),
    "relu6": (lambda: nn.ReLU(max_value=6.0, name="l"), lambda: keras.layers.ReLU(max_value=6.0, name="l"),
              [(3, 7)], "float32"),
    "leaky_relu": (lambda: nn.LeakyReLU(name="l"), lambda: keras.layers.LeakyReLU(name="l"), [(3, 7)], "float32"),
    "elu": (lambda: nn.ELU(0.5, name="l"), lambda: keras.layers.ELU(0.5, name="l"), [(3, 7)], "float32"),
    "softmax_axis1": (lambda: nn.Softmax(axis=1, name="l"), lambda: keras.layers.Softmax(axis=1, name="l"),
                      [(2, 3, 4)], "float32"),
    "identity": (lambda: nn.Identity(name="l"), lambda: keras.layers.Identity(name="l"), [(2, 3)], "float32"),
    "repeat_vector": (lambda: nn.RepeatVector(3, name="l"), lambda: keras.layers.RepeatVector(3, name="l"),
                      [(2, 4)], "float32"),
    "cropping1d": (lambda: nn.Cropping1D((1, 2), name="l"), lambda: keras.layers.Cropping1D((1, 2), name="l"),
                   [(2, 6, 3)], "float32"),
    "cropping2d": (lambda: nn.Cropping2D(((1, 0), (2, 1)), name="l"),
                   lambda: keras.layers.Cropping2D(((1, 0), (2, 1)), name="l"), [(2, 5, 6, 3)], "float32"),
    "depthwise_conv2d": (lambda: nn.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="l"),
                         lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="l"),
                         [(2, 5, 5, 3)], "float32"),
    "depthwise_conv1d_s2": (lambda: nn.DepthwiseConv1D(3, strides=2, name="l"),
                            lambda: keras.layers.DepthwiseConv1D(3, strides=2, name="l"), [(2, 9, 3)], "float32"),
    "separable_conv2d": (lambda: nn.SeparableConv2D(4, 3, depth_multiplier=2, activation="relu", name="l"),
                         lambda: keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, activation="relu", name="l"),
                         [(2, 6, 6, 3)], "float32"),
    "separable_conv1d": (lambda: nn.SeparableConv1D(4, 3, padding="same", name="l"),
                         lambda: keras.layers.SeparableConv1D(4, 3, padding="same", name="l"), [(2, 6, 3)],
                         "float32"),
    "unit_normalization": (lambda: nn.UnitNormalization(name="l"), lambda: keras.layers.UnitNormalization(name="l"),
                           [(2, 5)], "float32"),
    "gaussian_noise_inference": (lambda: nn.GaussianNoise(0.1, name="l"),
                                 lambda: keras.layers.GaussianNoise(0.1, name="l"), [(2, 5)], "float32"),
    "spatial_dropout2d_inference": (lambda: nn.SpatialDropout2D(0.2, name="l"),
                                    lambda: keras.layers.SpatialDropout2D(0.2, name="l"), [(2, 3, 3, 4)], "float32"),
    "spatial_dropout1d_inference": (lambda: nn.SpatialDropout1D(0.2, name="l"),
                                    lambda: keras.layers.SpatialDropout1D(0.2, name="l"), [(2, 3, 4)], "float32"),
    "dropout_inference": (lambda: nn.Dropout(0.3, name="l"), lambda: keras.layers.Dropout(0.3, name="l"),
                          [(2, 5)], "float32"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_output_as_keras(case):
    make_fk, make_k, shapes, dtype = CASES[case]
    xs = _inputs(shapes, dtype=dtype)
    klayer = make_k()
    _keras_call(klayer, xs, training=False)  # builds
    _randomize_keras(klayer)
    layer = make_fk()
    specs = shapes if len(shapes) > 1 else shapes[0]
    fresh = layer.init(jax.random.key(0), specs if isinstance(layer, nn.merging._Merge) else
                       jax.ShapeDtypeStruct(shapes[0], dtype))
    variables = _copy_from_keras(klayer, fresh)
    modes = (False,) if case.endswith("_inference") else (False, True)
    for training in modes:
        y, new_state = layer.apply(variables, *_fk_args(layer, xs), training=training, rng=jax.random.key(0))
        want = _keras_call(klayer, xs, training=training)
        assert y.shape == tuple(want.shape)
        assert np.dtype(y.dtype) == np.dtype(want.dtype), (y.dtype, want.dtype)
        chex.assert_trees_all_close(np.asarray(y, "float32"), np.asarray(want, "float32"), **TOL)
        kstate = {w.name: np.asarray(w.value) for w in klayer.non_trainable_weights}
        chex.assert_trees_all_close(jax.tree.map(np.asarray, dict(new_state)), kstate, **TOL)
        variables = nn.Variables(variables.params, new_state)
    # Every layer traces under jit, and (when it has params) differentiates: one compiled program for both.
    def forward(p, *a):
        out = layer.apply(nn.Variables(p, variables.state), *a, training=True, rng=jax.random.key(0))[0]
        return jax.numpy.sum(out), out

    if variables.params:
        (_, y_jit), g = jax.jit(jax.value_and_grad(forward, has_aux=True))(variables.params, *_fk_args(layer, xs))
        assert all(bool(jax.numpy.all(jax.numpy.isfinite(t))) for t in jax.tree.leaves(g))
    else:
        y_jit = jax.jit(lambda p, *a: forward(p, *a)[1])(variables.params, *_fk_args(layer, xs))
    assert y_jit.shape == y.shape


@pytest.mark.parametrize("case", sorted(CASES))
def test_get_config_matches_keras(case):
    make_fk, make_k, _, _ = CASES[case]
    layer, klayer = make_fk(), make_k()
    config = layer.get_config()
    assert config == klayer.get_config()
    # from_config inverts it, and Keras reads our config (and we read Keras's).
    assert type(layer).from_config(config).get_config() == config
    assert type(klayer).from_config(config).get_config() == config
    assert type(layer).from_config(klayer.get_config()).get_config() == config
    # Through JSON (as in a .keras file: tuples become lists) and back.
    as_json = json.dumps(config, sort_keys=True)
    assert json.dumps(type(layer).from_config(json.loads(as_json)).get_config(), sort_keys=True) == as_json


def test_configs_with_regularizers_constraints_and_initializers():
    kw = dict(kernel_initializer="he_normal", bias_initializer=keras.initializers.Constant(0.1).get_config() and
              {"class_name": "Constant", "config": {"value": 0.1}},
              kernel_regularizer="l2", bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}},
              activity_regularizer="l2", kernel_constraint="max_norm", bias_constraint="non_neg")
    fk = nn.Dense(3, name="d", **kw)
    k = keras.layers.Dense(3, name="d", **kw)
    assert fk.get_config() == k.get_config()
    fk = nn.Conv2D(2, 3, name="c", **kw)
    k = keras.layers.Conv2D(2, 3, name="c", **kw)
    assert fk.get_config() == k.get_config()
    assert nn.Conv2D.from_config(fk.get_config()).get_config() == fk.get_config()
    for cls in ("UnitNorm", "MinMaxNorm", "MaxNorm", "NonNeg"):
        kc = getattr(keras.constraints, cls)()
        fc = nn.constraints.get(cls)
        assert nn.constraints.serialize(fc) == keras.constraints.serialize(kc)
    # (Keras's own L1() serializes l1 as float32-rounded 0.00999..., so it is compared with an exact value)
    for cls, kw in (("L1", {"l1": 0.5}), ("L2", {}), ("L1L2", {}), ("OrthogonalRegularizer", {"factor": 0.5})):
        kr = getattr(keras.regularizers, cls)(**kw)
        fr = getattr(nn.regularizers, cls)(**kw)
        assert nn.regularizers.serialize(fr) == keras.regularizers.serialize(kr)
    k = keras.layers.BatchNormalization(name="b", gamma_regularizer="l2", beta_constraint="non_neg")
    fk = nn.BatchNormalization(name="b", gamma_regularizer="l2", beta_constraint="non_neg")
    assert fk.get_config() == k.get_config()
    k = keras.layers.Embedding(5, 2, embeddings_initializer="he_uniform", name="e", mask_zero=True)
    fk = nn.Embedding(5, 2, embeddings_initializer="he_uniform", name="e", mask_zero=True)
    assert fk.get_config() == k.get_config()


def test_input_layer_config_and_auto_names_match_keras():
    keras.backend.clear_session(free_memory=False)  # Keras's auto names are global: start both counters at zero
    k = keras.layers.InputLayer(shape=(28, 28, 1))
    fk = nn.Input((28, 28, 1))
    assert fk.get_config() == k.get_config()
    assert nn.InputLayer.from_config(k.get_config()).get_config() == k.get_config()
    keras.backend.clear_session(free_memory=False)
    names = [type(l).__name__ for l in (nn.Dense(1), nn.Dense(1), nn.GlobalAveragePooling2D(),
                                         nn.UpSampling2D(), nn.ZeroPadding2D(), nn.BatchNormalization())]
    fk_names = [n for n in names]
    k_layers = [keras.layers.Dense(1), keras.layers.Dense(1), keras.layers.GlobalAveragePooling2D(),
                keras.layers.UpSampling2D(), keras.layers.ZeroPadding2D(), keras.layers.BatchNormalization()]
    nn.clear_session()
    fk_layers = [nn.Dense(1), nn.Dense(1), nn.GlobalAveragePooling2D(), nn.UpSampling2D(), nn.ZeroPadding2D(),
                 nn.BatchNormalization()]
    assert [l.name for l in fk_layers] == [l.name for l in k_layers]
    assert fk_names  # the classes exist under Keras's names


def test_seed_convnet_matches_keras_end_to_end():
    """The guide's convnet: same params count, same names per layer, same predictions with Keras's weights."""
    def build(L, Model):
        return Model([
            L.Input((12, 12, 1)) if L is nn else L.Input(shape=(12, 12, 1)),
            L.Conv2D(8, (3, 3), activation="relu"), L.Conv2D(8, (3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)), L.Conv2D(16, (3, 3), activation="relu"),
            L.GlobalAveragePooling2D(), L.Dropout(0.5), L.Dense(10, activation="softmax"),
        ])

    keras.backend.clear_session(free_memory=False)
    km = build(keras.layers, keras.Sequential)
    nn.clear_session()
    fm = build(nn, nn.Sequential)
    v = fm.init(jax.random.key(0))
    assert nn.count_params(v.params) == km.count_params()
    params = {}
    for kl in km.layers:
        if kl.weights:
            params[kl.name] = {w.name: jax.numpy.asarray(w.value) for w in kl.weights}
    assert jax.tree.map(np.shape, params) == jax.tree.map(np.shape, v.params)
    x = _inputs([(3, 12, 12, 1)])[0]
    y, _ = fm.apply(nn.Variables(params, {}), x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(km(x, training=False)), **TOL)


def test_sequential_config_matches_keras():
    kw = dict(name="s")
    k = keras.Sequential([keras.layers.Dense(2, name="d"), keras.layers.Dropout(0.1, name="dr")], **kw)
    f = nn.Sequential([nn.Dense(2, name="d"), nn.Dropout(0.1, name="dr")], **kw)
    assert f.get_config() == k.get_config()
    k = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="c"), keras.layers.Flatten(name="f"),
                          keras.layers.Dense(2, name="d")], **kw)
    f = nn.Sequential([nn.Input((6, 6, 1), name="input_layer"),
                       nn.Conv2D(2, 3, name="c"), nn.Flatten(name="f"), nn.Dense(2, name="d")], **kw)
    kc = k.get_config()
    kc["layers"][0]["config"]["name"] = "input_layer"  # Keras numbers its auto-named inputs per session
    assert f.get_config() == kc
    assert nn.Sequential.from_config(kc).get_config() == kc


@pytest.mark.parametrize("name", ["Constant", "Zeros", "Ones", "RandomNormal", "RandomUniform", "TruncatedNormal",
                                  "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
                                  "LecunNormal", "LecunUniform", "Orthogonal", "Identity"])
def test_initializer_configs_match_keras(name):
    k = getattr(keras.initializers, name)()
    f = nn.initializers.get(name)
    assert nn.initializers.serialize(f) == keras.initializers.serialize(k)
    assert type(nn.initializers.get(keras.initializers.serialize(k))) is type(f)


def test_variance_scaling_spread_matches_keras():
    """Same fan rules: the sample std of a conv kernel agrees with Keras's (and the closed form) within 3%."""
    shape = (3, 3, 32, 64)
    for name, want in (("he_normal", np.sqrt(2.0 / (9 * 32))), ("glorot_uniform", np.sqrt(2.0 / (9 * 32 + 9 * 64)))):
        ours = np.asarray(nn.initializers.get(name)(shape, "float32", key=jax.random.key(0)))
        theirs = np.asarray(keras.initializers.get(name)(shape))
        assert abs(ours.std() / want - 1) < 0.03 and abs(theirs.std() / want - 1) < 0.03
