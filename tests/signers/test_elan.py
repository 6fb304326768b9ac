"""ELAN round trip (EAF 3.0) and the annotate -> correct -> retrain loop."""

from __future__ import annotations

import pandas as pd
import pytest

from signfer.annotate.elan import linked_media, read_eaf, read_tiers, tier_participants, write_tiers
from signfer.training.from_elan import build_elan_dataset, frame_labels

TIERS = {
    "S1_expression": [(0, 400, "happy"), (400, 1000, "sad"), (1200, 2000, "surprise")],
    "S1_occlusion": [(0, 300, "none"), (300, 700, "lower"), (700, 2000, "none")],
    "S2_expression": [(0, 1500, "neutral"), (1500, 2000, "anger")],
    "S2_model_used": [(0, 2000, "full")],
}
PARTS = {name: name.split("_")[0] for name in TIERS}


def test_round_trip_keeps_tiers_times_values(tmp_path, two_signer_video):
    first = write_tiers(tmp_path / "a.eaf", TIERS, media=two_signer_video.path, participants=PARTS, properties={"signfer_model": "m"})
    back = read_tiers(first)
    assert back == {k: [tuple(a) for a in v] for k, v in TIERS.items()}
    assert tier_participants(first) == PARTS
    second = write_tiers(tmp_path / "b.eaf", back, media=two_signer_video.path, participants=tier_participants(first))
    assert read_tiers(second) == back and tier_participants(second) == PARTS
    for path in (first, second):
        eaf = read_eaf(path)
        assert eaf.adocument["VERSION"] == "3.0"
        assert 'xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd"' in path.read_text()
    assert linked_media(second) == two_signer_video.path.resolve()


def test_frame_labels_from_a_corrected_tier(tmp_path):
    corrected = {"expression": [(200, 500, "Happiness"), (500, 700, "?"), (700, 1000, "angry")]}
    eaf = write_tiers(tmp_path / "c.eaf", corrected)
    times = [i * 100.0 for i in range(12)]  # 10 fps
    df = frame_labels(eaf, times, classes=7)
    assert df["frame"].tolist() == [2, 3, 4, 7, 8, 9]  # start <= t < end
    assert df["label"].tolist() == ["happy"] * 3 + ["anger"] * 3
    assert df.attrs["skipped"] == {"?": 1}
    assert set(df["signer"].isna()) == {True}
    with pytest.raises(ValueError, match="no tier"):
        frame_labels(eaf, times, tier="S9_expression")


def test_corrected_signer_tiers_label_the_right_faces(tmp_path, two_signer_video):
    """S1 (the astronaut) and S2 (Grace Hopper) get different labels; the images land in the right class folders."""
    from signfer.io import read_image
    from signfer.signers.identity import face_histogram, histogram_similarity

    corrected = {"S1_expression": [(0, 300, "happy"), (1300, 1600, "surprise")], "S2_expression": [(0, 300, "sad"), (1300, 1600, "neutral")]}
    eaf = write_tiers(tmp_path / "corrected.eaf", corrected, media=two_signer_video.path)
    table = build_elan_dataset(eaf, None, tmp_path / "data", classes=7)
    assert (table["status"] == "ok").all()
    s1 = table[table["signer"] == "S1"]
    assert s1["frame"].tolist() == [0, 1, 2, 13, 14, 15]
    assert s1["label"].tolist() == ["happy"] * 3 + ["surprise"] * 3
    groups = pd.read_csv(tmp_path / "data" / "groups.csv")
    assert groups["group"].nunique() == 4  # one group per annotation
    # every S1 image shows the astronaut, every S2 image Grace Hopper (by colour, against the frame's true boxes)
    from signfer.annotate.video import open_media

    frames = {f.index: f.image for f in open_media(two_signer_video.path).frames()}
    for row in table.itertuples():
        img = read_image(tmp_path / "data" / row.path)
        truth = two_signer_video.truth[row.frame]["boxes"]
        sims = {who: histogram_similarity(face_histogram(img, (0, 0, img.shape[1], img.shape[0])), face_histogram(frames[row.frame], box)) for who, box in truth.items()}
        assert max(sims, key=sims.get) == ("astronaut" if row.signer == "S1" else "hopper"), (row, sims)


