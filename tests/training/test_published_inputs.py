"""Every published recipe feeds the tensor the published code fed, computed here independently of signfer.

References, re-implemented from the published code (not from signfer):
- SLTAT MobileNet notebooks (FER-for-sign-language): ``mobilenet_preprocess_input`` on the float32 RGB batch
  Keras' ``ImageDataGenerator`` yields, or that batch unchanged for ``ImageDataGenerator()``.
- SLTAT EfficientNet notebooks: torchvision ``ToTensor()`` + ``Normalize(ImageNet mean, std)`` on the PIL image.
- EASIER-EkmanClassifier ``FaceExpressionPhoenixDataLoader``: ``ToTensor()``, ``Normalize(FePh mean, std)``,
  ``Resize((224, 224))``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from signfer.data.labels import EMOTIONS7
from signfer.models.hsemotion import MODELS
from signfer.models.spec import ModelSpec
from signfer.training.loop import make_dataset
from signfer.training.prepare import build_model
from signfer.training.recipes import load_recipe

SMALL = ["image_size=32", "preset=none", "pretrained=null", "init_from=null"]


def mobilenet_preprocess_input(x, **kwargs):
    """Verbatim from the notebooks (cross_validation/MobileNet/mobilenet_crossval_train.ipynb, cell 6)."""
    x[..., 0] -= 103.939
    x[..., 1] -= 116.779
    x[..., 2] -= 123.68
    return x


def _pixel_spec(normalization: str) -> ModelSpec:
    return ModelSpec("mobilenetv1_100", list(EMOTIONS7), input_size=1, normalization=normalization)


def test_ip_of_one_pixel_is_rgb_minus_the_means_without_flip():
    pixel = np.array([[[[200, 50, 50]]]], np.uint8)
    expected = mobilenet_preprocess_input(pixel.astype(np.float32))[0, 0, 0]
    assert expected.tolist() == pytest.approx([96.061, -66.779, -73.68], abs=1e-4)
    got = _pixel_spec("ip").normalize(pixel)[0, :, 0, 0]
    assert got.tolist() == pytest.approx([96.061, -66.779, -73.68], abs=1e-4)
    # what the old "caffe" recipes fed instead: BGR minus the means (-53.9, -66.8, 76.3)
    assert _pixel_spec("caffe").normalize(pixel)[0, :, 0, 0].tolist() == pytest.approx([-53.939, -66.779, 76.32], abs=1e-3)
    # rows without IP: ImageDataGenerator() with no preprocessing -> the 0-255 pixel itself
    assert _pixel_spec("raw").normalize(pixel)[0, :, 0, 0].tolist() == [200.0, 50.0, 50.0]


def test_m0_m1_m2_share_one_ip_code_path():
    # M0 with the real weights takes mobilenet_7's own spec (normalization null); M1/M2 name it
    assert MODELS["mobilenet_7"].spec().normalization == "ip"
    for name in ("M0", "M1", "M2", "mobilenet-ft-sgd-ip"):
        _, spec = build_model(load_recipe(name, SMALL), EMOTIONS7)
        assert spec.normalization == "ip", name
    for name in ("mobilenet-ft", "mobilenet-ft-sgd", "mobilenet-ft-sgd-cw", "mobilenet-ft-sgd-hf"):
        _, spec = build_model(load_recipe(name, SMALL), EMOTIONS7)
        assert spec.normalization == "raw", name


def _fed(recipe_name: str, df, classes, extra=()):
    recipe = load_recipe(recipe_name, [*SMALL, *extra])
    _, spec = build_model(recipe, classes)
    ds = make_dataset(recipe, spec, df.iloc[:4], train=False, cache_dir=False)
    crops = np.stack([ds.crop(i) for i in range(4)])
    fed = torch.stack([ds[i][0] for i in range(4)]).numpy()
    return crops, fed


@pytest.mark.parametrize("name", ["M0", "M1", "M2", "mobilenet-ft-sgd-ip"])
def test_ip_recipes_feed_the_notebook_tensor(synthetic_feph, name):
    from signfer.data.feph import load_feph

    df, _ = load_feph(synthetic_feph)
    crops, fed = _fed(name, df, EMOTIONS7)
    keras = mobilenet_preprocess_input(crops.astype(np.float32))  # NHWC, as Keras feeds it
    np.testing.assert_allclose(fed, keras.transpose(0, 3, 1, 2), rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["mobilenet-ft", "mobilenet-ft-sgd", "mobilenet-ft-sgd-cw", "mobilenet-ft-sgd-hf"])
def test_rows_without_ip_feed_raw_pixels(synthetic_feph, name):
    from signfer.data.feph import load_feph

    df, _ = load_feph(synthetic_feph)
    crops, fed = _fed(name, df, EMOTIONS7)
    np.testing.assert_array_equal(fed, crops.astype(np.float32).transpose(0, 3, 1, 2))
    assert fed.max() > 1.5  # not x / 255


@pytest.mark.parametrize("name", ["E0", "E1", "E2", "efficientnet-ft-sgd-sam-hf"])
def test_efficientnet_recipes_feed_torchvision_imagenet_normalisation(synthetic_feph, name):
    from signfer.data.feph import load_feph

    df, _ = load_feph(synthetic_feph)
    crops, fed = _fed(name, df, EMOTIONS7)
    tv = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    expected = torch.stack([tv(Image.fromarray(c)) for c in crops]).numpy()
    np.testing.assert_allclose(fed, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["easier2025", "easier2025-published", "easier2025-upper"])
def test_easier2025_recipes_feed_the_feph_statistics_of_the_2025_code(synthetic_feph, name):
    from signfer.data.feph import load_feph
    from signfer.data.labels import FEPH8

    df, _ = load_feph(synthetic_feph, policy="easier2025")
    crops, fed = _fed(name, df, FEPH8, ["published={}"])  # without the code's random test-time flip (tested elsewhere)
    # data_loader/data_loaders.py FaceExpressionPhoenixDataset.dataset_stats and the loader's transform (no flip here)
    mean, std = [0.6374226, 0.5848234, 0.56568706], [0.20125638, 0.22521368, 0.2639905]
    tv = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=mean, std=std),
                             transforms.Resize(tuple(crops.shape[1:3]))])  # the crop is already at the model size
    expected = torch.stack([tv(Image.fromarray(c)) for c in crops]).numpy()
    np.testing.assert_allclose(fed, expected, rtol=0, atol=1e-5)


def test_no_ip_rows_are_evaluated_on_bgr_and_trained_on_nearest_resized_images(synthetic_feph):
    """Table 4 without IP (FT_MobileNet.ipynb): training images through flow_from_directory (Keras load_img: PIL
    resize, interpolation='nearest'), the final evaluation `img=cv2.imread(filepath)` (BGR, cvtColor commented out),
    `img=cv2.resize(img,INPUT_SIZE)` (bilinear), raw pixels. Only under --select-on test."""
    import cv2
    from PIL import Image

    from signfer.data.feph import load_feph
    from signfer.models.spec import ModelSpec
    from signfer.training.loop import make_dataset
    from signfer.training.recipes import load_recipe

    df, _ = load_feph(synthetic_feph, policy="sltat2022")
    part = df.iloc[:3]
    size = 96  # larger than the synthetic frames: cv2.resize enlarges bilinearly, as the preset does
    published = load_recipe("mobilenet-ft-sgd", ["select_on=test", "preset=none", f"image_size={size}"])
    honest = load_recipe("mobilenet-ft-sgd", ["preset=none", f"image_size={size}"])
    spec = ModelSpec(arch="mobilenetv1_100_hsemotion", class_names=list(published.class_names()), normalization="raw",
                     preset="none", input_size=size)
    for i, path in enumerate(part["path"]):
        img = cv2.imread(str(path))  # the notebook's evaluation, transcribed
        assert img.shape[0] < size and img.shape[1] < size
        img = cv2.resize(img, (size, size))
        want = np.asarray(img, np.float32).transpose(2, 0, 1)
        got = make_dataset(published, spec, part, train=False, final=True)[i][0].numpy()
        np.testing.assert_array_equal(got, want)
        rgb = make_dataset(honest, spec, part, train=False, final=True)[i][0].numpy()
        np.testing.assert_array_equal(rgb, want[::-1])  # the honest protocol evaluates RGB
        np.testing.assert_array_equal(make_dataset(published, spec, part, train=False)[i][0].numpy(), rgb)  # selection: RGB
        keras = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.NEAREST), np.float32).transpose(2, 0, 1)
        np.testing.assert_array_equal(make_dataset(published, spec, part, train=True)[i][0].numpy(), keras)
        assert not np.array_equal(make_dataset(honest, spec, part, train=True)[i][0].numpy(), keras)  # honest: bilinear
    m2 = load_recipe("M2", ["select_on=test"])
    assert (m2.setting("eval_channels"), m2.setting("train_resize")) == ("rgb", "nearest")  # IP rows: cvtColor to RGB
