"""The 2025 code's split (EASIER-EkmanClassifier Scripts/train_test_split_FePh.py) reproduced row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signfer.data.folds import TRAIN_ONLY, easier2025_split, easier2025_test_ids, easier2025_validation_split


def published_split(csv_path):
    """The script's lines (its data_path replaced; ``dtype=str`` as data_loaders.py reads, see below)."""
    test_set_fraction = 0.2
    y_df = pd.read_csv(csv_path, dtype=str)  # the script has pd.read_csv(y_csv_path): labels must be text for [int(i) for i in x]
    y_df = y_df.dropna()  # y_df.dropna(inplace=True)
    y_df['Facial_label'] = y_df['Facial_label'].apply(lambda x: [int(i) for i in x])
    y_df['num_labels'] = y_df['Facial_label'].apply(lambda x: len(x))
    y_df['Facial_label'] = y_df['Facial_label'].apply(lambda x: x[0])
    y_df = y_df[y_df["num_labels"] == 1]
    n_r, n_c = y_df.shape
    n_test_set = round(test_set_fraction * n_r)

    def get_class_weight_col(df):
        counts = df["Facial_label"].value_counts()
        prop_normalized = counts.apply(lambda x: x / n_r)
        prop_normalized = dict(prop_normalized)
        df["class_weight"] = df["Facial_label"].apply(lambda label: prop_normalized[label])
        return df, prop_normalized, counts

    y_df, prop_full, counts_full = get_class_weight_col(y_df.copy())
    test_df = y_df.sample(n=n_test_set, weights='class_weight', random_state=1)
    test_df = test_df.reset_index()
    test_df = test_df.rename(columns={'index': 'index_before_sampling', "class_weight": "class_weight_before_sampling"})
    train_df = y_df.drop(test_df["index_before_sampling"])
    return list(train_df["External ID"]), list(test_df["External ID"])


@pytest.fixture
def labels_csv(tmp_path):
    rng = np.random.default_rng(3)
    codes = ["0", "1", "2", "3", "4", "5", "6", "7"]
    p = np.array([8, 20, 7, 12, 7, 14, 32, 1], float)
    rows = []
    for seq in range(40):
        for fr in range(6):
            label = rng.choice(codes, p=p / p.sum())
            if rng.random() < 0.06:
                label = label + rng.choice(codes)  # multi-label
            if rng.random() < 0.04:
                label = ""  # face not visible
            rows.append((f"seq{seq:02d}.avi_pid0_fn{fr:06d}-0.png", label))
    path = tmp_path / "FePh_labels.csv"
    pd.DataFrame(rows, columns=["External ID", "Facial_label"]).to_csv(path, index=False)
    return path


def test_test_side_is_the_published_scripts(labels_csv):
    train_ids, test_ids = published_split(labels_csv)
    assert easier2025_test_ids(labels_csv) == test_ids
    n = len(train_ids) + len(test_ids)
    assert len(test_ids) == round(0.2 * n) and not set(train_ids) & set(test_ids)


def test_sampling_is_numpy_choice_with_class_proportional_weights(labels_csv):
    """pandas' DataFrame.sample(weights=...) = RandomState(1).choice(n, k, replace=False, p=w / w.sum())."""
    df = pd.read_csv(labels_csv, dtype=str).dropna()
    df = df[df["Facial_label"].str.len() == 1].reset_index(drop=True)
    share = df["Facial_label"].map(df["Facial_label"].value_counts() / len(df)).to_numpy(float)
    pick = np.random.RandomState(1).choice(len(df), size=round(0.2 * len(df)), replace=False, p=share / share.sum())
    assert easier2025_test_ids(labels_csv) == list(df["External ID"].iloc[pick])


def test_split_table_is_frame_level_not_grouped(labels_csv):
    ids = pd.read_csv(labels_csv, dtype=str)["External ID"]
    df = pd.DataFrame({"external_id": ids, "group": ids.str.split(".avi").str[0]})
    out = easier2025_split(df, labels_csv)
    assert set(out.loc[out["fold"] == 0, "external_id"]) == set(published_split(labels_csv)[1])
    assert set(out["fold"]) == {0, TRAIN_ONLY}
    both = out.groupby("group")["fold"].nunique()
    assert (both > 1).any()  # frames of one video on both sides: the published split is not grouped


def test_validation_split_is_base_data_loader_seed_0():
    train = pd.DataFrame({"source_id": [f"f{i}" for i in range(53)]})
    # base/base_data_loader.py _split_sampler
    idx_full = np.arange(len(train))
    np.random.seed(0)
    np.random.shuffle(idx_full)
    len_valid = int(len(train) * 0.1)
    valid_idx = idx_full[0:len_valid]
    tr, val = easier2025_validation_split(train, 0.1)
    assert set(val["source_id"]) == set(train["source_id"].iloc[valid_idx]) and len(val) == 5
    assert len(tr) + len(val) == 53 and not set(tr["source_id"]) & set(val["source_id"])


def test_prepare_run_saves_the_published_split(synthetic_feph, tmp_path):
    from signfer.data.feph import find_feph_files
    from signfer.training.prepare import prepare_run
    from signfer.training.recipes import load_recipe

    recipe = load_recipe("easier2025-published")
    df = prepare_run(recipe, synthetic_feph, tmp_path / "run")
    saved = pd.read_csv(tmp_path / "run" / "folds.csv")
    assert set(saved["fold"]) == {0, TRAIN_ONLY}
    test_ids = set(published_split(find_feph_files(synthetic_feph)[0])[1])
    assert set(df.loc[df["fold"] == 0, "external_id"]) == test_ids
    again = prepare_run(recipe, synthetic_feph, tmp_path / "run")  # the saved file is reused
    assert list(again["fold"]) == list(df["fold"])
