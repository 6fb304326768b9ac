"""Non-manual markers per signer: head pose (yaw, pitch, roll), brow height, eye aperture and mouth from
MediaPipe's face mesh on signfer's own face boxes, and events (nod, shake, tilt, brow raise / furrow, blink,
mouth open) as kinematic pre-annotations for an annotator to confirm (docs/nonmanual.md).

``mesh``: the face-mesh model (TFLite, from the mediapipe wheel) and its landmark tracking; ``pose``: head pose
against MediaPipe's canonical face (signfer/assets/canonical_face.csv); ``measures``: per-frame measures;
``events``: per-signer events and the ELAN time-series files. Torch-free."""
