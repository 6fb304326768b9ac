"""Face tracking between detections: :class:`FaceTracker` (template matching), ``shift_face``, ``scale_face``.

They live in :mod:`signfer.faces.tracking` (below both the annotation pipeline and the signer tracker);
re-exported here, where the pipeline documents them.
"""

from signfer.faces.tracking import FaceTracker, scale_face, shift_face

__all__ = ["FaceTracker", "scale_face", "shift_face"]
