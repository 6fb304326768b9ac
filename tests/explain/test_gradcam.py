import numpy as np
import pytest
import torch

from signfer.explain.gradcam import attention_share, cam_in_full_frame, find_target_layer, gradcam, overlay
from signfer.explain.masks import region_mask


@pytest.mark.parametrize("arch", ["mobilenetv2_100", "efficientnet_b0", "mobilenetv1_100", "fer_mini_xception", "mobilenetv3_small_050", "test_resnet"])
def test_target_layer_is_the_last_feature_map_before_pooling(arch):
    from signfer.models.registry import create_model

    torch.manual_seed(0)
    model = create_model(arch, 7).eval()
    x = torch.randn(1, 1 if arch == "fer_mini_xception" else 3, 64, 64)
    layer = find_target_layer(model, x)
    assert layer is not model.get_classifier()
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        model(x)
        features = model.forward_features(x)
    handle.remove()
    # the hooked map is the backbone's final feature map (forward_features), not the pooled / head output
    assert seen[-1].shape == features.shape and torch.allclose(seen[-1], features)


@pytest.mark.registry
def test_gradcam_on_the_fer2013_mini_xception_port(astronaut):
    """The real FER2013 mini-Xception (grayscale, conv classifier) goes through the same code as timm models."""
    import cv2

    from signfer.models.registry import load_pretrained

    model, spec = load_pretrained("fer2013")
    face = cv2.resize(astronaut[52:182, 171:278], (spec.input_size, spec.input_size), interpolation=cv2.INTER_AREA)
    res = gradcam(model, spec, face[None])
    assert spec.class_names[int(res.targets[0])] == "happy"  # the smile
    assert res.cams.shape == (1, 64, 64) and res.cams.max() == pytest.approx(1.0)
    sad = gradcam(model, spec, face[None], target="sad")
    assert not np.allclose(sad.cams, res.cams)


def test_attention_share_numbers():
    cam = np.zeros((40, 40))
    cam[30:, :] = 1.0
    share = attention_share(cam)
    assert share["lower"] == 1.0 and share["upper"] == 0.0
    uniform = attention_share(np.ones((40, 40)))
    assert uniform["upper"] == pytest.approx(0.5)
    assert uniform["eyes"] == pytest.approx(region_mask((40, 40), "eyes").mean())
    custom = attention_share(np.arange(16.0).reshape(4, 4), {"left": np.tile([True, True, False, False], (4, 1))})
    assert custom["left"] == pytest.approx((0 + 1 + 4 + 5 + 8 + 9 + 12 + 13) / 120)
    assert np.isnan(attention_share(np.zeros((8, 8)))["upper"])
    with pytest.raises(ValueError, match="mask shape"):
        attention_share(np.ones((4, 4)), {"x": np.ones((3, 3), bool)})


def test_half_face_maps_go_back_into_the_full_frame():
    half = np.ones((20, 40))
    full = cam_in_full_frame(half, "lower")
    assert full.shape == (40, 40) and full[20:].all() and not full[:20].any()
    assert attention_share(cam_in_full_frame(half, "upper"))["upper"] == 1.0
    # a half cut at 60 % of the height is stretched back over its 24 rows
    grad = np.tile(np.linspace(0, 1, 20)[:, None], (1, 40))
    upper = cam_in_full_frame(grad, "upper", split=0.6)
    assert not upper[24:].any() and upper[0, 0] == 0 and upper[23, 0] == pytest.approx(1, abs=0.05)


def test_lower_half_model_looks_at_the_lower_half(lower_model):
    m = lower_model
    res = gradcam(m.model, m.spec, m.test_crops)
    assert res.cams.shape == (len(m.test_crops), 64, 64) and res.cams.min() >= 0 and res.cams.max() <= 1
    accuracy = (res.probabilities.argmax(1) == m.test_labels).mean()
    assert accuracy > 0.6
    np.testing.assert_array_equal(res.targets, res.probabilities.argmax(1))
    shares = [attention_share(c) for c in res.cams]
    lower = np.nanmean([s["lower"] for s in shares])
    assert lower > 0.7, lower
    assert np.nanmean([s["mouth"] for s in shares]) > np.nanmean([s["eyes"] for s in shares])
    # explaining a fixed class by name gives that class's map
    fixed = gradcam(m.model, m.spec, m.test_crops[:3], target="happy")
    assert (fixed.targets == m.spec.class_names.index("happy")).all()
    with pytest.raises(ValueError, match="unknown class"):
        gradcam(m.model, m.spec, m.test_crops[:1], target="contempt")


def test_overlay_colours_the_salient_part(lower_model):
    crop = lower_model.test_crops[0]
    cam = np.zeros((8, 8), np.float32)
    cam[4:] = 1.0
    out = overlay(crop, cam)
    assert out.shape == crop.shape and out.dtype == np.uint8
    # JET: hot (red) where the map is 1, blue where it is 0
    assert out[48:, :, 0].mean() > out[:16, :, 0].mean() + 40
    assert out[:16, :, 2].mean() > out[48:, :, 2].mean() + 40
