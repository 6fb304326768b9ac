"""Generate the fault corpus: every kind of bad input signfer must survive, made on the fly (no binary blobs in git).

    python tests/faults/make_corpus.py [OUT]        # default: tests/faults/generated/ (git-ignored)

:func:`make_corpus` writes the files and returns the list of :class:`Case` objects that
``tests/faults/test_faults.py`` drives through the real readers and commands. Each case
says what must happen: ``ok`` (the input is usable; ``shape`` = the RGB array
``signfer.io.read_image`` must return) or ``error`` (a clear :class:`signfer.io.InputError`
naming the file; ``reason`` = a word of the expected message).

Layout under OUT::

    images/      0-byte, truncated, wrong-extension, grayscale / RGBA / 16-bit / CMYK / float,
                 huge (8000x8000), tiny (10x10), a non-UTF-8 file name, a folder named like an image
    videos/      a good MJPG clip, 0-byte, truncated (mp4 and avi), corrupt middle frames,
                 text and image bytes behind a video suffix
    labels/<case>/FePh_labels.csv + FePh_images/   FePh folders with missing columns, unknown
                 codes, duplicate IDs, IDs of files that do not exist, a Latin-1 CSV,
                 an empty CSV, a header-only CSV, non-UTF-8 image names
    corpus.txt   a video list for ``signfer annotate-corpus`` mixing good, missing and corrupt videos
    hostile/     (:func:`make_hostile`) a 30000x30000 PNG decompression bomb, a portrait saved with each EXIF
                 orientation (PNG, JPEG), a symbolic link loop, a .safetensors file that is not one, a broken EAF
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

#: a file name that is not valid UTF-8 (Latin-1 "café"), as bytes: Linux allows any bytes in names
NON_UTF8_NAME = b"caf\xe9"


@dataclass
class Case:
    """One fault: where it is, what kind of input, and the behaviour signfer owes it."""

    name: str
    kind: str  # image | video | labels | list
    path: Path
    expect: str  # ok | error
    reason: str = ""  # for errors: a word the message must contain (lower case)
    shape: tuple | None = None  # for usable images: the (H, W, 3) read_image must return
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # readable pytest ids
        return f"Case({self.name})"


# --------------------------------------------------------------------------- helpers
def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _face_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """An RGB uint8 picture with structure (gradients + noise), compressible but not flat."""
    rng = _rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 127 // max(h + w - 2, 1))], -1)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def _encode(rgb: np.ndarray, suffix: str, params=()) -> bytes:
    arr = rgb[:, :, ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        arr = rgb[:, :, [2, 1, 0, 3]]
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr), list(params))
    if not ok:
        raise RuntimeError(f"cannot encode {suffix}")
    return buf.tobytes()


def _write(path: Path | bytes, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def write_video(path: Path, frames: int = 20, size: tuple[int, int] = (48, 64), fourcc: str = "MJPG", fps: float = 10.0) -> Path:
    """A small clip (moving bar over a gradient) written with OpenCV; ``path``'s suffix picks the container."""
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with {fourcc}")
    base = _face_like(h, w, 1)
    for i in range(frames):
        img = base.copy()
        x = int(i * (w - 8) / max(frames - 1, 1))
        img[:, x : x + 8] = (250, 250, 30)
        writer.write(np.ascontiguousarray(img[:, :, ::-1]))
    writer.release()
    return path


def corrupt_middle_frames(src: Path, dst: Path, first: int, last: int) -> Path:
    """Copy an MJPG AVI and overwrite the JPEG payload of frames ``first..last`` with noise (headers kept)."""
    data = bytearray(src.read_bytes())
    starts = []
    pos = data.find(b"\xff\xd8\xff")
    while pos != -1:
        starts.append(pos)
        pos = data.find(b"\xff\xd8\xff", pos + 3)
    if len(starts) <= last:
        raise RuntimeError(f"{src}: found only {len(starts)} JPEG frames")
    noise = _rng(7).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    for k in range(first, last + 1):
        a = starts[k] + 200  # keep SOI and the first marker segments, destroy the entropy-coded data
        b = starts[k + 1] - 16 if k + 1 < len(starts) else len(data) - 64
        data[a:b] = noise[a:b]
    dst.write_bytes(bytes(data))
    return dst


