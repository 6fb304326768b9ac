"""--eaf-into: signfer's tiers added to a corpus team's own EAF, every element of theirs kept.

The team's file is built here as ELAN 6 writes one: two participants' gloss tiers with a dependent translation
tier each (symbolic association), a controlled vocabulary, a linked video and an audio file extracted from it, a
linked time-series file, header properties, a locale, a language, a licence and a comment. Every EAF written is
validated with lxml against ELAN's EAF 3.0 schema (tests/data/EAFv3.0.xsd) and read back with pympi, an
independent reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from signfer.annotate.elan import (
    EafInto,
    EafTiers,
    enrich_eaf,
    parse_participants,
    participants_by_side,
    read_tiers,
    rename_signers,
    signfer_annotator,
    tier_participants,
)
from signfer.annotate.segments import Segment
from signfer.errors import OptionError, UserError

etree = pytest.importorskip("lxml.etree")

XSD = Path(__file__).resolve().parents[1] / "data" / "EAFv3.0.xsd"

TEAM_EAF = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="Corpus team" DATE="2024-03-05T10:21:44+01:00" FORMAT="3.0" VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
    <LICENSE LICENSE_URL="https://creativecommons.org/licenses/by-nc-sa/4.0/">CC BY-NC-SA 4.0 &amp; the signers' consent</LICENSE>
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
        <MEDIA_DESCRIPTOR MEDIA_URL="file:///corpus/video/session01.mp4" MIME_TYPE="video/mp4" RELATIVE_MEDIA_URL="../video/session01.mp4"/>
        <MEDIA_DESCRIPTOR EXTRACTED_FROM="file:///corpus/video/session01.mp4" MEDIA_URL="file:///corpus/audio/session01.wav" MIME_TYPE="audio/x-wav" RELATIVE_MEDIA_URL="../audio/session01.wav"/>
        <LINKED_FILE_DESCRIPTOR LINK_URL="file:///corpus/mocap/session01_tsconf.xml" MIME_TYPE="text/xml" RELATIVE_LINK_URL="../mocap/session01_tsconf.xml"/>
        <PROPERTY NAME="URN">urn:nl-mpi-tools-elan-eaf:0b5c6a4e-8f7e-4a3c-9d1b-2f4e6c8a0d13</PROPERTY>
        <PROPERTY NAME="lastUsedAnnotationId">8</PROPERTY>
    </HEADER>
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="120"/>
        <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="480"/>
        <TIME_SLOT TIME_SLOT_ID="ts3"/>
        <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="910"/>
        <TIME_SLOT TIME_SLOT_ID="ts5" TIME_VALUE="300"/>
        <TIME_SLOT TIME_SLOT_ID="ts6" TIME_VALUE="760"/>
    </TIME_ORDER>
    <!-- glosses after the 2023 conventions; translations checked by the deaf team members -->
    <TIER ANNOTATOR="MK" LANG_REF="dgs" LINGUISTIC_TYPE_REF="gloss" PARTICIPANT="A" TIER_ID="Gloss A">
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" CVE_REF="cveid_index" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
                <ANNOTATION_VALUE>INDEX</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" CVE_REF="cveid_house" TIME_SLOT_REF1="ts2" TIME_SLOT_REF2="ts3">
                <ANNOTATION_VALUE>HOUSE</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a3" CVE_REF="cveid_big" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts4">
                <ANNOTATION_VALUE>BIG</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="translation" PARENT_REF="Gloss A" PARTICIPANT="A" TIER_ID="Translation A" DEFAULT_LOCALE="de">
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a4" ANNOTATION_REF="a1">
                <ANNOTATION_VALUE>Das da drüben,</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a5" ANNOTATION_REF="a3">
                <ANNOTATION_VALUE>das große Haus &lt;sic&gt;</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER ANNOTATOR="JS" LANG_REF="dgs" LINGUISTIC_TYPE_REF="gloss" PARTICIPANT="B" TIER_ID="Gloss B">
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a6" CVE_REF="cveid_yes" TIME_SLOT_REF1="ts5" TIME_SLOT_REF2="ts6">
                <ANNOTATION_VALUE>YES</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="translation" PARENT_REF="Gloss B" PARTICIPANT="B" TIER_ID="Translation B">
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a7" ANNOTATION_REF="a6">
                <ANNOTATION_VALUE>Ja.</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <LINGUISTIC_TYPE CONTROLLED_VOCABULARY_REF="glosses" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="gloss" TIME_ALIGNABLE="true"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="translation" TIME_ALIGNABLE="false"/>
    <LOCALE COUNTRY_CODE="DE" LANGUAGE_CODE="de"/>
    <LANGUAGE LANG_DEF="http://cdb.iso.org/lg/CDB-00138502-001" LANG_ID="dgs" LANG_LABEL="German Sign Language (dgs)"/>
    <LANGUAGE LANG_DEF="http://cdb.iso.org/lg/CDB-00138580-001" LANG_ID="deu" LANG_LABEL="German (deu)"/>
    <CONSTRAINT DESCRIPTION="Time subdivision of parent annotation's time interval, no time gaps allowed within this interval" STEREOTYPE="Time_Subdivision"/>
    <CONSTRAINT DESCRIPTION="Symbolic subdivision of a parent annotation. Annotations refering to the same parent are ordered" STEREOTYPE="Symbolic_Subdivision"/>
    <CONSTRAINT DESCRIPTION="1-1 association with a parent annotation" STEREOTYPE="Symbolic_Association"/>
    <CONSTRAINT DESCRIPTION="Time alignable annotations within the parent annotation's time interval, gaps are allowed" STEREOTYPE="Included_In"/>
    <CONTROLLED_VOCABULARY CV_ID="glosses">
        <DESCRIPTION LANG_REF="deu">Glossen der Sitzung</DESCRIPTION>
        <CV_ENTRY_ML CVE_ID="cveid_index">
            <CVE_VALUE DESCRIPTION="pointing" LANG_REF="deu">INDEX</CVE_VALUE>
        </CV_ENTRY_ML>
        <CV_ENTRY_ML CVE_ID="cveid_house">
            <CVE_VALUE LANG_REF="deu">HOUSE</CVE_VALUE>
        </CV_ENTRY_ML>
        <CV_ENTRY_ML CVE_ID="cveid_big">
            <CVE_VALUE LANG_REF="deu">BIG</CVE_VALUE>
        </CV_ENTRY_ML>
        <CV_ENTRY_ML CVE_ID="cveid_yes">
            <CVE_VALUE LANG_REF="deu">YES</CVE_VALUE>
        </CV_ENTRY_ML>
    </CONTROLLED_VOCABULARY>
    <EXTERNAL_REF EXT_REF_ID="er1" TYPE="iso12620" VALUE="http://www.isocat.org/datcat/DC-1345"/>
</ANNOTATION_DOCUMENT>
"""

