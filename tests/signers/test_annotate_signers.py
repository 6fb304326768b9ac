"""Signer-aware annotation end to end: occlusion flags, the half-face model used, per-signer tiers, calibration.

The face videos are built from real photos (skimage's astronaut, matplotlib's Grace Hopper) with a drawn hand
pasted over one half of a face. MediaPipe's detector does not find a drawn hand over a face, so these tests feed
the pipeline the pasted outlines (``ScriptedHands``); the real detector is tested in test_hands.py.
"""

from __future__ import annotations

import json

import cv2

import numpy as np
import pandas as pd
import pytest

from signfer.annotate.media import AnnotationOptions, annotate_media
from signfer.annotate.elan import read_tiers, tier_participants
from signfer.annotate.stages import HandOptions, SignerOptions
from signfer.signers.calibration import CalibrationOptions
from tests.signers.conftest import ASTRONAUT_FACE, ScriptedHands


def _options(signer="all", occlusion="switch", calibration=None, **kw) -> AnnotationOptions:
    return AnnotationOptions(signers=SignerOptions(signer=signer), hands=HandOptions(detector=None, occlusion=occlusion),
                             calibration=calibration or CalibrationOptions(), **kw)  # fmt: skip


def annotate_signers(models, path, out, options, hand_detector=None):
    return annotate_media(models, path, out, options=options, hand_detector=hand_detector, collect=True)


@pytest.mark.parametrize("half, model", [("lower", "upper"), ("upper", "lower")])
def test_hand_over_one_half_switches_to_the_other_half_model(tmp_path, astronaut, recognizers, half, model):
    from signfer.samples.signer_scenes import make_occlusion_video

    video = make_occlusion_video(tmp_path / f"{half}.avi", astronaut, ASTRONAUT_FACE, half=half, hand_frames=range(5, 9))
    res = annotate_signers(recognizers, video.path, tmp_path / "out", options=_options(), hand_detector=ScriptedHands(video.truth))
    f = res.frames
    assert list(f["signer_id"].unique()) == ["S1"]  # one signer, never lost
    assert list(f["frame"]) == list(range(14))
    flagged = f.loc[f["occlusion"] != "none", "frame"].tolist()
    assert flagged == [5, 6, 7, 8]  # exactly the frames with the hand
    assert set(f.loc[f["frame"].isin(flagged), "occlusion"]) == {half}
    assert set(f.loc[f["frame"].isin(flagged), "model_used"]) == {model}
    assert set(f.loc[~f["frame"].isin(flagged), "model_used"]) == {"full"}
    assert (f["status"] == "ok").all() and f["label"].notna().all()
    covered = f[f["frame"].isin(flagged)][f"occluded_{half}"]
    assert (covered >= 0.25).all()
    # the half-face model's probabilities differ from the full model's on the same still picture
    p_cols = [c for c in f if c.startswith("p_")]
    assert not np.allclose(f.loc[f["frame"] == 6, p_cols].to_numpy(), f.loc[f["frame"] == 2, p_cols].to_numpy())
    tiers = read_tiers(res.outputs["eaf"])
    assert tiers["S1_occlusion"] == [(0, 500, "none"), (500, 900, half), (900, 1400, "none")]
    assert tiers["S1_model_used"] == [(0, 500, "full"), (500, 900, model), (900, 1400, "full")]


