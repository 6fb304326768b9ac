"""`signfer annotate` and `signfer annotate-corpus` are one Annotator: the same videos with the same flags give the
same CSV / JSON / EAF content (the EAF's creation date and its path relative to the video aside). Ray workers hold
the same Annotator (tests/scale/test_ray.py compares them with the local engine's files)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from .conftest import run_cli, write_list

FLAGS = ["--signer", "all", "--occlusion", "flag", "--hands", "mediapipe-lite", "--calibrate", "median", "--smooth", "3",
         "--eaf-probabilities", "frames", "--min-duration", "100"]


def _content(path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".eaf":  # volatile: when it was written; where it lies relative to the video
        data = re.sub(rb'DATE="[^"]*"', b'DATE=""', data)
        data = re.sub(rb'RELATIVE_MEDIA_URL="[^"]*"', b'RELATIVE_MEDIA_URL=""', data)
    return data


def test_annotate_and_annotate_corpus_write_the_same_files(clips, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="--occlusion needs the [hands] extra")
    one = run_cli("annotate", *clips, "--out", tmp_path / "one", "--threads", "1", "--no-progress", *FLAGS)
    assert one.returncode == 0, one.stderr[-3000:]
    many = run_cli("annotate-corpus", write_list(clips, tmp_path / "list.txt"), "--out", tmp_path / "corpus", "--workers", "2",
                   "--threads", "1", *FLAGS)
    assert many.returncode == 0, many.stderr[-3000:]
    log = pd.read_csv(tmp_path / "corpus" / "corpus_log.csv", keep_default_na=False)
    assert sorted(log["name"]) == ["clip0", "clip1", "clip2"] and (log["status"] == "ok").all()
    for clip in clips:
        name = clip.stem
        a = {p.name: _content(p) for p in sorted((tmp_path / "one").glob(f"{name}.*"))}
        b = {p.name: _content(p) for p in sorted((tmp_path / "corpus" / "videos" / name).iterdir())}
        assert sorted(a) == [f"{name}.csv", f"{name}.eaf", f"{name}.json"] and a == b, name
        # the flags took effect on both sides: signer IDs, calibration, smoothing, per-frame probability tiers
        frames = pd.read_csv(tmp_path / "one" / f"{name}.csv")
        assert set(frames["signer_id"].dropna()) == {"S1"} and "smooth_label" in frames and "occlusion" in frames
        doc = json.loads(a[f"{name}.json"])
        assert doc["options"]["calibration"]["method"] == "median" and doc["options"]["signers"]["signer"] == "all"
        assert "baselines" in doc and doc["options"]["smoothing"] == {"method": "moving", "window": 3}
        assert doc["options"]["hands"]["occlusion"] == "flag" and doc["options"]["hands"]["detector"] == "mediapipe-lite"
        assert a[f"{name}.eaf"].count(b"TIER_ID=\"S1_p_happy\"") == 1


def test_every_annotation_flag_exists_in_both_commands_with_one_meaning(tmp_path):
    from signfer.cli import build_parser
    from signfer.cli.annotate import annotation_setup as _annotation_setup

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    own = {"annotate": {"-h", "--out", "--threads", "--no-progress"},
           "annotate-corpus": {"-h", "--out", "--threads", "--workers", "--engine", "--address", "--gpus-per-worker"}}
    flags = {cmd: {(o, str(a.default), str(a.choices), a.help) for a in sub[cmd]._actions for o in a.option_strings if o not in own[cmd]} for cmd in own}
    assert flags["annotate"] == flags["annotate-corpus"] and len(flags["annotate"]) >= 28
    for flag in ("--signer", "--occlusion", "--upper-model", "--lower-model", "--calibrate", "--neutral", "--min-face-score",
                 "--min-duration", "--overlay", "--smooth-method", "--eaf-probabilities", "--fps", "--fold"):
        assert any(f[0] == flag for f in flags["annotate"]), flag
    given = ["--signer", "left", "--calibrate", "interval", "--neutral", "S1:0-1.5", "--smooth", "4", "--smooth-method", "exponential",
             "--min-face-score", "0.8", "--min-duration", "120", "--eaf-probabilities", "none", "--fps", "12", "--overlay",
             "--formats", "csv,eaf", "--batch-size", "6", "--every", "2", "--upper-model", "u.onnx", "--lower-model", "l.onnx",
             "--threads", "1"]  # fmt: skip
    one = _annotation_setup(parser.parse_args(["annotate", "x.mp4", *given]), threads=1)
    many = _annotation_setup(parser.parse_args(["annotate-corpus", "list.txt", "--out", str(tmp_path), *given]), threads=1)
    assert one == many
    models, options, outputs = one
    assert options.hands.occlusion == "switch" and options.calibration.method == "interval" and options.signers.signer == "left"
    assert models.upper == "u.onnx" and models.min_face_score == 0.8 and outputs.formats == ("csv", "eaf") and outputs.overlay