# --------------------------------------------------------------------------- images
def make_images(root: Path) -> list[Case]:
    d = root / "images"
    d.mkdir(parents=True, exist_ok=True)
    rgb = _face_like(48, 40)
    png, jpg = _encode(rgb, ".png"), _encode(rgb, ".jpg")
    cases: list[Case] = []

    def add(name, file, data, expect, reason="", shape=None, **info):
        path = d / file if isinstance(file, str) else os.path.join(os.fsencode(d), file)
        if data is not None:
            _write(path, data)
        cases.append(Case(name, "image", Path(os.fsdecode(path)), expect, reason, shape, info))

    add("image_empty", "empty.png", b"", "error", "empty")
    add("image_truncated_png", "truncated.png", png[: len(png) // 2], "error", "readable")
    add("image_truncated_jpg", "truncated.jpg", jpg[: int(len(jpg) * 0.9)], "error", "readable")
    add("image_text_as_png", "notes.png", b"this is not an image\n" * 10, "error", "readable")
    add("image_png_named_jpg", "really_png.jpg", png, "ok", shape=(48, 40, 3))  # content decides, not the suffix
    add("image_jpg_named_bmp", "really_jpg.bmp", jpg, "ok", shape=(48, 40, 3))
    add("image_gray", "gray.png", _encode(rgb[:, :, 0].copy(), ".png"), "ok", shape=(48, 40, 3))
    rgba = np.dstack([rgb, np.linspace(0, 255, rgb.shape[1], dtype=np.uint8)[None, :].repeat(rgb.shape[0], 0)])
    add("image_rgba", "rgba.png", _encode(rgba, ".png"), "ok", shape=(48, 40, 3), rgb=rgb)
    add("image_rgb16", "rgb16.png", _encode(rgb.astype(np.uint16) * 257, ".png"), "ok", shape=(48, 40, 3), rgb=rgb)
    add("image_gray16", "gray16.png", _encode(rgb[:, :, 1].astype(np.uint16) * 257, ".png"), "ok", shape=(48, 40, 3))
    add("image_float_tiff", "float32.tiff", _encode((rgb / 255.0).astype(np.float32), ".tiff"), "ok", shape=(48, 40, 3))
    from PIL import Image

    for suffix in ("jpg", "tif"):
        path = d / f"cmyk.{suffix}"
        Image.fromarray(rgb).convert("CMYK").save(path)
        cases.append(Case(f"image_cmyk_{suffix}", "image", path, "ok", shape=(48, 40, 3), info={"rgb": rgb}))
    # 8000 x 8000: a grayscale JPEG keeps generation and decoding under a second
    huge = np.zeros((8000, 8000), np.uint8)
    huge[::40] = 180
    huge[:, ::40] = 90
    add("image_huge", "huge_8000.jpg", _encode(huge, ".jpg", (cv2.IMWRITE_JPEG_QUALITY, 50)), "ok", shape=(8000, 8000, 3))
    add("image_tiny", "tiny_10.png", _encode(rgb[:10, :10].copy(), ".png"), "ok", shape=(10, 10, 3))
    add("image_non_utf8_name", NON_UTF8_NAME + b".png", png, "ok", shape=(48, 40, 3))
    (d / "folder.png").mkdir(exist_ok=True)
    cases.append(Case("image_folder_named_png", "image", d / "folder.png", "error", "folder"))
    cases.append(Case("image_missing", "image", d / "does_not_exist.png", "error", "not exist"))
    return cases


# --------------------------------------------------------------------------- videos
def make_videos(root: Path) -> list[Case]:
    d = root / "videos"
    d.mkdir(parents=True, exist_ok=True)
    good = write_video(d / "good.avi", frames=20)
    mp4 = write_video(d / "good_mp4v.mp4", frames=20, fourcc="mp4v")
    cases = [Case("video_good", "video", good, "ok", info={"frames": 20})]
    (d / "empty.mp4").write_bytes(b"")
    cases.append(Case("video_empty", "video", d / "empty.mp4", "error", "empty"))
    data = mp4.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    cases.append(Case("video_truncated_mp4", "video", d / "truncated.mp4", "error", "video"))
    data = good.read_bytes()
    (d / "truncated.avi").write_bytes(data[: int(len(data) * 0.5)])
    cases.append(Case("video_truncated_avi", "video", d / "truncated.avi", "error", "truncated"))
    corrupt_middle_frames(good, d / "corrupt_middle.avi", 8, 11)
    # annotated whole, the frames that cannot be decoded marked as errors (by index), the others analysed
    cases.append(Case("video_corrupt_middle", "video", d / "corrupt_middle.avi", "ok", "", info={"frames": 20, "bad": list(range(8, 12))}))
    (d / "notes.mp4").write_bytes(b"not a video at all\n" * 50)
    cases.append(Case("video_text_as_mp4", "video", d / "notes.mp4", "error", "video"))
    mp4.unlink()
    cases.append(Case("video_missing", "video", d / "does_not_exist.mp4", "error", "not exist"))
    return cases


# --------------------------------------------------------------------------- label files (FePh layout)
SEQ = "07January_2010_Thursday_tagesschau_default-{}.avi_pid0_fn{:06d}-0.png"


def _feph_folder(d: Path, n_sequences: int = 4, frames: int = 2) -> list[str]:
    """FePh_images/ with ``n_sequences`` x ``frames`` small images; returns their names."""
    from signfer.samples.feph_layout import draw_expression

    images = d / "FePh_images"
    images.mkdir(parents=True, exist_ok=True)
    rng, names = _rng(3), []
    for s in range(n_sequences):
        for f in range(frames):
            name = SEQ.format(s, f)
            _write(images / name, _encode(draw_expression(s % 7, (24, 20), rng), ".png"))
            names.append(name)
    return names


def _csv(rows, header=("External ID", "Facial_label")) -> str:
    return "\n".join([",".join(header)] + [f"{a},{b}" for a, b in rows]) + "\n"


def make_labels(root: Path) -> list[Case]:
    d = root / "labels"
    cases: list[Case] = []

    def folder(name: str) -> tuple[Path, list[str]]:
        p = d / name
        return p, _feph_folder(p)

    p, names = folder("missing_columns")
    (p / "FePh_labels.csv").write_text(_csv([(n, 1) for n in names], header=("image", "emotion")), encoding="utf-8")
    cases.append(Case("labels_missing_columns", "labels", p, "error", "missing column"))

    p, names = folder("unknown_codes")
    rows = [(n, s) for n, s in zip(names, ["1", "9", "x", "-1", "4", "2", "0.5", "3"])]
    (p / "FePh_labels.csv").write_text(_csv(rows), encoding="utf-8")
    cases.append(Case("labels_unknown_codes", "labels", p, "ok", info={"kept": 4, "dropped": {"unknown_code": 4}}))

    p, names = folder("duplicate_ids")
    rows = [(n, str(i % 7)) for i, n in enumerate(names)] + [(names[0], "0"), (names[1], "5")]
    (p / "FePh_labels.csv").write_text(_csv(rows), encoding="utf-8")
    cases.append(Case("labels_duplicate_ids", "labels", p, "ok", info={"kept": len(names) - 1, "dropped": {"duplicate_id": 1, "conflicting_duplicate_id": 2}}))

    p, names = folder("missing_paths")
    rows = [(n, "1") for n in names] + [("no_such_frame.png", "2"), ("../../etc/passwd", "3"), ("sub/dir/ghost.png", "4")]
    (p / "FePh_labels.csv").write_text(_csv(rows), encoding="utf-8")
    cases.append(Case("labels_missing_paths", "labels", p, "ok", info={"kept": len(names), "dropped": {"missing_image": 3}}))

    p, names = folder("latin1_csv")
    rows = [(n, "1") for n in names] + [("caf\u00e9_frame.png", "2")]
    (p / "FePh_labels.csv").write_bytes(_csv(rows).encode("latin-1"))
    cases.append(Case("labels_latin1_csv", "labels", p, "error", "csv"))

    p, names = folder("empty_csv")
    (p / "FePh_labels.csv").write_bytes(b"")
    cases.append(Case("labels_empty_csv", "labels", p, "error", "csv"))

    p, names = folder("header_only")
    (p / "FePh_labels.csv").write_text(_csv([]), encoding="utf-8")
    cases.append(Case("labels_header_only", "labels", p, "ok", info={"kept": 0, "dropped": {}}))

    p, names = folder("non_utf8_image_names")
    bad = os.path.join(os.fsencode(p / "FePh_images"), NON_UTF8_NAME + b".avi_pid0_fn000001-0.png")
    _write(bad, _encode(_face_like(24, 20), ".png"))
    (p / "FePh_labels.csv").write_text(_csv([(n, "4") for n in names]), encoding="utf-8")
    cases.append(Case("labels_non_utf8_image_names", "labels", p, "ok", info={"kept": len(names), "dropped": {}}))

    p = d / "no_images_folder"
    p.mkdir(parents=True, exist_ok=True)
    (p / "FePh_labels.csv").write_text(_csv([("a.png", "1")]), encoding="utf-8")
    cases.append(Case("labels_no_images_folder", "labels", p, "error", "folder"))

    p, names = folder("duplicate_same_code")  # "X,0" and "X,0.0" are one code written two ways: a plain duplicate
    rows = [(n, "0") for n in names] + [(names[0], "0.0"), (names[1], " 0 ")]
    (p / "FePh_labels.csv").write_text(_csv(rows), encoding="utf-8")
    cases.append(Case("labels_duplicate_same_code", "labels", p, "ok", info={"kept": len(names), "dropped": {"duplicate_id": 2}}))

    cases.append(Case("labels_missing_root", "labels", d / "does_not_exist", "error", "not found"))
    return cases


# --------------------------------------------------------------------------- hostile inputs (issue 13)
def write_png_bomb(path: Path, width: int = 30000, height: int = 30000, rows_per_block: int = 1000) -> Path:
    """A valid RGB PNG of ``width`` x ``height`` black pixels in a few MB (2.7 GB once decoded), made without
    ever holding the pixels: identical deflate blocks (full flushes reset the dictionary) repeated."""
    import struct
    import zlib

    row = b"\x00" + bytes(3 * width)  # filter type 0, black RGB
    block = row * rows_per_block
    n, rest = divmod(height, rows_per_block)
    z = zlib.compressobj(9)
    first = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)  # with the zlib header
    again = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)  # the same block again, compressed alone
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(block, adler)
    tail_raw = row * rest
    adler = zlib.adler32(tail_raw, adler)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)  # final block, no header
    body = first + again * (n - 1) + raw.compress(tail_raw) + raw.flush() + struct.pack(">I", adler)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


