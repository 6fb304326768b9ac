"""Events against truth: rendered real faces nodding, shaking, turning slowly and raising their brows; the whole
pipeline (`annotate --signer all --nmm`) on a two-signer video, its EAF (pympi) and ELAN time-series files."""

from __future__ import annotations

import numpy as np
import pytest

from signfer.nonmanual.pose import rotation

from .conftest import write_video

FPS = 15.0


def _ramp(t, t0, t1, a, b):
    """a before t0, b after t1, a cosine ramp between."""
    u = np.clip((t - t0) / (t1 - t0), 0, 1)
    return a + (b - a) * (1 - np.cos(np.pi * u)) / 2


def schedule(kind_first: str, n: int):
    """Per frame (yaw, pitch) and the true events for one signer: still stretches, an oscillation of the first kind
    (2 Hz, 12 deg), a slow turn there and back (25 deg over 1.5 s each way), the other kind (3.5 Hz, 9 deg), the first
    kind again (1.5 Hz, 8 deg), the other again (4 Hz, 20 deg): the issue's range of 1.5-4 Hz and 8-20 deg."""
    t = np.arange(n) / FPS
    yaw, pitch = np.zeros(n), np.zeros(n)
    other = "head_shake" if kind_first == "head_nod" else "head_nod"
    truth = []
    for kind, (t0, t1), hz, amp in ((kind_first, (1.0, 2.5), 2.0, 12.0), (other, (7.5, 8.65), 3.5, 9.0),
                                    (kind_first, (10.0, 12.0), 1.5, 8.0), (other, (13.0, 14.0), 4.0, 20.0)):  # fmt: skip
        on = (t >= t0) & (t < t1)
        wave = amp * np.sin(2 * np.pi * hz * (t[on] - t0))
        (pitch if kind == "head_nod" else yaw)[on] += wave
        truth.append((kind, t0 * 1000, t1 * 1000))
    yaw += _ramp(t, 3.0, 4.5, 0, 25) - _ramp(t, 5.0, 6.5, 0, 25)
    turns = [(3000.0, 6500.0)]
    return yaw, pitch, truth, turns


@pytest.fixture(scope="session")
def two_signers_nodding(tmp_path_factory, astronaut_face, hopper_face):
    """Astronaut (left) nods first, then shakes; Grace Hopper (right) shakes first, then nods; both turn slowly between."""
    n = int(15 * FPS)
    plans = {"astronaut": schedule("head_nod", n), "hopper": schedule("head_shake", n)}
    frames = []
    for k in range(n):
        halves = [face.render(rotation(plans[who][0][k], plans[who][1][k], 0), size=224, face_px=90)
                  for who, face in (("astronaut", astronaut_face), ("hopper", hopper_face))]  # fmt: skip
        frames.append(np.concatenate(halves, axis=1))
    path = write_video(tmp_path_factory.mktemp("nmm") / "two_signers_nodding.avi", frames, FPS)
    return path, plans


def f1(found, truth, iou: float = 0.5) -> float:
    """F1 of ``found`` [(start, end)] against ``truth`` [(start, end)], one-to-one matches at IoU >= ``iou``."""
    used, tp = set(), 0
    for a, b in truth:
        for k, (c, d) in enumerate(found):
            inter = max(0.0, min(b, d) - max(a, c))
            if k not in used and inter / (max(b, d) - min(a, c)) >= iou:
                used.add(k)
                tp += 1
                break
    if not found and not truth:
        return 1.0
    return 2 * tp / (len(found) + len(truth))


