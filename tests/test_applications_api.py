"""fkeras.applications' names, signatures, preprocess_input, decode_predictions and argument errors
vs Keras 3.15 (no model is built here; tests/test_applications_<family>.py build them)."""

import hashlib
import inspect
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import jax.numpy as jnp  # noqa: E402

import fkeras  # noqa: E402
from fkeras.applications import _base, imagenet_utils  # noqa: E402

KERAS_PUBLIC = sorted(n for n in dir(keras.applications) if not n.startswith("_"))
MODULES = sorted(n for n in KERAS_PUBLIC if n[0].islower())
MODELS = sorted(n for n in KERAS_PUBLIC if n[0].isupper())


def test_enumerates_every_keras_application():
    assert len(MODELS) == 40 and len(MODULES) == 17  # Keras 3.15's zoo; a change in Keras shows up here
    assert set(KERAS_PUBLIC) <= set(dir(fkeras.applications))
    for name in KERAS_PUBLIC:
        assert getattr(fkeras.applications, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_module_names(module):
    kmod, fmod = getattr(keras.applications, module), getattr(fkeras.applications, module)
    names = sorted(n for n in dir(kmod) if not n.startswith("_") and callable(getattr(kmod, n)))
    assert names, module
    for name in names:
        assert callable(getattr(fmod, name, None)), f"fkeras.applications.{module}.{name}"


def _signature(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", MODELS)
def test_model_signature(name):
    assert _signature(getattr(fkeras.applications, name)) == _signature(getattr(keras.applications, name))


@pytest.mark.parametrize("module", MODULES)
def test_helper_signatures(module):
    kmod, fmod = getattr(keras.applications, module), getattr(fkeras.applications, module)
    for name in ("preprocess_input", "decode_predictions"):
        assert _signature(getattr(fmod, name)) == _signature(getattr(kmod, name))


def test_models_reached_through_their_modules_are_the_same_functions():
    for module in MODULES:
        kmod, fmod = getattr(keras.applications, module), getattr(fkeras.applications, module)
        for name in dir(kmod):
            if name[0].isupper() and callable(getattr(kmod, name)):
                assert getattr(fmod, name) is getattr(fkeras.applications, name)


IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype("float32")


@pytest.mark.parametrize("module", [m for m in MODULES if m != "imagenet_utils"])
@pytest.mark.parametrize("kind", ["numpy", "uint8", "tensor", "single"])
def test_preprocess_input(module, kind):
    x = {"numpy": IMAGES, "uint8": IMAGES.astype("uint8"), "tensor": IMAGES, "single": IMAGES[0]}[kind]
    ref = keras.applications.__dict__[module].preprocess_input(np.array(x) if kind != "tensor" else jnp.asarray(x))
    got = getattr(fkeras.applications, module).preprocess_input(np.array(x) if kind != "tensor" else jnp.asarray(x))
    assert np.asarray(got).dtype == np.asarray(ref).dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("tensor", [False, True])
def test_imagenet_utils_preprocess_input_modes(mode, data_format, tensor):
    x = np.moveaxis(IMAGES, -1, 1) if data_format == "channels_first" else IMAGES
    wrap = jnp.asarray if tensor else np.array
    ref = keras.applications.imagenet_utils.preprocess_input(wrap(x), data_format=data_format, mode=mode)
    got = imagenet_utils.preprocess_input(wrap(x), data_format=data_format, mode=mode)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-6, atol=1e-5)


def test_preprocess_input_on_a_symbolic_input_records_ops():
    inp = fkeras.Input((4, 4, 3))
    out = fkeras.applications.resnet50.preprocess_input(inp)
    model = fkeras.Model(inp, out)
    x = IMAGES[:, :4, :4]
    ref = keras.applications.resnet50.preprocess_input(np.array(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-6, atol=1e-4)


def test_preprocess_input_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode to be one of"):
        imagenet_utils.preprocess_input(IMAGES, mode="bgr")
    with pytest.raises(ValueError, match="data_format to be one of"):
        imagenet_utils.preprocess_input(IMAGES, data_format="nhwc")


@pytest.fixture
def fake_class_index(tmp_path, monkeypatch):
    """A 1000-class index file in a temporary KERAS_HOME cache, where Keras's get_file looks."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    folder = tmp_path / "models"
    folder.mkdir()
    data = json.dumps(index).encode()
    (folder / "imagenet_class_index.json").write_bytes(data)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(data).hexdigest())
    monkeypatch.setattr(keras.src.applications.imagenet_utils, "CLASS_INDEX", index)
    return index


@pytest.mark.parametrize("module", ["vgg16", "resnet50", "mobilenet_v2", "efficientnet", "convnext"])
def test_decode_predictions(fake_class_index, module, monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    preds = np.random.default_rng(1).random((3, 1000)).astype("float32")
    got = getattr(fkeras.applications, module).decode_predictions(preds, top=4)
    ref = getattr(keras.applications, module).decode_predictions(preds, top=4)
    assert got == ref
    assert got[0][0][1] == fake_class_index[str(int(preds[0].argmax()))][1]
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(preds[:, :10])


def _no_network(*args, **kwargs):
    raise OSError("network disabled in tests")


def test_imagenet_weights_offline_error_names_the_file(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(OSError) as err:
        _base.get_file("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       fkeras.applications.resnet.BASE_WEIGHTS_PATH + "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       file_hash=fkeras.applications.resnet.WEIGHTS_HASHES["resnet50"][1])
    message = str(err.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "models") in message


@pytest.mark.parametrize("name, kwargs, match", [
    ("ResNet50", {"weights": "nowhere.h5"}, "The `weights` argument should be either"),
    ("VGG16", {"weights": "imagenet", "classes": 10}, "`classes` should be 1000"),
    ("MobileNetV2", {"weights": None, "include_top": False, "input_shape": (16, 16, 3)}, "at least 32x32"),
    ("Xception", {"weights": None, "include_top": False, "input_shape": (64, 64, 3)}, "at least 71x71"),
    ("InceptionV3", {"weights": None, "include_top": True, "input_shape": (None, None, 3)}, "static `input_shape`"),
    ("DenseNet121", {"weights": "imagenet", "input_shape": (128, 128, 3)}, r"should be \(224, 224, 3\)"),
    ("MobileNet", {"weights": "imagenet", "alpha": 0.3}, "alpha can be one of"),
    ("MobileNetV3Small", {"weights": None, "input_shape": (16, 16, 3)}, "at least 32x32"),
    ("NASNetLarge", {"weights": "imagenet", "include_top": False, "input_shape": (None, None, 3)}, "must be static"),
    ("ResNet50", {"weights": None, "input_shape": (32, 32)}, "tuple of three integers"),
])
def test_bad_arguments_fail_before_building(name, kwargs, match):
    fkeras.backend.clear_session(free_memory=False)
    with pytest.raises(ValueError, match=match):
        getattr(keras.applications, name)(**kwargs)
    with pytest.raises(ValueError, match=match):
        getattr(fkeras.applications, name)(**kwargs)


def test_lazy_loading():
    import subprocess
    import sys

    code = ("import sys, fkeras; assert 'fkeras.applications' not in sys.modules; "
            "import fkeras.applications as a; assert 'fkeras.applications.nasnet' not in sys.modules; "
            "a.NASNetMobile; assert 'fkeras.applications.nasnet' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
