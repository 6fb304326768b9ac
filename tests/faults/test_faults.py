"""The fault corpus (``make_corpus.py``) through the real readers and commands.

Every case must end in one of two ways: the input is used correctly, or a clear error names
it (:class:`signfer.io.InputError` from the readers, a ``status=error`` row with the reason in
the run's table/log from the batch commands). A bad input never stops the run, never leaves
a partial output file, and never costs work already finished.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signfer.io import InputError, read_image

from .make_corpus import Case, make_corpus, write_video

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Case]:
    return {c.name: c for c in make_corpus(tmp_path_factory.mktemp("faults"))}


def cases_of(kind: str) -> list[str]:
    import tempfile

    # the names only (the files are made once per session by the fixture)
    with tempfile.TemporaryDirectory() as tmp:
        from . import make_corpus as mc

        names = {"image": mc.make_images, "labels": mc.make_labels}[kind](Path(tmp))
    return [c.name for c in names]


def partial_files(root: Path) -> list[Path]:
    """Temporary files of the atomic writers (``.NAME.*.part*``) left anywhere under ``root``."""
    return [p for p in Path(root).rglob("*") if ".part" in p.name]


def run_cli(*args, env=None, preexec_fn=None, timeout=180) -> subprocess.CompletedProcess:
    """``signfer ARGS`` in a fresh Python process (as a user or a job scheduler runs it)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "signfer.cli", *map(str, args)], capture_output=True, text=True,
                          env=full_env, preexec_fn=preexec_fn, timeout=timeout, cwd=REPO)


# --------------------------------------------------------------------------- images: signfer.io.read_image
@pytest.mark.parametrize("name", cases_of("image"))
def test_read_image_fault(corpus, name):
    case = corpus[name]
    if case.expect == "error":
        with pytest.raises(InputError) as err:
            read_image(case.path)
        assert err.value.path == str(case.path)  # the message names the file
        assert case.reason in err.value.reason.lower()
        return
    img = read_image(case.path)
    assert img.shape == case.shape and img.dtype == np.uint8
    if "rgb" in case.info:  # RGBA drops alpha, 16 bit scales by 1/257, CMYK converts back to RGB (not inverted)
        ref = case.info["rgb"]
        if case.path.suffix == ".jpg":  # lossy: compare with Pillow's decoding of the same file
            from PIL import Image

            ref = np.asarray(Image.open(case.path).convert("RGB"))
        tol = 0 if case.name in ("image_rgba", "image_rgb16", "image_cmyk_tif") else 2.0
        assert np.abs(img.astype(int) - ref.astype(int)).mean() <= tol


def test_non_utf8_file_name_is_found_and_read(corpus):
    from signfer.io import find_media

    case = corpus["image_non_utf8_name"]
    found = find_media(case.path.parent)
    assert case.path in found
    assert read_image(case.path).shape == case.shape


# --------------------------------------------------------------------------- images: signfer preprocess on the whole folder
def check_preprocess_output(out: Path, images: Path, manifest: pd.DataFrame, size: int) -> None:
    """Every file has one row; errors name a reason and have no crop; every crop is complete."""
    from signfer.io import IMAGE_SUFFIXES, find_media

    sources = {p.relative_to(images).as_posix() for p in find_media(images, IMAGE_SUFFIXES)}
    assert len(manifest) == len(sources)
    status = dict(zip(manifest["source"], manifest["status"]))
    for bad in ("empty.png", "truncated.png", "truncated.jpg", "notes.png"):
        assert status[bad] == "error"
        row = manifest[manifest["source"] == bad].iloc[0]
        assert isinstance(row["reason"], str) and row["reason"]
        assert not (out / bad).exists()
    for good in ("gray.png", "rgba.png", "rgb16.png", "gray16.png", "cmyk.jpg", "cmyk.tif", "float32.tiff",
                 "really_png.jpg", "really_jpg.bmp", "tiny_10.png", "huge_8000.jpg"):
        assert status[good] == "ok", manifest[manifest["source"] == good]
        assert read_image(out / good).shape == (size, size, 3)
    assert partial_files(out) == []


def test_preprocess_survives_every_image_fault(corpus, tmp_path):
    from signfer.cli import main

    images = corpus["image_empty"].path.parent
    out = tmp_path / "crops"
    rc = main(["preprocess", str(images), str(out), "--preset", "none", "--size", "32", "--no-progress"])
    assert rc == 0
    manifest = pd.read_csv(out / "manifest.csv")
    check_preprocess_output(out, images, manifest, 32)
    # the non-UTF-8 name is processed and recorded (escaped, so the manifest stays valid UTF-8)
    row = manifest[manifest["source"].str.startswith("caf")]
    assert len(row) == 1 and row["status"].iloc[0] == "ok"
    (out / "manifest.csv").read_bytes().decode("utf-8")


