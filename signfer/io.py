"""Reading user media and writing results safely.

Every reader raises :class:`InputError` naming the offending file, so callers that
process many inputs can record the reason and carry on. Every writer goes through
:func:`atomic_write` / :func:`atomic_path`, so a crash never leaves a half-written CSV, JSON,
EAF, video or checkpoint: the data goes to a hidden temporary file beside the target
(``.NAME.signfer-<host>-<pid>-<random>.part[.SUFFIX]``, unique per process) that is renamed
over the target only when complete. Temporary files of processes that died (SIGKILL, power
loss) are removed by the next write into the same folder.

Guards shared by the commands: :func:`read_image` refuses images above a pixel limit from the
file header, before decoding (:func:`max_image_pixels`); :func:`refuse_overwrite` stops a
command from writing over one of its own inputs or a model checkpoint (which inputs a rerun skips
is decided by :mod:`signfer.annotate.done`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from signfer.errors import InputError, InvalidImage, UserError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
#: files a command that does not write model weights must never replace
CHECKPOINT_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".h5"})

#: environment variable with the largest image (width x height) :func:`read_image` decodes; 0 = no limit
MAX_IMAGE_PIXELS_ENV = "SIGNFER_MAX_IMAGE_PIXELS"
#: 100 megapixels: well above any camera frame (an 8K frame is 33 MP, a 61 MP full-frame photo 9504 x 6336)
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000



def _opencv_limit(pixels: int) -> None:
    """OpenCV's own header check, the backstop for formats :func:`image_header` does not parse (EXR, HDR,
    JPEG 2000, PNM, ...). OpenCV reads it once, at the first decode of the process: set before anything is decoded."""
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(pixels if pixels else 1 << 40)


try:  # always from signfer's limit (an inherited value may come from a parent with another limit)
    _opencv_limit(int(float(os.environ.get(MAX_IMAGE_PIXELS_ENV, "").strip() or DEFAULT_MAX_IMAGE_PIXELS)))
except ValueError:  # reported by max_image_pixels() when an image is read
    _opencv_limit(DEFAULT_MAX_IMAGE_PIXELS)

import cv2
import numpy as np


# --------------------------------------------------------------------------- paths
def missing_reason(path: str | os.PathLike) -> str:
    """Why ``path`` cannot be opened although named: a symlink loop, a broken symlink, or it does not exist."""
    p = Path(path)
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points, directly or through others, back to itself)"
        if os.path.islink(p):
            return f"broken symbolic link (points to {os.readlink(p)!r}, which does not exist)"
        if exc.errno == errno.EACCES:
            return "permission denied"
        if exc.errno == errno.ENOTDIR:
            return "does not exist (a part of the path is a file, not a folder)"
        return "file does not exist"
    return ""


def check_exists(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path`; :class:`InputError` saying why when it cannot be opened (see :func:`missing_reason`)."""
    reason = missing_reason(path)
    if reason:
        raise InputError(path, reason)
    return Path(path)


