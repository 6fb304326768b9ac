"""The model registry: archs by name with a head for n classes, specs, and clear errors."""

from __future__ import annotations

import pytest
import torch

from signfer.io import InputError
from signfer.models.registry import create_model, default_spec, list_archs, list_pretrained, load_pretrained


def test_contract_archs_are_listed():
    assert {"mobilenetv1_100", "mobilenetv2_100", "efficientnet_b0", "efficientnet_b2", "fer_mini_xception"} <= set(list_archs())
    assert {"imagenet", "fer2013", "hsemotion:enet_b0_7", "hsemotion:enet_b0_8_best_afew", "hsemotion:enet_b2_8", "hsemotion:mobilenet_7"} <= set(list_pretrained())


@pytest.mark.parametrize("arch", ["mobilenetv1_100", "mobilenetv2_100", "efficientnet_b0", "tf_efficientnet_b2", "mobilenetv1_100_hsemotion", "fer_mini_xception"])
def test_each_arch_gives_n_class_logits_and_a_replaceable_head(arch):
    torch.manual_seed(0)
    model = create_model(arch, 5).eval()
    spec = default_spec(arch, ["a", "b", "c", "d", "e"])
    assert model.signfer_arch == spec.arch == arch
    x = torch.from_numpy(spec.normalize(torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8).numpy()))
    with torch.no_grad():
        assert model(x).shape == (2, 5)
    head = model.get_classifier()
    backbone = [n for n, p in model.named_parameters() if not any(p is q for q in head.parameters())]
    assert backbone and sum(p.numel() for p in head.parameters()) < sum(p.numel() for p in model.parameters()) / 2
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (2, 3)


def test_default_specs_say_how_to_feed_the_model():
    assert default_spec("efficientnet_b2", ["a"]).input_size == 260
    fer = default_spec("fer_mini_xception", ["a"] * 7)
    assert (fer.input_size, fer.grayscale, fer.normalization) == (64, True, "minus_one_one")
    assert default_spec("mobilenetv2_100", ["x", "y"]).preset == "easier2025"


def test_any_timm_model_name_is_accepted():
    model = create_model("test_efficientnet", 4)
    assert model.get_classifier().out_features == 4 and model.signfer_arch == "test_efficientnet"


def test_unknown_names_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(KeyError, match="mobilenetv2_100"):
        create_model("mobilenet_v9", 7)
    with pytest.raises(KeyError, match="hsemotion:enet_b0_7"):
        create_model("efficientnet_b0", 7, pretrained="hsemotion-b0")
    with pytest.raises(KeyError, match="known"):
        create_model("efficientnet_b0", 7, pretrained="hsemotion:enet_b9")
    with pytest.raises(InputError, match="does not exist"):
        create_model("efficientnet_b0", 7, pretrained=tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="starting point"):
        load_pretrained("imagenet")
    with pytest.raises(InputError):
        load_pretrained(tmp_path / "nothing.pt")


def test_state_dict_file_starts_the_backbone(tmp_path):
    torch.manual_seed(0)
    src = create_model("mobilenetv2_100", 8)
    torch.save(src.state_dict(), tmp_path / "plain.pth")
    model = create_model("mobilenetv2_100", 3, pretrained=tmp_path / "plain.pth")
    assert torch.equal(model.conv_stem.weight, src.conv_stem.weight)
    assert model.get_classifier().out_features == 3
    kept = create_model("mobilenetv2_100", 8, pretrained=tmp_path / "plain.pth", new_head=False)
    assert torch.equal(kept.get_classifier().weight, src.get_classifier().weight)
    with pytest.raises(ValueError, match="8 classes"):
        create_model("mobilenetv2_100", 3, pretrained=tmp_path / "plain.pth", new_head=False)
    with pytest.raises(ValueError, match="do not fit"):
        create_model("efficientnet_b0", 3, pretrained=tmp_path / "plain.pth")


def test_whole_pickled_model_file_needs_trust(tmp_path):
    torch.manual_seed(0)
    src = create_model("mobilenetv2_100", 4).eval()
    torch.save(src, tmp_path / "whole.pt")
    with pytest.raises(InputError, match="trust_pickle"):
        create_model("mobilenetv2_100", 4, pretrained=tmp_path / "whole.pt")
    model = create_model("mobilenetv2_100", 4, pretrained=tmp_path / "whole.pt", new_head=False, trust_pickle=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), src(x))
