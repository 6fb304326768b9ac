"""Presets are data: shipped YAML files, overrides, inheritance and clear errors."""

from __future__ import annotations

import pytest

from signfer.faces.presets import FIELDS, Preset, get_preset, list_presets


def test_shipped_presets_describe_the_published_pipelines():
    assert {"easier2025", "sltat2022", "none"} <= set(list_presets())
    e = get_preset("easier2025")
    assert (e.detector, e.square, e.zoom, e.colour, e.colour_order, e.align, e.size) == (
        "mtcnn", True, 1.1, "equalize", "before_rotation", True, 224
    )  # fmt: skip
    assert e.detector_options == {"min_face_size": 50}
    s = get_preset("sltat2022")
    assert (s.detector, s.colour, s.align, s.zoom) == ("haar", "none", False, 1.0)
    n = get_preset("none")
    assert (n.detector, n.colour, n.align, n.no_face) == ("none", "none", False, "whole_image")


def test_every_shipped_preset_loads():
    for name in list_presets():
        assert get_preset(name).name == name


def test_ablation_presets_change_one_step_of_their_base():
    base = get_preset("easier2025-refined").to_dict()  # the ablations vary signfer's pipeline (as before the split)
    for name, changed in [
        ("easier2025_no_equalization", {"colour": "none"}),
        ("easier2025_equalize_after_rotation", {"colour_order": "after_rotation"}),
        ("easier2025_standardize", {"colour": "standardize"}),
    ]:
        fields = get_preset(name).to_dict()
        differing = {k for k in FIELDS if fields[k] != base[k]} - {"name", "description"}
        assert differing == set(changed) and all(fields[k] == v for k, v in changed.items())


def test_overrides_switch_any_step_and_keep_the_rest():
    p = get_preset("easier2025", colour="none", colour_order="after_rotation", size=112)
    assert (p.colour, p.colour_order, p.size, p.zoom, p.name) == ("none", "after_rotation", 112, 1.1, "easier2025")
    assert get_preset(p, align=False).align is False
    assert get_preset(p.to_dict()) == p


def test_unknown_keys_and_bad_values_are_rejected_clearly(tmp_path):
    with pytest.raises(ValueError, match=r"unknown preset key\(s\) 'colr'.*known keys: .*colour"):
        get_preset("easier2025", colr="none")
    with pytest.raises(ValueError, match="colour must be one of equalize, standardize, none; got 'blue'"):
        get_preset("easier2025", colour="blue")
    with pytest.raises(ValueError, match="zoom must be a positive number"):
        get_preset("easier2025", zoom=-1)
    with pytest.raises(ValueError, match="align must be true or false"):
        get_preset("easier2025", align="maybe")
    with pytest.raises(KeyError, match="unknown preset 'easier2026'.*easier2025"):
        get_preset("easier2026")
    bad = tmp_path / "mine.yaml"
    bad.write_text("base: easier2025\nequalise: true\n")
    with pytest.raises(ValueError, match=r"mine.yaml.*'equalise'"):
        get_preset(bad)


def test_a_user_yaml_file_inherits_from_a_shipped_preset(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: easier2025\nzoom: 1.3\nregion_split: middle\n")
    p = get_preset(mine)
    assert (p.name, p.zoom, p.region_split, p.detector, p.colour) == ("mine", 1.3, "middle", "mtcnn", "equalize")
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(ValueError, match="circular"):
        get_preset(loop)


def test_output_shape_of_half_faces_and_cache_key():
    p = get_preset("easier2025")
    assert p.output_shape("full") == (224, 224) and p.output_shape("upper") == (112, 224)
    assert get_preset(p, half_face_shape="square").output_shape("lower") == (224, 224)
    assert p.key() == get_preset(p, name="renamed").key() != get_preset(p, colour="none").key()
    assert isinstance(p, Preset)


def test_easier2025_is_the_code_and_refined_lists_each_difference():
    """easier2025 = EASIER-EkmanClassifier utils/img.py + NormalizeImages.py; easier2025-refined = signfer's choices, each a field."""
    code, refined = get_preset("easier2025"), get_preset("easier2025-refined")
    assert (code.face_choice, code.min_face_score, code.padding, code.rotate_about, code.rotate_filter, code.no_face) == (
        "first", 0.0, "black", "centre", "nearest", "whole_image_as_is")
    assert code.detector_options == {"min_face_size": 50} and (code.colour, code.colour_order, code.zoom) == ("equalize", "before_rotation", 1.1)
    differing = {k for k in FIELDS if getattr(code, k) != getattr(refined, k)} - {"name", "description"}
    assert differing == {"face_choice", "min_face_score", "padding", "rotate_about", "rotate_filter", "no_face"}
    assert (refined.face_choice, refined.min_face_score, refined.padding, refined.rotate_about, refined.rotate_filter, refined.no_face) == (
        "largest", None, "edge", "eyes", "bilinear", "skip")


def test_refined_keeps_the_crop_cache_key_easier2025_had(tmp_path):
    """Fields added later are left out of the key at their old value: the refined preset's crops stay cached."""
    old = tmp_path / "old.yaml"  # easier2025.yaml before the split, field for field
    old.write_text("detector: mtcnn\ndetector_options: {min_face_size: 50}\nface_choice: largest\nsquare: true\nzoom: 1.1\n"
                   "padding: edge\ncolour: equalize\ncolour_order: before_rotation\nclip_sd: 2.5\nalign: true\nsize: 224\n"
                   "region_split: landmarks\nhalf_face_shape: half\nno_face: skip\n")
    assert get_preset(old).key() == get_preset("easier2025-refined").key() != get_preset("easier2025").key()
