"""Reads the SIRT groups of an SR back as a machine would, from the SR alone."""

from __future__ import annotations

from dataclasses import dataclass, field

import highdicom as hd
from pydicom.dataset import Dataset


@dataclass
class ReadGroup:
    """One TID 1501 group as read back."""

    title: str
    finding_type: str
    sites: list[str]
    time_point: str
    measurements: list[tuple[str, float, str, list[int]]] = field(default_factory=list)
    evaluations: dict[str, str] = field(default_factory=dict)


def _time_point(group: Dataset) -> str:
    for item in group.ContentSequence:
        if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeMeaning == \
                "Time Point":
            return str(item.TextValue)
    return ""


def _segment_numbers(num: Dataset) -> list[int]:
    out: list[int] = []
    for item in getattr(num, "ContentSequence", []):
        if item.ValueType == "IMAGE" and item.RelationshipType == "INFERRED FROM":
            ref = item.ReferencedSOPSequence[0]
            element = ref["ReferencedSegmentNumber"]
            out += [int(n) for n in (element.value if element.VM > 1 else [element.value])]
    return out


def _code(ds: Dataset) -> str:
    return str(ds.get("CodeValue") or ds.get("LongCodeValue"))


def read_groups(sr: hd.sr.Comprehensive3DSR) -> dict[str, ReadGroup]:
    """Every TID 1501 group by Tracking Identifier."""
    out = {}
    for g in sr.content.get_image_measurement_groups():
        read = ReadGroup(g.tracking_identifier or "", g.finding_type.value if g.finding_type
                         else "", [s.value.value for s in g.finding_sites], _time_point(g[0]))
        for m in g.get_measurements():
            read.measurements.append((m.name.value, float(m.value), m.unit.value,
                                      _segment_numbers(m[0])))
        for e in g.get_qualitative_evaluations():
            read.evaluations[_code(e.name)] = _code(e.value)
        out[read.title] = read
    return out