def test_hands_over_both_halves_mark_the_frame_occluded(tmp_path, astronaut, recognizers):
    from signfer.samples.signer_scenes import make_occlusion_video

    video = make_occlusion_video(tmp_path / "both.avi", astronaut, ASTRONAUT_FACE, half="lower", hand_frames=range(5, 9))
    x1, y1, x2, y2 = 0, 0, 320, 320
    for t in video.truth[6:8]:  # frames 6 and 7: a second hand over the eyes as well
        t["hand"] = None
        t["hands"] = [np.array([[x1, y1], [x2, y1], [x2, 130], [x1, 130]], np.float32), np.array([[x1, 130], [x2, 130], [x2, y2], [x1, y2]], np.float32)]
    res = annotate_signers(recognizers, video.path, None, options=_options(), hand_detector=ScriptedHands(video.truth))
    f = res.frames.set_index("frame")
    assert list(f.loc[[6, 7], "status"]) == ["occluded", "occluded"]
    assert list(f.loc[[6, 7], "model_used"]) == ["none", "none"]
    assert f.loc[[6, 7], "label"].isna().all()  # no guess
    assert list(f.loc[[5, 8], "model_used"]) == ["upper", "upper"]
    # the segments leave a gap where the face was occluded
    (segs,) = res.signer_segments.values()
    assert not any(s.start_ms < 799.5 and s.end_ms > 600.5 for s in segs), [(s.start_ms, s.end_ms, s.label) for s in segs]
    # flag policy: occlusion recorded, the full model predicts anyway
    flag = annotate_signers(recognizers, video.path, None, options=_options(occlusion="flag"), hand_detector=ScriptedHands(video.truth))
    g = flag.frames.set_index("frame")
    assert g.loc[6, "occlusion"] == "both" and g.loc[6, "model_used"] == "full" and g.loc[6, "status"] == "ok"


def test_two_signers_with_a_hand_over_one_face(tmp_path, two_signer_video, recognizers):
    video = two_signer_video
    opts = _options(calibration=CalibrationOptions("median"))
    res = annotate_signers(recognizers, video.path, tmp_path / "out", options=opts, hand_detector=ScriptedHands(video.truth))
    f = res.frames
    assert res.signers == ["S1", "S2"]
    s1, s2 = f[f["signer_id"] == "S1"].set_index("frame"), f[f["signer_id"] == "S2"].set_index("frame")
    assert len(s1) == len(s2) == 20
    assert list(s1.index[s1["occlusion"] != "none"]) == [3, 4, 5, 6]  # the astronaut (S1) has the hand
    assert set(s1.loc[[3, 4, 5, 6], "model_used"]) == {"upper"}
    assert set(s2["occlusion"]) == {"none"} and set(s2["model_used"]) == {"full"}
    # calibrated and raw outputs side by side; the random tiny models rate no frame neutral with confidence,
    # so there is no evidence of neutrality: the outputs stay raw, and the result says so
    cal_cols = [c for c in f if c.startswith("calibrated_p_")]
    assert len(cal_cols) == 7 and f["calibrated_label"].notna().all()
    assert np.allclose(f[cal_cols].sum(axis=1), 1.0, atol=1e-4)
    assert set(res.baselines) == {"S1/full", "S1/upper", "S2/full"}
    assert {b["source"] for b in res.baselines.values()} == {"none"} and len(res.notes) == 3
    np.testing.assert_allclose(f[cal_cols].to_numpy(), f[[c.replace("calibrated_", "") for c in cal_cols]].to_numpy(), atol=1e-6)
    # one ELAN tier group per signer, each tier with its participant
    tiers = read_tiers(res.outputs["eaf"])
    for sid in ("S1", "S2"):
        for kind in ("expression", "confidence", "occlusion", "model_used"):
            assert f"{sid}_{kind}" in tiers
    assert tiers["S1_occlusion"] == [(0, 300, "none"), (300, 700, "lower"), (700, 2000, "none")]
    assert tier_participants(res.outputs["eaf"])["S2_expression"] == "S2"
    body = json.loads(res.outputs["json"].read_text())
    assert set(body["signers"]) == {"S1", "S2"} and set(body["segments"]) == {"S1", "S2"}
    table = pd.read_csv(res.outputs["csv"])
    assert {"signer_id", "occlusion", "model_used", "calibrated_label", "face_source"} <= set(table.columns)
    # --signer selects one signer's rows and tiers
    left = annotate_signers(recognizers, video.path, tmp_path / "left", options=_options(signer="S2"), hand_detector=ScriptedHands(video.truth))
    assert set(left.frames["signer_id"]) == {"S2"}
    assert all(t.startswith("S2_") for t in read_tiers(left.outputs["eaf"]))


def test_switch_needs_both_half_models(tmp_path, recognizers, two_signer_video):
    with pytest.raises(ValueError, match="upper-face and a lower-face model"):
        annotate_signers({"full": recognizers["full"], "upper": None, "lower": None}, two_signer_video.path, None, options=_options(), hand_detector=ScriptedHands([]))
    with pytest.raises(ValueError, match="trained on region"):
        annotate_signers({"full": recognizers["full"], "upper": recognizers["lower"], "lower": recognizers["lower"]}, two_signer_video.path, None,
                         options=_options(), hand_detector=ScriptedHands([]))