def test_nods_and_shakes_on_each_signers_own_tiers_with_linked_curves(two_signers_nodding, tmp_path):
    import pandas as pd
    from pympi import Elan

    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.options import NonManualOptions, SignerOptions
    from signfer.inference.recognizer import Recognizer
    from signfer.nonmanual.tracks import read_tsconf

    path, plans = two_signers_nodding
    rec = Recognizer.from_pretrained("fer2013", detector="mtcnn", threads=1)
    opts = AnnotationOptions(signers=SignerOptions("all"), nonmanual=NonManualOptions())
    res = annotate_media(rec, path, tmp_path, options=opts)
    frames = pd.read_csv(res.outputs["csv"])
    assert {"head_yaw", "head_pitch", "head_roll", "brow_left", "brow_right", "brow_inner", "eye_left", "eye_right", "mouth_open", "mouth_width"} <= set(frames.columns)
    centre = frames.groupby("signer_id").apply(lambda g: ((g.face_x1 + g.face_x2) / 2).median(), include_groups=False)
    who = {sid: ("astronaut" if x < 224 else "hopper") for sid, x in centre.items()}
    assert sorted(who.values()) == ["astronaut", "hopper"]
    measured = frames.dropna(subset=["head_yaw"]).groupby("signer_id").size()
    assert (measured >= 0.95 * res.n_analysed).all(), measured

    eaf = Elan.Eaf(str(res.outputs["eaf"]))
    scores, pooled = {}, {"head_nod": [0, 0, 0], "head_shake": [0, 0, 0]}  # matched, found, true
    for sid, name in who.items():
        _, _, truth, turns = plans[name]
        for kind in ("head_nod", "head_shake"):
            tier = f"{sid}_{kind}"
            assert tier in eaf.tiers and eaf.tiers[tier][2].get("PARTICIPANT") == sid
            found = [(a, b) for a, b, _ in eaf.get_annotation_data_for_tier(tier)]
            true = [(a, b) for k, a, b in truth if k == kind]
            scores[(name, kind)] = f1(found, true)
            pooled[kind] = [pooled[kind][0] + scores[(name, kind)] * (len(found) + len(true)) / 2, pooled[kind][1] + len(found), pooled[kind][2] + len(true)]
            for a, b in turns:  # no event during the slow turns
                assert not [f for f in found if min(b, f[1]) - max(a, f[0]) > 0.25 * (f[1] - f[0])], (name, kind, found)
    per_kind = {k: 2 * m / (nf + nt) for k, (m, nf, nt) in pooled.items()}
    print("event F1:", {f"{n}/{k}": round(v, 2) for (n, k), v in scores.items()}, "per event type:", {k: round(v, 2) for k, v in per_kind.items()})
    assert min(per_kind.values()) >= 0.9, scores

    # the curves: linked from the EAF as secondary files; the tsconf parses and its tracks point at the CSV's columns
    linked = {Elan_path.get("RELATIVE_LINK_URL") for Elan_path in eaf.linked_file_descriptors}
    assert {f"./{res.outputs['curves'].name}", f"./{res.outputs['tsconf'].name}"} <= {u if u.startswith("./") else f"./{u}" for u in linked}
    conf = read_tsconf(res.outputs["tsconf"])
    curves = pd.read_csv(res.outputs["curves"])
    assert conf["provider"].endswith("CSVServiceProvider") and conf["time_column"] == 0 and conf["source"] == res.outputs["curves"].resolve().as_uri()
    for name, track in conf["tracks"].items():
        assert curves.columns[track["col"]] == name and track["row"] == 0
    assert {f"{s}_head_pitch" for s in who} | {f"{s}_brow_height" for s in who} <= set(conf["tracks"])
    assert np.allclose(curves["time_s"] * 1000, frames.drop_duplicates("frame")["time_ms"], atol=1)


BROW_FPS = 10.0


def _measure(frames, face_mesh):
    """Per-frame measures of the one face in each frame (MTCNN boxes, the mesh followed between frames)."""
    from signfer.faces.detect import get_detector
    from signfer.nonmanual.measures import COLUMNS, face_measures
    from signfer.nonmanual.mesh import MeshTracker

    det, tracker = get_detector("mtcnn"), MeshTracker(face_mesh)
    rows = []
    for frame in frames:
        faces = det.detect(frame)
        mesh = tracker.update(frame, {"S1": faces[0]})["S1"] if faces else None
        rows.append(face_measures(mesh.points, frame.shape[1], frame.shape[0])[0] if mesh is not None else dict.fromkeys(COLUMNS, np.nan))
    return {c: np.array([r[c] for r in rows]) for c in COLUMNS}


def brow_sequence(face, lifts):
    """12 s at 10 fps: the head pitching slowly between -15 and +15 deg (one cycle per 4.4 s, 2 deg of yaw wobble) and
    ``lifts`` [(start_s, end_s, share of the inter-ocular distance)] of the brows; returns frames, times (ms), truth."""
    n = int(12 * BROW_FPS)
    t = np.arange(n) / BROW_FPS
    pitch = 15 * np.sin(2 * np.pi * t / 4.4)
    lift = np.zeros(n)
    for a, b, h in lifts:
        lift[(t >= a) & (t < b)] = h
    frames = [face.render(rotation(2 * np.sin(t[k]), pitch[k], 0), size=224, face_px=100, brow_lift=lift[k]) for k in range(n)]
    return frames, t * 1000, [(a * 1000, b * 1000) for a, b, _ in lifts]


#: brow lifts (start s, end s, share of the inter-ocular distance) at different phases of the pitching: a fifth of the time
LIFTS = [(1.0, 1.7, 0.08), (4.2, 4.9, 0.15), (7.3, 8.0, 0.1), (10.2, 10.9, 0.12)]


@pytest.mark.parametrize("who", ["astronaut_face", "hopper_face"])
def test_brow_raises_found_while_the_head_pitches_and_none_from_pitch_alone(who, request, face_mesh):
    from signfer.nonmanual.events import Detector

    face = request.getfixturevalue(who)
    frames, times, truth = brow_sequence(face, LIFTS)
    found = [(e.start_ms, e.end_ms) for e in Detector().events(times, _measure(frames, face_mesh)) if e.kind == "brow_raise"]
    score = f1(found, truth)
    frames, times, _ = brow_sequence(face, [])
    still = [e for e in Detector().events(times, _measure(frames, face_mesh)) if e.kind in ("brow_raise", "brow_furrow")]
    print(f"{who}: brow raise F1 {score:.2f} ({len(found)} found, {len(truth)} true); events from pitch alone: {still}")
    assert score >= 0.9 and not still
