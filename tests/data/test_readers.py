"""AffectNet (CSV and folder layouts) and generic folder-per-class readers."""

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.data import detect_layout, load_dataset
from signfer.data.affectnet import load_affectnet
from signfer.data.folder import load_folder
from signfer.data.labels import EMOTIONS7, EMOTIONS8
from signfer.samples.feph_layout import make_synthetic_affectnet, make_synthetic_folder
from signfer.io import InputError


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8, 3), 90, np.uint8))


def test_folder_accepts_any_vocabulary(tmp_path):
    names = ["angry", "Disgust", "fearful", "happiness", "Neutral", "Sadness", "surprised"]
    root = make_synthetic_folder(tmp_path, class_names=names, videos_per_class=2, frames_per_video=3)
    df, rep = load_folder(root)
    assert rep.class_names == EMOTIONS7 and rep.kept == len(df) == 42 and rep.n_dropped == 0
    assert sorted(df["label"].unique()) == list(EMOTIONS7)
    assert df.set_index("source_id").loc["happiness/happy_video1/frame002.png", "label"] == "happy"
    assert df["group"].nunique() == 14 and (df.groupby("group").size() == 3).all()  # default: the video sub-folder
    assert df.attrs["grouping"].startswith("by sub-folder") and df.attrs["grouping"].endswith("14 groups")
    by_image, _ = load_folder(root, group_by="file")
    assert by_image["group"].nunique() == 42 and by_image.attrs["grouping"].startswith("by image")
    by_regex, rep = load_folder(root, group_by=r"^frame(\d)")
    assert by_regex["group"].nunique() == 1  # all frames start with "frame0"
    assert detect_layout(root) == "folder"


def test_folder_unknown_class_names_the_known_ones(tmp_path):
    make_synthetic_folder(tmp_path, class_names=["happy", "sad"], videos_per_class=1, frames_per_video=1)
    _img(tmp_path / "bored" / "x.png")
    with pytest.raises(InputError, match=r"unknown class folder\(s\) \['bored'\].*angry.*happiness"):
        load_folder(tmp_path)
    df, rep = load_folder(tmp_path, ignore=["bored"])
    assert len(df) == 2 and rep.dropped["ignored folder bored"] == 1


def test_folder_splits_contempt_and_groups_csv(tmp_path):
    for split in ("train", "val"):
        for cls in ("happy", "contempt", "sad"):
            for i in range(2):
                _img(tmp_path / split / cls / f"v{i}_{cls}.png")
    df, rep = load_folder(tmp_path)
    assert rep.class_names == EMOTIONS8 and len(df) == 12 and set(df["split"]) == {"train", "val"}
    df7, rep7 = load_folder(tmp_path, classes=7)
    assert len(df7) == 8 and rep7.dropped["class contempt not in the 7-class vocabulary"] == 4
    val, _ = load_folder(tmp_path, split="val")
    assert set(val["split"]) == {"val"} and len(val) == 6
    groups = pd.DataFrame({"source_id": ["train/happy/v0_happy.png", "v1_happy.png"], "group": ["g1", "g1"]})
    grouped, rep = load_folder(tmp_path, groups=groups)
    g = grouped.set_index("source_id")["group"]
    assert g["train/happy/v0_happy.png"] == g["train/happy/v1_happy.png"] == g["val/happy/v1_happy.png"] == "g1"
    assert rep.notes["no group in groups table (own group)"] == 9
    with pytest.raises(InputError, match="missing column"):
        load_folder(tmp_path, groups=pd.DataFrame({"file": ["x"], "group": ["g"]}))


def test_affectnet_csv_layout(tmp_path):
    root = make_synthetic_affectnet(tmp_path, per_code=2)
    assert detect_layout(root) == "affectnet"
    df, rep = load_affectnet(root)
    # training: codes 0-10 x 2 -> 16 kept, 6 non-expressions; validation: 8 kept
    assert rep.rows == 22 + 8 and len(df) == 24 and rep.class_names == EMOTIONS8
    assert dict(rep.dropped) == {"none (code 8)": 2, "uncertain (code 9)": 2, "no_face (code 10)": 2}
    assert (df.groupby("split").size() == pd.Series({"train": 16, "validation": 8})).all()
    # code -> name follows AffectNet's order (0 neutral, 1 happy, ... 6 anger, 7 contempt)
    first = df.drop_duplicates("affectnet_code").set_index("affectnet_code")["label"].to_dict()
    assert first == {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt"}
    assert {"face_x", "valence", "arousal"} <= set(df.columns)
    df7, rep7 = load_affectnet(root, classes=7, split="train")
    assert len(df7) == 14 and rep7.dropped["contempt not in the 7-class vocabulary"] == 2
    assert load_dataset(root, classes=7)[0]["label"].isin(EMOTIONS7).all()


def test_affectnet_csv_problems_are_counted_or_raised(tmp_path):
    root = make_synthetic_affectnet(tmp_path, per_code=1)
    csv = root / "Manually_Annotated_file_lists" / "training.csv"
    raw = pd.read_csv(csv, dtype=str)
    raw.loc[0, "expression"] = "x"                                 # unknown code
    raw = pd.concat([raw, raw.iloc[[1]], raw.iloc[[2]].assign(expression="5")])  # duplicate, conflicting duplicate
    (root / "Manually_Annotated_Images" / raw.iloc[3]["subDirectory_filePath"]).unlink()  # missing image
    raw.to_csv(csv, index=False)
    df, rep = load_affectnet(root, split="train")
    assert rep.dropped["unknown_code"] == 1 and rep.dropped["missing_image"] == 1
    assert rep.dropped["duplicate_id"] == 1 and rep.dropped["conflicting_duplicate_id"] == 2
    assert rep.kept + rep.n_dropped == rep.rows and df["source_id"].is_unique
    raw.drop(columns="expression").to_csv(csv, index=False)
    with pytest.raises(InputError, match=r"training.csv: missing column\(s\) \['expression'\]"):
        load_affectnet(root, split="train")
    with pytest.raises(InputError, match="subject"):
        load_affectnet(root, split="validation", group_col="subject")


def test_affectnet_csv_group_column(tmp_path):
    root = make_synthetic_affectnet(tmp_path, per_code=1)
    csv = root / "Manually_Annotated_file_lists" / "validation.csv"
    raw = pd.read_csv(csv)
    raw["subject"] = ["s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4"]
    raw.to_csv(csv, index=False)
    df, _ = load_affectnet(root, split="validation", group_col="subject")
    assert list(df["group"]) == list(raw["subject"])


def test_affectnet_folder_layout_with_codes(tmp_path):
    for code in range(11):
        for i in range(2):
            _img(tmp_path / "train" / str(code) / f"{code}_{i}.jpg")
    _img(tmp_path / "val" / "6" / "a.jpg")
    df, rep = load_affectnet(tmp_path, classes=8)
    assert len(df) == 17 and rep.dropped["ignored folder 8"] == 2 and rep.dropped["ignored folder 10"] == 2
    assert df.set_index("source_id").loc["train/6/6_0.jpg", "label"] == "anger"
    assert df.set_index("source_id").loc["train/0/0_0.jpg", "label"] == "neutral"
    assert (df["affectnet_code"] == df["source_id"].str.split("/").str[1].astype(int)).all()
    df7, _ = load_affectnet(tmp_path, classes=7, split="val")
    assert list(df7["label"]) == ["anger"]
    shutil.rmtree(tmp_path / "val")
    with pytest.raises(InputError, match="no validation folder"):
        load_affectnet(tmp_path, split="validation")
