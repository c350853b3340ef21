"""Every built-in facade layer round-trips through its config (issue 21): built on a small input,
`get_config()` -> `from_config` gives an equal config and, with the weights copied, equal outputs; the
config equals the keras==3.15.1 layer's of the same construction (optimizer-style auto names aside).

The layers are read from `fkeras/layers/builtin.py` when the test runs, so a new layer is covered the
moment it is generated: it must get a row in `TABLE` (a construction and an input), or the test
`test_table_covers_every_builtin_layer` fails. Outputs: same math, same weights -> atol=rtol=1e-6.
"""

import pathlib
import re

import jax
import numpy as np
import pytest

import fkeras

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest

BUILTIN = pathlib.Path(fkeras.__file__).parent / "layers" / "builtin.py"


def builtin_names():
    """The canonical layer names `tools/gen_api.py` generated (`Name = _view(_nn.Name)`), aliases aside."""
    return sorted(re.findall(r"(?m)^(\w+) = _view\(", BUILTIN.read_text()))


# Names that may appear in builtin.py before they get a row here (the lead fills this in), with the reason.
PENDING: dict = {}
# Layers around another framework's code (a JAX function, a Flax module, a torch module, a SavedModel): their configs,
# outputs and .keras files are checked against Keras in tests/test_interop_layers.py, which builds what they wrap.
ELSEWHERE = {"JaxLayer", "FlaxLayer", "TorchModuleWrapper", "TFSMLayer"}

# Keras's layer is compared unbuilt (its build needs inputs this table does not give it).
KERAS_UNBUILT: set = set()
# fkeras's class carries the public name where Keras's class has another one (same layer).
# (Keras's class is `GroupedQueryAttention`, exported also as `GroupQueryAttention`.)
KERAS_ALIAS = {"GroupQueryAttention"}
# Config differences from Keras that are known and not yet fixed (each line as `_diff` writes it); the test
# fails when one disappears too, so this list only shrinks.
_NESTED_BUILD = "build_config: '<absent>' != {{'input_shape': {}}}"  # Keras serializes built sub-layers with it
KNOWN_KERAS_DIFFS = {
    "Bidirectional": ["/backward_layer/" + _NESTED_BUILD.format([2, 5, 4]), "/layer/" + _NESTED_BUILD.format([2, 5, 4])],
    "RNN": ["/cell/" + _NESTED_BUILD.format([2, 4])],
    "SpectralNormalization": ["/layer/" + _NESTED_BUILD.format([2, 4])],
    "StackedRNNCells": ["/cells[0]/" + _NESTED_BUILD.format([2, 4]), "/cells[1]/" + _NESTED_BUILD.format([2, 3])],
    "TimeDistributed": ["/layer/" + _NESTED_BUILD.format([2, 4])],
    # Keras's build turns these into their resolved form
    "LayerNormalization": ["/axis: -1 != [-1]"],
    "RMSNormalization": ["/axis: -1 != [-1]"],
    "MultiHeadAttention": ["/attention_axes: None != [1]"],
}
# Layers whose round trip fails today (strict xfail: remove the entry once it passes), with the reason.
KNOWN_BROKEN: dict = {}

_R = np.random.default_rng(0)


def f(*shape):
    return _R.normal(size=shape).astype("float32")


def img(*shape):
    return (_R.random(shape) * 255).astype("float32")


def ints(high, *shape):
    return _R.integers(0, high, size=shape).astype("int32")


IMG = (2, 8, 8, 3)


def _boxes():
    return {"images": img(*IMG), "labels": ints(3, 2, 3)}