@pytest.mark.registry
def test_cli_annotate_two_signers(tmp_path, region_models, two_signer_video):
    pytest.importorskip("ai_edge_litert")
    from signfer.cli import main

    out = tmp_path / "ann"
    rc = main([
        "annotate", str(two_signer_video.path), "--model", str(region_models["full"]), "--upper-model", str(region_models["upper"]),
        "--lower-model", str(region_models["lower"]), "--backend", "torch", "--detector", "mtcnn", "--signer", "all", "--overlay",
        "--calibrate", "median", "--out", str(out), "--no-progress",
    ])  # fmt: skip
    assert rc == 0
    table = pd.read_csv(out / "two_signers.csv")
    assert set(table["signer_id"]) == {"S1", "S2"}
    assert {"occlusion", "model_used", "calibrated_label"} <= set(table.columns)
    tiers = read_tiers(out / "two_signers.eaf")
    assert {"S1_expression", "S2_expression", "S1_occlusion", "S2_model_used"} <= set(tiers)
    summary = pd.read_csv(out / "annotate_summary.csv")
    assert summary.loc[0, "status"] == "ok" and summary.loc[0, "signers"] == "S1 S2"
    cap = cv2.VideoCapture(str(out / "two_signers.overlay.mp4"))  # calibration's second pass re-decodes the video for it
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 20


def test_cli_signer_all_with_onnx_detect_every_and_overlay(tmp_path, region_models, two_signer_video):
    """Every option works in every mode: ONNX Runtime, detection every 3rd frame with tracking between, and the overlay video."""
    from signfer.cli import main

    out = tmp_path / "ann"
    rc = main(["annotate", str(two_signer_video.path), "--model", str(region_models["full"]), "--detector", "mtcnn", "--signer", "all",
               "--detect-every", "3", "--overlay", "--out", str(out), "--no-progress", "--threads", "1"])  # fmt: skip
    assert rc == 0
    table = pd.read_csv(out / "two_signers.csv")
    assert set(table["signer_id"]) == {"S1", "S2"} and len(table) == 40  # both signers in all 20 frames
    assert {"detected", "tracked"} <= set(table["face_source"])  # tracked between detections
    assert set(table.loc[(table["frame"] % 3 == 0) & ~table["frame"].between(3, 6), "face_source"]) == {"detected"}
    # a drawn hand hides the astronaut (S1) from MTCNN in frames 3-6; without hand detection nothing explains it
    lost = (table["signer_id"] == "S1") & table["frame"].between(3, 6)
    assert (table.loc[lost, "status"] == "no_face").all() and (table.loc[~lost, "status"] == "ok").all()
    body = json.loads((out / "two_signers.json").read_text())
    assert body["model"]["backend"] == "onnxruntime" and body["options"]["detect_every"] == 3
    cap = cv2.VideoCapture(str(out / "two_signers.overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 20


@pytest.mark.registry
def test_calibrate_median_leaves_a_steady_smile_happy(tmp_path, moving_face_clip_signers):
    """The astronaut smiles throughout: the offline FER2013 model says happy; there is no frame it rates neutral, so
    --calibrate median has no evidence of neutrality and leaves the happy segments exactly as they are."""
    from signfer.cli import main

    out = tmp_path / "cal"
    assert main(["annotate", str(moving_face_clip_signers.path), "--signer", "all", "--calibrate", "median", "--out", str(out), "--no-progress"]) == 0
    body = json.loads((out / "astronaut_moving.json").read_text())
    raw = pd.read_csv(out / "astronaut_moving.csv")
    assert set(raw["label"].dropna()) == {"happy"} and (raw["calibrated_label"].dropna() == raw["label"].dropna()).all()
    assert {s["label"] for s in body["segments"]["S1"]} == {"happy"}
    assert body["baselines"]["S1/full"]["source"] == "none" and "no evidence of neutrality" in body["notes"][0]
