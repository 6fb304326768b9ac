"""Preset easier2025 = the 2025 code's pipeline (EASIER-EkmanClassifier utils/img.py, Scripts/NormalizeImages.py),
transcribed with Pillow; easier2025-refined = signfer's; old model specs naming easier2025 keep their crops."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from signfer.faces import transforms as T
from signfer.faces.preprocessing import crop_box_for, preprocess, preprocess_image
from signfer.faces.presets import get_preset
from signfer.faces.types import Face

PIL = pytest.importorskip("PIL.Image")


def code_crop(img_np: np.ndarray, x: int, y: int, width: int, height: int, eye_r, eye_l) -> np.ndarray:
    """utils/img.py normalize_image_np after the box arithmetic (square / _scale_bbox), transcribed line by line:
    ``img.crop((x, y, x + width, y + height))``, ``_normalize_image_histeq`` (cv2.equalizeHist per band),
    ``theta = math.atan((eye_r[1] - eye_l[1]) / (eye_r[0] - eye_l[0]))``,
    ``img_cropped.rotate(angle=theta_degs, resample=PIL.Image.NEAREST)``, RGBA -> RGB."""
    img = PIL.fromarray(img_np, "RGB")
    img_cropped = img.crop((x, y, x + width, y + height))
    w, h = img_cropped.size
    out = np.ndarray(shape=(h, w, 3), dtype="uint8")
    for band_i in range(3):
        band = np.asarray(img_cropped)[:, :, band_i].ravel().astype(np.uint8)  # img.getdata(band=band_i)
        out[:, :, band_i] = cv2.equalizeHist(src=band).reshape(h, w)
    img_cropped = PIL.fromarray(obj=out, mode="RGB")
    eye_r, eye_l = np.asarray(eye_r, float) - (x, y), np.asarray(eye_l, float) - (x, y)
    theta = math.atan((eye_r[1] - eye_l[1]) / (eye_r[0] - eye_l[0]))
    img_cropped = img_cropped.rotate(angle=math.degrees(theta), resample=PIL.NEAREST)
    if img_cropped.mode == "RGBA":
        img_cropped = img_cropped.convert("RGB")
    return np.asarray(img_cropped)


def test_pil_rotate_nearest_is_pillow_pixel_for_pixel(astronaut):
    crop = astronaut[40:201, 160:290]  # odd height, even width
    for angle in (3.7, -12.25, 0.4, 30.0, -0.01, 90.0, 180.0, 0.0):
        want = np.asarray(PIL.fromarray(crop).rotate(angle, resample=PIL.NEAREST))
        np.testing.assert_array_equal(T.pil_rotate_nearest(crop, angle), want, err_msg=f"angle {angle}")


@pytest.mark.parametrize("which", ["astronaut", "grace_hopper"])
def test_easier2025_crop_is_the_codes(which, request):
    """On the real photos, with the box signfer computes (the box arithmetic is tests/faces/test_published_box.py):
    the crop, black padding, equalisation and PIL rotation about the crop centre are the code's, pixel for pixel."""
    from signfer.faces.detect import get_detector

    img = request.getfixturevalue(which)
    face = get_detector("mtcnn", min_face_size=50).detect(img)[0]  # the code's face_list[0]
    box = crop_box_for(face, get_preset("easier2025"))
    x1, y1, x2, y2 = (int(v) for v in box)
    native = get_preset("easier2025", size=x2 - x1)  # no resize: every pixel comparable
    ours = preprocess(img, face, native).pixels
    want = code_crop(img, x1, y1, x2 - x1, y2 - y1, face.right_eye, face.left_eye)
    np.testing.assert_array_equal(ours, want)
    refined = preprocess(img, face, get_preset("easier2025-refined", size=x2 - x1)).pixels
    assert (refined != want).any(axis=2).mean() > 0.3  # signfer's bilinear rotation about the eyes: another image


def test_black_padding_and_no_face_fallback_without_equalisation(grace_hopper, astronaut):
    from signfer.faces.detect import get_detector

    # a face at the frame's edge: the code pads black (PIL crop); refined repeats the border
    shifted = np.ascontiguousarray(astronaut[:, 175:])
    face = Face(box=(179 - 175, 58, 268 - 175, 173), left_eye=(204 - 175, 101), right_eye=(246 - 175, 103))
    box = crop_box_for(face, get_preset("easier2025"))
    assert box[0] < -10
    code = preprocess(shifted, face, get_preset("easier2025", align=False, size=int(box[2] - box[0]))).pixels
    np.testing.assert_array_equal(code, code_crop_no_rotation(shifted, *map(int, box)))
    edge = preprocess(shifted, face, get_preset("easier2025-refined", align=False, size=int(box[2] - box[0]))).pixels
    assert (edge[:, : -int(box[0])] != code[:, : -int(box[0])]).any(axis=2).mean() > 0.9  # the padded strip differs
    # no face: the whole frame as it is (NormalizeImages.py: img_cropped = img_np), only resized; refined: no crop
    blank = np.full((120, 160, 3), 90, np.uint8)
    blank[:60] = 30
    mtcnn = get_detector("mtcnn", min_face_size=50)
    whole = preprocess_image(blank, get_preset("easier2025", size=64), detector=mtcnn)
    assert whole.face is None
    np.testing.assert_array_equal(whole.pixels, T.resize_face(blank, 64))  # not equalised (that would give 0 / 255)
    assert preprocess_image(blank, get_preset("easier2025-refined", size=64), detector=mtcnn) is None


