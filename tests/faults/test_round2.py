"""Hostile corpus, second round (issue 25): real recordings, broken clocks, hostile configs, data leaking across folds.

Each test failed on the code before its fix; the injected bug it catches is named in its docstring.
Media are written on the fly with PyAV (``make_corpus.py``), the way webcams, browsers and phones write them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.io import InputError

from .make_corpus import NON_UTF8_NAME, moving_bar, write_broken_clock, write_pyav, write_two_streams, write_vfr_recordings


def read_all(path):
    from signfer.annotate.video import open_media

    with open_media(path) as media:
        frames = list(media.frames())
        return media, frames


# --------------------------------------------------------------------------- 1. variable frame rate
@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    return write_vfr_recordings(tmp_path_factory.mktemp("vfr"))


@pytest.mark.parametrize("name", ["pause.mkv", "drop.webm"])
def test_intact_vfr_recording_is_read_whole_with_its_own_times(vfr, name):
    """Was: refused as truncated (OpenCV's duration x fps taken as a declared count: 144 vs 24, 107 vs 72)."""
    path, times = vfr[name]
    media, frames = read_all(path)
    assert len(frames) == len(times)
    assert media.info.frame_count is None  # Matroska declares no frame count
    np.testing.assert_allclose([f.time_ms for f in frames], np.array(times) * 1000, atol=1.0)
    assert media.repaired_times == []


def test_truncated_vfr_recording_is_still_refused(vfr, tmp_path):
    """Without a declared count, frames ending well before the declared duration mean truncation."""
    data = vfr["drop.webm"][0].read_bytes()
    cut = tmp_path / "drop_cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as exc:
        read_all(cut)
    assert exc.value.path == str(cut)


# --------------------------------------------------------------------------- 2. broken clocks
BROKEN = [0, 40, 80, 900, 51, 51, 5000, 120, 160, 200]  # repeated and backwards presentation times


@pytest.fixture(scope="module")
def broken_clock(tmp_path_factory):
    return write_broken_clock(tmp_path_factory.mktemp("clock") / "broken_clock.mkv", BROKEN)


def test_times_never_decrease_and_repairs_are_listed(broken_clock):
    """Was: index x 1000 / fps for the bad ones: 900 -> 160 -> 5000 -> 280 (times running backwards), nothing said."""
    import av

    with av.open(str(broken_clock)) as c:  # the file's own times, as FFmpeg reads them
        raw = [f.time * 1000 for f in c.decode(video=0)]
    assert any(b < a for a, b in zip(raw, raw[1:])) and any(b == a for a, b in zip(raw, raw[1:]))
    media, frames = read_all(broken_clock)
    t = [f.time_ms for f in frames]
    assert len(t) == len(BROKEN) and all(b > a for a, b in zip(t, t[1:])), t
    expected, kept = [], -1.0
    for i, r in enumerate(raw):  # a frame whose own time is not after the last one kept is repaired to it + 40 ms (25 fps)
        if r > kept:
            assert t[i] == pytest.approx(r)
            kept = r
        else:
            expected.append(i)
            assert t[i] == pytest.approx(t[i - 1] + 40)
            kept = t[i]
    assert media.repaired_times == expected == [4, 5, 7, 8, 9]
    assert "repaired" in " ".join(media.notes)


def test_annotations_of_a_broken_clock_never_overlap(broken_clock, tiny_model, tmp_path):
    """The CSV times never decrease, no EAF tier overlaps itself, and the JSON lists the repaired frames."""
    from signfer.annotate.elan import read_tiers
    from signfer.cli import main

    out = tmp_path / "ann"
    rc = main(["annotate", str(broken_clock), "--model", str(tiny_model), "--out", str(out), "--backend", "torch",
               "--threads", "1", "--no-progress"])
    assert rc == 0
    t = pd.read_csv(out / "broken_clock.csv")["time_ms"].tolist()
    assert all(b > a for a, b in zip(t, t[1:])), t
    for tier, annotations in read_tiers(out / "broken_clock.eaf").items():
        spans = sorted(annotations)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), (tier, spans)
    doc = json.loads((out / "broken_clock.json").read_text())
    assert doc["summary"]["timestamps_repaired"] == [4, 5, 7, 8, 9]
    assert any("repaired" in n for n in doc["notes"])


