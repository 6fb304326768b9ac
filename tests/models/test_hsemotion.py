"""HSEmotion files: pickles refused unless trusted, converted once to safetensors, same outputs; download, digests, offline message."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from signfer.models import hsemotion
from signfer.models.hsemotion import PickleNotTrusted, load_hsemotion
from signfer.models.weights import WeightsUnavailable, git_blob_sha1


def _outputs(model, seed=0):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def test_pickled_model_is_refused_without_trust_pickle(fake_enet_b0_7, empty_cache):
    path, _ = fake_enet_b0_7
    with pytest.raises(PickleNotTrusted, match="trust_pickle=True"):
        load_hsemotion(path)
    assert not (empty_cache / "weights").exists() or not any((empty_cache / "weights").iterdir())


def test_trusted_pickle_is_converted_once_with_identical_outputs(fake_enet_b0_7, empty_cache, monkeypatch):
    path, original = fake_enet_b0_7
    model, spec = load_hsemotion(path, trust_pickle=True)
    assert model.signfer_arch == "tf_efficientnet_b0"
    assert spec.arch == "tf_efficientnet_b0" and spec.input_size == 224 and spec.normalization == "imagenet"
    assert tuple(spec.class_names) == ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert torch.equal(_outputs(model), _outputs(original))
    converted = empty_cache / "weights" / "hsemotion_enet_b0_7.safetensors"
    assert converted.exists()
    # later loads read the safetensors file and never unpickle: trust is not needed any more
    monkeypatch.setattr(hsemotion, "state_dict_from_pickle", lambda *a, **k: pytest.fail("unpickled a second time"))
    again, _ = load_hsemotion(path)
    assert torch.equal(_outputs(again), _outputs(original))
    from signfer.models.registry import load_pretrained

    direct, spec2 = load_pretrained(converted)
    assert spec2.arch == "tf_efficientnet_b0" and torch.equal(_outputs(direct), _outputs(original))


@pytest.fixture
def mirror(tmp_path, monkeypatch, fake_enet_b0_7, keras_mobilenet_h5):
    """HSEmotion's files served from a local file:// 'mirror', with the digests of these test files."""
    import shutil

    site = tmp_path / "mirror"
    site.mkdir()
    shutil.copy(fake_enet_b0_7[0], site / "enet_b0_7.pt")
    shutil.copy(keras_mobilenet_h5[0], site / "mobilenet_7.h5")
    monkeypatch.setenv("SIGNFER_HSEMOTION_URL", site.as_uri())
    real = dict(hsemotion.MODELS)
    for name in ("enet_b0_7", "mobilenet_7"):
        info = hsemotion.MODELS[name]
        monkeypatch.setitem(hsemotion.MODELS, name, hsemotion.HSEmotionModel(
            info.name, info.file, info.arch, info.class_names, info.input_size, git_blob_sha1(site / info.file)))
    return site, real


def test_named_model_downloads_verifies_and_converts(mirror, empty_cache, fake_enet_b0_7):
    site, _ = mirror
    with pytest.raises(PickleNotTrusted):
        load_hsemotion("hsemotion:enet_b0_7")
    assert (empty_cache / "weights" / "enet_b0_7.pt").exists()  # downloaded and verified, not yet unpickled
    model, spec = load_hsemotion("enet_b0_7", trust_pickle=True)
    assert torch.equal(_outputs(model), _outputs(fake_enet_b0_7[1]))
    (site / "enet_b0_7.pt").unlink()
    (empty_cache / "weights" / "enet_b0_7.pt").unlink()
    model2, _ = load_hsemotion("enet_b0_7")  # offline now: the converted file is enough
    assert torch.equal(_outputs(model2), _outputs(model))
    keras, kspec = load_hsemotion("hsemotion:mobilenet_7")  # an .h5 needs no trust
    assert kspec.arch == "mobilenetv1_100_hsemotion" and keras.get_classifier().out_features == 7


def test_the_command_line_prints_the_advice_of_an_untrusted_pickle(mirror, empty_cache, capsys):
    from signfer.cli import main

    rc = main(["weights", "hsemotion:enet_b0_7"])  # each name gets a line; the failed one its reason and advice
    out = capsys.readouterr()
    assert rc == 1 and "FAILED  hsemotion:enet_b0_7" in out.out and "--trust-pickle" in out.out
    assert "Traceback" not in out.err
    assert main(["weights", "hsemotion:enet_b0_7", "--trust-pickle"]) == 0


