"""One naming rule and one done-marker for `annotate` and `annotate-corpus`: a rerun with the same input, model
files and options skips; another option, model or a replaced checkpoint file re-annotates and says why; an output a
person changed since signfer wrote it (an EAF corrected in ELAN) is never replaced."""

from __future__ import annotations

import pytest

import shutil

import pandas as pd

from signfer.annotate.done import DoneMarkers, input_fingerprint, output_names
from signfer.cli import main

from .conftest import tiny_checkpoint, write_list


def _annotate(capsys, inputs, out, *flags) -> tuple[int, str, pd.DataFrame]:
    rc = main(["annotate", *map(str, inputs), "--out", str(out), "--threads", "1", "--no-progress", "--formats", "csv,eaf", *map(str, flags)])
    text = capsys.readouterr().out
    return rc, text, pd.read_csv(out / "annotate_summary.csv", keep_default_na=False).set_index("name")


def _stamps(folder, pattern="*"):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.glob(pattern)) if p.is_file()}


def test_rerun_skips_same_settings_and_redoes_another_option_or_a_replaced_checkpoint(clips, tmp_path, capsys):
    run_dir = tmp_path / "run"
    tiny_checkpoint(run_dir / "fold_0" / "best.pt", seed=0)
    out = tmp_path / "ann"
    rc, text, summary = _annotate(capsys, clips[:2], out, "--model", run_dir)
    assert rc == 0 and (summary["status"] == "ok").all() and (summary["reason"] == "new input (no earlier run)").all()
    first = _stamps(out)

    rc, text, summary = _annotate(capsys, clips[:2], out, "--model", run_dir)  # the same settings: skipped, and said so
    assert rc == 0 and (summary["status"] == "skipped").all(), summary
    assert f"{clips[0]}: skipped: done in an earlier run with the same input, models and options" in text
    assert _stamps(out, "clip*") == {k: v for k, v in first.items() if k.startswith("clip")}

    rc, text, summary = _annotate(capsys, clips[:2], out, "--model", run_dir, "--smooth", "3")  # another option (a window of
    # frames instead of the default 0.2 s, which also drops the default 200 ms minimum segment)
    assert rc == 0 and (summary["status"] == "ok").all() and (summary["reason"] == "options changed: min_duration_ms, smoothing").all(), summary
    assert f"{clips[0]}: annotated again: options changed: min_duration_ms, smoothing" in text
    assert "smooth_label" in pd.read_csv(out / "clip0.csv")
    before = pd.read_csv(out / "clip0.csv")

    # a new checkpoint in the same place: the same description ("run fold 0"), another model
    tiny_checkpoint(run_dir / "fold_0" / "best.pt", seed=1)
    rc, text, summary = _annotate(capsys, clips[:2], out, "--model", run_dir, "--smooth", "3")
    assert rc == 0 and (summary["status"] == "ok").all(), summary
    assert summary.loc["clip0", "reason"] == f"the model changed: full model file {run_dir.resolve() / 'fold_0' / 'best.pt'} changed"
    after = pd.read_csv(out / "clip0.csv")
    assert not after["p_happy"].equals(before["p_happy"])  # other weights, other numbers

    rc, text, summary = _annotate(capsys, clips[:2], out, "--model", "fer2013", "--smooth", "3")  # another model
    assert summary.loc["clip0", "reason"].startswith(f"the model changed: full model {run_dir} fold 0 -> fer2013")

    rc, text, summary = _annotate(capsys, clips[:2], out, "--smooth", "3", "--formats", "csv")  # fewer formats
    assert summary.loc["clip0", "reason"] == "options changed: outputs.formats"
    assert (out / "clip0.csv").exists() and not (out / "clip0.eaf").exists()  # signfer's stale EAF would disagree with the CSV


