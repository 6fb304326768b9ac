"""The annotator's loop with defaults only: annotate -> correct in ELAN -> train --from-elan -> annotate again.

The scene (signfer.samples.signer_scenes.make_stretches_video) is a 20 s clip of six stretches, each one real face
(the astronaut for 9.6 s, Grace Hopper, four LFW faces); the generator records which frame shows which stretch. The
annotator confirms the offline FER2013 model's label on three stretches and corrects it on three."""

from __future__ import annotations

import pandas as pd
import pytest

from signfer.annotate.elan import read_eaf, read_tiers, write_tiers
from tests.signers.conftest import ASTRONAUT_FACE, HOPPER_FACE

STRETCHES = [(0, 9.6, 0), (9.6, 12, 2), (12, 14, 1), (14, 16, 3), (16, 18, 4), (18, 20, 5)]
#: the annotator's label for the stretches they correct (each differs from what the model said there, checked below)
CORRECTED = {1: "surprise", 3: "sad", 5: "happy"}


@pytest.fixture(scope="module")
def loop_scene(tmp_path_factory, astronaut, grace_hopper):
    from signfer.samples.signer_scenes import face_portrait, lfw_portrait, make_stretches_video

    faces = [face_portrait(astronaut, ASTRONAUT_FACE, size=96), face_portrait(grace_hopper, HOPPER_FACE, size=96),
             lfw_portrait(0), lfw_portrait(20), lfw_portrait(60), lfw_portrait(40)]
    return make_stretches_video(tmp_path_factory.mktemp("loop") / "clip.avi", faces, STRETCHES, fps=5)


def _stretch_agreement(csv_path, video, labels) -> dict[int, float]:
    """Per stretch: the share of its frames whose per-frame label (annotate's CSV) is ``labels[stretch]``."""
    df = pd.read_csv(csv_path)
    df["stretch"] = [video.truth[f]["stretch"] for f in df["frame"]]
    return {k: float((part["label"] == labels[k]).mean()) for k, part in df.groupby("stretch")}


@pytest.fixture(scope="module")
def corrected(loop_scene, tmp_path_factory):
    """annotate (defaults), then the annotator's file: the expression tier replaced by one annotation per stretch,
    the model's majority label where they confirm it, their own where they correct it; the rest of the EAF kept."""
    from signfer.cli import main

    root = tmp_path_factory.mktemp("round1")
    assert main(["annotate", str(loop_scene.path), "--out", str(root / "ann"), "--no-progress"]) == 0
    df = pd.read_csv(root / "ann" / "clip.csv")
    df["stretch"] = [loop_scene.truth[f]["stretch"] for f in df["frame"]]
    said = {k: part["label"].value_counts().index[0] for k, part in df.groupby("stretch")}
    labels = {k: CORRECTED.get(k, said[k]) for k in range(len(STRETCHES))}
    assert all(said[k] != v for k, v in CORRECTED.items())  # real corrections
    tiers = read_tiers(root / "ann" / "clip.eaf")
    tiers["expression"] = [(int(s * 1000), int(e * 1000), labels[k]) for k, (s, e, _) in enumerate(STRETCHES)]
    props = dict(read_eaf(root / "ann" / "clip.eaf").properties)
    assert props["signfer_model"] == "fer2013"
    eaf = write_tiers(root / "corrected.eaf", tiers, media=loop_scene.path, properties=props)
    before = _stretch_agreement(root / "ann" / "clip.csv", loop_scene, labels)
    return root, eaf, labels, before


