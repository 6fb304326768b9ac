"""signfer checkpoints: weights + ModelSpec, loadable with weights_only=True, rebuilt from the spec's arch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signfer.io import InputError
from signfer.models.checkpoint import load_checkpoint, load_state_dict_file, save_checkpoint
from signfer.models.registry import create_model, default_spec

CLASSES = ["anger", "happy", "sad"]


def _x(seed=0, size=64):
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_round_trip_keeps_outputs_spec_and_extra(tmp_path):
    torch.manual_seed(0)
    model = create_model("mobilenetv2_100", 3).eval()
    spec = default_spec("mobilenetv2_100", CLASSES)
    spec.region, spec.preset_overrides = "upper", {"colour": "none"}
    rng = np.random.default_rng(0)
    extra = {"epoch": 4, "optimizer": torch.optim.Adam(model.parameters()).state_dict(),
             "numpy_rng": rng.bit_generator.state, "history": np.arange(3.0), "lr": np.float32(1e-4)}
    path = save_checkpoint(tmp_path / "run" / "best.pt", model, spec, extra=extra)
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["best.pt"]
    raw = torch.load(path, weights_only=True)  # nothing but tensors and plain data inside
    assert raw["format"] == "signfer-checkpoint" and raw["spec"]["class_names"] == CLASSES
    loaded, spec2, extra2 = load_checkpoint(path)
    assert spec2 == spec and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(_x()), model(_x()))
    assert extra2["epoch"] == 4 and torch.equal(extra2["history"], torch.arange(3.0, dtype=torch.float64))
    assert isinstance(extra2["lr"], float) and extra2["numpy_rng"]["bit_generator"] == "PCG64"


def test_checkpoint_stores_the_structure_actually_built(tmp_path, keras_mobilenet_h5):
    torch.manual_seed(0)
    model = create_model("mobilenetv1_100", 3, pretrained=keras_mobilenet_h5[0]).eval()
    spec = default_spec("mobilenetv1_100", CLASSES)  # says the family name only
    save_checkpoint(tmp_path / "m.pt", model, spec)
    loaded, spec2, _ = load_checkpoint(tmp_path / "m.pt")
    assert spec2.arch == "mobilenetv1_100_hsemotion"
    with torch.no_grad():
        assert torch.equal(loaded(_x()), model(_x()))


def test_checkpoint_starts_a_new_model(tmp_path):
    torch.manual_seed(0)
    model = create_model("efficientnet_b0", 3)
    save_checkpoint(tmp_path / "b0.pt", model, default_spec("efficientnet_b0", CLASSES))
    fresh = create_model("efficientnet_b0", 8, pretrained=tmp_path / "b0.pt")
    assert torch.equal(fresh.conv_head.weight, model.conv_head.weight) and fresh.get_classifier().out_features == 8
    spec = default_spec("efficientnet_b0", list("abcdefgh"), pretrained=tmp_path / "b0.pt")
    assert spec.class_names == list("abcdefgh") and spec.arch == "efficientnet_b0"
    sd, spec_in_file = load_state_dict_file(tmp_path / "b0.pt")
    assert spec_in_file.class_names == CLASSES and "conv_head.weight" in sd


def test_spec_and_model_must_agree_on_the_classes(tmp_path):
    model = create_model("mobilenetv2_100", 3)
    with pytest.raises(ValueError, match="3 outputs"):
        save_checkpoint(tmp_path / "x.pt", model, default_spec("mobilenetv2_100", ["a", "b"]))
    assert not (tmp_path / "x.pt").exists()


def test_unusable_files_are_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(InputError, match="not a signfer checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(InputError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="extra"):
        save_checkpoint(tmp_path / "y.pt", create_model("fer_mini_xception", 7), default_spec("fer_mini_xception", list("abcdefg")), extra={"f": object()})