def test_an_edited_eaf_survives_every_rerun_and_a_new_video_is_annotated(clips, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for c in clips[:2]:
        shutil.copy(c, videos / c.name)
    out = tmp_path / "ann"
    rc, _, _ = _annotate(capsys, [videos], out)
    assert rc == 0
    eaf = out / "clip0.eaf"
    edited = eaf.read_bytes().replace(b"<ANNOTATION_VALUE>happy</ANNOTATION_VALUE>", b"<ANNOTATION_VALUE>neutral</ANNOTATION_VALUE>", 1)
    assert edited != eaf.read_bytes()
    eaf.write_bytes(edited)  # an annotator's correction, saved in place by ELAN
    kept = _stamps(out, "clip0.*")
    shutil.copy(clips[2], videos / clips[2].name)  # a new video in the folder

    rc, text, summary = _annotate(capsys, [videos], out)
    assert rc == 0 and summary.loc["clip2", "status"] == "ok" and (out / "clip2.eaf").exists()
    assert summary.loc["clip1", "status"] == "skipped"
    assert summary.loc["clip0", "status"] == "kept" and str(eaf) in summary.loc["clip0", "reason"]
    assert f"{videos / 'clip0.avi'}: not annotated: {eaf} changed after signfer wrote it" in text
    assert _stamps(out, "clip0.*") == kept and eaf.read_bytes() == edited

    rc, text, summary = _annotate(capsys, [videos], out, "--smooth", "5")  # other options: the others are redone, not clip0
    assert rc == 0 and summary.loc["clip0", "status"] == "kept" and (summary.loc[["clip1", "clip2"], "status"] == "ok").all()
    assert _stamps(out, "clip0.*") == kept


def test_the_corpus_decides_the_same_way_and_lists_every_input(clips, tmp_path):
    from signfer.annotate.options import AnnotationOptions, ModelOptions, OutputOptions
    from signfer.annotate.smoothing import Smoothing
    from signfer.scale.corpus import annotate_corpus

    out = tmp_path / "corpus"
    listing = write_list(clips[:2], tmp_path / "list.txt")
    kw = dict(models=ModelOptions(threads=1), outputs=OutputOptions(("csv", "eaf")), log=lambda s: None)
    assert (annotate_corpus(listing, out, **kw)["status"] == "ok").all()
    again = annotate_corpus(listing, out, **kw).set_index("name")
    assert (again["status"] == "skipped").all() and (again["reason"] == "done in an earlier run with the same input, models and options").all()

    eaf = out / "videos" / "clip0" / "clip0.eaf"
    edited = eaf.read_bytes().replace(b"</ANNOTATION_DOCUMENT>", b"<!-- checked by R.M. -->\n</ANNOTATION_DOCUMENT>")
    eaf.write_bytes(edited)
    (out / "videos" / "clip1" / "clip1.pfsx").write_text("ELAN preferences")  # ELAN's file beside an EAF
    write_list(clips, listing)  # a third video joins the corpus
    smoother = AnnotationOptions(smoothing=Smoothing("moving", 3))
    table = annotate_corpus(listing, out, options=smoother, **kw).set_index("name")
    assert table.loc["clip0", "status"] == "kept" and str(eaf) in table.loc["clip0", "reason"]
    assert table.loc["clip1", "status"] == "ok" and table.loc["clip1", "reason"] == "options changed: smoothing"
    assert table.loc["clip2", "status"] == "ok" and table.loc["clip2", "reason"] == "new input (no earlier run)"
    assert eaf.read_bytes() == edited and (out / "videos" / "clip1" / "clip1.pfsx").read_text() == "ELAN preferences"
    assert "smooth_label" in pd.read_csv(out / "videos" / "clip1" / "clip1.csv")
    log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False).set_index("name")
    assert sorted(log.index) == ["clip0", "clip1", "clip2"] and log.loc["clip0", "status"] == "kept"


def test_names_stay_when_inputs_are_added(tmp_path):
    a, b = tmp_path / "x" / "clip.avi", tmp_path / "y" / "clip.avi"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"video " + p.parent.name.encode())
    assert output_names([b]) == ["clip"]
    done = DoneMarkers(tmp_path / "out", {"models": {}, "options": {}})
    out = tmp_path / "out" / "clip.csv"
    out.parent.mkdir()
    out.write_text("rows")
    done.mark("clip", b, [out])
    names = output_names([a, b], done.earlier_names())  # a joins before b: b keeps its name
    assert names[1] == "clip" and names[0].startswith("clip-") and len(names[0]) == len("clip-") + 8
    assert output_names([a], done.earlier_names()) == names[:1]  # b not in this run, but there: its outputs are not a's
    moved = tmp_path / "z" / "clip.avi"
    moved.parent.mkdir()
    b.rename(moved)
    assert output_names([moved], done.earlier_names()) == ["clip"] and done.decide("clip", moved).action == "skip"  # moved: found again
    moved.rename(b)
    # the input is known by its bytes (size + SHA-256 of samples), not its modification time
    before = input_fingerprint(b)
    b.touch()
    assert input_fingerprint(b) == before and done.decide("clip", b).action == "skip"
    b.write_bytes(b"video Y")
    assert done.decide("clip", b).reason == "the input file changed"


@pytest.mark.invalid_eaf  # writes a minimal / broken EAF on purpose
def test_an_older_signfers_marker_still_protects_edited_outputs(tmp_path):
    """Markers written before output hashes (size + modification time of each output): an output that changed since
    is kept; otherwise the input is annotated again, saying why."""
    import json
    import os

    src, out = tmp_path / "in.avi", tmp_path / "out"
    src.write_bytes(b"video")
    (out / ".signfer-done").mkdir(parents=True)
    csv, eaf = out / "in.csv", out / "in.eaf"
    csv.write_text("rows")
    eaf.write_text("<ANNOTATION_DOCUMENT/>")
    old = {"settings": "0" * 64, "input": {"path": str(src), "size": 5, "mtime_ns": src.stat().st_mtime_ns},
           "outputs": {str(p): {"path": str(p), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in (csv, eaf)}}
    (out / ".signfer-done" / "in.json").write_text(json.dumps(old))
    done = DoneMarkers(out, {"options": {}})
    assert done.decide("in", src).action == "annotate" and "older signfer" in done.decide("in", src).reason
    eaf.write_text("<ANNOTATION_DOCUMENT>corrected</ANNOTATION_DOCUMENT>")
    os.utime(eaf, ns=(eaf.stat().st_atime_ns, eaf.stat().st_mtime_ns + 10**9))
    decision = done.decide("in", src)
    assert decision.action == "keep" and str(eaf) in decision.reason