def resolve(path: str | os.PathLike) -> Path:
    """``Path(path).resolve()``, with a symlink loop an :class:`InputError` (pathlib raises RuntimeError or OSError)."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        raise InputError(path, missing_reason(path) or "cannot resolve the path") from None


# --------------------------------------------------------------------------- image headers (size and EXIF orientation)
@dataclass(frozen=True)
class ImageHeader:
    """What the first bytes of an image file say: ``format``, ``width`` x ``height`` and the EXIF ``orientation`` (1-8)."""

    format: str
    width: int
    height: int
    orientation: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _tiff_tags(buf: bytes, start: int = 0, wanted=(256, 257, 274)) -> dict[int, int]:
    """Integer values of ``wanted`` tags of the first IFD of the TIFF structure at ``buf[start:]``
    (a TIFF file, or the EXIF block of a JPEG / PNG / WebP)."""
    t = buf[start:]
    if len(t) < 8 or t[:2] not in (b"II", b"MM"):
        return {}
    e = "<" if t[:2] == b"II" else ">"
    if struct.unpack(e + "H", t[2:4])[0] != 42:
        return {}
    ifd = struct.unpack(e + "I", t[4:8])[0]
    if ifd + 2 > len(t):
        return {}
    n = struct.unpack(e + "H", t[ifd : ifd + 2])[0]
    out = {}
    for k in range(n):
        entry = t[ifd + 2 + 12 * k : ifd + 14 + 12 * k]
        if len(entry) < 12:
            break
        tag, typ = struct.unpack(e + "HH", entry[:4])
        if tag in wanted:
            if typ == 3:  # SHORT
                out[tag] = struct.unpack(e + "H", entry[8:10])[0]
            elif typ == 4:  # LONG
                out[tag] = struct.unpack(e + "I", entry[8:12])[0]
    return out


def _orientation(tags: dict[int, int]) -> int:
    value = tags.get(274, 1)
    return value if 1 <= value <= 8 else 1


def _exif_orientation(block: bytes) -> int:
    """Orientation of an EXIF block (with or without the ``Exif\\0\\0`` prefix)."""
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    return _orientation(_tiff_tags(block, 0, (274,)))


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(buf: bytes) -> ImageHeader | None:
    pos, orientation = 2, 1
    while pos + 4 <= len(buf):
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", buf[pos + 2 : pos + 4])[0]
        seg = buf[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and seg.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(seg)
        elif marker in _JPEG_SOF:
            if len(seg) < 5:
                return None
            h, w = struct.unpack(">HH", seg[1:5])
            return ImageHeader("jpeg", w, h, orientation)
        elif marker == 0xDA:  # start of scan before any frame header: broken
            return None
        pos += 2 + length
    return None


def _png(buf: bytes) -> ImageHeader | None:
    if len(buf) < 24 or buf[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", buf[16:24])
    pos, orientation = 8, 1
    while pos + 8 <= len(buf):
        length, kind = struct.unpack(">I", buf[pos : pos + 4])[0], buf[pos + 4 : pos + 8]
        if kind == b"eXIf":
            orientation = _exif_orientation(buf[pos + 8 : pos + 8 + length])
            break
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return ImageHeader("png", w, h, orientation)


def _webp(buf: bytes) -> ImageHeader | None:
    size, orientation, pos = None, 1, 12
    while pos + 8 <= len(buf):
        kind, length = buf[pos : pos + 4], struct.unpack("<I", buf[pos + 4 : pos + 8])[0]
        data = buf[pos + 8 : pos + 8 + length]
        if kind == b"VP8X" and len(data) >= 10:
            size = (1 + int.from_bytes(data[4:7], "little"), 1 + int.from_bytes(data[7:10], "little"))
        elif kind == b"VP8 " and size is None and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", data[6:10])
            size = (w & 0x3FFF, h & 0x3FFF)
        elif kind == b"VP8L" and size is None and len(data) >= 5 and data[0] == 0x2F:
            bits = int.from_bytes(data[1:5], "little")
            size = (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
        elif kind == b"EXIF":
            orientation = _exif_orientation(data)
        pos += 8 + length + (length & 1)
    return None if size is None else ImageHeader("webp", size[0], size[1], orientation)


def _bmp(buf: bytes) -> ImageHeader | None:
    if len(buf) < 26:
        return None
    dib = struct.unpack("<I", buf[14:18])[0]
    if dib == 12:
        w, h = struct.unpack("<HH", buf[18:22])
    else:
        w, h = struct.unpack("<ii", buf[18:26])
    return ImageHeader("bmp", abs(w), abs(h))


def _tiff(buf: bytes) -> ImageHeader | None:
    tags = _tiff_tags(buf)
    if 256 not in tags or 257 not in tags:
        return None
    return ImageHeader("tiff", tags[256], tags[257], _orientation(tags))


def image_header(data: bytes) -> ImageHeader | None:
    """Size and EXIF orientation of a PNG, JPEG, WebP, BMP, GIF or TIFF image from its first bytes, without
    decoding it; ``None`` for other formats (and for headers too broken to say).

    (Pillow would read these too, but it is not a base dependency; OpenCV has no header-only reader.)
    """
    head = data[:16]
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(data)
        if head.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(data)
        if head.startswith(b"BM"):
            return _bmp(data)
        if head[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return ImageHeader("gif", w, h)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(data)
    except struct.error:
        return None
    return None


def max_image_pixels() -> int:
    """The pixel limit of :func:`read_image`: ``$SIGNFER_MAX_IMAGE_PIXELS`` (``0``: none), default 100 megapixels."""
    text = os.environ.get(MAX_IMAGE_PIXELS_ENV, "").strip().replace("_", "")
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        raise UserError(f"${MAX_IMAGE_PIXELS_ENV} must be a number of pixels (0 = no limit), got {text!r}") from None
    if value < 0:
        raise UserError(f"${MAX_IMAGE_PIXELS_ENV} must be >= 0 (0 = no limit), got {value}")
    return value


def set_max_image_pixels(pixels: int | None) -> None:
    """Set the limit of :func:`read_image` for this process and the worker processes it starts (0 = none)."""
    if pixels is None:
        return
    if int(pixels) < 0:
        raise UserError(f"the image pixel limit must be >= 0 (0 = no limit), got {pixels}")
    os.environ[MAX_IMAGE_PIXELS_ENV] = str(int(pixels))
    _opencv_limit(int(pixels))  # effective if this process has not decoded an image yet (the command line sets it first)


def check_image_pixels(path: str | os.PathLike, width: int, height: int, limit: int | None = None) -> None:
    """:class:`InputError` when ``width`` x ``height`` is above the pixel limit (:func:`max_image_pixels`)."""
    limit = max_image_pixels() if limit is None else limit
    if limit and width * height > limit:
        raise InputError(path, f"image of {width} x {height} = {width * height / 1e6:.0f} megapixels is above the limit of "
                         f"{limit / 1e6:g} megapixels, refused without decoding it (raise the limit with "
                         f"--max-image-pixels or ${MAX_IMAGE_PIXELS_ENV}; 0 = no limit)")


_HEAD_BYTES = 1 << 20  # enough for any header, EXIF thumbnails and ICC profiles included (JPEG segments are < 64 KB)


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image stored with EXIF ``orientation`` (1-8) upright, as photo viewers show it."""
    ops = {
        2: lambda a: a[:, ::-1],  # mirrored
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1],  # mirrored upside down
        5: lambda a: a.swapaxes(0, 1),  # transposed
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],  # rotate 90 degrees clockwise
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # transversed
        8: lambda a: a.swapaxes(0, 1)[::-1],  # rotate 90 degrees counter-clockwise
    }
    op = ops.get(int(orientation))
    return img if op is None else np.ascontiguousarray(op(img))


