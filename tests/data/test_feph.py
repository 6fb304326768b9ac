"""FePh reader: policies, the real file's quirks, counted drops, clear errors."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.data import detect_layout, load_dataset
from signfer.data.feph import class_counts, load_feph, parse_label, sequence_of
from signfer.data.labels import EMOTIONS7, FEPH8
from signfer.io import InputError, read_image


def _write_feph(root: Path, rows, images=None) -> Path:
    """A hand-made FePh folder: ``rows`` of (External ID, Facial_label); images for ``images`` names
    (default: every ID, with ``.png`` added where missing)."""
    (root / "FePh_images").mkdir(parents=True, exist_ok=True)
    names = images if images is not None else [i if i.endswith(".png") else i + ".png" for i, _ in rows]
    for n in names:
        cv2.imwrite(str(root / "FePh_images" / n), np.full((12, 10, 3), 100, np.uint8))
    pd.DataFrame(rows, columns=["External ID", "Facial_label"]).to_csv(root / "FePh_labels.csv", index=False)
    return root


def _name(seq, frame):
    return f"{seq}.avi_pid0_fn{frame:06d}-0.png"


def test_synthetic_feph_counts_every_reason(synthetic_feph):
    df, rep = load_feph(synthetic_feph)
    # 21 sequences x 4 frames, plus 4 awkward rows: "15", "", "7", "36"
    assert rep.rows == 88 and rep.kept == len(df) == 84
    assert dict(rep.dropped) == {"multi_label": 2, "empty_label": 1, "none_code": 1}
    assert rep.notes["png_suffix_added"] == 1
    assert rep.kept + rep.n_dropped == rep.rows
    assert list(class_counts(df)) == [12] * 7 and rep.class_names == EMOTIONS7 == df.attrs["class_names"]
    assert list(df.columns[:4]) == ["path", "label", "group", "source_id"]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in df["path"])
    # the ID without .png is found and keyed by the real file name
    fixed = df[df["external_id"] != df["source_id"]]
    assert len(fixed) == 1 and fixed["source_id"].iloc[0] == fixed["external_id"].iloc[0] + ".png"
    # groups: the text before .avi_pid0; one class per sequence in this synthetic set
    assert df["group"].nunique() == 21
    assert (df.groupby("group")["label"].nunique() == 1).all()
    assert set(df["group"]) == {s.split(".avi_pid0")[0] for s in df["source_id"]}
    table = rep.to_frame()
    assert set(table["reason"]) == {"multi_label", "empty_label", "none_code", "png_suffix_added"}
    assert "multi_label" in str(rep)


def test_rgba_png_is_read_as_rgb(synthetic_feph):
    df, _ = load_feph(synthetic_feph)
    rgba = [p for p in df["path"] if cv2.imread(p, cv2.IMREAD_UNCHANGED).shape[2] == 4]
    assert len(rgba) == 1
    img = read_image(rgba[0])
    assert img.shape[2] == 3 and img.dtype == np.uint8


def test_policies(synthetic_feph):
    d1, r1 = load_feph(synthetic_feph, policy="sltat2022")
    d2, r2 = load_feph(synthetic_feph, policy="easier2025")
    # EASIER-EkmanClassifier FaceExpressionPhoenixDataset.idx_to_class: 0 neutral ... 6 surprise, 7 none
    assert r2.class_names == FEPH8 == ("neutral", "anger", "disgust", "fear", "happy", "sad", "surprise", "none")
    assert r1.class_names == EMOTIONS7
    # the 2025 code keeps the single-label code-7 row as class "none"; SLTAT drops it
    assert dict(r1.dropped)["none_code"] == 1 and "none_code" not in r2.dropped
    assert len(d2) == len(d1) + 1 and class_counts(d2)["none"] == 1
    assert set(d2["source_id"]) - set(d1["source_id"]) == set(d2.loc[d2["feph_code"] == 7, "source_id"])
    assert (d2.loc[d2["feph_code"] == 7, "label"] == "none").all()
    with pytest.raises(KeyError, match="sltat2022"):
        load_feph(synthetic_feph, policy="paper")


def test_easier2025_policy_keeps_what_the_published_filter_keeps(tmp_path):
    # the published filter (data_loaders.py / gen_FePh_fullset_onlysinglelabels.py), verbatim on the same CSV
    seq = "07January_2010_Thursday_tagesschau_default-5"
    rows = [(_name(seq, 1), "0"), (_name(seq, 2), "7"), (_name(seq, 3), "15"), (_name(seq, 4), ""), (_name(seq, 5), "6"),
            (_name(seq, 6), "77"), (_name(seq, 7), "7")]
    root = _write_feph(tmp_path, rows)
    y_df = pd.read_csv(root / "FePh_labels.csv", dtype=str)
    y_df = y_df.dropna()  # the scripts: y_df.dropna(inplace=True)
    y_df["Facial_label"] = y_df["Facial_label"].apply(lambda x: [int(i) for i in x])
    y_df["num_labels"] = y_df["Facial_label"].apply(lambda x: len(x))
    y_df = y_df[y_df["num_labels"] == 1]
    published = dict(zip(y_df["External ID"], y_df["Facial_label"].apply(lambda x: x[0])))
    df, rep = load_feph(root, policy="easier2025")
    assert dict(zip(df["external_id"], df["feph_code"])) == published
    assert [FEPH8[c] for c in published.values()] == list(df["label"])  # output index = FePh code


def test_label_codes_hand_made(tmp_path):
    seq = "07January_2010_Thursday_tagesschau_default-5"
    rows = [(_name(seq, 1), "0"), (_name(seq, 2), "1"), (_name(seq, 3)[:-4], "6"), (_name(seq, 4), " 3 "),
            (_name(seq, 5), "5.0"), (_name(seq, 6), "15"), (_name(seq, 7), ""), (_name(seq, 8), "7"),
            (_name(seq, 9), "9"), (_name(seq, 10), "x"), (_name(seq, 11), "44")]
    df, rep = load_feph(_write_feph(tmp_path, rows))
    assert list(df["label"]) == ["neutral", "anger", "surprise", "fear", "sad"]
    assert list(df["feph_code"]) == [0, 1, 6, 3, 5]
    assert dict(rep.dropped) == {"multi_label": 2, "empty_label": 1, "none_code": 1, "unknown_code": 2}
    assert set(df["group"]) == {seq}
    assert parse_label("26") == ("multi_label", None) and parse_label("4") == ("ok", 4)
    assert sequence_of(_name(seq, 3)) == seq and sequence_of("frame.png") is None


def test_duplicates_missing_and_unlabelled_images_are_counted(tmp_path):
    a, b, c, d = (_name(f"seq{i}", 0) for i in range(4))
    rows = [(a, "1"), (a, "1"), (b, "2"), (b[:-4], "3"), (c, "4"), ("", "0")]
    root = _write_feph(tmp_path, rows, images=[a, b, d])  # c has no image; d has no label
    df, rep = load_feph(root)
    assert list(df["source_id"]) == [a]
    assert dict(rep.dropped) == {"duplicate_id": 1, "conflicting_duplicate_id": 2, "missing_image": 1, "empty_id": 1}
    assert rep.examples["missing_image"] == [str(root / "FePh_images" / c)]
    assert rep.notes["image_without_label (ignored)"] == 1
    assert rep.kept + rep.n_dropped == rep.rows == 6


def test_unreadable_images_dropped_when_verified(tmp_path):
    rows = [(_name("s1", 0), "1"), (_name("s2", 0), "2")]
    root = _write_feph(tmp_path, rows)
    (root / "FePh_images" / _name("s2", 0)).write_bytes(b"not a png")
    df, rep = load_feph(root)
    assert len(df) == 2
    df, rep = load_feph(root, verify_images=True)
    assert len(df) == 1 and rep.dropped["unreadable_image"] == 1
    assert _name("s2", 0) in rep.examples["unreadable_image"][0]


def test_malformed_files_raise_clear_errors(tmp_path):
    with pytest.raises(InputError, match="FePh_labels.csv"):
        load_feph(tmp_path)
    root = _write_feph(tmp_path / "a", [(_name("s", 0), "1")])
    pd.DataFrame({"External ID": ["x"], "label": ["1"]}).to_csv(root / "FePh_labels.csv", index=False)
    with pytest.raises(InputError, match=r"missing column\(s\) \['Facial_label'\]") as err:
        load_feph(root)
    assert "FePh_labels.csv" in str(err.value)
    (root / "FePh_labels.csv").write_text("")
    with pytest.raises(InputError, match="not a readable CSV"):
        load_feph(root)
    bare = tmp_path / "b"
    bare.mkdir()
    (bare / "FePh_labels.csv").write_text("External ID,Facial_label\n")
    with pytest.raises(InputError, match="image folder"):
        load_feph(bare)


def test_load_dataset_detects_feph(synthetic_feph):
    assert detect_layout(synthetic_feph) == "feph"
    df, rep = load_dataset(synthetic_feph, policy="easier2025")
    assert len(df) == 85 and rep.policy == "easier2025"  # 84 codes 0-6 + the code-7 row
