"""ONNX export (metadata, agreement with PyTorch) and the Recognizer facade."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from signfer.inference.onnx import SPEC_KEY, OnnxClassifier, read_metadata, read_spec
from signfer.export.onnx import export_model
from signfer.inference.recognizer import Recognizer
from signfer.io import InputError
from signfer.models.checkpoint import load_checkpoint
from signfer.models.weights import WeightsUnavailable


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tmp_path_factory):
    return export_model(tiny_checkpoint, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_export_stores_the_spec_and_matches_pytorch(exported, tiny_checkpoint, astronaut):
    _, spec, _ = load_checkpoint(tiny_checkpoint)
    meta = read_metadata(exported.path)
    assert meta["signfer.opset"] == "17" and json.loads(meta[SPEC_KEY])["preset"] == "easier2025-refined"
    assert read_spec(exported.path) == spec  # the preprocessing round-trips exactly
    assert exported.max_abs_diff_probabilities <= 1e-4 and exported.input_shape == (-1, 1, 64, 64)
    import onnx

    proto = onnx.load(str(exported.path))
    assert proto.opset_import[0].version == 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch


def test_onnx_and_torch_agree_on_real_faces(exported, tiny_checkpoint, astronaut, grace_hopper):
    onnx_rec = Recognizer.from_pretrained(exported.path, threads=1)
    torch_rec = Recognizer.from_pretrained(tiny_checkpoint, backend="torch", threads=1)
    assert onnx_rec.backend == "onnxruntime" and torch_rec.backend == "torch"
    assert onnx_rec.spec == torch_rec.spec
    images = [astronaut, grace_hopper, np.ascontiguousarray(astronaut[:, ::-1])]
    a, b = onnx_rec.predict_batch(images), torch_rec.predict_batch(images)  # batch of 3 through the dynamic axis
    for pa, pb in zip(a, b):
        assert pa.status == pb.status == "ok"
        assert pa.box == pb.box
        assert max(abs(pa.probabilities[c] - pb.probabilities[c]) for c in pa.probabilities) < 1e-4
    single = onnx_rec.predict(grace_hopper)  # batch of 1
    assert single.probabilities == pytest.approx(a[1].probabilities, abs=1e-6)


def test_onnx_without_spec_is_refused(tmp_path):
    import torch

    path = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2), (torch.zeros(1, 4),), str(path), dynamo=False)
    with pytest.raises(InputError, match="no signfer model spec") as err:
        OnnxClassifier(path)
    assert str(path) in str(err.value)


def test_cpu_default_is_onnx_and_knows_the_astronaut_face(tiny_recognizer, astronaut):
    assert tiny_recognizer.backend == "onnxruntime"
    assert "easier2025" in tiny_recognizer.describe() and "mtcnn" in tiny_recognizer.describe()
    pred = tiny_recognizer.predict(astronaut)
    assert pred.status == "ok" and pred.label in tiny_recognizer.class_names
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(pred.box, [181, 62, 268, 172], atol=12)  # MTCNN's box (docs/reference.md)
    assert pred.crop.pixels.shape == (64, 64, 3)


def test_rgb_bgr_is_explicit(tiny_recognizer, astronaut):
    bgr = np.ascontiguousarray(astronaut[:, :, ::-1])  # what cv2.imread gives
    rgb_pred = tiny_recognizer.predict(astronaut)
    assert tiny_recognizer.predict(bgr, channels="bgr").probabilities == rgb_pred.probabilities
    with pytest.raises(ValueError, match="bgr"):
        tiny_recognizer.predict(astronaut, channels="grb")


def test_face_crops_and_no_face(tiny_recognizer, astronaut):
    from signfer.faces.preprocessing import preprocess

    pred = tiny_recognizer.predict(astronaut)
    again = tiny_recognizer.predict(pred.crop)  # an already preprocessed crop is classified as it is
    assert again.probabilities == pytest.approx(pred.probabilities, abs=1e-6)
    wrong = preprocess(astronaut, pred.face, "sltat2022")
    with pytest.raises(ValueError, match="preset 'sltat2022'"):
        tiny_recognizer.predict(wrong)
    blank = np.full((120, 160, 3), 90, np.uint8)
    out = tiny_recognizer.predict_batch([blank, astronaut, blank])
    assert [p.status for p in out] == ["no_face", "ok", "no_face"] and out[0].label is None
    assert out[1].probabilities == pytest.approx(pred.probabilities, abs=1e-6)


def test_run_dir_picks_the_best_fold_or_the_one_asked_for(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    for k, acc in [(0, 0.51), (1, 0.64), (2, 0.58)]:
        (run / f"fold_{k}").mkdir(parents=True)
        shutil.copy(tiny_checkpoint, run / f"fold_{k}" / "best.pt")
        (run / f"fold_{k}" / "metrics.json").write_text(json.dumps({"accuracy": acc, "mean_sensitivity": 0.5}))
    (run / "run.yaml").write_text("seed: 0\n")
    rec = Recognizer.from_pretrained(run, backend="torch")
    assert "fold 1" in rec.source and "0.640" in rec.source
    assert "fold 2" in Recognizer.from_pretrained(run, fold=2, backend="torch").source
    with pytest.raises(WeightsUnavailable) as err:
        Recognizer.from_pretrained(run, fold=4)
    assert str(run / "fold_4" / "best.pt") in str(err.value) and "fold_0, fold_1, fold_2" in str(err.value)
    (run / "fold_2" / "metrics.json").unlink()
    with pytest.raises(WeightsUnavailable, match="fold_2 lack metrics.json"):
        Recognizer.from_pretrained(run)


def test_missing_model_says_which_file(tmp_path):
    with pytest.raises(WeightsUnavailable, match=r"model file .*nothere\.pt does not exist"):
        Recognizer.from_pretrained(tmp_path / "nothere.pt")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(WeightsUnavailable, match=r"fold_<k>/best\.pt"):
        Recognizer.from_pretrained(tmp_path / "empty_run")
    with pytest.raises(InputError, match="fer2013"):  # an unknown name lists the known ones
        Recognizer.from_pretrained("no_such_model")


def test_cli_export(tiny_checkpoint, tmp_path, capsys):
    from signfer.cli import main

    out = tmp_path / "exp" / "m.onnx"
    assert main(["export", str(tiny_checkpoint), "--format", "onnx", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "opset 17" in text and str(out) in text
    assert read_spec(out).preset == "easier2025-refined"
    assert main(["export", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err


def test_min_face_score_filters_weak_detections(tiny_checkpoint, astronaut):
    rec = Recognizer.from_pretrained(tiny_checkpoint, backend="torch", threads=1)
    assert rec.min_face_score == 0.9  # the MTCNN default
    assert rec.predict(astronaut).face.score >= 0.9
    strict = Recognizer.from_pretrained(tiny_checkpoint, backend="torch", threads=1, min_face_score=1.01)
    assert strict.predict(astronaut).status == "no_face"
