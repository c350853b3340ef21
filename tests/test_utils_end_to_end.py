"""Issue 18's end-to-end checks with fkeras's data utilities: image and text folders to trained models."""

import os

import numpy as np
import pytest
from PIL import Image

import fkeras


@pytest.fixture(scope="module")
def png_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(2)
    for c in ("cat", "dog"):
        os.makedirs(d / c)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (10 + i, 12 - i, 3), dtype=np.uint8)).save(d / c / f"{i}.png")
    return d


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("texts")
    for c, words in (("neg", ["bad", "awful", "poor"]), ("pos", ["good", "great", "fine", "nice"])):
        os.makedirs(d / c)
        for i, w in enumerate(words):
            (d / c / f"{i}.txt").write_text(f"{w} movie, é unicode {i}")
    return d


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


@pytest.mark.slow
def test_end_to_end_images_to_keras_file(png_dir, tmp_path):
    """Issue 18's check: class folders of PNGs -> image_dataset_from_directory -> augmentation + Rescaling in
    the model -> fit -> .keras -> Keras 3.15 loads it and predicts the same."""
    import keras

    k = fkeras
    train, val = k.utils.image_dataset_from_directory(png_dir, image_size=(8, 8), batch_size=4, seed=1,
                                                      validation_split=0.3, subset="both", verbose=False)
    model = k.Sequential([k.Input((8, 8, 3)), k.layers.RandomFlip("horizontal", seed=1), k.layers.Rescaling(1 / 255),
                          k.layers.Conv2D(2, 3), k.layers.GlobalAveragePooling2D(), k.layers.Dense(2)])
    model.compile("adam", k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0).history
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    model.save(tmp_path / "m.keras")
    x = np.concatenate([_np(b[0]) for b in val])
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.slow
def test_end_to_end_texts_to_embedding_model(text_dir):
    """A text folder -> text_dataset_from_directory -> TextVectorization.adapt (the same vocabulary as Keras's)
    -> Embedding model -> fit."""
    import keras

    vocabularies = []
    for k in (fkeras, keras):
        ds = k.utils.text_dataset_from_directory(text_dir, batch_size=2, seed=0, verbose=False)
        vec = k.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
        vec.adapt(ds.map(lambda x, y: x))
        vocabularies.append(vec.get_vocabulary())
    assert vocabularies[0] == vocabularies[1]
    model = fkeras.Sequential([fkeras.Input((4,), dtype="int64"), fkeras.layers.Embedding(20, 3),
                               fkeras.layers.GlobalAveragePooling1D(), fkeras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    encoded = fkeras.utils.text_dataset_from_directory(text_dir, batch_size=2, seed=0, verbose=False)
    fvec = fkeras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    fvec.adapt(encoded.map(lambda x, y: x))
    assert np.isfinite(model.fit(encoded.map(lambda x, y: (fvec(x), y)), epochs=2, verbose=0).history["loss"]).all()
