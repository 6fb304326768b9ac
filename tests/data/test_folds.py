"""Grouped stratified folds: no sequence on both sides, deterministic, saved and reloaded exactly."""

import numpy as np
import pandas as pd
import pytest

from signfer.data.feph import load_feph
from signfer.data.folds import check_grouped, fold_split, load_folds, make_folds, save_folds, split_train_val
from signfer.data.labels import EMOTIONS7
from signfer.io import InputError


def _sequences(n_per_class=10, frames=(2, 7), seed=1) -> pd.DataFrame:
    """Frames of video sequences with uneven lengths; one label per sequence."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, label in enumerate(EMOTIONS7):
        for s in range(n_per_class):
            group = f"seq_{label}_{s}"
            for f in range(rng.integers(*frames)):
                rows.append((f"/data/{group}_{f}.png", label, group, f"{group}_{f}.png"))
    return pd.DataFrame(rows, columns=["path", "label", "group", "source_id"])


def test_no_sequence_on_both_sides_and_every_fold_stratified():
    df = _sequences()
    folds = make_folds(df, k=5, seed=0)
    assert sorted(folds["fold"].unique()) == [0, 1, 2, 3, 4]
    for k in range(5):
        train, test = fold_split(folds, k)
        assert len(train) + len(test) == len(df)
        assert set(train["group"]).isdisjoint(test["group"])
        # 10 sequences per class over 5 folds: every class is tested in every fold, with 2 sequences
        assert set(test["label"]) == set(EMOTIONS7)
        assert (test.groupby("label")["group"].nunique() == 2).all()
    check_grouped(folds)
    bad = folds.copy()
    bad.loc[bad.index[0], "fold"] = (bad["fold"].iloc[0] + 1) % 5
    with pytest.raises(ValueError, match="more than one fold"):
        check_grouped(bad)


def test_fold_file_determinism(tmp_path):
    df = _sequences()
    a = make_folds(df, k=5, seed=3)
    b = make_folds(df.copy(), k=5, seed=3)
    assert (a["fold"] == b["fold"]).all()
    save_folds(a, tmp_path / "a.csv")
    save_folds(b, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    c = make_folds(df, k=5, seed=4)
    assert (a["fold"] != c["fold"]).any()  # another seed, other folds
    # reload: the same folds, attached to the data by source_id even when rows are reordered
    loaded = load_folds(tmp_path / "a.csv")
    assert list(loaded.columns) == ["source_id", "group", "label", "fold"] and loaded["fold"].dtype == np.int64
    shuffled = df.sample(frac=1.0, random_state=0)
    attached = load_folds(tmp_path / "a.csv", shuffled)
    assert dict(zip(attached["source_id"], attached["fold"])) == dict(zip(a["source_id"], a["fold"]))


def test_feph_folds_keep_sequences_together(synthetic_feph, tmp_path):
    df, _ = load_feph(synthetic_feph)
    folds = make_folds(df, k=5, seed=0)
    for k in range(5):
        train, test = fold_split(folds, k)
        assert len(test) > 0 and set(train["group"]).isdisjoint(test["group"])
    save_folds(folds, tmp_path / "folds.csv")
    again, _ = load_feph(synthetic_feph)
    assert (load_folds(tmp_path / "folds.csv", again)["fold"] == folds["fold"]).all()


def test_load_folds_rejects_other_data(tmp_path):
    df = _sequences(n_per_class=5)
    path = save_folds(make_folds(df, k=5, seed=0), tmp_path / "folds.csv")
    with pytest.raises(InputError, match="not in this folds file"):
        load_folds(path, pd.concat([df, df.assign(source_id=df["source_id"] + "x").iloc[:1]]))
    relabelled = df.copy()
    relabelled.loc[0, "label"] = "happy" if df.loc[0, "label"] != "happy" else "sad"
    with pytest.raises(InputError, match="another label"):
        load_folds(path, relabelled)
    with pytest.raises(InputError, match="absent from the data"):
        load_folds(path, df.iloc[5:])
    assert len(load_folds(path, df.iloc[5:], strict=False)) == len(df) - 5
    broken = pd.read_csv(path)
    broken.loc[0, "fold"] = (broken.loc[0, "fold"] + 1) % 5  # one frame moved away from its sequence
    broken.to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(InputError, match="broken.csv.*more than one fold"):
        load_folds(tmp_path / "broken.csv")
    broken.drop(columns="group").to_csv(tmp_path / "nogroup.csv", index=False)
    with pytest.raises(InputError, match="missing column"):
        load_folds(tmp_path / "nogroup.csv")
    with pytest.raises(InputError, match="does not exist"):
        load_folds(tmp_path / "none.csv")


def test_split_train_val_is_grouped():
    df = _sequences()
    train, test = fold_split(make_folds(df, k=5, seed=0), 0)
    tr, val = split_train_val(train, val_fraction=0.2, seed=0)
    assert len(tr) + len(val) == len(train)
    assert set(tr["group"]).isdisjoint(val["group"]) and set(val["group"]).isdisjoint(test["group"])
    assert 0.1 < len(val) / len(train) < 0.3 and set(val["label"]) == set(EMOTIONS7)
    tr2, val2 = split_train_val(train, val_fraction=0.2, seed=0)
    assert list(val2["source_id"]) == list(val["source_id"])


def test_too_few_groups():
    df = _sequences(n_per_class=1).query("label in ['anger', 'sad']")
    with pytest.raises(ValueError, match="cannot make 5 grouped folds from 2"):
        make_folds(df, k=5)