# --------------------------------------------------------------------------- 3. rotation on the PyAV path
def test_rotation_is_applied_on_the_pyav_path(tmp_path):
    """Was: a portrait phone clip decoded sideways through PyAV (non-UTF-8 names): 0 faces instead of 21, status ok.
    Reference: OpenCV's own decode of the same file (it applies the display matrix)."""
    from skimage import data

    img = cv2.resize(data.astronaut(), (96, 64))
    clip = write_pyav(tmp_path / "phone.mp4", [img] * 4, "mpeg4", rotation=90)
    cap = cv2.VideoCapture(str(clip))
    ok, bgr = cap.read()
    cap.release()
    reference = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert reference.shape == (96, 64, 3)  # OpenCV turns it upright
    odd = os.fsencode(tmp_path) + b"/" + NON_UTF8_NAME + b".mp4"  # OpenCV's binding cannot open this name: PyAV reads it
    shutil.copy(clip, odd)
    media, frames = read_all(os.fsdecode(odd))
    assert media.info.backend == "pyav" and (media.info.height, media.info.width) == (96, 64)
    assert len(frames) == 4
    np.testing.assert_array_equal(frames[0].image, reference)


# --------------------------------------------------------------------------- 11. several video streams
def test_main_video_stream_is_read_and_named(tmp_path):
    """Was: stream 0 (a 64x48 blank) used silently."""
    media, frames = read_all(write_two_streams(tmp_path / "two.mkv"))
    assert media.info.stream == 1 and frames[0].image.shape == (96, 128, 3)
    assert frames[0].image.std() > 20  # the astronaut, not the blank
    assert any("read #1" in n for n in media.notes)


# --------------------------------------------------------------------------- 4. folder data grouped by video
def test_folder_frames_of_one_video_never_span_two_folds(tmp_path):
    """Was: each image its own group: 20 of 21 videos in several folds (a leak that inflates accuracy)."""
    from signfer.data.folds import make_folds
    from signfer.samples.feph_layout import make_synthetic_folder
    from signfer.training.prepare import prepare_run, resolve_recipe

    root = make_synthetic_folder(tmp_path / "data", videos_per_class=3, frames_per_video=4)
    recipe = resolve_recipe("easier2025", ["folds=3"])
    df = prepare_run(recipe, root, tmp_path / "run", data_format="folder")
    video = df["source_id"].map(lambda s: s.rsplit("/", 1)[0])
    assert video.nunique() == 21
    assert (df.groupby(video)["fold"].nunique() == 1).all()  # every video on one side only
    import yaml

    run = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())
    assert run["grouping"] == "by sub-folder of the class folder (one group per video folder): 21 groups"
    leak = make_folds(df.assign(group=df["source_id"]), 3, seed=0)  # the old grouping, for contrast
    assert (leak.groupby(video)["fold"].nunique() > 1).sum() >= 15


def test_misnamed_class_folder_is_named_itself(tmp_path):
    """Was: 'hapy/' (with video sub-folders) taken for a split folder: its video folders reported as unknown classes."""
    from signfer.data.folder import load_folder
    from signfer.samples.feph_layout import make_synthetic_folder

    root = make_synthetic_folder(tmp_path, class_names=["happy", "sad"], videos_per_class=1, frames_per_video=1)
    (root / "happy").rename(root / "hapy")
    with pytest.raises(InputError, match=r"unknown class folder\(s\) \['hapy'\]") as exc:
        load_folder(root)
    assert exc.value.path == str(root)