#: PIL's transpose that stores an upright picture so that EXIF orientation N shows it upright again (the inverse of
#: what ``PIL.ImageOps.exif_transpose`` applies for N)
STORE_FOR_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_90",
                         7: "TRANSVERSE", 8: "ROTATE_270"}


def upright_portrait() -> np.ndarray:
    """A real portrait (skimage's astronaut, cropped to 3:4 around the face), RGB uint8 320 x 240."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[0:320, 60:300])


def write_oriented(path: Path, upright: np.ndarray, orientation: int, **save_kw) -> Path:
    """Save ``upright`` stored sideways / mirrored with EXIF orientation ``orientation``, as cameras do."""
    from PIL import Image

    img = Image.fromarray(upright)
    if orientation != 1:
        img = img.transpose(getattr(Image.Transpose, STORE_FOR_ORIENTATION[orientation]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes(), **save_kw)
    return path


def make_hostile(root: Path) -> dict[str, Path]:
    """The hostile and careless inputs of issue 13 under ``root/hostile``; returns them by name."""
    d = root / "hostile"
    d.mkdir(parents=True, exist_ok=True)
    out = {"bomb": write_png_bomb(d / "bomb_30000.png")}
    upright = upright_portrait()
    for kind, kw in (("png", {}), ("jpg", {"quality": 95})):
        (d / f"oriented_{kind}").mkdir(exist_ok=True)
        for o in range(1, 9):
            out[f"orient_{kind}_{o}"] = write_oriented(d / f"oriented_{kind}" / f"o{o}.{kind}", upright, o, **kw)
    loop_a, loop_b = d / "loop_a.mp4", d / "loop_b.mp4"
    for link, target in ((loop_a, loop_b.name), (loop_b, loop_a.name)):
        if not link.is_symlink():
            os.symlink(target, link)
    out["loop"] = loop_a
    (d / "not_weights.safetensors").write_bytes(b"this is not a safetensors file\n" * 4)
    out["bad_safetensors"] = d / "not_weights.safetensors"
    (d / "broken.eaf").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<ANNOTATION_DOCUMENT>\n  <HEADER MEDIA_FILE="">\n'
                                  '  </HEADR>\n</ANNOTATION_DOCUMENT>\n', encoding="utf-8")
    out["broken_eaf"] = d / "broken.eaf"
    return out


# --------------------------------------------------------------------------- a video list for corpus annotation
def make_list(root: Path, videos: list[Case]) -> list[Case]:
    by_name = {c.name: c for c in videos}
    entries = [by_name["video_good"].path, by_name["video_truncated_avi"].path, by_name["video_missing"].path,
               by_name["video_empty"].path, by_name["video_corrupt_middle"].path]
    path = root / "corpus.txt"
    path.write_text("# videos to annotate, one a line\n" + "\n".join(str(p) for p in entries) + "\n\n", encoding="utf-8")
    return [Case("corpus_list", "list", path, "ok", info={"entries": [str(p) for p in entries]})]


def make_corpus(root: str | os.PathLike) -> list[Case]:
    """Write every fault case under ``root`` (created); return the cases."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    videos = make_videos(root)
    return make_images(root) + videos + make_labels(root) + make_list(root, videos)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "generated"
    for case in make_corpus(out):
        print(f"{case.name:32s} {case.expect:12s} {case.path}")


