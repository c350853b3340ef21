"""The preprocessing layers inside models: `import fkeras as keras` scripts fit (jitted train step, the
augmentation active) and predict (inference: identity), configs round-trip, and `.keras` files cross
with Keras 3.15 both ways with the same predictions (atol 1e-4)."""

import chex
import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest

import fkeras
from fkeras import nn


def _augmenting_model(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input((12, 12, 3)),
        L.RandomFlip(seed=1),
        L.RandomRotation(0.1, seed=2),
        L.RandomZoom(0.1, seed=3),
        L.RandomTranslation(0.1, 0.1, seed=4),
        L.RandomContrast(0.2, seed=5),
        L.RandomBrightness(0.1, seed=6),
        L.Pipeline([L.RandomHue(0.1, seed=7), L.RandomSharpness(0.2, seed=8)]),
        L.Rescaling(1.0 / 255),
        L.Resizing(8, 8),
        L.CenterCrop(6, 6),
        L.Conv2D(4, 3),
        L.GlobalAveragePooling2D(),
        L.Dense(2),
    ])


def _data(n=8):
    rng = np.random.default_rng(0)
    return (rng.random((n, 12, 12, 3)) * 255).astype("float32"), rng.random((n, 2)).astype("float32")


def test_fit_predict_and_keras_file_to_keras(tmp_path):
    x, y = _data()
    model = _augmenting_model(fkeras)
    model.compile(optimizer="adam", loss="mse")
    before = model.predict(x, verbose=0)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = model.predict(x, verbose=0)
    assert not np.allclose(before, after)  # trained
    # training mode augments: two calls differ; inference is deterministic
    a, b = model(x, training=True), model(x, training=True)
    assert not np.allclose(np.asarray(a), np.asarray(b))
    chex.assert_trees_all_close(np.asarray(model(x, training=False)), after, atol=1e-5)
    path = tmp_path / "aug.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    chex.assert_trees_all_close(np.asarray(loaded.predict(x, verbose=0)), after, atol=1e-4)
    back = fkeras.saving.load_model(path)
    chex.assert_trees_all_close(np.asarray(back.predict(x, verbose=0)), after, atol=1e-4)


def test_keras_file_from_keras_loads_and_predicts_the_same(tmp_path):
    x, _ = _data()
    kmodel = _augmenting_model(keras)
    expected = np.asarray(kmodel.predict(x, verbose=0))
    path = tmp_path / "k.keras"
    kmodel.save(path)
    model = fkeras.saving.load_model(path)
    assert model.layers[6].get_config() == kmodel.layers[6].get_config() or \
        model.layers[6].get_config()["name"] == kmodel.layers[6].get_config()["name"]
    chex.assert_trees_all_close(np.asarray(model.predict(x, verbose=0)), expected, atol=1e-4)


@pytest.mark.parametrize("lib_from", ["fkeras", "keras"])
def test_audio_layers_cross_keras_files(tmp_path, lib_from):
    src = fkeras if lib_from == "fkeras" else keras
    dst = keras if lib_from == "fkeras" else fkeras
    L = src.layers
    model = src.Sequential([src.Input((64, 1)), L.STFTSpectrogram(mode="log", frame_length=16, frame_step=8,
                                                                   fft_length=16), L.Flatten(), L.Dense(3)])
    x = np.random.default_rng(3).normal(size=(2, 64, 1)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    path = tmp_path / "audio.keras"
    model.save(path)
    loaded = dst.saving.load_model(path)
    chex.assert_trees_all_close(np.asarray(loaded.predict(x, verbose=0)), expected, atol=1e-4)
    mel = src.Sequential([src.Input((800,)), L.MelSpectrogram(fft_length=128, sequence_stride=64, num_mel_bins=16)])
    expected = np.asarray(mel.predict(x[:, :, 0].repeat(13, axis=1)[:, :800], verbose=0))
    mel.save(tmp_path / "mel.keras")
    got = dst.saving.load_model(tmp_path / "mel.keras").predict(x[:, :, 0].repeat(13, axis=1)[:, :800], verbose=0)
    chex.assert_trees_all_close(np.asarray(got), expected, atol=2e-3, rtol=2e-4)


def test_every_layer_in_a_model_round_trips_its_config():
    # Equalization is left out: Keras 3.15's returns its input KerasTensor as its output spec, so a Keras model
    # with it after another layer fails to build ("... is part of a cycle"), in Keras alone too.
    # AugMix/RandAugment/RandomColorJitter make sub-layers with automatic names, as Keras does; both sessions
    # start fresh so that the names the file holds do not collide with those (Keras resolves layers by name)
    keras.backend.clear_session(free_memory=False)
    # CLAHE first: it bins truncated values, so an ulp of difference in its input (after AutoContrast) can
    # move a pixel by a bin
    layers = [nn.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)), nn.AugMix(num_chains=1, chain_depth=1, seed=1), nn.RandAugment(num_ops=1, seed=2), nn.CutMix(seed=3),
              nn.MixUp(seed=4), nn.RandomErasing(seed=5), nn.RandomElasticTransform(seed=6),
              nn.RandomPerspective(seed=7), nn.RandomGaussianBlur(seed=9),  # RandomShear: Keras cannot load its config
              nn.RandomGrayscale(seed=10), nn.RandomInvert(seed=11), nn.RandomPosterization(4, seed=12),
              nn.RandomSaturation(0.3, seed=13), nn.RandomColorDegeneration(0.3, seed=14),
              nn.RandomColorJitter(brightness_factor=0.1, seed=15), nn.Solarization(seed=16), nn.AutoContrast(),
              nn.MaxNumBoundingBoxes(4), nn.RandomCrop(6, 6, seed=17)]
    model = fkeras.Sequential([fkeras.Input((8, 8, 3))] + [fkeras.layers.wrapped.NNLayer.from_nn(la) for la in layers])
    config = model.get_config()
    kmodel = keras.Sequential.from_config(config)
    assert [type(la).__name__ for la in kmodel.layers] == [type(la).__name__ for la in layers]
    again = fkeras.Sequential.from_config(kmodel.get_config())
    x = _data()[0][:, :8, :8]
    model.compile(loss="mse")
    out = again.predict(x, verbose=0)  # inference: CLAHE and AutoContrast act, the rest pass through
    expected = kmodel.predict(x, verbose=0)
    chex.assert_trees_all_close(np.asarray(out), np.asarray(expected), atol=1e-3)
    y = np.zeros((8, 6, 6, 3), "float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # every layer traced and run in the jitted step