# --------------------------------------------------------------------------- a full disk (the OS refuses a write)
def _limit_file_size(limit: int):
    def apply():  # runs in the child: files may not grow past ``limit`` bytes; the write fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_preprocess_on_a_full_disk_records_the_failed_writes(tmp_path):
    """Writes past the limit fail in the OS (as on a full disk): those files are errors, the rest is kept."""
    from signfer.io import write_image

    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for i in range(2):  # noisy: the 64 px PNG crop is ~12 KB, over the limit
        write_image(images / f"noisy{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        write_image(images / f"flat{i}.png", np.full((64, 64, 3), 90 + i, np.uint8))  # flat: < 1 KB
    out = tmp_path / "crops"
    proc = run_cli("preprocess", images, out, "--preset", "none", "--size", "64", "--no-progress",
                   preexec_fn=_limit_file_size(6000))
    assert proc.returncode == 0, proc.stderr
    manifest = pd.read_csv(out / "manifest.csv").set_index("source")
    for i in range(2):
        assert manifest.loc[f"noisy{i}.png", "status"] == "error"
        assert "too large" in manifest.loc[f"noisy{i}.png", "reason"].lower()
        assert not (out / f"noisy{i}.png").exists()
        assert manifest.loc[f"flat{i}.png", "status"] == "ok"
        assert read_image(out / f"flat{i}.png").shape == (64, 64, 3)
    assert partial_files(out) == []


def test_full_disk_for_the_manifest_is_a_clear_error_and_keeps_the_crops(tmp_path):
    from signfer.io import write_image

    images = tmp_path / "images"
    for i in range(40):
        write_image(images / f"flat_with_a_long_name_to_fill_the_manifest_{i:03d}.png", np.full((16, 16, 3), i, np.uint8))
    out = tmp_path / "crops"
    proc = run_cli("preprocess", images, out, "--preset", "none", "--size", "16", "--no-progress",
                   preexec_fn=_limit_file_size(4000))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "manifest.csv" in proc.stderr and "too large" in proc.stderr.lower()
    assert not (out / "manifest.csv").exists()
    assert len(list(out.glob("*.png"))) == 40  # finished crops are not lost
    assert partial_files(out) == []


# --------------------------------------------------------------------------- videos: the media reader
VIDEO_CASES = ["video_good", "video_empty", "video_truncated_mp4", "video_truncated_avi", "video_corrupt_middle",
               "video_text_as_mp4", "video_missing"]


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_open_media_fault(corpus, name):
    from signfer.annotate.video import open_media

    case = corpus[name]
    try:
        with open_media(case.path) as media:
            frames = list(media.frames())
    except InputError as exc:
        assert case.expect == "error", f"{case.name}: unexpected error {exc}"
        assert exc.path == str(case.path) and case.reason in exc.reason.lower()
        return
    assert case.expect == "ok", f"{case.name}: read without an error"
    assert [f.index for f in frames] == list(range(case.info["frames"]))
    assert [f.index for f in frames if f.error] == case.info.get("bad", [])  # exactly the frames that cannot be decoded
    for f in frames:  # a frame that could not be decoded is marked, never garbage
        assert (f.image is None) == bool(f.error)
        assert f.error is None or f"frame {f.index} could not be decoded" in f.error


# --------------------------------------------------------------------------- label files: signfer.data.feph.load_feph
@pytest.mark.parametrize("name", cases_of("labels"))
def test_load_feph_fault(corpus, name, tmp_path):
    from signfer.data.feph import load_feph

    case = corpus[name]
    if case.expect == "error":
        with pytest.raises(InputError) as err:
            load_feph(case.path)
        assert str(case.path) in err.value.path and case.reason in err.value.reason.lower()
        return
    df, report = load_feph(case.path)
    assert len(df) == case.info["kept"]
    assert dict(report.dropped) == case.info["dropped"]
    assert all(Path(p).is_file() for p in df["path"])
    str(report)  # printable
    report.to_csv(tmp_path / "report.csv")  # also with non-UTF-8 file names among the notes
    (tmp_path / "report.csv").read_bytes().decode("utf-8")


def test_training_on_bad_labels_names_the_file(corpus, tmp_path):
    from signfer.cli import main

    for name in ("labels_missing_columns", "labels_latin1_csv", "labels_empty_csv", "labels_header_only"):
        rc = main(["train", "--recipe", "easier2025", "--data", str(corpus[name].path), "--out", str(tmp_path / name),
                   "--set", "pretrained=null", "--no-progress"])
        assert rc == 2, name
        assert not any((tmp_path / name).glob("fold_*/*.pt"))


# --------------------------------------------------------------------------- training: killed mid-epoch, full disk
def train_args(data: Path, out: Path, fold: int = 0) -> list:
    """A tiny but real `signfer train`: random MobileNetV2 on 16 px crops, batch 2 (many steps per epoch), 2 epochs."""
    return ["train", "--recipe", "easier2025", "--data", data, "--out", out, "--fold", fold, "--folds", "2",
            "--pretrained", "none", "--set", "image_size=16", "--set", "preset=none", "--set", "batch_size=2",
            "--set", "val_fraction=0", "--set", "stages=[{trainable: all, optimizer: adam, lr: 0.001, epochs: 2}]",
            "--cache", "none", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def train_data(tmp_path_factory) -> Path:
    from signfer.samples.feph_layout import make_synthetic_feph

    return make_synthetic_feph(tmp_path_factory.mktemp("feph"), n_sequences=16, frames_per_sequence=2, size=(20, 16), awkward_rows=False)


@pytest.fixture(scope="module")
def reference_run(train_data, tmp_path_factory) -> Path:
    """Fold 0 trained without interruption."""
    out = tmp_path_factory.mktemp("reference") / "run"
    proc = run_cli(*train_args(train_data, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def same_training(a: Path, b: Path) -> None:
    """Two fold folders hold the same run: history (but the timings), predictions and metrics identical."""
    ha, hb = (pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (a, b))
    pd.testing.assert_frame_equal(ha, hb)
    pd.testing.assert_frame_equal(pd.read_csv(a / "predictions.csv"), pd.read_csv(b / "predictions.csv"))
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()


def start_paused_in_epoch_2(args: list, last: Path, marker: Path, env: dict | None = None) -> subprocess.Popen:
    """A training (``signfer ARGS``) that pauses mid-epoch 2 (``paused_training.py``); returns once it is there."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults.paused_training", str(last), str(marker), *map(str, args)], cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240  # a bound on a hung child only: the event is the marker file
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"never reached epoch 2: {proc.poll()} {proc.communicate()[1][-2000:] if proc.poll() is not None else ''}"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_training_killed_mid_epoch_resumes_to_the_same_result(train_data, reference_run, tmp_path, sig):
    """Killed on the event 'a step of epoch 2 is done' (was: 0.2 s after last.pt appeared, a race on a busy machine)."""
    from signfer.models.checkpoint import load_checkpoint

    out = tmp_path / "run"
    last = out / "fold_0" / "last.pt"
    proc = start_paused_in_epoch_2(train_args(train_data, out), last, tmp_path / "in_epoch_2")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert "--resume" in err and "Traceback" not in err  # says how to continue
        assert partial_files(out) == []  # SIGTERM lets the atomic writers clean up
    assert not (out / "fold_0" / "metrics.json").exists()
    _, _, state = load_checkpoint(last)  # whatever was on disk is complete
    assert state["completed_epochs"] == 1
    # resume: the same result as the uninterrupted run, bit for bit on CPU
    proc = run_cli(*train_args(train_data, out), "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    same_training(reference_run / "fold_0", out / "fold_0")
    assert partial_files(out / "fold_0") == []


@pytest.fixture(scope="module")
def full_disk_training(train_data, reference_run, tmp_path_factory):
    """Fold 1 trained into a run whose fold 0 is finished, with files limited to 1 MB (a checkpoint is ~9 MB)."""
    import shutil

    out = tmp_path_factory.mktemp("full_disk") / "run"
    shutil.copytree(reference_run, out)
    before = {p.name: p.read_bytes() for p in (out / "fold_0").iterdir()}
    proc = run_cli(*train_args(train_data, out, fold=1), preexec_fn=_limit_file_size(1_000_000))
    return out, before, proc


def test_training_on_a_full_disk_stops_without_partial_files_and_keeps_finished_folds(full_disk_training):
    out, before, proc = full_disk_training
    assert proc.returncode != 0
    assert not list((out / "fold_1").glob("*.pt"))
    assert partial_files(out) == []
    assert {p.name: p.read_bytes() for p in (out / "fold_0").iterdir()} == before  # nothing finished is lost


def test_training_on_a_full_disk_names_the_file_it_could_not_write(full_disk_training):
    out, before, proc = full_disk_training
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "fold_1" in proc.stderr and ".pt" in proc.stderr


# --------------------------------------------------------------------------- videos: signfer annotate and annotate-corpus
def outputs_of(out: Path, name: str) -> list[Path]:
    return sorted(p for p in out.glob(f"{name}.*") if p.is_file())


def test_annotate_survives_every_video_fault(corpus, tiny_model, tmp_path):
    from signfer.cli import main

    names = ["video_good", "video_empty", "video_truncated_mp4", "video_truncated_avi", "video_corrupt_middle",
             "video_text_as_mp4", "video_missing"]
    out = tmp_path / "ann"
    rc = main(["annotate", *[str(corpus[n].path) for n in names], "--model", str(tiny_model), "--out", str(out),
               "--backend", "torch", "--threads", "1", "--no-progress"])
    assert rc == 1  # some inputs failed, the run did not
    summary = pd.read_csv(out / "annotate_summary.csv", keep_default_na=False).set_index("input")
    assert len(summary) == len(names)
    for n in names:
        case, row = corpus[n], summary.loc[str(corpus[n].path)]
        if case.expect == "ok":
            assert row["status"] == "ok" and row["frames"] == case.info["frames"]
            assert row["frames_error"] == len(case.info.get("bad", []))
            assert [p.suffix for p in outputs_of(out, case.path.stem)] == [".csv", ".eaf", ".json"]
            rows = pd.read_csv(out / f"{case.path.stem}.csv")
            assert rows.loc[rows["status"] == "error", "frame"].tolist() == case.info.get("bad", [])
        else:
            assert row["status"] == "error" and str(case.path) in row["error"], row
            assert outputs_of(out, case.path.stem) == []  # no partial output
    assert partial_files(out) == []


def test_annotate_non_utf8_video_name(corpus, tiny_model, tmp_path):
    import shutil

    from signfer.cli import main

    src = os.path.join(os.fsencode(tmp_path), b"caf\xe9.avi")
    shutil.copyfile(corpus["video_good"].path, src)
    out = tmp_path / "ann"
    assert main(["annotate", os.fsdecode(src), "--model", str(tiny_model), "--out", str(out), "--backend", "torch",
                 "--threads", "1", "--no-progress"]) == 0
    written = sorted(f for f in os.listdir(os.fsencode(out)) if not f.startswith(b"."))  # hidden: the done markers
    assert written == [b"annotate_summary.csv", b"caf\xe9.csv", b"caf\xe9.eaf", b"caf\xe9.json"]
    for f in written:  # every file is valid UTF-8 (the odd name is escaped inside)
        (out / os.fsdecode(f)).read_bytes().decode("utf-8")


def test_annotate_on_a_full_disk_keeps_other_inputs(corpus, tiny_model, tmp_path):
    """Outputs past the size limit fail like a full disk: that input is an error with no partial file; a short one is kept."""
    short, long = tmp_path / "short.avi", tmp_path / "long.avi"
    write_video(short, frames=2)
    write_video(long, frames=150)
    out = tmp_path / "ann"
    proc = run_cli("annotate", long, short, "--model", tiny_model, "--out", out, "--backend", "torch", "--threads", "1",
                   "--formats", "csv", "--no-progress", preexec_fn=_limit_file_size(8_000))
    assert proc.returncode == 1, proc.stderr[-2000:]
    summary = pd.read_csv(out / "annotate_summary.csv", keep_default_na=False).set_index("name")
    assert summary.loc["long", "status"] == "error" and "too large" in summary.loc["long", "error"].lower()
    assert summary.loc["short", "status"] == "ok" and (out / "short.csv").exists()
    assert not (out / "long.csv").exists() and partial_files(out) == []


def test_annotate_corpus_logs_every_fault_and_resumes(corpus, tiny_model, tmp_path):
    from signfer.scale.corpus import annotate_corpus

    out = tmp_path / "corpus"
    listing = corpus["corpus_list"]
    from signfer.annotate.options import ModelOptions

    kw = dict(models=ModelOptions(str(tiny_model), backend="torch", threads=1), log=lambda s: None)
    table = annotate_corpus(listing.path, out, **kw).set_index("input")
    assert len(table) == len(listing.info["entries"])
    log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False).set_index("input")
    for entry in listing.info["entries"]:
        case = next(c for c in corpus.values() if str(c.path) == entry)
        status = log.loc[entry, "status"]
        assert status == ("ok" if case.expect == "ok" else "failed")
        folder = out / "videos" / Path(entry).stem
        if status == "ok":
            assert sorted(p.suffix for p in folder.iterdir()) == [".csv", ".eaf", ".json"]
        else:
            assert entry in log.loc[entry, "error"] and not folder.exists()
    assert not [p for p in (out / "videos").iterdir() if p.name.startswith(".")]  # no staging folder left
    again = annotate_corpus(listing.path, out, **kw).set_index("input")
    ok = [e for e in listing.info["entries"] if log.loc[e, "status"] == "ok"]
    assert (again.loc[ok, "status"] == "skipped").all()  # finished work is not redone