# --------------------------------------------------------------------------- reading images
def to_uint8_rgb(array: np.ndarray, *, bgr: bool = False) -> np.ndarray:
    """Bring grayscale, RGBA/BGRA, 16-bit or float images to RGB uint8 (H, W, 3)."""
    if array is None:
        raise InvalidImage("expected an image (a numpy array or a file path), got None")
    img = np.asarray(array)
    if img.dtype == object or img.dtype.kind not in "uifb":
        raise InvalidImage(f"expected an image (a numpy array of numbers or a file path), got {type(array).__name__}")
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype.kind == "f":
        scale = 255.0 if img.max(initial=0) <= 1.0 else 1.0
        img = np.clip(img * scale, 0, 255).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or 0 in img.shape:
        raise InvalidImage(f"expected an image of shape (H, W[, 1|3|4]), got {img.shape}")
    if img.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    img = img[:, :, :3]
    if bgr:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), upright as its EXIF orientation says; grayscale, RGBA
    and 16-bit are converted.

    Raises :class:`InputError` for a missing, empty, truncated or non-image file, and, from the
    header before anything is decoded, for an image above ``max_pixels`` (default
    :func:`max_image_pixels`: 100 megapixels, ``$SIGNFER_MAX_IMAGE_PIXELS``).
    """
    path = check_exists(path)
    if path.is_dir():
        raise InputError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    with open(path, "rb") as fh:  # works for non-ASCII names too
        head = fh.read(_HEAD_BYTES)
        header = image_header(head)
        if header is not None:
            check_image_pixels(path, header.width, header.height, max_pixels)
        data = head + fh.read()
    if header is not None and header.format == "webp":
        header = image_header(data)  # the EXIF chunk of a WebP file may come after the pixels
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)  # keeps 16 bit and alpha; ignores EXIF
    except cv2.error as exc:  # OpenCV's own size check (formats image_header does not parse), broken codec streams
        if "MAX_IMAGE_PIXELS" in str(exc):
            raise InputError(path, f"image above the limit of {max_image_pixels() / 1e6:g} megapixels (OpenCV's header check), "
                             f"refused without decoding it (raise it with --max-image-pixels or ${MAX_IMAGE_PIXELS_ENV})") from None
        img = None
    if img is None:
        raise InputError(path, "not a readable image (corrupt, truncated, not an image format, or above OpenCV's size limit)")
    if header is not None and header.orientation != 1 and header.format != "tiff":  # OpenCV's TIFF decoder turns TIFFs itself
        img = apply_orientation(img, header.orientation)
    try:
        return to_uint8_rgb(img, bgr=img.ndim == 3)
    except InvalidImage as exc:
        raise InputError(path, str(exc)) from None


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically; the format follows the suffix."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(rgb[:, :, ::-1]) if rgb.ndim == 3 else rgb)
    if not ok:
        raise OSError(f"{path}: could not encode image")
    with atomic_write(path, "wb") as fh:
        fh.write(buf.tobytes())


# --------------------------------------------------------------------------- atomic writes
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


#: characters ``tempfile.mkstemp`` puts between the prefix and the suffix
_RANDOM_CHARS = 8


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _part_prefix(stem: str, suffix: str = ".part", folder: Path | None = None) -> str:
    """``.STEM.signfer-<host>-<pid>-``: whose temporary file it is (see :func:`clean_stale_parts`). ``STEM`` is
    shortened (whole characters) so that the temporary name, with ``suffix`` and mkstemp's random part, fits the
    folder's name limit (255 bytes): a 240-byte file name the file system accepted gets a temporary name too."""
    tail = f".signfer-{_host()}-{os.getpid()}-"
    room = (_name_max(folder) if folder is not None else 255) - len(os.fsencode("." + tail + suffix)) - _RANDOM_CHARS
    encoded = os.fsencode(stem)
    if len(encoded) > room:
        cut = encoded[: max(room, 0)]
        while cut:  # drop a UTF-8 sequence cut in half
            try:
                cut.decode("utf-8")
                break
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data":
                    break  # not UTF-8 anyway (surrogate-escaped bytes): any byte boundary is a name
                cut = cut[:-1]
        stem = os.fsdecode(cut)
    return f".{stem}{tail}"


