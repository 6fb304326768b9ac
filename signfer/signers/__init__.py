"""Signer components used by the one annotation pipeline (signfer.annotate.stages): hands (MediaPipe's hand models,
video mode), occlusion of each face half, stable signer IDs with re-identification, per-signer calibration, and
test media built from real photos (docs/signers.md). Nothing here imports signfer.inference."""
