"""Contrast phase from header and image."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from select_ctfactory import SeriesSpec, axial_slices, write_series

from pipeline.select.config import GeometryConfig, PhaseConfig
from pipeline.select.headers import words
from pipeline.select.image_evidence import PlaneGeometry, measure_slices
from pipeline.select.phase import decide_phase, header_phase, image_phase, keyword_phases
from pipeline.select.terms import ContrastPhase
from pipeline.select.volume import build_volume

CFG = PhaseConfig()
P = ContrastPhase


@pytest.mark.parametrize(
    ("description", "phase"),
    [
        ("Abdomen portalvenös 3mm", P.PORTAL_VENOUS),
        ("Abd PV 1.0 B30f", P.PORTAL_VENOUS),
        ("Abdomen portal venous", P.PORTAL_VENOUS),
        ("TAP veineux", P.PORTAL_VENOUS),
        ("Addome fase portale", P.PORTAL_VENOUS),
        ("Leber arteriell", P.ARTERIAL),
        ("Foie temps artériel".replace("é", "e"), P.ARTERIAL),
        ("late arterial", P.ARTERIAL),
        ("Abdomen nativ", P.NATIVE),
        ("Abdomen sans injection", P.NATIVE),
        ("addome senza mdc", P.NATIVE),
        ("non contrast", P.NATIVE),
        ("Spät 5min", P.DELAYED),
        ("abdomen tardif", P.DELAYED),
        ("equilibrium", P.DELAYED),
    ],
)
def test_keywords_in_several_languages(description, phase):
    found = keyword_phases(words(description), CFG)
    assert list(found) == [phase]


def test_keywords_are_whole_words():
    assert keyword_phases(words("Abdomen Venography-like Partial Arteriogram"), CFG) == {}


def _hdr(**kw: object) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def test_bolus_timing():
    vote, _ = header_phase(_hdr(ContrastBolusStartTime="100000", AcquisitionTime="100115"),
                           CFG)
    assert vote is not None and vote.phase is P.PORTAL_VENOUS and vote.source == "bolus_timing"
    vote, _ = header_phase(_hdr(ContrastBolusStartTime="235950", AcquisitionTime="000015"), CFG)
    assert vote is not None and vote.phase is P.ARTERIAL  # across midnight: 25 s


def test_agent_phase_term_beats_keyword_and_disagreement_is_recorded():
    vote, evidence = header_phase(
        _hdr(ContrastBolusAgentPhase="PORTAL_VENOUS", SeriesDescription="arteriell"), CFG
    )
    assert vote is not None and vote.phase is P.PORTAL_VENOUS
    assert vote.confidence == pytest.approx(0.7)
    assert any("disagrees" in e for e in evidence)


def test_contrast_agent_vetoes_native():
    vote, evidence = header_phase(_hdr(SeriesDescription="nativ", ContrastBolusAgent="Iomeron"),
                                  CFG)
    assert vote is None
    assert any("contrast agent" in e for e in evidence)


def test_missing_tags_give_no_header_vote():
    vote, evidence = header_phase(_hdr(SeriesDescription="Abdomen 1.0"), CFG)
    assert vote is None and "no ContrastBolusAgent" in evidence


@pytest.fixture(scope="module")
def phantom_measures(tmp_path_factory):
    out = {}
    for phase in ("native", "arterial", "portal_venous", "delayed"):
        paths = write_series(tmp_path_factory.mktemp(phase), axial_slices(n=12, spacing=8.0,
                             z0=-50.0), SeriesSpec(phase=phase), seed=7)
        vol = build_volume(paths, GeometryConfig(min_slices=5))
        geom = PlaneGeometry((4.0, 4.0), vol.row_cosine, vol.column_cosine)
        out[phase] = measure_slices(vol.hu, geom)
    return out


@pytest.mark.parametrize("phase", ["native", "arterial", "portal_venous", "delayed"])
def test_image_phase_on_phantom(phantom_measures, phase):
    vote, hu = image_phase(phantom_measures[phase], CFG)
    assert vote is not None and hu is not None
    assert vote.phase is P(phase)
    assert vote.confidence >= CFG.image_min_confidence


def test_image_phase_in_rotated_plane(tmp_path):
    # row cosine -x, column cosine -y (image flipped both ways): right/anterior still found
    iop = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    from dataclasses import replace

    slices = [replace(s, orientation=iop, position=(-s.position[0], -s.position[1],
                                                    s.position[2]))
              for s in axial_slices(n=12, spacing=8.0, z0=-50.0)]
    vol = build_volume(write_series(tmp_path, slices, SeriesSpec(phase="arterial")),
                       GeometryConfig(min_slices=5))
    measures = measure_slices(vol.hu, PlaneGeometry((4.0, 4.0), vol.row_cosine,
                                                    vol.column_cosine))
    vote, _ = image_phase(measures, CFG)
    assert vote is not None and vote.phase is P.ARTERIAL


def test_image_wins_and_disagreement_is_recorded(phantom_measures):
    image, hu = image_phase(phantom_measures["portal_venous"], CFG)
    header, evidence = header_phase(_hdr(SeriesDescription="Abdomen arteriell"), CFG)
    decided = decide_phase(header, evidence, image, hu, CFG)
    assert decided.phase is P.PORTAL_VENOUS and decided.source == "image"
    assert decided.disagreement
    assert any("image wins" in e for e in decided.evidence)
    assert decided.to_dict()["header_phase"] == "arterial"


def test_no_liver_no_image_vote():
    empty = np.full((3, 32, 32), -1000.0, dtype=np.float32)
    vote, hu = image_phase(measure_slices(empty, PlaneGeometry((4.0, 4.0), (1, 0, 0),
                                                                (0, 1, 0))), CFG)
    assert vote is None and hu is None


@pytest.mark.parametrize(
    ("description", "phase"),
    [("Spaetphase", P.DELAYED), ("Spätphase 5mm", P.DELAYED), ("equilibre", P.DELAYED),
     ("Abdomen venos", P.PORTAL_VENOUS), ("TEMPS ARTERIEL", P.ARTERIAL)],
)
def test_keywords_ignore_accents(description, phase):
    assert list(keyword_phases(words(description), CFG)) == [phase]
