"""The speed-ups of the annotation pipeline change nothing: table normalisation, background classification,
and an ONNX Runtime recognizer with an MTCNN detector that never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from signfer.annotate.media import _classify_in_background
from signfer.inference.recognizer import LookupNormalizer, Recognizer
from signfer.models.spec import ModelSpec


@pytest.mark.parametrize(
    "options",
    [{}, {"normalization": "caffe"}, {"normalization": "ip"}, {"normalization": "raw"}, {"normalization": "minus_one_one"}, {"normalization": "unit"}, {"mean": (0.5, 0.4, 0.3), "std": (0.2, 0.3, 0.4)}],
)
def test_lookup_normalizer_is_bit_identical(options, astronaut):
    spec = ModelSpec("x", ["a", "b"], **options)
    norm = LookupNormalizer.for_spec(spec)
    crops = np.stack([astronaut[:96, :80], astronaut[200:296, 150:230], np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)])
    got = norm(crops)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, spec.normalize(crops))


def test_lookup_normalizer_refuses_channel_mixing():
    assert LookupNormalizer.for_spec(ModelSpec("x", ["a"], grayscale=True)) is None


def test_background_classification_gives_the_same_rows(tiny_checkpoint, moving_face_clip):
    inline = Recognizer.from_pretrained(tiny_checkpoint, threads=1, batch_size=4)
    overlapped = Recognizer.from_pretrained(tiny_checkpoint, threads=2, batch_size=4)
    assert not _classify_in_background(inline) and _classify_in_background(overlapped)
    for detect_every in (1, 3):
        a = inline.annotate_video(moving_face_clip.path, detect_every=detect_every, smooth=3)
        b = overlapped.annotate_video(moving_face_clip.path, detect_every=detect_every, smooth=3)
        assert (a["status"] == "ok").sum() == 13 and set(a.loc[a["status"] != "ok", "frame"]) == {4, 5, 11}
        assert a.equals(b)


def test_onnx_recognizer_with_mtcnn_imports_no_torch(tiny_checkpoint, tiny_recognizer, astronaut, tmp_path):
    """A warm cache (classifier and MTCNN exported to ONNX once): loading and predicting load no torch."""
    tiny_recognizer.predict(astronaut)  # exports whatever is not cached yet
    np.save(tmp_path / "astronaut.npy", astronaut)
    code = (
        "import sys, numpy as np\n"
        "from signfer.inference.recognizer import Recognizer\n"
        f"rec = Recognizer.from_pretrained({str(tiny_checkpoint)!r}, backend='onnx', detector='mtcnn', detect_scale=0.5)\n"
        f"p = rec.predict(np.load({str(tmp_path / 'astronaut.npy')!r}))\n"
        "print(p.status, rec.backend, 'torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "onnxruntime", "False", "False"]


def test_read_ahead_keeps_order_stays_bounded_and_raises_in_order():
    import threading
    import time

    from signfer.annotate.media import ReadAhead

    made = []

    def source(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise OSError("truncated video")
            made.append(i)
            yield [i]

    with ReadAhead(source(50), depth=2) as ahead:
        got = []
        for batch in ahead:
            time.sleep(0.002)
            assert len(made) - len(got) <= 2 + 2  # queued (2) + the one being handed out + the one waiting to be put
            got += batch
    assert got == list(range(50))
    made.clear()
    ahead = ReadAhead(source(10, fail_at=4), depth=2)
    assert [next(ahead) for _ in range(4)] == [[0], [1], [2], [3]]
    with pytest.raises(OSError, match="truncated"):
        next(ahead)
    ahead.close()
    # closing early stops the decoding thread (the reader may then be closed safely)
    ahead = ReadAhead(source(10**6), depth=2)
    next(ahead)
    ahead.close()
    assert not ahead._thread.is_alive() and len(made) < 100
    assert not any(t.name == "signfer-decode" for t in threading.enumerate())