def code_crop_no_rotation(img_np, x1, y1, x2, y2) -> np.ndarray:
    img_cropped = PIL.fromarray(img_np, "RGB").crop((x1, y1, x2, y2)).convert("RGB")
    return np.dstack([cv2.equalizeHist(np.ascontiguousarray(np.asarray(img_cropped)[:, :, c])) for c in range(3)])


def test_first_face_without_a_score_floor():
    """face_list[0] with no confidence test: a weak face that comes first is kept by easier2025 only."""
    from signfer.faces.detect import confident_faces, pick_face

    class Det:
        name = "mtcnn"

    weak_big = Face(box=(0, 0, 100, 100), score=0.5)
    strong_small = Face(box=(0, 0, 60, 60), score=0.99)
    code, refined = get_preset("easier2025"), get_preset("easier2025-refined")
    faces = [weak_big, strong_small]
    assert pick_face(confident_faces(faces, Det(), code.min_face_score), code.face_choice) is weak_big
    assert pick_face(confident_faces(faces, Det(), refined.min_face_score), refined.face_choice) is strong_small


# --------------------------------------------------------------------------- a trained model keeps its crops
OLD_SPEC = {"arch": "mobilenetv2_100", "class_names": ["anger", "happy"], "input_size": 224, "normalization": "imagenet",
            "grayscale": False, "preset": "easier2025", "preset_overrides": {}, "region": "full",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}  # a spec as signfer wrote it before the split


def test_an_old_spec_naming_easier2025_resolves_to_the_refined_preset(astronaut):
    from signfer.inference.classifier import preset_for_spec
    from signfer.models.spec import ModelSpec

    old = ModelSpec.from_dict(OLD_SPEC)
    assert old.preset == "easier2025-refined" and preset_for_spec(old) == get_preset("easier2025-refined")
    face = Face(box=(179, 58, 268, 173), left_eye=(204, 101), right_eye=(246, 103))
    before = preprocess(astronaut, face, get_preset("easier2025-refined")).pixels  # what the model was trained on
    np.testing.assert_array_equal(preprocess(astronaut, face, preset_for_spec(old)).pixels, before)
    # a new spec stores the preset by value and keeps meaning the code's pipeline after a round trip
    new = ModelSpec(arch="mobilenetv2_100", class_names=["anger", "happy"], preset="easier2025")
    saved = json.loads(json.dumps(new.to_dict()))
    assert saved["preset_fields"]["face_choice"] == "first"
    back = ModelSpec.from_dict(saved)
    assert back.preset == "easier2025" and preset_for_spec(back) == get_preset("easier2025")
    # by value: a spec whose stored fields say otherwise is not changed by today's file
    saved["preset_fields"]["padding"] = "edge"
    assert preset_for_spec(ModelSpec.from_dict(saved)).padding == "edge"
    # other presets' specs are written as before (no fields): the fer2013 model's spec is unchanged
    from signfer.models.fer_xception import fer2013_spec

    assert "preset_fields" not in fer2013_spec().to_dict() and fer2013_spec().preset == "sltat2022"


def test_an_old_checkpoint_and_an_old_onnx_file_keep_their_crops(tmp_path):
    import onnx
    import torch
    from onnx import TensorProto, helper

    from signfer.inference.classifier import preset_for_spec
    from signfer.inference.onnx import SPEC_KEY, read_spec
    from signfer.models.checkpoint import load_checkpoint, save_checkpoint
    from signfer.models.registry import create_model
    from signfer.models.spec import ModelSpec

    # ONNX: a file exported before the split carries the old spec JSON in its metadata
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["logits"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {SPEC_KEY: json.dumps(OLD_SPEC)})
    onnx.save(model, tmp_path / "old.onnx")
    spec = read_spec(tmp_path / "old.onnx")
    assert spec.preset == "easier2025-refined" and preset_for_spec(spec).rotate_about == "eyes"
    # checkpoint: the same spec dict inside a .pt written before the split
    net = create_model("mobilenetv2_100", 2, pretrained=None)
    save_checkpoint(tmp_path / "new.pt", net, ModelSpec(arch="mobilenetv2_100", class_names=["anger", "happy"], preset="easier2025"))
    data = torch.load(tmp_path / "new.pt", weights_only=False)
    assert data["spec"]["preset"] == "easier2025" and "preset_fields" in data["spec"]  # written today: by value
    data["spec"] = dict(OLD_SPEC)
    torch.save(data, tmp_path / "old.pt")
    _, old_spec, _ = load_checkpoint(tmp_path / "old.pt")
    assert old_spec.preset == "easier2025-refined"
    _, new_spec, _ = load_checkpoint(tmp_path / "new.pt")
    assert preset_for_spec(new_spec) == get_preset("easier2025")


def test_training_crops_keep_the_codes_no_face_fallback(tmp_path):
    """The crop cache of a data set uses a face-less image whole; with easier2025 it stays unequalised, as the code."""
    import cv2 as _cv2

    from signfer.data.cache import CropCache

    blank = np.full((60, 80, 3), 90, np.uint8)
    blank[:30] = 30
    path = tmp_path / "blank.png"
    _cv2.imwrite(str(path), blank)
    code = CropCache("easier2025", size=32, cache_dir=False)
    refined = CropCache("easier2025-refined", size=32, cache_dir=False)
    assert code.preset.no_face == "whole_image_as_is" and refined.preset.no_face == "whole_image"
    np.testing.assert_array_equal(code.get(path), T.resize_face(blank, 32))
    assert set(np.unique(refined.get(path))) <= {0, 255} and refined.get(path).max() == 255  # equalised
