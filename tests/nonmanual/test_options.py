"""--nmm options from the command line, their checks, and the stage in annotate-corpus (plain mode, one face)."""

from __future__ import annotations

import numpy as np
import pytest

from signfer.errors import OptionError


def _options(*argv):
    from signfer.cli import build_parser
    from signfer.cli.annotate import annotation_setup as _annotation_setup

    return _annotation_setup(build_parser().parse_args(["annotate", "clip.mp4", *argv]))[1]


def test_nmm_thresholds_from_the_command_line():
    assert _options().nonmanual is None
    opts = _options("--nmm", "--nmm-threshold", "swing_deg=5", "--nmm-threshold", "min-swings=3").nonmanual
    assert opts.thresholds.swing_deg == 5.0 and opts.thresholds.min_swings == 3 and opts.thresholds.brow_raise == 0.02
    with pytest.raises(OptionError, match="swing_degrees"):
        _options("--nmm", "--nmm-threshold", "swing_degrees=5")
    with pytest.raises(OptionError, match="needs --nmm"):
        _options("--nmm-threshold", "swing_deg=5")
    with pytest.raises(OptionError, match="not a number"):
        _options("--nmm", "--nmm-threshold", "swing_deg=five")


def test_thresholds_are_checked():
    from signfer.nonmanual.events import EventThresholds

    with pytest.raises(OptionError):
        EventThresholds(swing_k=-1)
    with pytest.raises(OptionError):
        EventThresholds(blink_ratio=1.5)


def test_annotate_corpus_with_nmm_writes_tiers_and_linked_curves(tmp_path, astronaut_face):
    from pympi import Elan

    from signfer.annotate.options import AnnotationOptions, ModelOptions, NonManualOptions
    from signfer.nonmanual.pose import rotation
    from signfer.scale.corpus import annotate_corpus

    from .conftest import write_video

    pitch = [12 * np.sin(2 * np.pi * 2 * (k - 15) / 15) if 15 <= k < 30 else 0.0 for k in range(45)]  # still, nodding 1 s, still
    frames = [astronaut_face.render(rotation(0, p, 0), size=224, face_px=90) for p in pitch]
    video = write_video(tmp_path / "nodding.avi", frames, 15.0)
    table = annotate_corpus([video], tmp_path / "out", models=ModelOptions(threads=1), options=AnnotationOptions(nonmanual=NonManualOptions()), workers=1, log=lambda _: None)
    assert list(table["status"]) == ["ok"]
    folder = tmp_path / "out" / "videos" / "nodding"
    assert (folder / "nodding_curves.csv").is_file() and (folder / "nodding_tsconf.xml").is_file()
    eaf = Elan.Eaf(str(folder / "nodding.eaf"))
    assert {"head_nod", "head_shake", "brow_raise", "blink", "mouth_open"} <= set(eaf.tiers)  # plain mode: no signer prefix
    assert [a for a, *_ in eaf.get_annotation_data_for_tier("head_nod")], "the nodding is found"
    assert {d["RELATIVE_LINK_URL"].lstrip("./") for d in eaf.linked_file_descriptors} == {"nodding_curves.csv", "nodding_tsconf.xml"}
    from signfer.nonmanual.tracks import read_tsconf

    assert read_tsconf(folder / "nodding_tsconf.xml")["source"] == (folder / "nodding_curves.csv").resolve().as_uri()
