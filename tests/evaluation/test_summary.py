"""k-fold summaries of a fake run dir (rundir.md format) and the published reference rows."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest

from signfer.evaluation.summary import kfold_table, reference_table, run_names, summarize_run, to_markdown
from signfer.io import InputError

from .conftest import CLASSES7, PER_CLASS, correct_count, make_run


def expected_fold_figures(k=5, offset=0):
    """Per-fold figures worked out from the construction (not from signfer): percent, variance as fraction."""
    out = []
    for f in range(k):
        sens = [correct_count(f, i, offset) / PER_CLASS for i in range(len(CLASSES7))]
        out.append({
            "acc": 100 * sum(correct_count(f, i, offset) for i in range(7)) / (7 * PER_CLASS),
            **{c: 100 * s for c, s in zip(CLASSES7, sens)},
            "avg_sens": 100 * statistics.fmean(sens),
            "sens_var": statistics.pvariance(sens),
        })
    return out


def test_summarize_run_has_every_column_with_mean_and_std(fake_run):
    s = summarize_run(fake_run)
    assert list(s.columns) == ["n", "acc", *CLASSES7, "avg_sens", "sens_var", "fold_sens_var"]
    assert list(s.index) == ["fold_0", "fold_1", "fold_2", "fold_3", "fold_4", "mean", "std"]
    exp = expected_fold_figures()
    for e in exp:
        e["fold_sens_var"] = e["sens_var"]  # one fold: its own variance among classes
    for col in ["acc", *CLASSES7, "avg_sens", "fold_sens_var"]:
        values = [e[col] for e in exp]
        assert [s.loc[f"fold_{f}", col] for f in range(5)] == pytest.approx(values)
        assert s.loc["mean", col] == pytest.approx(statistics.fmean(values)), col
        assert s.loc["std", col] == pytest.approx(statistics.stdev(values)), col  # sample std over folds
    # sens_var: the 2025 paper's variance among classes of the FINAL per-class sensitivities (the class means)
    final = [statistics.fmean(e[c] for e in exp) / 100 for c in CLASSES7]
    assert s.loc["mean", "sens_var"] == pytest.approx(statistics.pvariance(final))
    assert math.isnan(s.loc["std", "sens_var"])
    assert [s.loc[f"fold_{f}", "sens_var"] for f in range(5)] == pytest.approx([e["sens_var"] for e in exp])
    # spot values by hand: fold 0 anger 3/10, fold 4 fear (3+4+4)%11 = 0 -> 0 %
    assert s.loc["fold_0", "anger"] == pytest.approx(30.0)
    assert s.loc["fold_4", "fear"] == pytest.approx(0.0)
    assert s.loc["mean", "anger"] == pytest.approx(50.0)  # (30+40+50+60+70)/5
    assert s.loc["std", "anger"] == pytest.approx(15.8114, abs=1e-4)  # sqrt(250)
    assert s.loc["mean", "n"] == 70
    # files written next to the folds
    assert pd.read_csv(fake_run / "summary.csv", index_col=0).loc["mean", "anger"] == pytest.approx(50.0)
    md = (fake_run / "summary.md").read_text()
    assert "| runA | 50.3 (5.5) | 50.0 (15.8) |" in md
    assert "| fold_4 | 70 |" in md


def test_predictions_csv_stands_in_for_missing_metrics_json(tmp_path):
    with_json = summarize_run(make_run(tmp_path / "a"), write=False)
    without = summarize_run(make_run(tmp_path / "b", metrics_json=False), write=False)
    pd.testing.assert_frame_equal(with_json, without)


def test_single_fold_run_has_nan_std(tmp_path):
    s = summarize_run(make_run(tmp_path / "one", k=1), write=False)
    assert math.isnan(s.loc["std", "acc"])
    assert "| one | 42.9 |" in to_markdown(kfold_table({"one": s}))


def test_not_a_run_dir_is_named(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        summarize_run(tmp_path / "missing")
    (tmp_path / "empty" / "fold_0").mkdir(parents=True)
    with pytest.raises(InputError, match="empty.*no fold_<k>/metrics.json"):
        summarize_run(tmp_path / "empty")
    run = make_run(tmp_path / "broken")
    (run / "fold_2" / "metrics.json").write_text("{not json")
    with pytest.raises(InputError, match="fold_2/metrics.json"):
        summarize_run(run)


def test_kfold_table_table5_layout_with_reference(tmp_path):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", offset=4)
    table = kfold_table({"A": a, "B": b}, reference="sltat2022")
    assert list(table.index[:2]) == ["A", "B"]
    assert list(table.index[2:]) == [f"SLTAT'22 T5 {c}" for c in ("M0", "M1", "M2", "E0", "E1", "E2")]
    figures = ["acc", *CLASSES7, "avg_sens", "sens_var", "fold_sens_var"]
    assert [c for c in table.columns if not c.endswith("_std") and c not in ("kind", "folds", "protocol", "optimistic", "source",
                                                                            "ddof", "fold_acc", "reference_row")] == figures
    exp_b = expected_fold_figures(offset=4)
    assert table.loc["B", "acc"] == pytest.approx(statistics.fmean(e["acc"] for e in exp_b))
    assert table.loc["B", "sad_std"] == pytest.approx(statistics.stdev(e["sad"] for e in exp_b))
    assert table.loc["B", "folds"] == 5 and table.loc["B", "kind"] == "run"
    m2 = table.loc["SLTAT'22 T5 M2"]
    assert (m2["acc"], m2["acc_std"], m2["anger"], m2["neutral_std"], m2["avg_sens"], m2["avg_sens_std"]) == (62.4, 3.2, 73.7, 22.3, 54.6, 12.4)
    assert m2["kind"] == "reference" and "aclanthology.org/2022.sltat-1.5" in m2["source"]
    md = to_markdown(table)
    assert md.splitlines()[0] == ("| configuration | acc. | anger | disgust | fear | happy | neutral | sad | surprise | avg. sens. "
                                  "| sens. var. | mean fold sens. var. |")
    # the published rows chose their epochs on the test fold: marked wherever their numbers appear
    assert table.loc["SLTAT'22 T5 M2", "optimistic"] and not table.loc["A", "optimistic"]
    assert "| SLTAT'22 T5 M2 [optimistic] | 62.4 (3.2) | 73.7 (5.9) | 41.9 (14.1) | 23.6 (9.6) | 53.7 (12.2) | 50.2 (22.3) | 57.2 (16.1) | 82.1 (6.7) | 54.6 (12.4) |  |" in md


def test_avg_sens_std_as_in_sltat_table5_is_mean_of_class_stds(fake_run):
    s = summarize_run(fake_run, write=False)
    t = kfold_table({"A": s}, avg_sens_std="classes")
    assert t.loc["A", "avg_sens_std"] == pytest.approx(statistics.fmean(s.loc["std", c] for c in CLASSES7))
    # the published Table 5 follows that convention: M0's 9.4 = mean of its class stds
    m0 = reference_table("sltat2022").loc["SLTAT'22 T5 M0"]
    assert m0["avg_sens_std"] == pytest.approx(statistics.fmean(m0[f"{c}_std"] for c in CLASSES7), abs=0.05)


def test_reference_tables():
    t4 = reference_table("sltat2022:table4")
    assert len(t4) == 12
    m2 = t4.loc["SLTAT'22 T4 MobileNet FT-SGD + IP + HF (M2)"]
    assert (m2["acc"], m2["fear"], m2["avg_sens"]) == (67.0, 40.4, 59.3) and math.isnan(m2["acc_std"])
    assert t4.loc["SLTAT'22 T4 EfficientNet FT-SGD + SAM + HF", "happy"] == 89.5
    e = reference_table("easier2025")
    full = e.loc["EASIER'25 full face"]
    assert (full["avg_sens"], full["sens_var"]) == (83.8, 0.042)
    assert e.loc["EASIER'25 upper half", "avg_sens"] == 77.9
    assert e.loc["EASIER'25 lower half", "avg_sens"] == 79.6
    assert e.loc["EASIER'25 full face, batch 32", "avg_sens"] == 75.9
    assert e.loc["EASIER'25 human, upper face, hearing", "avg_sens"] == 68.34
    assert e.loc["EASIER'25 human, upper face, deaf", "avg_sens"] == 60.17
    assert "none" in e.columns and "contempt" not in e.columns  # the paper's "contempt" = FePh code 7 "none"
    assert full["optimistic"]  # frame-level split, not grouped
    assert not e.loc["EASIER'25 human, upper face, deaf", "optimistic"]  # human observers: no split at all
    with pytest.raises(KeyError, match="no table 'table9'"):
        reference_table("sltat2022:table9")
    with pytest.raises(KeyError, match="unknown reference"):
        reference_table("nosuchpaper")


def test_run_names_disambiguate(tmp_path):
    assert run_names([tmp_path / "x" / "run", tmp_path / "y" / "run"]) == ["x/run", "y/run"]
    assert run_names([tmp_path / "a", tmp_path / "b"]) == ["a", "b"]


def test_paper_variance_vs_mean_of_fold_variances_on_known_numbers(tmp_path):
    """Two folds with known per-class sensitivities: numpy gives both definitions."""
    import json

    import numpy as np

    run = tmp_path / "run"
    folds = {0: [0.9, 0.5, 0.7], 1: [0.5, 0.9, 0.7]}  # classes swap places between folds
    for k, sens in folds.items():
        (run / f"fold_{k}").mkdir(parents=True)
        metrics = {"n": 30, "accuracy": 0.7, "sensitivity": dict(zip(["a", "b", "c"], sens)),
                   "mean_sensitivity": float(np.mean(sens)), "sensitivity_variance": float(np.var(sens))}
        (run / f"fold_{k}" / "metrics.json").write_text(json.dumps(metrics))
    s = summarize_run(run, write=False)
    # final per-class sensitivities: (0.7, 0.7, 0.7) -> no variance among classes (the paper's figure)
    assert s.loc["mean", "sens_var"] == pytest.approx(np.var([0.7, 0.7, 0.7])) == pytest.approx(0.0)
    # the mean of the folds' own variances is not 0: np.var([.9, .5, .7]) = 0.02667
    assert s.loc["mean", "fold_sens_var"] == pytest.approx(np.mean([np.var(v) for v in folds.values()]))
    assert s.loc["mean", "fold_sens_var"] == pytest.approx(0.08 / 3)
    t = kfold_table({"R": s}, reference="easier2025")
    assert t.loc["R", "sens_var"] == pytest.approx(0.0) and math.isnan(t.loc["R", "sens_var_std"])
    assert t.loc["EASIER'25 full face", "sens_var"] == 0.042  # same definition as the paper's row


def test_report_compares_with_the_reference_rows_convention(fake_run):
    s = summarize_run(fake_run, write=False)
    classes = kfold_table({"A": s}, avg_sens_std="classes").loc["A", "avg_sens_std"]
    folds = kfold_table({"A": s}, avg_sens_std="folds").loc["A", "avg_sens_std"]
    assert classes != pytest.approx(folds)
    # Table 5's avg. sens. std is the mean of its class stds: the default follows the reference row's convention
    assert kfold_table({"A": s}, reference="sltat2022").loc["A", "avg_sens_std"] == pytest.approx(classes)
    assert kfold_table({"A": s}, reference="easier2025").loc["A", "avg_sens_std"] == pytest.approx(folds)
    assert kfold_table({"A": s}).loc["A", "avg_sens_std"] == pytest.approx(folds)