TEAM_TOP = ("LICENSE", "TIER", "LINGUISTIC_TYPE", "LOCALE", "LANGUAGE", "CONSTRAINT", "CONTROLLED_VOCABULARY", "EXTERNAL_REF")


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture()
def team(tmp_path) -> Path:
    path = tmp_path / "corpus" / "session01.eaf"
    path.parent.mkdir()
    path.write_text(TEAM_EAF, encoding="utf-8")
    return path


def c14n(elem) -> bytes:
    return etree.tostring(elem, method="c14n", with_tail=False)


def assert_valid(schema, path: Path) -> None:
    doc = etree.parse(str(path))
    assert schema.validate(doc), f"{path.name}: {schema.error_log.last_error}"


def signfer_tiers_made(seed: int = 0) -> tuple[dict, dict]:
    """Tiers of a two-signer annotation as the pipeline builds them (EafTiers from segments)."""
    rng = np.random.default_rng(seed)
    classes = ["happy", "neutral", "sad"]

    def seg(a, b, label):
        p = rng.dirichlet(np.ones(3))
        return Segment(label, a, b, a // 40, b // 40 - 1, (b - a) // 40, float(p.max()), list(p))

    segments = {
        "S1": [seg(0, 400, "neutral"), seg(400, 880, "happy")],
        "S2": [seg(40, 600, "sad" if seed == 0 else "neutral"), seg(600, 1000, "neutral")] + ([seg(1000, 1200, "happy")] if seed else []),
    }
    return EafTiers(classes, "segments").tiers(segments, 1200.0, ["S1", "S2"])


def team_view(path: Path):
    """The document with everything signfer wrote taken out (its tiers, their time slots, its types and properties)."""
    root = etree.parse(str(path)).getroot()
    ours = [t for t in root.findall("TIER") if (t.get("ANNOTATOR") or "").startswith("signfer ")]
    slots = {a.get(k) for t in ours for a in t.iter("ALIGNABLE_ANNOTATION") for k in ("TIME_SLOT_REF1", "TIME_SLOT_REF2")}
    for t in ours:
        root.remove(t)
    for s in root.find("TIME_ORDER").findall("TIME_SLOT"):
        if s.get("TIME_SLOT_ID") in slots:
            root.find("TIME_ORDER").remove(s)
    for lt in root.findall("LINGUISTIC_TYPE"):
        if lt.get("LINGUISTIC_TYPE_ID").startswith("signfer-"):
            root.remove(lt)
    for p in root.find("HEADER").findall("PROPERTY"):
        if p.get("NAME").startswith("signfer_"):
            root.find("HEADER").remove(p)
    for e in root.iter():  # indentation is not content
        e.tail = None if e.tail is None or not e.tail.strip() else e.tail
        if len(e) and e.text is not None and not e.text.strip():
            e.text = None
    return root


def assert_team_kept(original: Path, enriched: Path) -> None:
    """Every element of the team's file is in the enriched one, canonically identical and in the same order."""
    before, after = etree.parse(str(original)).getroot(), etree.parse(str(enriched)).getroot()
    assert dict(after.attrib) == dict(before.attrib)
    for tag in TEAM_TOP:  # whole subtrees: tiers with their annotations, the CV with its entries, ...
        old = before.findall(tag)
        new = [e for e in after.findall(tag) if not (e.get("ANNOTATOR") or "").startswith("signfer ")
               and not (e.get("LINGUISTIC_TYPE_ID") or "").startswith("signfer-")]  # fmt: skip
        assert [c14n(e) for e in new] == [c14n(e) for e in old], tag
    for parent in ("HEADER", "TIME_ORDER"):  # signfer appends to these: every original child is kept, in order
        old, new = list(before.find(parent)), list(after.find(parent))
        assert [c14n(e) for e in new[: len(old)]] == [c14n(e) for e in old], parent
        assert all(e.get("NAME", "").startswith("signfer_") or e.get("TIME_SLOT_ID", "").startswith("signfer-ts") for e in new[len(old):])
    comments = lambda root: [c.text for c in root.iter(etree.Comment)]  # noqa: E731
    assert comments(after) == comments(before)
    assert c14n(team_view(enriched)) == c14n(team_view(original))


def assert_only_added_lines(original: Path, enriched: Path) -> None:
    """As text too: a diff of the team's file shows only signfer's lines, added (what a corpus kept in git sees)."""
    import difflib

    a, b = original.read_text().splitlines(), enriched.read_text().splitlines()
    ops = {op for op, *_ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()}
    assert ops == {"equal", "insert"}, [d for d in difflib.unified_diff(a, b, lineterm="", n=0) if d[:1] in "+-"][:6]


def test_enrich_keeps_every_team_element_and_adds_marked_signfer_tiers(tmp_path, team, schema):
    assert_valid(schema, team)  # the hand-built file is a real EAF 3.0 document
    before_bytes, before_mtime = team.read_bytes(), team.stat().st_mtime_ns
    named, parts = signfer_tiers_made()
    named, parts = rename_signers(named, parts, {"S1": "A", "S2": "B"})
    out = tmp_path / "out" / "session01.eaf"
    enrich_eaf(team, named, out, participants=parts, annotator=signfer_annotator("hsemotion:enet_b0_8_va_mtl"),
               properties={"signfer_model": "hsemotion:enet_b0_8_va_mtl", "media_duration_ms": "1200"})  # fmt: skip

    assert team.read_bytes() == before_bytes and team.stat().st_mtime_ns == before_mtime
    assert_valid(schema, out)
    assert_team_kept(team, out)
    assert_only_added_lines(team, out)
    root = etree.parse(str(out)).getroot()
    ours = {t.get("TIER_ID"): t for t in root.findall("TIER") if t.get("ANNOTATOR", "").startswith("signfer ")}
    assert list(ours) == list(named) == ["A_expression", "A_confidence", "A_p_happy", "A_p_neutral", "A_p_sad",
                                         "B_expression", "B_confidence", "B_p_happy", "B_p_neutral", "B_p_sad"]  # fmt: skip
    assert {t.get("ANNOTATOR") for t in ours.values()} == {"signfer 0.1.0 hsemotion:enet_b0_8_va_mtl"}
    assert ours["A_expression"].get("LINGUISTIC_TYPE_REF") == "signfer-expression"
    assert ours["B_p_sad"].get("LINGUISTIC_TYPE_REF") == ours["A_confidence"].get("LINGUISTIC_TYPE_REF") == "signfer-probability"
    types = [lt.get("LINGUISTIC_TYPE_ID") for lt in root.findall("LINGUISTIC_TYPE")]
    assert types == ["gloss", "translation", "signfer-expression", "signfer-probability"]
    props = {p.get("NAME"): p.text for p in root.find("HEADER").findall("PROPERTY")}
    assert list(json.loads(props.pop("signfer_tier_digests"))) == list(named)
    assert props == {"URN": "urn:nl-mpi-tools-elan-eaf:0b5c6a4e-8f7e-4a3c-9d1b-2f4e6c8a0d13", "lastUsedAnnotationId": "8",
                     "signfer_model": "hsemotion:enet_b0_8_va_mtl", "signfer_media_duration_ms": "1200"}  # fmt: skip
    # new time slots and annotation IDs are fresh; the team's keep theirs (ts3 stays unaligned)
    slots = {s.get("TIME_SLOT_ID"): s.get("TIME_VALUE") for s in root.find("TIME_ORDER")}
    assert {k: slots[k] for k in ("ts1", "ts2", "ts3", "ts4", "ts5", "ts6")} == {"ts1": "120", "ts2": "480", "ts3": None, "ts4": "910", "ts5": "300", "ts6": "760"}
    n_ann = sum(len(v) for v in named.values())
    assert len(slots) == 6 + 2 * n_ann and all(k.startswith("signfer-ts") for k in list(slots)[6:])

    # read back by pympi (independent reader): signfer's tiers hold exactly the segments, the team's are unchanged
    got, was = read_tiers(out), read_tiers(team)
    for name, anns in named.items():
        assert got[name] == sorted((int(round(a)), int(round(b)), str(v)) for a, b, v in anns)
    assert got["A_expression"] == [(0, 400, "neutral"), (400, 880, "happy")]
    for name in ("Gloss A", "Gloss B"):
        assert got[name] == was[name]
    assert got["Gloss B"] == [(300, 760, "YES")]
    assert tier_participants(out)["B_confidence"] == "B" and tier_participants(out)["Gloss A"] == "A"


def test_rerun_replaces_only_signfers_tiers(tmp_path, team, schema):
    first, second = tmp_path / "first.eaf", tmp_path / "second.eaf"
    named, parts = signfer_tiers_made(0)
    enrich_eaf(team, named, first, participants=parts, annotator=signfer_annotator("model-one"))
    occl = {"S1_occlusion": [(0.0, 500.0, "none"), (500.0, 880.0, "lower")]}
    named2, parts2 = signfer_tiers_made(1)
    named2 = {**named2, **occl}
    enrich_eaf(first, named2, second, participants={**parts2, "S1_occlusion": "S1"}, annotator=signfer_annotator("model-two"),
               properties={"signfer_model": "model-two"})  # fmt: skip

    assert_valid(schema, second)
    assert_team_kept(team, second)
    assert_only_added_lines(team, second)
    root = etree.parse(str(second)).getroot()
    ours = [t for t in root.findall("TIER") if t.get("ANNOTATOR", "").startswith("signfer ")]
    assert [t.get("TIER_ID") for t in ours] == list(named2)
    assert {t.get("ANNOTATOR") for t in ours} == {"signfer 0.1.0 model-two"}
    got = read_tiers(second)
    assert got["S2_expression"] == [(40, 600, "neutral"), (600, 1000, "neutral"), (1000, 1200, "happy")]
    assert got["S1_occlusion"] == [(0, 500, "none"), (500, 880, "lower")]
    # no slot of the first run is left behind: every slot is the team's or used by the second run's annotations
    used = {a.get(k) for a in root.iter("ALIGNABLE_ANNOTATION") for k in ("TIME_SLOT_REF1", "TIME_SLOT_REF2")}
    slots = [s.get("TIME_SLOT_ID") for s in root.find("TIME_ORDER")]
    assert len(slots) == len(set(slots)) == 6 + 2 * sum(len(v) for v in named2.values())
    assert set(slots) - used == {"ts3"} - used
    types = [lt.get("LINGUISTIC_TYPE_ID") for lt in root.findall("LINGUISTIC_TYPE")]
    assert types == ["gloss", "translation", "signfer-expression", "signfer-probability", "signfer-occlusion"]
    # the same tiers again: byte-identical output (a rerun is stable)
    third = tmp_path / "third.eaf"
    enrich_eaf(second, named2, third, participants={**parts2, "S1_occlusion": "S1"}, annotator=signfer_annotator("model-two"),
               properties={"signfer_model": "model-two"})  # fmt: skip
    assert third.read_bytes() == second.read_bytes()


def test_original_is_written_only_in_place_when_asked(tmp_path, team, schema):
    named, parts = signfer_tiers_made()
    before = team.read_bytes()
    with pytest.raises(OptionError, match="in_place"):
        enrich_eaf(team, named, team, participants=parts)
    assert team.read_bytes() == before
    enrich_eaf(team, named, team, participants=parts, annotator=signfer_annotator("m"), in_place=True)
    assert team.read_bytes() != before
    assert_valid(schema, team)
    original = tmp_path / "original.eaf"
    original.write_text(TEAM_EAF, encoding="utf-8")
    assert_team_kept(original, team)
    assert "S1_expression" in read_tiers(team)


@pytest.mark.invalid_eaf  # writes a minimal / broken EAF on purpose
def test_team_tiers_named_like_signfers_or_depending_on_them_are_refused(tmp_path, team):
    named, parts = signfer_tiers_made()
    clash = tmp_path / "clash.eaf"
    clash.write_text(TEAM_EAF.replace('TIER_ID="Gloss B"', 'TIER_ID="S2_expression"').replace('PARENT_REF="Gloss B"', 'PARENT_REF="S2_expression"'))
    with pytest.raises(UserError, match=r"clash\.eaf: has its own tier\(s\) named S2_expression"):
        enrich_eaf(clash, named, tmp_path / "out.eaf", participants=parts)
    # a team tier made a child of signfer's tier in ELAN: a rerun would orphan it
    first = tmp_path / "first.eaf"
    enrich_eaf(team, named, first, participants=parts, annotator=signfer_annotator("m"))
    text = first.read_text().replace('PARENT_REF="Gloss B" PARTICIPANT="B" TIER_ID="Translation B"', 'PARENT_REF="S1_expression" PARTICIPANT="B" TIER_ID="Translation B"')
    first.write_text(text)
    with pytest.raises(UserError, match="'Translation B' depends on signfer's tier 'S1_expression'"):
        enrich_eaf(first, named, tmp_path / "second.eaf", participants=parts)
    broken = tmp_path / "broken.eaf"
    broken.write_text(TEAM_EAF[:900])
    with pytest.raises(UserError, match=r"broken\.eaf: not a readable ELAN \.eaf file \(XML error at line"):
        enrich_eaf(broken, named, tmp_path / "out.eaf")


def test_a_corrected_signfer_tier_is_never_replaced(tmp_path, team):
    named, parts = signfer_tiers_made()
    first = tmp_path / "first.eaf"
    enrich_eaf(team, named, first, participants=parts, annotator=signfer_annotator("m"))
    # ELAN renumbers time slots and annotation IDs when it saves: not an edit, the rerun goes ahead
    resaved = tmp_path / "resaved.eaf"
    resaved.write_text(first.read_text().replace('"signfer-ts', '"ts9').replace('"signfer-a', '"a9'))
    enrich_eaf(resaved, named, tmp_path / "again.eaf", participants=parts, annotator=signfer_annotator("m"))
    assert read_tiers(tmp_path / "again.eaf")["S1_expression"] == read_tiers(first)["S1_expression"]
    # an annotator corrects S1's second segment (happy -> surprise) in ELAN: a rerun refuses to replace it
    text = first.read_text()
    at = text.index('TIER_ID="S1_expression"')
    k = text.index("<ANNOTATION_VALUE>happy</ANNOTATION_VALUE>", at)
    corrected = tmp_path / "corrected.eaf"
    corrected.write_text(text[:k] + "<ANNOTATION_VALUE>surprise</ANNOTATION_VALUE>" + text[k + len("<ANNOTATION_VALUE>happy</ANNOTATION_VALUE>"):])
    before = corrected.read_bytes()
    with pytest.raises(UserError, match=r"corrected\.eaf: signfer's tier\(s\) S1_expression changed since signfer wrote them"):
        enrich_eaf(corrected, named, corrected, participants=parts, in_place=True)
    assert corrected.read_bytes() == before
    # kept as the team's own (another name and annotator): the rerun adds signfer's tiers beside it
    corrected.write_text(corrected.read_text().replace('TIER_ID="S1_expression" LINGUISTIC_TYPE_REF="signfer-expression" ANNOTATOR="signfer 0.1.0 m"',
                                                       'TIER_ID="S1_expression_checked" LINGUISTIC_TYPE_REF="signfer-expression" ANNOTATOR="MK"'))
    enrich_eaf(corrected, named, corrected, participants=parts, annotator=signfer_annotator("m"), in_place=True)
    tiers = read_tiers(corrected)
    assert tiers["S1_expression_checked"] == [(0, 400, "neutral"), (400, 880, "surprise")]
    assert tiers["S1_expression"] == [(0, 400, "neutral"), (400, 880, "happy")]


def test_unindented_team_file_and_empty_time_order(tmp_path, schema):
    flat = tmp_path / "flat.eaf"
    flat.write_text('<?xml version="1.0" encoding="UTF-8"?><ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-01-01T00:00:00Z" FORMAT="3.0" '
                    'VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                    'xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd"><HEADER MEDIA_FILE="" TIME_UNITS="milliseconds"/><TIME_ORDER/></ANNOTATION_DOCUMENT>')  # fmt: skip
    out = tmp_path / "out.eaf"
    enrich_eaf(flat, {"expression": [(0, 40, "happy"), (40, 40, "empty"), (80, 200, "sad")]}, out, annotator=signfer_annotator("m"))
    assert_valid(schema, out)
    assert read_tiers(out) == {"expression": [(0, 40, "happy"), (80, 200, "sad")]}


def test_participants_by_screen_side():
    assert parse_participants("left=A, right=B") == {"left": "A", "right": "B"}
    assert parse_participants("Middle=C,S4=D") == {"middle": "C", "S4": "D"}
    assert parse_participants(None) == {}
    for bad in ("left", "top=A", "left=A,left=B", "left=A,right=A", "=A"):
        with pytest.raises(OptionError, match="--participants"):
            parse_participants(bad)
    # signer IDs are numbered by appearance, sides come from where the faces are
    xs = {"S1": 410.0, "S2": 95.5}
    assert participants_by_side({"left": "A", "right": "B"}, xs) == {"S2": "A", "S1": "B"}
    three = {"S1": 300.0, "S2": 50.0, "S3": 600.0}
    assert participants_by_side({"left": "A", "middle": "B", "right": "C"}, three) == {"S2": "A", "S1": "B", "S3": "C"}
    assert participants_by_side({"left": "A", "S3": "Z"}, three) == {"S2": "A", "S3": "Z"}
    # one signer: the half of the frame decides
    assert participants_by_side({"left": "A", "right": "B"}, {"S1": 500.0}, width=640) == {"S1": "B"}
    assert participants_by_side({"left": "A", "right": "B"}, {"S1": 100.0}, width=640) == {"S1": "A"}
    tiers, parts = rename_signers({"S1_expression": [], "S2_expression": [], "S2_p_happy": []},
                                  {"S1_expression": "S1", "S2_expression": "S2", "S2_p_happy": "S2"}, {"S2": "A"})  # fmt: skip
    assert list(tiers) == ["S1_expression", "A_expression", "A_p_happy"] and parts == {"S1_expression": "S1", "A_expression": "A", "A_p_happy": "A"}


def test_eaf_into_finds_the_videos_eaf_in_a_folder(tmp_path, team):
    assert EafInto(team).team_eaf("/videos/other.mp4") == team
    folder = EafInto(team.parent, {"left": "A"})
    assert folder.team_eaf("/videos/session01.mp4") == team and folder.team_eaf("/videos/session02.mp4") is None
    assert folder.to_dict() == {"source": str(team.parent.resolve()), "participants": {"left": "A"}, "in_place": False}
    with pytest.raises(UserError, match="no such ELAN file or folder"):
        EafInto(tmp_path / "missing")


# --------------------------------------------------------------------------- through `signfer annotate`
ASTRONAUT_FACE = (181, 62, 268, 172)  # MTCNN's box on skimage's astronaut photo
HOPPER_FACE = (174, 110, 348, 333)  # MTCNN's box on matplotlib's grace_hopper.jpg


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised FER mini-Xception (64 px grey) saved as a signfer checkpoint: real faces, any labels."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model, default_spec

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, create_model("fer_mini_xception", len(EMOTIONS7)).eval(), default_spec("fer_mini_xception", list(EMOTIONS7)))
    return path


@pytest.fixture(scope="module")
def two_signers(tmp_path_factory) -> Path:
    """Grace Hopper on the left, the astronaut on the right, 6 frames (10 fps), both drifting a little."""
    import matplotlib.cbook
    from skimage import data

    from signfer.io import read_image
    from signfer.samples.signer_scenes import face_portrait, write_video

    left = face_portrait(read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), HOPPER_FACE, size=120)
    right = face_portrait(data.astronaut(), ASTRONAUT_FACE, size=120)
    frames = []
    for i in range(6):
        img = np.full((200, 400, 3), 128, np.uint8)
        img[40:160, 20 + 4 * i : 140 + 4 * i] = left
        img[40:160, 260 - 4 * i : 380 - 4 * i] = right
        frames.append(img)
    return write_video(tmp_path_factory.mktemp("video") / "session01.avi", frames)


