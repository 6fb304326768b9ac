"""``signfer preprocess``: faces detected, cropped, normalised and aligned, with a manifest."""

from __future__ import annotations

import sys
from pathlib import Path


from signfer.cli.common import apply_max_pixels, max_pixels_argument, positive


def add_preprocess(sub) -> None:
    p = sub.add_parser(
        "preprocess",
        help="detect, crop, normalise and align faces in images",
        description="Detect the face in each image, crop, normalise and align it as the chosen preset says, "
        "and write the crops under OUTPUT in the same relative layout, with OUTPUT/manifest.csv recording "
        "for every source file its status (ok / no_face / error and why), box, eye centres and rotation angle. "
        "A bad file never stops the run.",
    )
    p.add_argument("input", type=Path, metavar="INPUT", help="an image, a folder of images (searched recursively; other files are ignored) "
                   "or a FePh folder (the crops keep the FePh_images/ layout and FePh_labels.csv is copied)")
    p.add_argument("output", type=Path, metavar="OUTPUT", help="folder for the crops and manifest.csv")
    p.add_argument("--preset", default="easier2025", help="preprocessing preset: easier2025 (the 2025 code: MTCNN first face, square, x1.1, black padding, equalise, "
                   "PIL rotate about the centre), easier2025-refined (signfer's: largest confident face, edge padding, bilinear "
                   "rotation about the eyes), sltat2022 (Haar crop), none, the ablations easier2025_no_equalization, easier2025_equalize_after_rotation, easier2025_standardize, "
                   "or a YAML file (default: %(default)s)")
    p.add_argument("--region", choices=["full", "upper", "lower"], default="full", help="face region to keep: full, or the upper / lower half split at the eye-mouth midline (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="switch one preset step, e.g. --set colour=none or --set colour_order=after_rotation (repeatable). "
                   "Keys: detector (mtcnn|haar|none), detector_options ({min_face_size: 40}), face_choice (largest|confident|first), "
                   "min_face_score (null = the detector's floor|0.9|0), "
                   "square (true|false), zoom (1.1), padding (black|edge), colour (equalize|standardize|none), "
                   "colour_order (before_rotation|after_rotation), clip_sd (2.5), align (true|false), rotate_about (eyes|centre), "
                   "rotate_filter (bilinear|nearest), size (224), resize (auto|nearest), "
                   "region_split (landmarks|middle), half_face_shape (half|square), no_face (skip|whole_image|whole_image_as_is)")
    p.add_argument("--size", type=positive(int), default=None, help="output size in pixels (default: the preset's, 224)")
    p.add_argument("--workers", type=positive(int), default=1, help="worker processes (default: %(default)s)")
    max_pixels_argument(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_preprocess)


def _parse_overrides(items: list[str]) -> dict:
    from signfer.config import parse_yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = parse_yaml(value, f"--set {key.strip()}")  # YAML mistakes: one line naming the key
    return out


def _run_preprocess(args) -> int:
    from signfer.faces.preprocessing import preprocess_path

    apply_max_pixels(args)
    overrides = _parse_overrides(args.overrides)
    if args.size:
        overrides["size"] = args.size
    manifest = preprocess_path(args.input, args.output, preset=args.preset, region=args.region, overrides=overrides, workers=args.workers, progress=not args.no_progress)
    counts = manifest["status"].value_counts().to_dict()
    print(f"{len(manifest)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"crops in {args.output}, manifest {args.output / 'manifest.csv'}")
    if not counts.get("ok"):  # nothing succeeded: say so in the exit status
        print(f"signfer preprocess: no crop was written ({'no image found in ' + str(args.input) if manifest.empty else 'see the reasons in the manifest'})", file=sys.stderr)
        return 1
    return 0