def test_one_round_with_defaults_learns_corrections_and_keeps_confirmed(loop_scene, corrected):
    import json

    from signfer.cli import main
    from signfer.training.from_elan import annotating_model

    root, eaf, labels, before = corrected
    out = root / "run"
    assert main(["train", "--from-elan", str(eaf), str(loop_scene.path), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["start_model"] == "fer2013"  # the model the EAF names, no --model, no --init-from
    kinds = {round(a["start_ms"] / 1000, 1): a["kind"] for a in report["annotations"]}
    assert kinds == {s: ("corrected" if k in CORRECTED else "confirmed") for k, (s, _, _) in enumerate(STRETCHES)}
    assert (out / "report.md").read_text().count("| corrected |") == 1 + 3  # the summary row, then one row per correction
    frames = pd.read_csv(out / "elan_frames.csv")
    assert len(frames) == 100 and set(frames["split"]) == {"train"}  # every frame trains by default
    # annotate again with the new model: the per-frame labels of the new CSV, stretch by stretch
    assert main(["annotate", str(loop_scene.path), "--model", str(out), "--out", str(root / "ann2"), "--no-progress"]) == 0
    after = _stretch_agreement(root / "ann2" / "clip.csv", loop_scene, labels)
    print("per stretch, share of frames with the annotator's label: before", before, "after", after)
    for k in range(len(STRETCHES)):
        if k in CORRECTED:
            assert after[k] >= 0.9, (k, before[k], after[k])
        else:
            assert after[k] >= 0.95 * before[k], (k, before[k], after[k])
    # the report's own "after" agrees with the new annotation (same crops, same model)
    by_start = {round(a["start_ms"] / 1000, 1): a["after"] for a in report["annotations"]}
    assert all(abs(by_start[s] - after[k]) <= 0.1 for k, (s, _, _) in enumerate(STRETCHES))
    # the next round fine-tunes this model: the new EAF names it
    assert annotating_model(root / "ann2" / "clip.eaf") == str(out.resolve())


def test_overlapping_annotations_are_refused_naming_the_times(loop_scene, tmp_path):
    from signfer.errors import UserError
    from signfer.training.from_elan import RetrainOptions, retrain_from_elan

    eaf = write_tiers(tmp_path / "overlap.eaf", {"expression": [(0, 3000, "happy"), (1200, 1800, "sad")]}, media=loop_scene.path)
    with pytest.raises(UserError, match=r"0.000-3.000 s 'happy' and 1.200-1.800 s 'sad' overlap"):
        retrain_from_elan([(eaf, loop_scene.path)], tmp_path / "run", RetrainOptions(epochs=1), log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_holdout_is_a_time_block_inside_each_annotation_and_several_eafs_train_one_model(loop_scene, tmp_path):
    from signfer.training.from_elan import RetrainOptions, retrain_from_elan

    a = write_tiers(tmp_path / "a.eaf", {"expression": [(0, 4000, "happy"), (12000, 14000, "neutral")]}, media=loop_scene.path)
    b = write_tiers(tmp_path / "b.eaf", {"expression": [(18000, 20000, "happy")]}, media=loop_scene.path)
    report = retrain_from_elan([(a, loop_scene.path), (b, loop_scene.path)], tmp_path / "run", RetrainOptions(holdout=0.25, epochs=1),
                               log=lambda m: None)
    frames = pd.read_csv(tmp_path / "run" / "elan_frames.csv")
    assert frames.groupby("eaf").size().to_dict() == {str(a): 30, str(b): 10}
    for _, part in frames.groupby(["eaf", "annotation"]):
        part = part.sort_values("frame")
        n_hold = round(len(part) * 0.25)
        assert part["split"].tolist() == ["train"] * (len(part) - n_hold) + ["holdout"] * n_hold  # the last quarter, in time
    assert report["summary"]["holdout"]["frames"] == int((frames["split"] == "holdout").sum()) == 5 + 2 + 2  # 20, 10, 10 frames at 5 fps


def test_a_second_round_does_not_train_on_the_first_rounds_frames(loop_scene, tmp_path):
    """With --recipe, the frames go to a data folder: one that holds an earlier round's frames is refused (their union
    would keep annotations the annotator has since deleted)."""
    from signfer.errors import UserError
    from signfer.training.from_elan import MANIFEST_FILE, train_from_elan

    data = tmp_path / "elan_data"
    data.mkdir()
    (data / MANIFEST_FILE).write_text("frame,label\n0,happy\n")
    eaf = write_tiers(tmp_path / "v2.eaf", {"expression": [(0, 3000, "sad")]}, media=loop_scene.path)
    with pytest.raises(UserError, match="earlier --from-elan round"):
        train_from_elan([(eaf, loop_scene.path)], "easier2025", tmp_path / "run", data_dir=data, log=lambda m: None)


def test_signer_tiers_and_a_small_correction_train_with_defaults(two_signer_video, tmp_path):
    """`S1_expression` / `S2_expression` tiers of a 2 s clip with one short correction each: no folds to make, the
    frames go to the right signer (frames 3-6 of S1: a hand hides the astronaut's face, MTCNN misses it)."""
    from signfer.training.from_elan import RetrainOptions, retrain_from_elan

    eaf = write_tiers(tmp_path / "c.eaf", {"S1_expression": [(0, 700, "happy"), (1300, 1600, "surprise")],
                                           "S2_expression": [(0, 500, "neutral"), (1700, 2000, "sad")]}, media=two_signer_video.path)
    report = retrain_from_elan([(eaf, two_signer_video.path)], tmp_path / "run", RetrainOptions(epochs=2), log=lambda m: None)
    frames = pd.read_csv(tmp_path / "run" / "elan_frames.csv")
    ok = frames[frames["status"] == "ok"]
    assert ok.groupby("signer")["frame"].apply(list).to_dict() == {"S1": [0, 1, 2, 13, 14, 15], "S2": [0, 1, 2, 3, 4, 17, 18, 19]}
    assert frames[frames["status"] == "no_face"]["frame"].tolist() == [3, 4, 5, 6] and frames["split"].isna().sum() == 4
    assert len(report["annotations"]) == 4 and (tmp_path / "run" / "best.pt").is_file()


@pytest.mark.parametrize("recorded, expected", [
    ("fer2013", "fer2013"),
    ("hsemotion:enet_b0_8_va_mtl (tf_efficientnet_b0, HSEmotion ONNX)", "hsemotion:enet_b0_8_va_mtl"),
])
def test_the_annotating_model_is_read_from_the_eaf(tmp_path, recorded, expected):
    """annotate records `signfer_model` (Recognizer.source); retraining loads that model again: names, HSEmotion's ONNX
    description, and a run folder given relative to the EAF."""
    from signfer.training.from_elan import annotating_model

    eaf = write_tiers(tmp_path / "a.eaf", {"expression": [(0, 100, "happy")]}, properties={"signfer_model": recorded})
    assert annotating_model(eaf) == expected
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    eaf = write_tiers(tmp_path / "b.eaf", {"expression": [(0, 100, "happy")]}, properties={"signfer_model": "runs/r1"})
    assert annotating_model(eaf) == str(tmp_path / "runs" / "r1")
    assert annotating_model(write_tiers(tmp_path / "c.eaf", {"expression": [(0, 100, "happy")]})) is None


def test_recipe_options_without_a_recipe_are_refused(loop_scene, tmp_path, capsys):
    from signfer.cli import main

    eaf = write_tiers(tmp_path / "a.eaf", {"expression": [(0, 1000, "happy")]}, media=loop_scene.path)
    assert main(["train", "--from-elan", str(eaf), str(loop_scene.path), "--out", str(tmp_path / "run"), "--folds", "5"]) == 2
    assert "--data and --folds belong to --recipe" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert "needs --recipe" in capsys.readouterr().err


def test_a_long_annotation_gives_evenly_spaced_frames(loop_scene, tmp_path):
    from signfer.training.from_elan import RetrainOptions, retrain_from_elan

    eaf = write_tiers(tmp_path / "a.eaf", {"expression": [(0, 9600, "happy"), (12000, 14000, "neutral")]}, media=loop_scene.path)
    retrain_from_elan([(eaf, loop_scene.path)], tmp_path / "run", RetrainOptions(epochs=1, max_frames=20), log=lambda m: None)
    frames = pd.read_csv(tmp_path / "run" / "elan_frames.csv")
    assert frames[frames["annotation"] == 0]["frame"].tolist() == list(range(0, 48, 3))  # 48 frames -> every 3rd
    assert frames[frames["annotation"] == 1]["frame"].tolist() == list(range(60, 70))  # 10 frames: all