def test_cli_annotate_eaf_into_with_participants(tmp_path, tiny_model, two_signers, schema, capsys):
    import pandas as pd

    from signfer.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    team = corpus / "session01.eaf"
    team.write_text(TEAM_EAF, encoding="utf-8")
    before, mtime = team.read_bytes(), team.stat().st_mtime_ns
    out = tmp_path / "ann"
    args = ["annotate", str(two_signers), "--model", str(tiny_model), "--backend", "torch", "--detector", "mtcnn", "--signer", "all",
            "--out", str(out), "--no-progress", "--eaf-into", str(corpus), "--participants", "left=A,right=B"]  # fmt: skip
    assert main(args) == 0
    assert team.read_bytes() == before and team.stat().st_mtime_ns == mtime  # the original stays as it was
    enriched = out / "session01.eaf"
    assert_valid(schema, enriched)
    assert_team_kept(team, enriched)
    assert_only_added_lines(team, enriched)

    # the participant of each signer's tiers is the one on that side of the screen (mean face-centre x, from the CSV)
    rows = pd.read_csv(out / "session01.csv").dropna(subset=["face_x1"])
    mean_x = ((rows["face_x1"] + rows["face_x2"]) / 2).groupby(rows["signer_id"]).mean()
    assert len(mean_x) == 2 and mean_x.max() - mean_x.min() > 150
    left_id = mean_x.idxmin()
    parts = tier_participants(enriched)
    assert parts["A_expression"] == "A" and parts["B_expression"] == "B" and parts["Gloss A"] == "A"
    got = read_tiers(enriched)
    for who, sid in (("A", left_id), ("B", mean_x.idxmax())):  # each tier holds that signer's segments (the JSON's)
        import json

        segs = json.loads((out / "session01.json").read_text())["segments"][sid]
        assert got[f"{who}_expression"] == [(int(round(s["start_ms"])), int(round(s["end_ms"])), s["label"]) for s in segs]
    root = etree.parse(str(enriched)).getroot()
    props = {p.get("NAME"): p.text for p in root.find("HEADER").findall("PROPERTY")}
    assert props["signfer_participants"] == f"A={left_id},B={mean_x.idxmax()}"
    marks = {t.get("ANNOTATOR") for t in root.findall("TIER") if t.get("TIER_ID").startswith(("A_", "B_"))}
    assert marks == {f"signfer 0.1.0 {tiny_model}"}

    # an output folder that is the corpus folder would write over the team's file: refused without --eaf-into-in-place
    to_corpus = [a if a != str(out) else str(corpus) for a in args]
    capsys.readouterr()
    assert main(to_corpus) != 0
    cap = capsys.readouterr()
    assert f"{team} is this command's input" in cap.out + cap.err
    assert team.read_bytes() == before

    # asked in so many words: into the team's file itself; a second such run changes only signfer's tiers
    assert main(args + ["--eaf-into-in-place"]) == 0
    assert team.read_bytes() != before
    assert_valid(schema, team)
    original = tmp_path / "original.eaf"
    original.write_text(TEAM_EAF, encoding="utf-8")
    assert_team_kept(original, team)
    assert_only_added_lines(original, team)
    assert read_tiers(team)["A_expression"] == got["A_expression"]
    assert "A_p_happy" in read_tiers(team)
    assert main(args + ["--eaf-into-in-place", "--eaf-probabilities", "none"]) == 0  # other settings: signfer's tiers replaced
    assert_valid(schema, team)
    assert_team_kept(original, team)
    tiers = read_tiers(team)
    assert sorted(t for t in tiers if t[:2] in ("A_", "B_")) == ["A_confidence", "A_expression", "A_model_used", "B_confidence", "B_expression", "B_model_used"]
    assert main(["annotate", str(two_signers), "--participants", "left=A", "--out", str(out)]) == 2  # --participants alone is refused
    assert main(["annotate", str(two_signers), "--eaf-into", str(corpus), "--participants", "left=A", "--out", str(out)]) == 2  # no --signer

    # a folder without this video's EAF: signfer's own EAF, and the log says so
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(args[:-4] + ["--eaf-into", str(empty), "--out", str(tmp_path / "own")]) == 0
    assert f"--eaf-into: no {empty / 'session01.eaf'}; wrote signfer's own EAF" in capsys.readouterr().out
    assert sorted(read_tiers(tmp_path / "own" / "session01.eaf"))[:2] == ["S1_confidence", "S1_expression"]