def test_train_from_elan_closes_the_loop(tmp_path, two_signer_video):
    """annotate -> correct -> retrain: the corrected labels reach the training set with the right frames."""
    from pathlib import Path

    from signfer.cli import main

    corrected = {
        "S1_expression": [(0, 300, "happy"), (400, 700, "sad"), (1300, 1600, "happy"), (1700, 2000, "sad")],
        "S2_expression": [(0, 300, "sad"), (400, 700, "happy"), (1300, 1600, "sad"), (1700, 2000, "happy")],
    }
    eaf = write_tiers(tmp_path / "corrected.eaf", corrected, media=two_signer_video.path)
    recipe = Path(__file__).parents[1] / "training" / "tiny.yaml"
    out = tmp_path / "run"
    rc = main(["train", "--from-elan", str(eaf), str(two_signer_video.path), "--recipe", str(recipe), "--out", str(out),
               "--folds", "2", "--set", "stages.0.epochs=1", "--cache", "none", "--no-progress", "--device", "cpu"])  # fmt: skip
    assert rc == 0
    assert (out / "fold_0" / "best.pt").is_file()
    folds = pd.read_csv(out / "folds.csv")
    # 8 annotations x 3 frames, less S1's frames 4-6: a hand hides the astronaut's face there, MTCNN misses it
    assert len(folds) == 21
    assert folds.groupby("group")["fold"].nunique().max() == 1  # an annotation never straddles folds
    labelled = pd.read_csv(out / "elan_data" / "elan_frames.csv")
    s2 = labelled[labelled["signer"] == "S2"].sort_values("frame")
    assert s2["frame"].tolist() == [0, 1, 2, 4, 5, 6, 13, 14, 15, 17, 18, 19]
    assert s2["label"].tolist() == ["sad"] * 3 + ["happy"] * 3 + ["sad"] * 3 + ["happy"] * 3
    assert (s2["status"] == "ok").all()
    s1 = labelled[labelled["signer"] == "S1"].set_index("frame")
    assert s1.loc[[4, 5, 6], "status"].tolist() == ["no_face"] * 3
    preds = pd.read_csv(out / "fold_0" / "predictions.csv")
    assert set(preds["y_true"]) <= {"happy", "sad"} and len(preds) > 0


def test_from_elan_refuses_an_eaf_made_on_another_video(tmp_path, two_signer_video, moving_face_clip_signers, capsys):
    """An EAF linked to one video, paired with another (different name and length), is refused naming both; --force
    trains anyway with a warning. signfer's own EAFs carry the media's duration, so a renamed copy of another
    video is caught as well."""
    import shutil
    from pathlib import Path

    from signfer.cli import main
    from signfer.annotate.elan import check_media

    eaf = write_tiers(tmp_path / "two.eaf", {"S1_expression": [(0, 1900, "happy")]}, media=two_signer_video.path,
                      properties={"signfer_media_duration_ms": "2000"})  # fmt: skip
    other = moving_face_clip_signers.path  # 16 frames at 10 fps: 1.6 s
    assert check_media(eaf, two_signer_video.path) == []
    with pytest.raises(Exception, match=r"does not belong to the video .*links two_signers.avi, not astronaut_moving.avi.*2.00 s.*1.60 s"):
        check_media(eaf, other)
    renamed = tmp_path / "two_signers.avi"
    shutil.copy(other, renamed)  # the right name, the wrong video
    with pytest.raises(Exception, match="made on a video of 2.00 s, this one lasts 1.60 s"):
        check_media(eaf, renamed)
    recipe = Path(__file__).parents[1] / "training" / "tiny.yaml"
    args = ["train", "--from-elan", str(eaf), str(other), "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--folds", "2",
            "--set", "stages.0.epochs=1", "--cache", "none", "--no-progress", "--device", "cpu"]  # fmt: skip
    assert main(args) == 2  # a user error, one line
    assert "does not belong to the video" in capsys.readouterr().err
    assert not (tmp_path / "run" / "fold_0").exists()
    assert check_media(eaf, other, force=True, log=lambda m: None)  # the problems, no exception
