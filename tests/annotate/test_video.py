"""Reading videos, image folders and images as RGB frames; clear errors naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from signfer.annotate.video import MediaReader, open_media
from signfer.io import InputError, write_image


def _write_avi(path, frames, fps=20.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def colour_clip(tmp_path_factory):
    """12 frames, 64x48: left half pure red, right half a grey level that encodes the frame number."""
    frames = []
    for i in range(12):
        f = np.zeros((48, 64, 3), np.uint8)
        f[:, :32] = (230, 20, 20)
        f[:, 32:] = 10 + 20 * i
        frames.append(f)
    return _write_avi(tmp_path_factory.mktemp("v") / "colour.avi", frames), frames


def test_video_frames_are_rgb_with_times(colour_clip):
    path, frames = colour_clip
    with open_media(path) as media:
        assert media.info.kind == "video" and media.info.backend == "opencv"
        assert media.info.frame_count == 12 and media.info.fps == pytest.approx(20.0)
        got = list(media.frames())
    assert [f.index for f in got] == list(range(12))
    assert [f.time_ms for f in got] == pytest.approx([50.0 * i for i in range(12)])
    for f, ref in zip(got, frames):
        assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
        red = f.image[:, 4:28].reshape(-1, 3).mean(axis=0)
        assert red[0] > 200 and red[2] < 50, "frames must come out RGB, not OpenCV's BGR"
        assert abs(f.image[:, 36:60].mean() - ref[:, 36:60].mean()) < 4


def test_every_nth_frame_and_batches(colour_clip):
    path, frames = colour_clip
    with open_media(path) as media:
        batches = list(media.batches(size=2, every=3))
    got = [f for b in batches for f in b]
    assert [len(b) for b in batches] == [2, 2]
    assert [f.index for f in got] == [0, 3, 6, 9]
    assert [f.time_ms for f in got] == pytest.approx([0, 150, 300, 450])
    for f in got:  # the right frames, not the first four
        assert abs(f.image[:, 36:60].mean() - frames[f.index][:, 36:60].mean()) < 4


def test_pyav_decoder_matches_opencv(colour_clip):
    path, _ = colour_clip
    with open_media(path) as media:
        cv_frames = list(media.frames())
        info = media.info
    info.backend = "pyav"
    pyav = list(MediaReader(info).frames())
    assert [f.index for f in pyav] == [f.index for f in cv_frames]
    assert [f.time_ms for f in pyav] == pytest.approx([f.time_ms for f in cv_frames])
    for a, b in zip(pyav, cv_frames):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 3


def test_image_folder_keeps_going_past_a_bad_image(tmp_path, astronaut):
    folder = tmp_path / "seq"
    write_image(folder / "f000.png", astronaut[:64, :64])
    (folder / "f001.png").write_bytes(b"not a png at all")
    write_image(folder / "f002.jpg", astronaut[64:128, :64])
    with open_media(folder, fps=10) as media:
        assert media.info.kind == "images" and media.info.frame_count == 3
        got = list(media.frames())
    assert [f.time_ms for f in got] == [0, 100, 200]
    assert [f.source.endswith(n) for f, n in zip(got, ["f000.png", "f001.png", "f002.jpg"])] == [True] * 3
    assert got[1].image is None and "not a readable image" in got[1].error
    assert np.array_equal(got[0].image, astronaut[:64, :64])


def test_single_image(tmp_path, astronaut):
    write_image(tmp_path / "a.png", astronaut)
    frames = list(open_media(tmp_path / "a.png").frames())
    assert len(frames) == 1 and np.array_equal(frames[0].image, astronaut)


def test_errors_name_the_file(tmp_path, colour_clip):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (tmp_path / "empty.mov").write_bytes(b"")
    (tmp_path / "nothing").mkdir()
    noise = np.random.default_rng(1).integers(0, 256, (30, 96, 128, 3), dtype=np.uint8)
    full = _write_avi(tmp_path / "full.avi", list(noise)).read_bytes()
    (tmp_path / "truncated.avi").write_bytes(full[: len(full) // 2])
    cases = {
        "missing.mp4": "does not exist",
        "notes.txt": "unsupported format '.txt'",
        "random.mp4": "corrupt or truncated video",
        "empty.mov": "empty file",
        "nothing": "holds no images",
    }
    for name, reason in cases.items():
        with pytest.raises(InputError) as err:
            list(open_media(tmp_path / name).frames())
        assert err.value.path == str(tmp_path / name) and reason in str(err.value), str(err.value)
    # a truncated file opens, yields what is there, then fails naming the file
    with open_media(tmp_path / "truncated.avi") as media:
        seen = []
        with pytest.raises(InputError, match="truncated") as err:
            for f in media.frames():
                seen.append(f.index)
    assert str(tmp_path / "truncated.avi") in str(err.value)
    assert 0 < len(seen) < 30
