"""`signfer report` on fake runs, and the PNG plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signfer.cli import main
from signfer.evaluation.plots import plot_confusion, plot_history, plot_sensitivity
from signfer.evaluation.report import pooled_confusion, report_runs
from signfer.io import read_image

from .conftest import CLASSES7, make_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_size=(200, 200)):
    assert path.exists(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = read_image(path)
    assert img.shape[0] >= min_size[0] and img.shape[1] >= min_size[1]
    assert img.std() > 10  # something is drawn, not a blank canvas
    return img


def test_signfer_report_two_runs_with_reference(tmp_path, capsys):
    a, b = make_run(tmp_path / "mobilenet"), make_run(tmp_path / "effnet", offset=4)
    out = tmp_path / "report"
    assert main(["report", str(a), str(b), "--out", str(out), "--reference", "sltat2022"]) == 0
    assert "2 run(s), 6 reference row(s)" in capsys.readouterr().out

    csv = pd.read_csv(out / "report.csv", index_col=0)
    assert list(csv.index) == ["mobilenet", "effnet"] + [f"SLTAT'22 T5 {c}" for c in ("M0", "M1", "M2", "E0", "E1", "E2")]
    for col in ["acc", *CLASSES7, "avg_sens"]:
        assert col in csv.columns and f"{col}_std" in csv.columns
    assert csv.loc["mobilenet", "anger"] == pytest.approx(50.0)
    assert csv.loc["SLTAT'22 T5 E2", "happy"] == 82.7
    assert (csv.loc["mobilenet", "source"]) == str(a)

    md = (out / "report.md").read_text()
    assert "| configuration | acc. | anger | disgust | fear | happy | neutral | sad | surprise | avg. sens. | sens. var. |" in md
    assert "| mobilenet | 50.3 (5.5) | 50.0 (15.8) |" in md
    assert "| SLTAT'22 T5 E2 [optimistic] | 62.8 (4.7) |" in md  # Table 5 chose epochs on the test fold
    assert "aclanthology.org/2022.sltat-1.5" in md
    for name in ["sensitivity.png", "confusion_mobilenet.png", "confusion_effnet.png", "history_mobilenet.png", "history_effnet.png"]:
        assert f"]({name})" in md
        assert_png(out / name)
    assert not (a / "summary.csv").exists()  # run dirs are only read


def test_report_names_other_reference_and_none(tmp_path):
    a = make_run(tmp_path / "a")
    t = report_runs([a], names=["full face"], reference="easier2025")
    assert list(t.index) == ["full face"] + [f"EASIER'25 {r}" for r in ("full face", "upper half", "lower half", "full face, batch 32",
                                                                        "human, upper face, hearing", "human, upper face, deaf")]
    assert "none" in t.columns and np.isnan(t.loc["full face", "none"])  # the paper's 8th class ("contempt") = FePh none
    assert list(report_runs([a], reference=None).index) == ["a"]
    assert main(["report", str(a), "--out", str(tmp_path / "r"), "--reference", "none", "--names", "mine"]) == 0
    assert list(pd.read_csv(tmp_path / "r" / "report.csv", index_col=0).index) == ["mine"]
    with pytest.raises(ValueError, match="1 names for 2"):
        report_runs([a, a], names=["x"])


def test_report_errors_name_the_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert "nope: run directory does not exist" in capsys.readouterr().err
    assert main(["report", str(make_run(tmp_path / "a")), "--reference", "nosuch", "--out", str(tmp_path / "r")]) == 2
    assert "unknown reference 'nosuch'" in capsys.readouterr().err


def test_pooled_confusion_sums_folds(fake_run):
    cm, classes = pooled_confusion(fake_run)
    assert classes == CLASSES7
    assert cm.sum() == 5 * 70 and (cm.sum(axis=1) == 50).all()
    assert cm[0, 0] == 3 + 4 + 5 + 6 + 7  # anger right in folds 0..4
    assert cm[0, 1] == 50 - 25  # the rest predicted as disgust


def test_plots_are_valid_pngs(tmp_path):
    cm = [[6, 1, 1], [1, 4, 0], [0, 0, 0]]  # third class has no true samples
    p = plot_confusion(cm, ["anger", "happy", "fear"], tmp_path / "cm.png")
    assert p == tmp_path / "cm.png"
    assert_png(p)
    assert not list(tmp_path.glob(".*part*"))  # no temporary left behind
    p = plot_sensitivity({"A": {"anger": 75.0, "happy": 80.0, "fear": np.nan}, "B": {"anger": 50.0, "happy": 60.0, "fear": 10.0}},
                         tmp_path / "sens.png", errors={"A": {"anger": 5.0, "happy": 2.0, "fear": np.nan}, "B": {"anger": 1.0, "happy": 1.0, "fear": 1.0}})
    assert_png(p)
    hist = pd.DataFrame({"stage": ["head", "all"], "epoch": [1, 1], "train_loss": [1.0, 0.5], "val_acc": [0.3, 0.6]})
    assert_png(plot_history(hist, tmp_path / "hist.png"))
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        plot_confusion(cm, ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="none of the columns"):
        plot_history(pd.DataFrame({"epoch": [1]}), tmp_path / "x.png")
    with pytest.raises(ValueError, match=".png"):
        plot_confusion(cm, ["anger", "happy", "fear"], tmp_path / "x.jpg")


def _mark(run, select_on: str, split: str = "kfold"):
    """Give a fake run the run.yaml / metrics.json of a run trained with ``select_on`` and ``split``."""
    import json

    import yaml

    (run / "run.yaml").write_text(yaml.safe_dump({"recipe": {"name": "M2", "select_on": select_on, "split": split,
                                                             "stages": [{"epochs": 1}]}, "k": 5}))
    for m in run.glob("fold_*/metrics.json"):
        d = json.loads(m.read_text())
        d["selection"] = {"on": select_on, "metric": "val_acc", "scope": "stage", "optimistic": select_on == "test"}
        m.write_text(json.dumps(d))
    return run


def test_published_and_honest_protocols_side_by_side(tmp_path):
    honest = _mark(make_run(tmp_path / "M2"), "validation")
    published = _mark(make_run(tmp_path / "M2-test", offset=2), "test")
    frames = _mark(make_run(tmp_path / "e25-published", offset=1), "validation", split="easier2025")
    out = tmp_path / "report"
    assert main(["report", str(honest), str(published), str(frames), "--out", str(out)]) == 0
    csv = pd.read_csv(out / "report.csv", index_col=0)
    assert list(csv.loc[["M2", "M2-test", "e25-published"], "optimistic"]) == [False, True, True]
    assert "select on TEST fold (optimistic)" in csv.loc["M2-test", "protocol"]
    assert csv.loc["M2", "protocol"] == "grouped k-fold, select on validation"
    assert "80/20 frame split (not grouped)" in csv.loc["e25-published", "protocol"]
    md = (out / "report.md").read_text()
    assert "| M2 | " in md and "| M2-test [optimistic] | " in md and "| e25-published [optimistic] | " in md
    assert "- [optimistic]: M2-test, e25-published" in md


def _name_recipe(run, name: str):
    import yaml

    (run / "run.yaml").write_text(yaml.safe_dump({"recipe": {"name": name, "select_on": "test", "stages": [{"epochs": 1}]}, "k": 5}))
    return run


def test_each_reference_row_keeps_its_std_convention_and_folds(tmp_path, capsys):
    """Table 5's M0 std is the population std (44.1 (4.7) from folds 40.43 ... 38.46), M2's and E0's the sample std:
    a run of M0 is printed with ddof 0, one of M2 with ddof 1, and the published per-fold accuracies beside the run's."""
    from signfer.evaluation.summary import kfold_table, per_fold_lines, reference_table, summarize_run

    ref = reference_table("sltat2022")
    for row, ddof, folds in (("M0", 0, [40.43, 48.13, 42.80, 50.89, 38.46]), ("M2", 1, [66.07, 58.58, 63.91, 63.91, 59.37]),
                             ("E0", 1, [47.14, 49.31, 43.59, 49.90, 38.66])):
        r = ref.loc[f"SLTAT'22 T5 {row}"]
        assert r["ddof"] == ddof and r["fold_acc"] == " / ".join(f"{v:.2f}" for v in folds)
        # the transcribed folds give the published mean (std) only with the row's own convention
        assert (round(np.mean(folds), 1), round(float(np.std(folds, ddof=ddof)), 1)) == (r["acc"], r["acc_std"])
    m0 = _name_recipe(make_run(tmp_path / "M0"), "M0")
    m2 = _name_recipe(make_run(tmp_path / "M2", offset=3), "M2")
    table = kfold_table([m0, m2], reference="sltat2022")
    accs = summarize_run(m0, write=False).loc[[f"fold_{k}" for k in range(5)], "acc"]
    assert table.loc["M0", "ddof"] == 0 and table.loc["M0", "acc_std"] == pytest.approx(float(np.std(accs, ddof=0)))
    assert table.loc["M0", "reference_row"] == "SLTAT'22 T5 M0"
    accs2 = summarize_run(m2, write=False).loc[[f"fold_{k}" for k in range(5)], "acc"]
    assert table.loc["M2", "ddof"] == 1 and table.loc["M2", "acc_std"] == pytest.approx(float(np.std(accs2, ddof=1)))
    lines = per_fold_lines(table)
    assert any(line.startswith("- M0: accuracy per fold") and "ddof 0" in line and "40.43 / 48.13" in line for line in lines)
    out = tmp_path / "report"
    assert main(["report", str(m0), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SLTAT'22 T5 M0 (published) accuracy per fold: 40.43 / 48.13 / 42.80 / 50.89 / 38.46 = 44.1 (4.7, ddof 0)" in printed
    assert "SLTAT'22 T5 M2 (published) accuracy per fold: 66.07 / 58.58 / 63.91 / 63.91 / 59.37 = 62.4 (3.2, ddof 1)" in printed
    md = (out / "report.md").read_text()
    assert "## Accuracy per fold" in md and "M0 (ddof 0, as SLTAT'22 T5 M0)" in md