def test_registry_builds_efficientnet_b0_from_hsemotion_as_tf_variant(mirror, empty_cache, fake_enet_b0_7):
    from signfer.models.registry import create_model, default_spec, pretrained_classes

    torch.manual_seed(0)
    model = create_model("efficientnet_b0", 4, pretrained="hsemotion:enet_b0_7", trust_pickle=True)
    assert model.signfer_arch == "tf_efficientnet_b0"
    assert model.get_classifier().out_features == 4
    assert torch.equal(model.conv_head.weight, fake_enet_b0_7[1].conv_head.weight)
    keep = create_model("efficientnet_b0", 7, pretrained="hsemotion:enet_b0_7", new_head=False)
    assert torch.equal(_outputs(keep), _outputs(fake_enet_b0_7[1]))
    spec = default_spec("efficientnet_b0", ["a", "b", "c", "d"], pretrained="hsemotion:enet_b0_7")
    assert (spec.arch, spec.input_size, spec.preset) == ("tf_efficientnet_b0", 224, "sltat2022")
    assert pretrained_classes("hsemotion:enet_b0_8_best_afew")[1] == "contempt"
    assert default_spec("efficientnet_b2", ["a"], pretrained="hsemotion:enet_b2_8").input_size == 260
    with pytest.raises(ValueError, match="efficientnet_b0"):
        create_model("efficientnet_b2", 4, pretrained="hsemotion:enet_b0_7")


def test_wrong_file_at_the_url_is_refused(mirror, empty_cache):
    site, real = mirror
    hsemotion.MODELS["enet_b0_7"] = real["enet_b0_7"]  # the published digest, which the test file does not have
    with pytest.raises(WeightsUnavailable, match="Git blob SHA-1"):
        load_hsemotion("enet_b0_7", trust_pickle=True)
    assert not (empty_cache / "weights" / "enet_b0_7.pt").exists()


def test_offline_error_says_which_file_from_where_and_where_to_put_it(tmp_path, monkeypatch, empty_cache):
    monkeypatch.setenv("SIGNFER_HSEMOTION_URL", (tmp_path / "no-internet").as_uri())
    with pytest.raises(WeightsUnavailable) as err:
        load_hsemotion("hsemotion:enet_b2_8")
    msg = str(err.value)
    assert "enet_b2_8.pt" in msg
    assert "HSE-asavchenko/face-emotion-recognition/blob/main/models/affectnet_emotions/enet_b2_8.pt" in msg
    assert str(empty_cache / "weights" / "enet_b2_8.pt") in msg


def test_default_urls_point_at_the_published_repository():
    info = hsemotion.MODELS["enet_b0_7"]
    assert info.url == f"https://raw.githubusercontent.com/av-savchenko/face-emotion-recognition/{hsemotion.COMMIT}/models/affectnet_emotions/enet_b0_7.pt"
    assert set(hsemotion.MODELS) >= {"enet_b0_7", "enet_b0_8_best_afew", "enet_b0_8_best_vgaf", "enet_b2_7", "enet_b2_8", "mobilenet_7"}
    assert all(len(m.git_sha1) == 40 for m in hsemotion.MODELS.values())


def test_classes_missing_from_the_installed_libraries_do_not_stop_the_conversion(tmp_path, monkeypatch):
    """Old pickles name classes newer timm versions dropped; only their tensors are needed."""
    pkg = tmp_path / "oldlib"
    pkg.mkdir()
    (pkg / "old_layers.py").write_text(textwrap.dedent("""
        import torch
        class OldSqueezeExcite(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv_reduce = torch.nn.Conv2d(8, 2, 1)
                self.gate_fn = torch.sigmoid
            def forward(self, x):
                return x
    """))
    monkeypatch.syspath_prepend(str(pkg))
    import old_layers

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), old_layers.OldSqueezeExcite())
    torch.save(net, tmp_path / "old.pt")
    del sys.modules["old_layers"]
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    sys.path.remove(str(pkg))
    with pytest.raises(ModuleNotFoundError):
        torch.load(tmp_path / "old.pt", weights_only=False)
    sd = hsemotion.state_dict_from_pickle(tmp_path / "old.pt", trust_pickle=True)
    assert set(sd) == {"0.weight", "0.bias", "1.conv_reduce.weight", "1.conv_reduce.bias"}
    assert torch.equal(sd["1.conv_reduce.weight"], net[1].conv_reduce.weight)


def test_weights_command_lists_fetches_and_converts(mirror, empty_cache, capsys):
    from signfer.cli import main

    assert main(["weights"]) == 0
    listing = capsys.readouterr().out
    assert "missing hsemotion:enet_b0_7" in listing and str(empty_cache / "weights" / "enet_b0_7.pt") in listing
    assert main(["weights", "hsemotion:enet_b0_7"]) == 1
    assert "--trust-pickle" in capsys.readouterr().out
    assert main(["weights", "hsemotion:enet_b0_7", "--trust-pickle"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ready") and "hsemotion_enet_b0_7.safetensors" in out
