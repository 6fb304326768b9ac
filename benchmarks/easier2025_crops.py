"""How far apart the crops of ``easier2025`` (the 2025 code's pipeline) and ``easier2025-refined`` (signfer's) are.

Real photos: the scikit-image astronaut and matplotlib's grace_hopper.jpg, each as it is and turned by
10 degrees about the face (so the eye-levelling rotation matters), and the astronaut cut so that her face
touches the frame's left edge (so the padding matters). One MTCNN (min face 50) detection per photo; both
presets crop that face at 224 x 224. Per photo: the rotation applied, the share of pixels differing by
more than 0 / 16 levels (any channel), and the mean absolute difference (0-255, over all pixels and channels).
Then each step alone (the refined preset with one of the code's settings) on the turned astronaut.

    python benchmarks/easier2025_crops.py
"""

from __future__ import annotations

import cv2
import numpy as np


def photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    from signfer.io import read_image

    astronaut = data.astronaut()
    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))

    def turn(img, centre):
        m = cv2.getRotationMatrix2D(centre, 10, 1.0)
        return cv2.warpAffine(img, m, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT)

    return {
        "astronaut": astronaut,
        "astronaut turned 10 deg": turn(astronaut, (224.5, 117.0)),
        "astronaut at the left edge": np.ascontiguousarray(astronaut[:, 175:]),
        "grace_hopper": hopper,
        "grace_hopper turned 10 deg": turn(hopper, (hopper.shape[1] / 2, hopper.shape[0] / 3)),
    }


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float((d.max(axis=2) > 0).mean()), float((d.max(axis=2) > 16).mean()), float(d.mean())


def main() -> None:
    from signfer.faces.detect import get_detector, pick_face
    from signfer.faces.preprocessing import preprocess
    from signfer.faces.presets import get_preset

    code, refined = get_preset("easier2025"), get_preset("easier2025-refined")
    mtcnn = get_detector("mtcnn", min_face_size=50)
    print("| photo | faces (scores) | same face | rotation (deg) | pixels differing | by > 16 levels | mean abs diff |")
    print("|---|---|---|---|---|---|---|")
    turned = None
    for name, img in photos().items():
        faces = mtcnn.detect(img)
        f_code, f_ref = pick_face(faces, code.face_choice), pick_face([f for f in faces if f.score >= 0.9], refined.face_choice)
        a, b = preprocess(img, f_code, code), preprocess(img, f_ref, refined)
        share, share16, mad = compare(a.pixels, b.pixels)
        scores = ", ".join(f"{f.score:.3f}" for f in faces)
        print(f"| {name} | {len(faces)} ({scores}) | {f_code is f_ref} | {a.angle:+.2f} | {100 * share:.1f} % | {100 * share16:.1f} % | {mad:.2f} |")
        if name == "astronaut turned 10 deg":
            turned = (img, f_ref)
    img, face = turned
    base = preprocess(img, face, refined).pixels
    print()
    print("Each of the code's settings alone on the refined preset (astronaut turned 10 deg, 224 x 224):")
    print("| setting | pixels differing | by > 16 levels | mean abs diff |")
    print("|---|---|---|---|")
    for label, change in [("padding: black", {"padding": "black"}), ("rotate_about: centre", {"rotate_about": "centre"}),
                          ("rotate_filter: nearest", {"rotate_filter": "nearest"}),
                          ("rotate about centre + nearest (PIL)", {"rotate_about": "centre", "rotate_filter": "nearest"})]:
        share, share16, mad = compare(preprocess(img, face, get_preset(refined, **change)).pixels, base)
        print(f"| {label} | {100 * share:.1f} % | {100 * share16:.1f} % | {mad:.2f} |")


if __name__ == "__main__":
    main()
