"""The one Annotator: loaded models, the option tree and the writers, built once per process (or Ray actor)
and called once per input.

    >>> annotator = Annotator(models, AnnotationOptions(...), OutputOptions(formats=("csv", "eaf")))
    >>> result = annotator.annotate("clip.mp4", "out")           # out/clip.csv, out/clip.eaf

``signfer annotate`` (:func:`signfer.annotate.inputs.annotate_inputs`), ``signfer annotate-corpus``
(:mod:`signfer.scale.corpus`, every local worker and Ray actor holds one), ``Recognizer.annotate_video`` /
``.annotate`` and the demo all annotate through it. Models are loaded by
:func:`signfer.annotate.inputs.load_annotator` (this module imports no model code). :meth:`Annotator.settings`
is what the done-markers (:mod:`signfer.annotate.done`) compare: the model files' fingerprints and the options.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from signfer.annotate.done import file_sha256
from signfer.annotate.media import AnnotationResult, annotate_media, as_models
from signfer.annotate.options import AnnotationOptions, OutputOptions
from signfer.errors import OutputInUse


class Annotator:
    """``models``: a Recognizer or ``{"full", "upper", "lower"}`` of them; ``options``: what the pipeline does;
    ``outputs``: what is written; ``hand_detector``: an object with ``.detect(rgb)`` instead of
    ``options.hands.detector`` (tests)."""

    def __init__(self, models, options: AnnotationOptions | None = None, outputs: OutputOptions | None = None, *, hand_detector=None):
        self.models = as_models(models)
        self.options = options or AnnotationOptions()
        self.outputs = outputs or OutputOptions()
        self.hand_detector = hand_detector
        self._settings: dict | None = None

    @property
    def recognizer(self):
        """The full-face model's Recognizer."""
        return self.models["full"]

    def describe(self) -> str:
        m = self.models
        return f"model: {m['full'].describe()}" + "".join(f"; {r} face: {m[r].describe()}" for r in ("upper", "lower") if m[r] is not None)

    def annotate(self, path: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, name: str | None = None,
                 collect: bool = False, progress: bool = False) -> AnnotationResult:
        """Annotate one video, image folder or image; with ``out_dir`` write ``out_dir/<name>.*`` (all or none)."""
        return annotate_media(self.models, path, out_dir, formats=self.outputs.formats, overlay=self.outputs.overlay, options=self.options,
                              collect=collect, name=name, progress=progress, hand_detector=self.hand_detector)  # fmt: skip

    def settings(self) -> dict:
        """What decides whether an earlier run's outputs still hold: each model (its description, detector settings
        and the SHA-256 of every file it was loaded from), the options and the outputs asked for."""
        if self._settings is None:
            models = {r: _model_fingerprint(m) for r, m in self.models.items() if m is not None}
            self._settings = {"models": models, "options": self.options.to_dict(), "outputs": self.outputs.to_dict()}
        return self._settings


def _model_fingerprint(rec) -> dict:
    import signfer

    files = {str(Path(f).resolve()): file_sha256(f) for f in getattr(rec, "model_files", ()) or ()}
    out = {"source": rec.source, "backend": rec.backend, "detector": rec.detector_name, "detect_scale": rec.detect_scale,
           "min_face_score": rec.min_face_score, "spec": rec.spec.to_dict(), "files": files}  # fmt: skip
    if not files:  # a named model whose weights signfer verifies by their digest: the name and the version
        out["signfer"] = signfer.__version__
    return out


# --------------------------------------------------------------------------- one run per output folder
LOCK_FILE = ".signfer-lock"


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike):
    """Own ``folder`` for one run: ``folder/.signfer-lock``, locked (``flock``) while the run lasts and naming its
    process and host. The operating system releases the lock when its owner dies (killed, crashed), so a dead
    run's lock is taken over; a live one raises :class:`~signfer.errors.OutputInUse`."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            owner = _lock_owner(lock)
            who = f"process {owner[0]} on {owner[1]}" if owner else "another signfer run"
            raise OutputInUse(f"{folder} is in use by {who} (lock file {lock}); wait for that run to finish") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was replaced between open and lock (its owner released it): lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        yield lock
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _lock_owner(lock: Path) -> tuple[int, str] | None:
    try:
        pid, host = lock.read_text(encoding="utf-8").split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None


__all__ = ["LOCK_FILE", "Annotator", "output_lock"]
