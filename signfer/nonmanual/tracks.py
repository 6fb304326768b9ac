"""Per-signer measure tracks of one annotation, their events, and the ELAN time-series files.

:class:`Tracks` keeps the per-frame measures of each signer (ten numbers per analysed frame and signer: the
only thing that grows with the video's length) and, at the end, gives the events and the curves.
:func:`write_timeseries` writes the curves as an ELAN time-series pair: ``<name>_curves.csv`` (time in
seconds, then one column per signer and curve) and ``<name>_tsconf.xml`` (ELAN's track configuration, the
name ELAN itself gives it beside ``<name>.eaf``), both linked from the EAF as secondary files
(``LINKED_FILE_DESCRIPTOR``), so ELAN's time-series viewer shows pitch, yaw and brow height under the video.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from signfer.io import atomic_write
from signfer.nonmanual.events import CURVES, EVENTS, Detector, EventThresholds, curves
from signfer.nonmanual.measures import COLUMNS

CSV_PROVIDER = "mpi.eudico.client.annotator.timeseries.csv.CSVServiceProvider"
_COLOURS = ("230,25,75", "0,130,200", "60,180,75", "245,130,48", "145,30,180", "70,240,240", "240,50,230", "128,128,0")


class Tracks:
    """Measures per signer, pushed row by row (the rows of :class:`~signfer.annotate.writers.RowSchema`)."""

    def __init__(self, thresholds: EventThresholds | None = None):
        self.detector = Detector(thresholds)
        self.times: list[float] = []
        self._index: dict[float, int] = {}
        self._values: dict[str, dict[int, np.ndarray]] = {}

    def push(self, time_ms: float, rows: list[dict]) -> None:
        if time_ms not in self._index:
            self._index[time_ms] = len(self.times)
            self.times.append(time_ms)
        k = self._index[time_ms]
        for row in rows:
            if row.get("head_yaw") is None:
                continue
            vals = np.array([row.get(c, float("nan")) for c in COLUMNS], np.float32)
            self._values.setdefault(row.get("signer_id") or "", {})[k] = vals

    @property
    def signers(self) -> list[str]:
        return list(self._values)

    def measures(self, signer: str) -> dict[str, np.ndarray]:
        """column -> (frames,) float64 of one signer, NaN where they had no mesh."""
        arr = np.full((len(self.times), len(COLUMNS)), np.nan)
        for k, v in self._values.get(signer, {}).items():
            arr[k] = v
        return {c: arr[:, i] for i, c in enumerate(COLUMNS)}

    def events(self, signer: str):
        if signer not in self._values or len(self.times) < 2:
            return []
        return self.detector.events(np.asarray(self.times), self.measures(signer))

    def curves(self, signer: str) -> dict[str, np.ndarray]:
        return curves(np.asarray(self.times), self.measures(signer))


def event_tiers(tracks: Tracks, order, tier_name) -> tuple[dict, dict, dict]:
    """(tier name -> [(start_ms, end_ms, strength)], tier name -> signer, signer -> [event dicts]) for the EAF and
    JSON: one tier per event type and signer (``tier_name(signer, kind)``, e.g. ``S1_head_shake``)."""
    named, parts, listed = {}, {}, {}
    for sid in order:
        evs = tracks.events(sid)
        listed[sid] = [e.to_dict() for e in evs]
        if sid not in tracks.signers:
            continue
        for kind in EVENTS:
            name = tier_name(sid, kind)
            named[name] = [(e.start_ms, e.end_ms, f"{e.strength:.3g}") for e in evs if e.kind == kind]
            if sid:
                parts[name] = sid
    return named, parts, listed


def _column(signer: str, curve: str) -> str:
    return f"{signer}_{curve}" if signer else curve


def write_timeseries(tracks: Tracks, csv_path: str | os.PathLike, tsconf_path: str | os.PathLike, order=None, *, csv_url=None) -> list[Path]:
    """Write the curves of every signer (``order``) as ``csv_path`` and ELAN's ``tsconf_path`` describing its tracks.
    ``csv_url``: the CSV's final location, when ``csv_path`` is a temporary name (the tsconf names the final one)."""
    order = [s for s in (order if order is not None else tracks.signers) if s in tracks.signers]
    cols, data = ["time_s"], [np.asarray(tracks.times) / 1000.0]
    units = {}
    for sid in order:
        for name, arr in tracks.curves(sid).items():
            cols.append(_column(sid, name))
            data.append(arr)
    for name, unit, rng in CURVES:
        units[name] = (unit, rng)
    table = np.stack(data, axis=1) if data else np.zeros((0, 1))
    with atomic_write(csv_path) as fh:
        fh.write(",".join(cols) + "\n")
        for row in table:
            fh.write(",".join(f"{row[0]:.3f}" if i == 0 else ("" if not math.isfinite(v) else f"{v:.4f}") for i, v in enumerate(row)) + "\n")
    root = ET.Element("timeseries", date=datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"), version="1.0")
    src = ET.SubElement(root, "tracksource", {"sample-type": "Continuous Rate", "source-url": Path(csv_url or csv_path).resolve().as_uri(), "time-column": "0"})
    ET.SubElement(src, "property", key="provider", value=CSV_PROVIDER)
    for col_index, col in enumerate(cols[1:], start=1):
        curve = next(n for n, _, _ in CURVES if col == n or col.endswith("_" + n))
        unit, (lo, hi) = units[curve]
        track = ET.SubElement(src, "track", derivative="0", name=col)
        ET.SubElement(track, "property", key="detect-range", value="false")
        pos = ET.SubElement(track, "sample-position")
        ET.SubElement(pos, "pos", col=str(col_index), row="0")  # as ELAN writes it for CSV tracks: the column of each line
        ET.SubElement(track, "description").text = f"signfer non-manual curve {curve} ({unit})"
        ET.SubElement(track, "units").text = unit
        ET.SubElement(track, "range", max=f"{hi}", min=f"{lo}")
        ET.SubElement(track, "color").text = _COLOURS[(col_index - 1) % len(_COLOURS)]
    ET.indent(root)
    with atomic_write(tsconf_path) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")
    return [Path(csv_path), Path(tsconf_path)]


def read_tsconf(path: str | os.PathLike) -> dict:
    """A tsconf file as plain data: ``{"source": url, "time_column": int, "tracks": {name: {"col", "row", "units", "range"}}}``
    (raises ``xml.etree.ElementTree.ParseError`` / ``KeyError`` when it is not one)."""
    root = ET.parse(path).getroot()
    if root.tag != "timeseries":
        raise KeyError(f"{path}: root element is {root.tag!r}, not 'timeseries'")
    src = root.find("tracksource")
    tracks = {}
    for tr in src.findall("track"):
        pos = tr.find("sample-position/pos")
        rng = tr.find("range")
        tracks[tr.get("name")] = {"col": int(pos.get("col")), "row": int(pos.get("row")), "units": tr.findtext("units"),
                                  "range": (float(rng.get("min")), float(rng.get("max")))}  # fmt: skip
    provider = next((p.get("value") for p in src.findall("property") if p.get("key") == "provider"), None)
    return {"source": src.get("source-url"), "time_column": int(src.get("time-column")), "sample_type": src.get("sample-type"),
            "provider": provider, "tracks": tracks}  # fmt: skip


def relink_timeseries(folder: str | os.PathLike) -> None:
    """Point every ``*_tsconf.xml`` in ``folder`` at the ``_curves.csv`` beside it (after the folder was moved, e.g. from
    a corpus worker's staging folder to its final place)."""
    for conf in Path(folder).glob("*_tsconf.xml"):
        csv = conf.with_name(conf.name[: -len("_tsconf.xml")] + "_curves.csv")
        tree = ET.parse(conf)
        for src in tree.getroot().findall("tracksource"):
            src.set("source-url", csv.resolve().as_uri())
        with atomic_write(conf) as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree.getroot(), encoding="unicode") + "\n")
