"""Reading user media and writing results safely.

Every reader raises :class:`InputError` naming the offending file, so callers that
process many inputs can record the reason and carry on. Every writer goes through
:func:`atomic_write`, so a crash never leaves a half-written CSV, JSON or EAF file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from signfer.errors import UserError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


class InputError(UserError):
    """A user input (image, video, label file) that cannot be used; the message names it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def to_uint8_rgb(array: np.ndarray, *, bgr: bool = False) -> np.ndarray:
    """Bring grayscale, RGBA/BGRA, 16-bit or float images to RGB uint8 (H, W, 3)."""
    img = np.asarray(array)
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype.kind == "f":
        scale = 255.0 if img.max(initial=0) <= 1.0 else 1.0
        img = np.clip(img * scale, 0, 255).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W[, 1|3|4]), got {img.shape}")
    if img.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    img = img[:, :, :3]
    if bgr:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); grayscale, RGBA and 16-bit are converted.

    Raises :class:`InputError` for a missing, empty, truncated or non-image file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    if path.is_dir():
        raise InputError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    data = np.fromfile(path, dtype=np.uint8)  # works for non-ASCII names too
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(path, "not a readable image (corrupt, truncated or not an image format)")
    try:
        return to_uint8_rgb(img, bgr=img.ndim == 3)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically; the format follows the suffix."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(rgb[:, :, ::-1]) if rgb.ndim == 3 else rgb)
    if not ok:
        raise OSError(f"{path}: could not encode image")
    with atomic_write(path, "wb") as fh:
        fh.write(buf.tobytes())


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    with _replace_on_success(tmp, path):
        # backslashreplace: a file name that is not valid UTF-8 (kept by Python as surrogates) is written escaped
        text = "b" not in mode
        with os.fdopen(fd, mode, encoding=encoding if text else None, errors="backslashreplace" if text else None, newline=None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files


@contextlib.contextmanager
def _replace_on_success(tmp: str | os.PathLike, target: Path) -> Iterator[None]:
    """Rename ``tmp`` over ``target`` if the block succeeds; otherwise delete ``tmp`` and re-raise, an
    ``OSError`` (disk full, file too large, no permission) naming ``target``."""
    try:
        yield
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(target)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_path(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Like :func:`atomic_write` for writers that want a path (pympi, cv2.VideoWriter, torch.save)."""

    @contextlib.contextmanager
    def _ctx():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.stem}.part{target.suffix}")
        with _replace_on_success(tmp, target):
            yield tmp

    return _ctx()


def find_media(root: str | os.PathLike, suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """All files below ``root`` (recursive, sorted) whose suffix is in ``suffixes``; a file is itself."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.exists():
        raise InputError(root, "does not exist")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