# name -> (make(layers module) -> layer, make the input, how the layer is called)
#   how: "x" layer(x); "list" layer([a, b]); "args" layer(a, b); "cell" layer(x, states)
TABLE = {
    "Activation": (lambda L: L.Activation("relu"), lambda: f(2, 4), "x"),
    "ActivityRegularization": (lambda L: L.ActivityRegularization(l1=0.01, l2=0.02), lambda: f(2, 4), "x"),
    "AdaptiveAveragePooling1D": (lambda L: L.AdaptiveAveragePooling1D(2), lambda: f(2, 6, 3), "x"),
    "AdaptiveAveragePooling2D": (lambda L: L.AdaptiveAveragePooling2D((2, 3)), lambda: f(2, 6, 6, 3), "x"),
    "AdaptiveAveragePooling3D": (lambda L: L.AdaptiveAveragePooling3D(2), lambda: f(2, 4, 4, 4, 2), "x"),
    "AdaptiveMaxPooling1D": (lambda L: L.AdaptiveMaxPooling1D(2), lambda: f(2, 6, 3), "x"),
    "AdaptiveMaxPooling2D": (lambda L: L.AdaptiveMaxPooling2D((2, 3)), lambda: f(2, 6, 6, 3), "x"),
    "AdaptiveMaxPooling3D": (lambda L: L.AdaptiveMaxPooling3D(2), lambda: f(2, 4, 4, 4, 2), "x"),
    "Add": (lambda L: L.Add(), lambda: [f(2, 4), f(2, 4)], "list"),
    "AdditiveAttention": (lambda L: L.AdditiveAttention(use_scale=False), lambda: [f(2, 3, 4), f(2, 5, 4)], "list"),
    "AlphaDropout": (lambda L: L.AlphaDropout(0.2, seed=1), lambda: f(2, 4), "x"),
    "Attention": (lambda L: L.Attention(use_scale=True, score_mode="dot"), lambda: [f(2, 3, 4), f(2, 5, 4)],
                  "list"),
    "AugMix": (lambda L: L.AugMix(num_chains=2, seed=1), lambda: img(*IMG), "x"),
    "AutoContrast": (lambda L: L.AutoContrast(), lambda: img(*IMG), "x"),
    "Average": (lambda L: L.Average(), lambda: [f(2, 4), f(2, 4)], "list"),
    "AveragePooling1D": (lambda L: L.AveragePooling1D(2), lambda: f(2, 6, 3), "x"),
    "AveragePooling2D": (lambda L: L.AveragePooling2D(2, padding="same"), lambda: f(2, 5, 5, 3), "x"),
    "AveragePooling3D": (lambda L: L.AveragePooling3D(2), lambda: f(2, 4, 4, 4, 2), "x"),
    "BatchNormalization": (lambda L: L.BatchNormalization(momentum=0.9, center=False), lambda: f(2, 4), "x"),
    "Bidirectional": (lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum"),
                      lambda: f(2, 5, 4), "x"),
    "CategoryEncoding": (lambda L: L.CategoryEncoding(num_tokens=5, output_mode="count"), lambda: ints(5, 2, 3),
                         "x"),
    "CenterCrop": (lambda L: L.CenterCrop(4, 6), lambda: img(*IMG), "x"),
    "Concatenate": (lambda L: L.Concatenate(axis=-1), lambda: [f(2, 4), f(2, 3)], "list"),
    "ContrastLimitedAdaptiveHistogramEqualization": (
        lambda L: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)), lambda: img(*IMG), "x"),
    "Conv1D": (lambda L: L.Conv1D(2, 3, activation="tanh"), lambda: f(2, 6, 3), "x"),
    "Conv1DTranspose": (lambda L: L.Conv1DTranspose(2, 3, strides=2), lambda: f(2, 6, 3), "x"),
    "Conv2D": (lambda L: L.Conv2D(2, 3, padding="same", use_bias=False), lambda: f(2, 6, 6, 3), "x"),
    "Conv2DTranspose": (lambda L: L.Conv2DTranspose(2, 3), lambda: f(2, 5, 5, 3), "x"),
    "Conv3D": (lambda L: L.Conv3D(2, 2), lambda: f(2, 4, 4, 4, 2), "x"),
    "Conv3DTranspose": (lambda L: L.Conv3DTranspose(2, 2), lambda: f(2, 3, 3, 3, 2), "x"),
    "ConvLSTM1D": (lambda L: L.ConvLSTM1D(2, 3), lambda: f(2, 3, 6, 2), "x"),
    "ConvLSTM2D": (lambda L: L.ConvLSTM2D(2, 3, return_sequences=True), lambda: f(2, 3, 5, 5, 2), "x"),
    "ConvLSTM3D": (lambda L: L.ConvLSTM3D(2, 2), lambda: f(2, 2, 3, 3, 3, 1), "x"),
    "Cropping1D": (lambda L: L.Cropping1D((1, 2)), lambda: f(2, 6, 3), "x"),
    "Cropping2D": (lambda L: L.Cropping2D(1), lambda: f(2, 6, 6, 3), "x"),
    "Cropping3D": (lambda L: L.Cropping3D(1), lambda: f(2, 4, 4, 4, 2), "x"),
    "CutMix": (lambda L: L.CutMix(factor=0.5, seed=1), lambda: img(*IMG), "x"),
    "Dense": (lambda L: L.Dense(3, activation="relu", kernel_regularizer="l2"), lambda: f(2, 4), "x"),
    "DepthwiseConv1D": (lambda L: L.DepthwiseConv1D(3, depth_multiplier=2), lambda: f(2, 6, 3), "x"),
    "DepthwiseConv2D": (lambda L: L.DepthwiseConv2D(3), lambda: f(2, 6, 6, 3), "x"),
    "Discretization": (lambda L: L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5]), lambda: f(2, 4), "x"),
    "Dot": (lambda L: L.Dot(axes=1, normalize=True), lambda: [f(2, 4), f(2, 4)], "list"),
    "Dropout": (lambda L: L.Dropout(0.5, seed=3), lambda: f(2, 4), "x"),
    "ELU": (lambda L: L.ELU(alpha=0.5), lambda: f(2, 4), "x"),
    "EinsumDense": (lambda L: L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c"), lambda: f(2, 4), "x"),
    "Embedding": (lambda L: L.Embedding(7, 2, mask_zero=True), lambda: ints(7, 2, 3), "x"),
    "Equalization": (lambda L: L.Equalization(bins=64), lambda: img(*IMG), "x"),
    "Flatten": (lambda L: L.Flatten(), lambda: f(2, 3, 4), "x"),
    "GRU": (lambda L: L.GRU(3, reset_after=False), lambda: f(2, 5, 4), "x"),
    "GRUCell": (lambda L: L.GRUCell(3), lambda: (f(2, 4), [f(2, 3)]), "cell"),
    "GaussianDropout": (lambda L: L.GaussianDropout(0.2, seed=1), lambda: f(2, 4), "x"),
    "GaussianNoise": (lambda L: L.GaussianNoise(0.1, seed=1), lambda: f(2, 4), "x"),
    "GlobalAveragePooling1D": (lambda L: L.GlobalAveragePooling1D(keepdims=True), lambda: f(2, 6, 3), "x"),
    "GlobalAveragePooling2D": (lambda L: L.GlobalAveragePooling2D(), lambda: f(2, 6, 6, 3), "x"),
    "GlobalAveragePooling3D": (lambda L: L.GlobalAveragePooling3D(), lambda: f(2, 4, 4, 4, 2), "x"),
    "GlobalMaxPooling1D": (lambda L: L.GlobalMaxPooling1D(), lambda: f(2, 6, 3), "x"),
    "GlobalMaxPooling2D": (lambda L: L.GlobalMaxPooling2D(keepdims=True), lambda: f(2, 6, 6, 3), "x"),
    "GlobalMaxPooling3D": (lambda L: L.GlobalMaxPooling3D(), lambda: f(2, 4, 4, 4, 2), "x"),
    "GroupNormalization": (lambda L: L.GroupNormalization(groups=2), lambda: f(2, 4), "x"),
    "GroupQueryAttention": (lambda L: L.GroupQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=1),
                            lambda: (f(2, 3, 4), f(2, 5, 4)), "args"),
    "HashedCrossing": (lambda L: L.HashedCrossing(num_bins=5), lambda: (ints(9, 2, 1), ints(9, 2, 1)), "x"),
    "Hashing": (lambda L: L.Hashing(num_bins=5), lambda: ints(100, 2, 3), "x"),
    "Identity": (lambda L: L.Identity(), lambda: f(2, 4), "x"),
    "IntegerLookup": (lambda L: L.IntegerLookup(vocabulary=[1, 2, 3]), lambda: ints(5, 2, 3), "x"),
    "LSTM": (lambda L: L.LSTM(3, return_state=True), lambda: f(2, 5, 4), "x"),
    "LSTMCell": (lambda L: L.LSTMCell(3), lambda: (f(2, 4), [f(2, 3), f(2, 3)]), "cell"),
    "LayerNormalization": (lambda L: L.LayerNormalization(epsilon=1e-4), lambda: f(2, 4), "x"),
    "LeakyReLU": (lambda L: L.LeakyReLU(negative_slope=0.2), lambda: f(2, 4), "x"),
    "Masking": (lambda L: L.Masking(mask_value=0.0), lambda: f(2, 3, 4), "x"),
    "MaxNumBoundingBoxes": (lambda L: L.MaxNumBoundingBoxes(max_number=2), _boxes, "x"),
    "MaxPooling1D": (lambda L: L.MaxPooling1D(2), lambda: f(2, 6, 3), "x"),
    "MaxPooling2D": (lambda L: L.MaxPooling2D(2), lambda: f(2, 6, 6, 3), "x"),
    "MaxPooling3D": (lambda L: L.MaxPooling3D(2), lambda: f(2, 4, 4, 4, 2), "x"),
    "Maximum": (lambda L: L.Maximum(), lambda: [f(2, 4), f(2, 4)], "list"),
    "MelSpectrogram": (lambda L: L.MelSpectrogram(fft_length=32, sequence_stride=16, sequence_length=32,
                                                  num_mel_bins=8, sampling_rate=800), lambda: f(2, 128), "x"),
    "Minimum": (lambda L: L.Minimum(), lambda: [f(2, 4), f(2, 4)], "list"),
    "MixUp": (lambda L: L.MixUp(alpha=0.3, seed=1), lambda: img(*IMG), "x"),
    "MultiHeadAttention": (lambda L: L.MultiHeadAttention(num_heads=2, key_dim=2),
                           lambda: (f(2, 3, 4), f(2, 5, 4)), "args"),
    "Multiply": (lambda L: L.Multiply(), lambda: [f(2, 4), f(2, 4)], "list"),
    "Normalization": (lambda L: L.Normalization(mean=0.5, variance=2.0), lambda: f(2, 4), "x"),
    "PReLU": (lambda L: L.PReLU(shared_axes=[1]), lambda: f(2, 3, 4), "x"),
    "Permute": (lambda L: L.Permute((2, 1)), lambda: f(2, 3, 4), "x"),
    "Pipeline": (lambda L: L.Pipeline([L.Rescaling(0.5), L.Identity()]), lambda: f(2, 4), "x"),
    "RMSNormalization": (lambda L: L.RMSNormalization(epsilon=1e-5), lambda: f(2, 4), "x"),
    "RNN": (lambda L: L.RNN(L.SimpleRNNCell(3), return_sequences=True), lambda: f(2, 5, 4), "x"),
    "RandAugment": (lambda L: L.RandAugment(num_ops=1, seed=1), lambda: img(*IMG), "x"),
    "RandomBrightness": (lambda L: L.RandomBrightness(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomColorDegeneration": (lambda L: L.RandomColorDegeneration(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomColorJitter": (lambda L: L.RandomColorJitter(brightness_factor=0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomContrast": (lambda L: L.RandomContrast(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomCrop": (lambda L: L.RandomCrop(4, 6, seed=1), lambda: img(*IMG), "x"),
    "RandomElasticTransform": (lambda L: L.RandomElasticTransform(seed=1), lambda: img(*IMG), "x"),
    "RandomErasing": (lambda L: L.RandomErasing(seed=1), lambda: img(*IMG), "x"),
    "RandomFlip": (lambda L: L.RandomFlip("horizontal", seed=1), lambda: img(*IMG), "x"),
    "RandomGaussianBlur": (lambda L: L.RandomGaussianBlur(seed=1), lambda: img(*IMG), "x"),
    "RandomGrayscale": (lambda L: L.RandomGrayscale(factor=0.5, seed=1), lambda: img(*IMG), "x"),
    "RandomHue": (lambda L: L.RandomHue(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomInvert": (lambda L: L.RandomInvert(seed=1), lambda: img(*IMG), "x"),
    "RandomPerspective": (lambda L: L.RandomPerspective(seed=1), lambda: img(*IMG), "x"),
    "RandomPosterization": (lambda L: L.RandomPosterization(factor=(1, 4), seed=1), lambda: img(*IMG), "x"),
    "RandomRotation": (lambda L: L.RandomRotation(0.1, seed=1), lambda: img(*IMG), "x"),
    "RandomSaturation": (lambda L: L.RandomSaturation(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomSharpness": (lambda L: L.RandomSharpness(0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomShear": (lambda L: L.RandomShear(x_factor=0.1, seed=1), lambda: img(*IMG), "x"),
    "RandomTranslation": (lambda L: L.RandomTranslation(0.1, 0.2, seed=1), lambda: img(*IMG), "x"),
    "RandomZoom": (lambda L: L.RandomZoom(0.1, seed=1), lambda: img(*IMG), "x"),
    "ReLU": (lambda L: L.ReLU(max_value=6.0), lambda: f(2, 4), "x"),
    "RepeatVector": (lambda L: L.RepeatVector(2), lambda: f(2, 4), "x"),
    "Rescaling": (lambda L: L.Rescaling(1 / 255, offset=-0.5), lambda: img(*IMG), "x"),
    "Reshape": (lambda L: L.Reshape((2, 2)), lambda: f(2, 4), "x"),
    "Resizing": (lambda L: L.Resizing(4, 5, interpolation="nearest"), lambda: img(*IMG), "x"),
    "ReversibleEmbedding": (lambda L: L.ReversibleEmbedding(7, 2), lambda: ints(7, 2, 3), "x"),
    "STFTSpectrogram": (lambda L: L.STFTSpectrogram(frame_length=16, frame_step=8, fft_length=16),
                        lambda: f(2, 64, 1), "x"),
    "SeparableConv1D": (lambda L: L.SeparableConv1D(2, 3), lambda: f(2, 6, 3), "x"),
    "SeparableConv2D": (lambda L: L.SeparableConv2D(2, 3, depth_multiplier=2), lambda: f(2, 6, 6, 3), "x"),
    "SimpleRNN": (lambda L: L.SimpleRNN(3, go_backwards=True), lambda: f(2, 5, 4), "x"),
    "SimpleRNNCell": (lambda L: L.SimpleRNNCell(3), lambda: (f(2, 4), [f(2, 3)]), "cell"),
    "Softmax": (lambda L: L.Softmax(axis=-1), lambda: f(2, 4), "x"),
    "Solarization": (lambda L: L.Solarization(addition_factor=0.1, seed=1), lambda: img(*IMG), "x"),
    "SpatialDropout1D": (lambda L: L.SpatialDropout1D(0.2, seed=1), lambda: f(2, 5, 3), "x"),
    "SpatialDropout2D": (lambda L: L.SpatialDropout2D(0.2, seed=1), lambda: f(2, 4, 4, 3), "x"),
    "SpatialDropout3D": (lambda L: L.SpatialDropout3D(0.2, seed=1), lambda: f(2, 3, 3, 3, 2), "x"),
    "SpectralNormalization": (lambda L: L.SpectralNormalization(L.Dense(3)), lambda: f(2, 4), "x"),
    "StackedRNNCells": (lambda L: L.StackedRNNCells([L.SimpleRNNCell(3), L.SimpleRNNCell(2)]),
                        lambda: (f(2, 4), [f(2, 3), f(2, 2)]), "cell"),
    "StringLookup": (lambda L: L.StringLookup(vocabulary=["a", "b", "c"]),
                     lambda: np.array([["a", "c", "z"], ["b", "b", "a"]]), "x"),
    "Subtract": (lambda L: L.Subtract(), lambda: [f(2, 4), f(2, 4)], "list"),
    "TextVectorization": (lambda L: L.TextVectorization(vocabulary=["the", "cat", "sat"], output_sequence_length=4),
                          lambda: np.array(["the cat sat", "a cat"]), "x"),
    "TimeDistributed": (lambda L: L.TimeDistributed(L.Dense(3)), lambda: f(2, 5, 4), "x"),
    "UnitNormalization": (lambda L: L.UnitNormalization(), lambda: f(2, 4), "x"),
    "UpSampling1D": (lambda L: L.UpSampling1D(2), lambda: f(2, 3, 2), "x"),
    "UpSampling2D": (lambda L: L.UpSampling2D(2, interpolation="bilinear"), lambda: f(2, 3, 3, 2), "x"),
    "UpSampling3D": (lambda L: L.UpSampling3D(2), lambda: f(2, 2, 2, 2, 1), "x"),
    "ZeroPadding1D": (lambda L: L.ZeroPadding1D(1), lambda: f(2, 3, 2), "x"),
    "ZeroPadding2D": (lambda L: L.ZeroPadding2D(((1, 0), (0, 2))), lambda: f(2, 3, 3, 2), "x"),
    "ZeroPadding3D": (lambda L: L.ZeroPadding3D(1), lambda: f(2, 2, 2, 2, 1), "x"),
}


def _call(layer, inputs, how):
    """In inference (`training=False`): a call without it augments in Keras's random image layers."""
    if how == "list":
        return layer(list(inputs), training=False)
    if how in ("args", "cell"):
        return layer(*inputs, training=False)
    return layer(inputs, training=False)


def _leaves(out):
    return [np.asarray(a) for a in jax.tree.leaves(out)]


def _drop_names(cfg):
    """A config without `name` entries: auto names (`lstm_3`) are per-session counters in both libraries."""
    if isinstance(cfg, dict):
        return {k: _drop_names(v) for k, v in cfg.items() if k != "name"}
    if isinstance(cfg, (list, tuple)):
        return [_drop_names(v) for v in cfg]
    return cfg


def _diff(a, b, path=""):
    """Where two configs differ: `["path: ours != theirs", ...]` (empty when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_table_covers_every_builtin_layer():
    """A layer generated into builtin.py without a row here (and not PENDING) fails: keep the table complete."""
    names = set(builtin_names())
    assert len(names) > 100
    missing = sorted(names - set(TABLE) - set(PENDING) - ELSEWHERE)
    assert missing == [], f"add rows to TABLE for {missing}"
    stale = sorted((set(TABLE) | set(PENDING) | ELSEWHERE) - names)
    assert stale == [], f"TABLE/PENDING rows for layers builtin.py no longer has: {stale}"
    assert not set(TABLE) & set(PENDING)


def _build_keras(layer, x, how):
    """Build Keras's layer for inputs like `x` without running it (Keras's eager preprocessing is slow)."""
    shapes = jax.tree.map(lambda a: tuple(np.shape(a)), x, is_leaf=lambda a: isinstance(a, np.ndarray))
    if how == "list":
        layer.build(list(shapes))
    elif how == "args":
        layer.build(*shapes)
    elif how == "cell":
        layer.build(shapes[0])
    else:
        layer.build(shapes)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[n]))
                                  if n in KNOWN_BROKEN else n for n in sorted(TABLE)])
def test_config_round_trip_outputs_and_keras_config(name):
    """from_config(get_config()) -> the same config; with the weights copied, the same outputs; and the config
    of Keras's layer built for the same input (names aside), up to the listed known differences."""
    make, inputs, how = TABLE[name]
    x = inputs()
    layer = make(fkeras.layers)
    out = _call(layer, x, how)
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    _call(clone, x, how)  # builds it
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == cfg
    got, want = _leaves(_call(clone, x, how)), _leaves(out)
    assert [a.shape for a in got] == [a.shape for a in want]
    for a, b in zip(got, want):
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)
    theirs = make(keras.layers)
    if name not in KERAS_UNBUILT:
        _build_keras(theirs, x, how)
    assert type(layer).__name__ == type(theirs).__name__ or name in KERAS_ALIAS
    assert _diff(_drop_names(cfg), _drop_names(theirs.get_config())) == KNOWN_KERAS_DIFFS.get(name, [])
