"""Writing signfer's tiers into a corpus team's EAF (``--eaf-into``) against writing signfer's own EAF.

Annotation: ``--signers`` signers x ``--minutes`` of video, one segment per second, per signer an expression,
a confidence and 8 per-segment ``p_<class>`` tiers (``--eaf-probabilities segments``, an 8-class model). Team
file: two participants' gloss tiers with one gloss per 1.5 s (written by pympi, as a tool would). Rows, side
by side in one run: signfer's own EAF (:func:`write_tiers`, pympi), the team's file enriched
(:func:`enrich_eaf`, ElementTree), and a rerun on the enriched file (signfer's old tiers taken out first).

    python benchmarks/eaf_into.py                  # 2 signers x 60 minutes
    python benchmarks/eaf_into.py --minutes 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from signfer.annotate.elan import enrich_eaf, signfer_annotator, write_tiers

CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def signfer_tiers(signers: int, minutes: float, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60)
    tiers, parts = {}, {}
    for s in range(1, signers + 1):
        sid = f"S{s}"
        probs = rng.dirichlet(np.ones(len(CLASSES)), n)
        spans = [(1000.0 * k, 1000.0 * (k + 1)) for k in range(n)]
        named = {"expression": [(a, b, CLASSES[int(p.argmax())]) for (a, b), p in zip(spans, probs)],
                 "confidence": [(a, b, f"{p.max():.2f}") for (a, b), p in zip(spans, probs)]}  # fmt: skip
        for c, name in enumerate(CLASSES):
            named[f"p_{name}"] = [(a, b, f"{p[c]:.2f}") for (a, b), p in zip(spans, probs)]
        for kind, anns in named.items():
            tiers[f"{sid}_{kind}"] = anns
            parts[f"{sid}_{kind}"] = sid
    return tiers, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signers", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    tiers, parts = signfer_tiers(args.signers, args.minutes)
    n_ann = sum(len(v) for v in tiers.values())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n_gloss = int(args.minutes * 40)
        glosses = {f"Gloss {p}": [(1500.0 * k, 1500.0 * k + 1200, f"GLOSS{k % 50}") for k in range(n_gloss)] for p in "AB"}
        team = write_tiers(tmp / "team.eaf", glosses, participants={"Gloss A": "A", "Gloss B": "B"})
        rows = []
        for what, run in (
            ("signfer's own EAF (write_tiers, pympi)", lambda: write_tiers(tmp / "own.eaf", tiers, participants=parts)),
            ("team's EAF enriched (enrich_eaf)", lambda: enrich_eaf(team, tiers, tmp / "enriched.eaf", participants=parts, annotator=signfer_annotator("bench"))),
            ("rerun on the enriched file", lambda: enrich_eaf(tmp / "enriched.eaf", tiers, tmp / "rerun.eaf", participants=parts, annotator=signfer_annotator("bench"))),
        ):  # fmt: skip
            t0 = time.perf_counter()
            out = run()
            rows.append((what, time.perf_counter() - t0, Path(out).stat().st_size / 1e6))
    print(f"{args.signers} signers x {args.minutes:g} min: {len(tiers)} signfer tiers, {n_ann} annotations; team file {2 * n_gloss} glosses")
    print(f"{'what':42s} {'seconds':>8s} {'MB':>7s}")
    for what, sec, mb in rows:
        print(f"{what:42s} {sec:8.2f} {mb:7.1f}")


if __name__ == "__main__":
    main()