# --------------------------------------------------------------------------- real-recording quirks (issue 25), written with PyAV
def write_pyav(path: Path, frames: list[np.ndarray], codec: str = "mjpeg", fmt: str | None = None, rate: int = 10,
               times_s: list[float] | None = None, rotation: int | None = None) -> Path:
    """Encode RGB ``frames`` with PyAV; ``times_s`` gives each frame its own presentation time (variable frame rate);
    ``rotation`` writes a display matrix (a phone held upright) instead of turning the pixels."""
    import fractions

    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height = w, h
        s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if times_s is not None:
            s.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if times_s is not None:
                f.pts, f.time_base = int(round(times_s[i] * 1000)), fractions.Fraction(1, 1000)
            else:
                f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def moving_bar(n: int, size: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    h, w = size
    base = _face_like(h, w, 1)
    out = []
    for i in range(n):
        img = base.copy()
        x = int(i * (w - 8) / max(n - 1, 1))
        img[:, x : x + 8] = (250, 250, 30)
        out.append(img)
    return out


def write_vfr_recordings(d: Path) -> dict[str, tuple[Path, list[float]]]:
    """A webcam mkv whose camera paused for 4 s and a browser webm dropping from 30 to 15 fps: (file, frame times in s)."""
    d.mkdir(parents=True, exist_ok=True)
    pause = [i / 30 for i in range(12)] + [12 / 30 + 4 + i / 30 for i in range(12)]
    drop = [i / 30 for i in range(36)] + [36 / 30 + i / 15 for i in range(36)]
    return {"pause.mkv": (write_pyav(d / "pause.mkv", moving_bar(len(pause)), "libx264", times_s=pause, rate=30), pause),
            "drop.webm": (write_pyav(d / "drop.webm", moving_bar(len(drop)), "libvpx", times_s=drop, rate=30), drop)}


def _ebml_vint(b: bytes, i: int, keep_marker: bool) -> tuple[int, int]:
    first, n = b[i], 1
    while n <= 8 and not first & (0x80 >> (n - 1)):
        n += 1
    v = first if keep_marker else first & (0xFF >> n)
    for k in range(1, n):
        v = (v << 8) | b[i + k]
    return v, i + n


def mkv_block_time_offsets(b: bytes) -> list[int]:
    """Byte offsets of the 2-byte cluster-relative timestamps of every Matroska (Simple)Block, in file order."""
    out: list[int] = []

    def walk(i: int, end: int) -> None:
        while i < end:
            eid, j = _ebml_vint(b, i, True)
            size, k = _ebml_vint(b, j, False)
            if eid in (0x18538067, 0x1F43B675, 0xA0):  # Segment, Cluster, BlockGroup
                walk(k, min(end, k + size))
            elif eid in (0xA3, 0xA1):  # SimpleBlock, Block: track number, then the int16 time
                out.append(_ebml_vint(b, k, False)[1])
            i = k + size

    walk(0, len(b))
    return out


def write_broken_clock(path: Path, relative_ms: list[int]) -> Path:
    """An MJPEG mkv whose blocks carry the given (cluster-relative) times: repeated and backwards, as a broken camera clock."""
    import struct

    write_pyav(path.with_suffix(".tmp.mkv"), moving_bar(len(relative_ms)), "mjpeg", "matroska", rate=25)
    b = bytearray(path.with_suffix(".tmp.mkv").read_bytes())
    path.with_suffix(".tmp.mkv").unlink()
    offsets = mkv_block_time_offsets(bytes(b))
    assert len(offsets) == len(relative_ms), (len(offsets), len(relative_ms))
    for o, t in zip(offsets, relative_ms):
        b[o : o + 2] = struct.pack(">h", t)
    path.write_bytes(bytes(b))
    return path


def write_two_streams(path: Path, n: int = 6) -> Path:
    """An mkv whose first video stream is a 64x48 blank and whose second holds the recording (128x96, the astronaut)."""
    import av
    from skimage import data

    big = cv2.resize(data.astronaut(), (128, 96))
    with av.open(str(path), "w", format="matroska") as c:
        s0 = c.add_stream("mjpeg", rate=10)
        s0.width, s0.height, s0.pix_fmt = 64, 48, "yuvj420p"
        s1 = c.add_stream("mjpeg", rate=10)
        s1.width, s1.height, s1.pix_fmt = 128, 96, "yuvj420p"
        for i in range(n):
            for s, img in ((s0, np.zeros((48, 64, 3), np.uint8)), (s1, big)):
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts = i
                for p in s.encode(f):
                    c.mux(p)
        for s in (s0, s1):
            for p in s.encode():
                c.mux(p)
    return path