_PART = re.compile(r"^\..*\.signfer-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[^.]*\.part(\.[^.]*)?$")
_CLEANED: set[str] = set()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (another user's counts). A zombie (exited, not yet reaped: an
    orphan in a container whose first process reaps nothing) does not run: it will never finish what it began."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): the signal said it exists
        return True


def clean_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` / :func:`atomic_path` that processes of this machine
    left in ``folder`` when they died (SIGKILL, out of memory, power loss); those of running processes and other
    machines are kept. Returns the removed files."""
    removed = []
    host = _host()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _PART.match(entry.name)
        if not m or m["host"] != host or int(m["pid"]) == os.getpid() or pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _prepare_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{os.getpid()}:{folder.resolve()}"
    if key not in _CLEANED:  # once per folder and process
        _CLEANED.add(key)
        clean_stale_parts(folder)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    _prepare_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=_part_prefix(path.name, ".part", path.parent), suffix=".part", dir=path.parent)
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
            if exc.errno is not None:  # [Errno N] reason: 'target'
                exc.filename = str(target)
            elif str(target) not in str(exc):  # a bare OSError("text"): a filename would print "[Errno None] None"
                exc.args = (f"{target}: {exc}",) if exc.args else (f"{target}: could not be written",)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_path(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Like :func:`atomic_write` for writers that want a path (pympi, cv2.VideoWriter, torch.save): a unique
    temporary path beside ``path`` with the same suffix (writers pick the format from it)."""

    @contextlib.contextmanager
    def _ctx():
        target = Path(path)
        _prepare_folder(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=_part_prefix(target.stem, f".part{target.suffix}", target.parent), suffix=f".part{target.suffix}", dir=target.parent)
        os.close(fd)
        os.unlink(tmp)  # the name is ours (pid + random part); writers create the file (pympi backs up one that exists)
        with _replace_on_success(tmp, target):
            yield Path(tmp)

    return _ctx()


# --------------------------------------------------------------------------- guards
def refuse_overwrite(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike] = (), *,
                     writes: str = "results", protect: Iterable[str] = CHECKPOINT_SUFFIXES) -> None:
    """Raise :class:`~signfer.errors.UserError` when writing ``outputs`` would replace one of ``inputs``
    (the same file, also through a symbolic link or another hard link) or an existing file whose suffix is in
    ``protect`` (model checkpoints, for commands that do not write them). ``writes`` names what the command
    writes, for the message."""
    ids = {}
    for p in inputs:
        with contextlib.suppress(OSError, ValueError):
            st = os.stat(p)
            ids[(st.st_dev, st.st_ino)] = Path(p)
    protect = {s.lower() for s in protect}
    for out in outputs:
        out = Path(out)
        try:
            st = os.lstat(out)  # the entry the rename replaces: a symlink named OUT is replaced, not its target
        except (OSError, ValueError):
            continue
        same = ids.get((st.st_dev, st.st_ino))
        if same is not None:
            raise UserError(f"{out} is this command's input{'' if str(same) == str(out) else f' {same}'}: writing the {writes} "
                            "there would destroy it; choose another output")
        if out.suffix.lower() in protect and out.is_file():
            raise UserError(f"{out} is an existing model file ({out.suffix}): refusing to write the {writes} over it; "
                            "choose another output (or delete it first)")


# --------------------------------------------------------------------------- text files and XML
def read_text_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a user's text file (a list of inputs): UTF-8 with or without a byte-order mark; bytes
    that are not UTF-8 are kept as surrogates (file names need not be valid UTF-8)."""
    return Path(path).read_bytes().decode("utf-8-sig", "surrogateescape").splitlines()


def xml_error_reason(exc: BaseException) -> str:
    """The reason of an XML parse failure with its line and column (``ParseError.position``), also when a
    library (pympi) re-raised it as a bare ``Exception``."""
    err = exc
    while err is not None and not hasattr(err, "position"):
        err = err.__cause__ or err.__context__
    if err is None:
        return str(exc)
    line, column = err.position
    text = str(err).split(":")[0].strip() or str(err)
    return f"XML error at line {line}, column {column + 1}: {text}"


def find_media(root: str | os.PathLike, suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """All files below ``root`` (recursive, sorted) whose suffix is in ``suffixes``; a file is itself.
    Symbolic links that loop or point nowhere are skipped."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(root, missing_reason(root) or "is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
