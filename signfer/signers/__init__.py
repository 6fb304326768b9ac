"""Signer-aware annotation: hands over faces (MediaPipe hand models), occlusion-aware half-face models,
stable signer IDs, per-signer calibration, and the ELAN annotate -> correct -> retrain loop (docs/signers.md)."""
