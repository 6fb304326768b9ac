"""Hostile and careless inputs (issue 13): they never cost memory, data or a silent wrong result.

One test (or a few) per case of the issue; each failed before the fix (see the fault table in the
integrator's note). Media: the fault corpus of ``make_corpus.py`` (its ``hostile/`` part) and the
astronaut portrait; the commands run as real processes where memory, signals or concurrency matter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signfer.errors import UserError
from signfer.io import InputError, read_image

from .make_corpus import make_hostile, upright_portrait, write_video
from .test_faults import REPO, partial_files, run_cli

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    return make_hostile(tmp_path_factory.mktemp("hostile"))


def run_measured(args: list, timeout: float = 180, env: dict | None = None) -> tuple[int, str, str, float]:
    """Run ``python ARGS`` as a child; (exit code, stdout, stderr, the child's own peak RSS in MB, from wait4)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, env={**ENV, **(env or {})}, stdout=out, stderr=err, text=True)
        deadline = time.time() + timeout
        while True:  # reap it ourselves: wait4 gives this child's rusage (RUSAGE_CHILDREN would mix in earlier children)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024


def cli(*args) -> list:
    return ["-m", "signfer.cli", *args]


@pytest.fixture
def signfer(capsys, monkeypatch):
    """``signfer ARGS`` in this process (no interpreter start-up): (exit code, stdout, stderr); environment
    changes of the command (--max-image-pixels) are undone afterwards."""
    from signfer.cli import main

    monkeypatch.setenv("SIGNFER_MAX_IMAGE_PIXELS", os.environ.get("SIGNFER_MAX_IMAGE_PIXELS", ""))

    def run(*args):
        capsys.readouterr()
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            rc = exc.code
        out, err = capsys.readouterr()
        return rc, out, err

    return run


# --------------------------------------------------------------------------- 1. decompression bombs
def test_bomb_header_is_read_without_decoding(hostile):
    from signfer.io import image_header

    with open(hostile["bomb"], "rb") as fh:
        head = image_header(fh.read(1 << 16))
    assert (head.format, head.width, head.height) == ("png", 30000, 30000)
    assert hostile["bomb"].stat().st_size < 5_000_000  # a few MB on disk, 2.7 GB decoded


def test_bomb_is_refused_by_read_image_in_bounded_memory(hostile):
    """The child reads the 30000 x 30000 PNG: a clear InputError, and its peak RSS stays near an idle interpreter's."""
    code = ("import sys\nfrom signfer.io import InputError, read_image\n"
            "try:\n    read_image(sys.argv[1])\nexcept InputError as e:\n    print('REFUSED', e.reason)\n")
    rc, out, err, peak = run_measured(["-c", code, hostile["bomb"]])
    assert rc == 0, err
    assert out.startswith("REFUSED") and "30000 x 30000" in out and "megapixels" in out, out
    _, _, _, idle = run_measured(["-c", "import signfer.io"])
    assert peak < idle + 150, f"peak RSS {peak:.0f} MB vs {idle:.0f} MB for importing signfer.io"  # decoding = +2700 MB


def test_preprocess_with_a_bomb_records_it_and_goes_on(hostile, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(hostile["bomb"], images / "bomb.png")
    shutil.copy(hostile["orient_png_1"], images / "portrait.png")
    rc, out, err, peak = run_measured(cli("preprocess", images, tmp_path / "crops", "--preset", "none", "--size", "32", "--no-progress"))
    assert rc == 0, err
    manifest = pd.read_csv(tmp_path / "crops" / "manifest.csv").set_index("source")
    assert manifest.loc["bomb.png", "status"] == "error" and "megapixels" in manifest.loc["bomb.png", "reason"]
    assert manifest.loc["portrait.png", "status"] == "ok"
    shutil.copy(hostile["orient_png_1"], images / "bomb.png")  # the same run without the bomb
    _, _, _, normal = run_measured(cli("preprocess", images, tmp_path / "crops2", "--preset", "none", "--size", "32", "--no-progress"))
    assert peak < normal + 150, f"peak RSS {peak:.0f} MB with the bomb, {normal:.0f} MB without"


def test_pixel_limit_is_configurable(tmp_path, monkeypatch, signfer):
    from signfer.annotate.video import open_media
    from signfer.io import write_image

    small = tmp_path / "small.png"
    write_image(small, np.zeros((40, 50, 3), np.uint8))
    assert read_image(small).shape == (40, 50, 3)
    with pytest.raises(InputError, match="megapixels"):
        read_image(small, max_pixels=1999)
    monkeypatch.setenv("SIGNFER_MAX_IMAGE_PIXELS", "1999")
    with pytest.raises(InputError, match="above the limit"):
        read_image(small)
    clip = write_video(tmp_path / "clip.avi", frames=3, size=(48, 64))
    with pytest.raises(InputError, match="megapixels"):  # video frames too
        open_media(clip)
    monkeypatch.setenv("SIGNFER_MAX_IMAGE_PIXELS", "0")  # no limit
    assert read_image(small).shape == (40, 50, 3)
    monkeypatch.setenv("SIGNFER_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(UserError, match="SIGNFER_MAX_IMAGE_PIXELS"):
        read_image(small)
    monkeypatch.delenv("SIGNFER_MAX_IMAGE_PIXELS")
    import cv2  # a format the header reader does not parse (PPM): OpenCV's own check, set from the same limit

    cv2.imwrite(str(tmp_path / "small.ppm"), np.zeros((40, 50, 3), np.uint8))
    code = "import sys\nfrom signfer.io import InputError, read_image\ntry:\n    print(read_image(sys.argv[1]).shape)\nexcept InputError as e:\n    print(e.reason)\n"
    for limit, expect in (("1000", "above the limit of 0.001 megapixels"), ("", "(40, 50, 3)")):
        rc, out, err, _ = run_measured(["-c", code, tmp_path / "small.ppm"], env={"SIGNFER_MAX_IMAGE_PIXELS": limit})
        assert rc == 0 and expect in out, (limit, out, err)
    out = tmp_path / "crops"  # the command-line option
    rc, _, err = signfer("preprocess", small, out, "--preset", "none", "--size", "16", "--max-image-pixels", "1000", "--no-progress")
    assert rc == 1 and "no crop was written" in err
    assert "above the limit" in pd.read_csv(out / "manifest.csv")["reason"].iloc[0]


# --------------------------------------------------------------------------- 2. concurrent runs into one folder
@pytest.mark.slow
def test_two_concurrent_overlay_runs_into_one_folder_both_finish_complete(tiny_model, tmp_path):
    import cv2

    video = write_video(tmp_path / "clip.avi", frames=60, size=(96, 128))
    out = tmp_path / "ann"
    args = [sys.executable, "-m", "signfer.cli", "annotate", str(video), "--model", str(tiny_model), "--out", str(out),
            "--overlay", "--backend", "torch", "--threads", "1", "--no-progress"]
    procs = [subprocess.Popen(args, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    cap = cv2.VideoCapture(str(out / "clip.overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 60
    assert len(pd.read_csv(out / "clip.csv")) == 60
    assert json.loads((out / "clip.json").read_text())["summary"]["frames"] == 60
    summary = pd.read_csv(out / "annotate_summary.csv")
    assert summary["status"].tolist() in (["ok"], ["skipped"])
    assert partial_files(out) == []


def test_atomic_path_temporary_names_are_unique_per_process_and_call(tmp_path):
    from signfer.io import atomic_path

    target = tmp_path / "x.overlay.mp4"
    with atomic_path(target) as a, atomic_path(target) as b:
        assert a != b and a.suffix == b.suffix == ".mp4" and f"-{os.getpid()}-" in a.name
        a.write_bytes(b"a")
        b.write_bytes(b"b")
    assert target.read_bytes() == b"a" and partial_files(tmp_path) == []


# --------------------------------------------------------------------------- 3. no command writes over its own inputs
@pytest.fixture
def run_dir(tiny_model, tmp_path) -> Path:
    run = tmp_path / "run"
    (run / "fold_0").mkdir(parents=True)
    shutil.copy(tiny_model, run / "fold_0" / "best.pt")
    return run


def test_export_refuses_to_write_over_the_checkpoint(run_dir, tmp_path, signfer):
    best = run_dir / "fold_0" / "best.pt"
    before = best.read_bytes()
    rc, _, err = signfer("export", run_dir, "--out", best)  # `signfer export RUN --out RUN/fold_0/best.pt`
    assert rc == 2 and "best.pt" in err and "destroy" in err, err
    link = tmp_path / "model.pt"  # the input through a symbolic link
    link.symlink_to(best)
    rc, _, err = signfer("export", link, "--out", best)
    assert rc == 2 and "destroy" in err
    other = run_dir / "other.pt"  # another checkpoint is protected as well
    shutil.copy(best, other)
    rc, _, err = signfer("export", best, "--out", other)
    assert rc == 2 and "model file" in err
    assert best.read_bytes() == before and other.read_bytes() == before


def test_annotate_refuses_to_write_an_output_over_its_input(corpus_video, tiny_model, tmp_path, signfer):
    out = tmp_path / "ann"
    out.mkdir()
    disguised = out / "clip.json"  # a video with a .json name: its JSON output would be the input itself
    shutil.copy(corpus_video, disguised)
    before = disguised.read_bytes()
    rc, _, _ = signfer("annotate", disguised, "--model", tiny_model, "--out", out, "--backend", "torch", "--threads", "1", "--no-progress")
    assert rc == 1
    assert disguised.read_bytes() == before
    summary = pd.read_csv(out / "annotate_summary.csv")
    assert summary["status"].tolist() == ["error"] and "input" in summary["error"].iloc[0]


def test_preprocess_refuses_its_input_folder_as_output(tmp_path, signfer):
    from signfer.io import write_image

    images = tmp_path / "images"
    write_image(images / "a.png", np.full((20, 20, 3), 100, np.uint8))
    link = tmp_path / "crops"
    link.symlink_to(images)
    for inp, out in ((images, images), (images, link), (images / "a.png", images)):
        rc, _, err = signfer("preprocess", inp, out, "--preset", "none", "--no-progress")
        assert rc == 2 and "input folder" in err
    assert read_image(images / "a.png").shape == (20, 20, 3) and not (images / "manifest.csv").exists()


def test_refuse_overwrite_guard():
    from signfer.io import refuse_overwrite

    refuse_overwrite([REPO / "does_not_exist.csv"], [REPO / "pyproject.toml"])
    with pytest.raises(UserError, match="destroy"):
        refuse_overwrite([REPO / "pyproject.toml"], [REPO / "signfer" / ".." / "pyproject.toml"])


# --------------------------------------------------------------------------- 4. EXIF orientation
@pytest.mark.parametrize("kind", ["png", "jpg"])
def test_every_exif_orientation_reads_upright(hostile, kind):
    from PIL import Image, ImageOps

    upright = upright_portrait()
    ref = np.asarray(Image.open(hostile[f"orient_{kind}_1"]).convert("RGB"))
    for o in range(1, 9):
        path = hostile[f"orient_{kind}_{o}"]
        stored = Image.open(path)
        assert stored.getexif().get(0x0112) == o
        if o in (5, 6, 7, 8):
            assert stored.size == (upright.shape[0], upright.shape[1])  # stored sideways
        viewer = np.asarray(ImageOps.exif_transpose(stored).convert("RGB"))  # what a photo viewer shows (Pillow)
        img = read_image(path)
        assert img.shape == upright.shape, o
        if kind == "png":
            np.testing.assert_array_equal(img, upright)
            np.testing.assert_array_equal(viewer, upright)
        else:  # JPEG: lossy, each orientation's blocks fall differently; Pillow's upright decoding is the reference
            assert np.abs(img.astype(int) - viewer.astype(int)).mean() < 1.0, o
            assert np.abs(img.astype(int) - ref.astype(int)).mean() < 4.0, o


@pytest.fixture(scope="module")
def oriented_haar(hostile, tmp_path_factory):
    """signfer preprocess (Haar preset, as SLTAT 2022) over the JPEG portraits of every orientation."""
    from signfer.cli import main

    out = tmp_path_factory.mktemp("oriented") / "crops"
    assert main(["preprocess", str(hostile["orient_jpg_1"].parent), str(out), "--preset", "sltat2022", "--size", "64", "--no-progress"]) == 0
    return out, pd.read_csv(out / "manifest.csv").set_index("source")


def test_preprocess_finds_the_face_in_every_orientation(oriented_haar):
    out, manifest = oriented_haar
    assert len(manifest) == 8
    assert (manifest["status"] == "ok").all() and (manifest["reason"].isna()).all(), manifest[["status", "reason"]]
    assert (manifest["width"] == 240).all() and (manifest["height"] == 320).all()
    box = manifest.loc["o1.jpg", ["face_x1", "face_y1", "face_x2", "face_y2"]].to_numpy(float)
    for o in range(2, 9):
        other = manifest.loc[f"o{o}.jpg", ["face_x1", "face_y1", "face_x2", "face_y2"]].to_numpy(float)
        assert np.abs(other - box).max() <= 6, (o, other, box)


def test_recognizer_predict_path_honours_orientation(hostile, tiny_model):
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(str(tiny_model), backend="torch", detector="haar")
    ref = rec.predict(hostile["orient_png_1"])
    assert ref.status == "ok"
    for o in range(2, 9):
        pred = rec.predict(str(hostile[f"orient_png_{o}"]))
        assert pred.status == "ok", o
        np.testing.assert_allclose(pred.box, ref.box)
        assert pred.label == ref.label


# --------------------------------------------------------------------------- 5. messages, not tracebacks
def test_symlink_loop_is_named_as_such(hostile, tiny_model, tmp_path, signfer):
    with pytest.raises(InputError, match="symbolic link loop"):
        read_image(hostile["loop"])
    rc, _, err = signfer("preprocess", hostile["loop"], tmp_path / "crops", "--preset", "none", "--no-progress")
    assert rc == 2 and "symbolic link loop" in err
    rc, out, _ = signfer("annotate", hostile["loop"], "--model", tiny_model, "--out", tmp_path / "ann", "--backend", "torch", "--no-progress")
    assert rc == 1 and "symbolic link loop" in out


def test_a_safetensors_file_that_is_not_one(hostile, tmp_path, corpus_video, signfer):
    from signfer.models import load_pretrained

    with pytest.raises(InputError, match="not a readable safetensors file"):
        load_pretrained(str(hostile["bad_safetensors"]))
    rc, _, err = signfer("annotate", corpus_video, "--model", hostile["bad_safetensors"], "--out", tmp_path / "ann", "--no-progress")
    assert rc == 2 and "not a readable safetensors file" in err


def test_predict_none_says_what_is_wrong(tiny_model):
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(str(tiny_model), backend="torch")
    with pytest.raises(UserError, match="got None"):
        rec.predict(None)
    with pytest.raises(UserError, match="expected an image"):
        rec.predict(np.array(["not", "pixels"]))
    with pytest.raises(ValueError):  # still a ValueError for callers that catch one
        rec.predict(np.zeros((4, 4, 5), np.uint8))


def test_broken_elan_file_says_where_and_why(hostile):
    from signfer.annotate.elan import read_eaf

    with pytest.raises(InputError) as err:
        read_eaf(hostile["broken_eaf"])
    assert "line 4" in err.value.reason and "mismatched tag" in err.value.reason, err.value.reason


def _wait_for(pred, proc, timeout=120.0):
    deadline = time.time() + timeout
    while not pred() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()[1][-2000:]}"


def test_ctrl_c_is_a_message_and_leaves_no_partial_file(tiny_model, tmp_path):
    video = write_video(tmp_path / "long.avi", frames=100, size=(96, 128))
    out = tmp_path / "ann"
    proc = subprocess.Popen([sys.executable, "-m", "signfer.cli", "annotate", str(video), "--model", str(tiny_model), "--out", str(out),
                             "--backend", "torch", "--threads", "1", "--no-progress"], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: bool(partial_files(out)), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "Ctrl-C" in err, err[-2000:]
    assert partial_files(out) == [] and not (out / "long.csv").exists()


# --------------------------------------------------------------------------- 6. leftovers and "rerun to continue"
def test_sigkill_leftovers_are_cleaned_by_the_next_run(tiny_model, tmp_path):
    video = write_video(tmp_path / "long.avi", frames=100, size=(96, 128))
    out = tmp_path / "ann"
    args = ["annotate", video, "--model", tiny_model, "--out", out, "--backend", "torch", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "signfer.cli", *map(str, args)], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: bool(partial_files(out)), proc)
    proc.kill()
    proc.communicate(timeout=60)
    left = partial_files(out)
    assert left and all(f"-{proc.pid}-" in p.name for p in left)
    from signfer.io import _host

    alive = out / f".x.csv.signfer-{_host()}-{os.getpid()}-keep.part"
    alive.write_text("a live process's temporary file")  # this test's own pid: alive, so kept
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert partial_files(out) == [alive]
    assert len(pd.read_csv(out / "long.csv")) == 100


def test_rerun_after_sigterm_continues_and_skips_finished_inputs(tiny_model, tmp_path):
    short, long = write_video(tmp_path / "short.avi", frames=3), write_video(tmp_path / "long.avi", frames=100, size=(96, 128))
    out = tmp_path / "ann"
    args = ["annotate", short, long, "--model", tiny_model, "--out", out, "--backend", "torch", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "signfer.cli", *map(str, args)], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(p.name.startswith(".long.") for p in partial_files(out)), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "rerun the same command to continue" in err
    assert not (out / "long.csv").exists()
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("short.*")}
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "short.avi: skipped" in again.stdout
    summary = pd.read_csv(out / "annotate_summary.csv").set_index("name")
    assert summary.loc["short", "status"] == "skipped" and summary.loc["long", "status"] == "ok"
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("short.*")} == finished  # not redone
    assert len(pd.read_csv(out / "long.csv")) == 100
    from signfer.annotate.inputs import annotate_inputs
    from signfer.annotate.options import AnnotationOptions, ModelOptions

    other = AnnotationOptions.from_kwargs(smooth=3)  # other settings: redone, not skipped
    assert annotate_inputs([short], out, models=ModelOptions(str(tiny_model), backend="torch", threads=1), options=other, progress=False, log=lambda s: None) == 0
    assert pd.read_csv(out / "annotate_summary.csv")["status"].tolist() == ["ok"]
    assert (out / "short.csv").stat().st_mtime_ns != finished["short.csv"]


def test_done_marker_goes_stale_when_an_output_or_the_input_changes(tmp_path):
    from signfer.annotate.done import DoneMarkers

    src, res = tmp_path / "in.avi", tmp_path / "out" / "in.csv"
    src.write_bytes(b"video")
    res.parent.mkdir()
    res.write_text("rows")
    done = DoneMarkers(tmp_path / "out", {"options": {"smooth": 1}})
    assert done.decide("in", src).action == "annotate"
    done.mark("in", src, [res])
    assert done.decide("in", src).action == "skip" and done.decide("in", src).outputs == [res]
    assert DoneMarkers(tmp_path / "out", {"options": {"smooth": 3}}).decide("in", src).reason == "options changed: smooth"
    res.unlink()
    assert done.decide("in", src).reason == f"output {res} is missing"
    res.write_text("rows")
    src.write_bytes(b"another video")
    assert done.decide("in", src).reason == "the input file changed"
    res.write_text("other rows")  # changed since signfer wrote it: a person's work
    assert done.decide("in", src).action == "keep"


# --------------------------------------------------------------------------- 7. exit status
def test_preprocess_with_an_invalid_option_is_refused_before_the_run(tmp_path, signfer):
    from signfer.io import write_image

    images = tmp_path / "images"
    write_image(images / "a.png", np.full((20, 20, 3), 100, np.uint8))
    for bad in ("detector=bogus", "colour=sepia", "detector_options={bogus_option: 1}"):
        out = tmp_path / bad.split("=")[0]
        rc, _, err = signfer("preprocess", images, out, "--set", bad, "--no-progress")
        assert rc == 2 and ("bogus" in err or "sepia" in err), (bad, err)
        assert not out.exists()  # refused before any file was touched


def test_preprocess_in_which_nothing_succeeded_exits_non_zero(tmp_path, signfer):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"not an image")
    (images / "b.jpg").write_bytes(b"")
    rc, _, err = signfer("preprocess", images, tmp_path / "crops", "--preset", "none", "--no-progress")
    assert rc == 1 and "no crop was written" in err
    assert set(pd.read_csv(tmp_path / "crops" / "manifest.csv")["status"]) == {"error"}
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = signfer("preprocess", empty, tmp_path / "crops2", "--preset", "none", "--no-progress")
    assert rc == 1 and "no image found" in err


# --------------------------------------------------------------------------- 8. values
@pytest.fixture(scope="module")
def corpus_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames=5)


@pytest.mark.parametrize("value", ["-25", "0", "nan", "inf"])
def test_fps_must_be_positive(value, corpus_video, tiny_model, tmp_path, signfer):
    rc, _, err = signfer("annotate", corpus_video, "--model", tiny_model, "--out", tmp_path, "--fps", value, "--no-progress")
    assert rc == 2 and "--fps" in err and "positive" in err
    assert not (tmp_path / "annotate_summary.csv").exists()


def test_fps_must_be_positive_in_the_library(corpus_video, tmp_path):
    from signfer.annotate.video import open_media
    from signfer.io import write_image

    folder = tmp_path / "frames"
    write_image(folder / "0001.png", np.zeros((8, 8, 3), np.uint8))
    for fps in (0, -25, float("nan")):
        with pytest.raises(UserError, match="frame rate"):
            open_media(folder, fps=fps)
    assert open_media(folder, fps=12.5).info.fps == 12.5


@pytest.mark.parametrize("option", ["--every", "--detect-every", "--batch-size", "--smooth", "--threads", "--detect-scale"])
def test_counts_and_scales_must_be_positive(option, corpus_video, tmp_path, signfer):
    rc, _, err = signfer("annotate", corpus_video, "--out", tmp_path, option, "0", "--no-progress")
    assert rc == 2 and option in err and "positive" in err


def test_corpus_list_with_a_byte_order_mark(corpus_video, tmp_path):
    from signfer.scale.corpus import read_list

    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + str(corpus_video).encode() + b"\r\n# a comment\r\nclip2.avi\r\n")
    entries = read_list(listing)
    assert entries == [corpus_video, tmp_path / "clip2.avi"]
    assert entries[0].is_file()
