"""The dosimetry stage of :func:`pipeline.run.study.run_study`.

Finds the Tc-99m MAA SPECT/CT and the Y-90 PET/CT among the study's files
(:func:`pipeline.select.nm_series.recognise_nm_series`), runs
:func:`pipeline.dosimetry.study.maa_study` / :func:`~pipeline.dosimetry.study.y90_pet_study`
against the planning CT and its segmentation, and gives back the ``dosimetry`` section of
``result.json``, the RT Dose data sets, the figures, the SR groups and the image-derived
planner inputs (LSF, T/N). A failure of the dosimetry (no emission CT, registration refused,
an empty region ...) is an ``error`` in the section and a warning: the CT results are still
delivered.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from pipeline.dosimetry.config import DosimetryConfig
from pipeline.dosimetry.figures import DvhCurve, dose_on_planning, dvh_curves, dvh_png, fused_png
from pipeline.dosimetry.planar import PlanarFrames, PlanarRegistrationError, planar_frames
from pipeline.dosimetry.report_page import page_text
from pipeline.dosimetry.result import DosimetryResult, PlanarLsf
from pipeline.dosimetry.sr_content import DoseSource, dosimetry_groups
from pipeline.dosimetry.study import StudyDose, maa_study, y90_pet_study
from pipeline.encode.content import DosimetryReport, QuantityGroup
from pipeline.errors import InputDataError
from pipeline.quantify.constants import DosimetryConstants
from pipeline.quantify.inputs import PlannerInputs
from pipeline.quantify.quality import Finding
from pipeline.segment.result import SegmentationResult
from pipeline.select.emission import is_emission
from pipeline.select.nm_series import EmissionPair, NmSeriesSet, recognise_nm_series
from pipeline.select.volume import build_volume
from pipeline.structures import liver_labels
from pipeline.volume import CTVolume

IMAGE_SOURCE = "MAA images"
"""``inputs.planner_source`` label of an LSF or T/N measured on the MAA SPECT."""


class NoEmissionCTError(InputDataError):
    """An emission series has no CT of its own to register the planning regions with."""


@dataclass(frozen=True)
class DosimetryStage:
    """What the dosimetry stage produced.

    Parameters
    ----------
    section : dict or None
        ``result.json`` key ``dosimetry`` (None: the study holds no NM/PET image).
    maa, pet : StudyDose or None
        MAA prediction and Y-90 PET measurement (None: absent or failed).
    findings : list of Finding
        Warnings for ``result.json`` (failures, what was not found).
    measured : PlannerInputs
        LSF and T/N measured on the MAA SPECT (fields None where not measured).
    groups : tuple of QuantityGroup
        TID 1500 groups of the dose figures (:func:`pipeline.dosimetry.sr_content.
        dosimetry_groups`), MAA first.
    report : DosimetryReport or None
        The PDF page (None: nothing measured).
    """

    section: dict[str, Any] | None = None
    maa: StudyDose | None = None
    pet: StudyDose | None = None
    findings: list[Finding] = field(default_factory=list)
    measured: PlannerInputs = field(default_factory=PlannerInputs)
    groups: tuple[QuantityGroup, ...] = ()
    report: DosimetryReport | None = None


def _headers(files: Sequence[Path]) -> dict[str, list[tuple[Path, Dataset]]]:
    """Readable headers by SeriesInstanceUID (unreadable files were judged by selection)."""
    series: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, ValueError, EOFError, pydicom.errors.InvalidDicomError):
            continue
        series[str(ds.get("SeriesInstanceUID", ""))].append((path, ds))
    return series


def _emission_ct(pair: EmissionPair, series: dict[str, list[tuple[Path, Dataset]]]) -> CTVolume:
    if pair.ct is None:
        raise NoEmissionCTError(
            f"{pair.emission.modality} series {pair.emission.series_instance_uid} has no CT "
            "(same FrameOfReferenceUID, or same study within the pairing window) to register "
            "with the planning CT"
        )
    return build_volume([p for p, _ in series[pair.ct.series_instance_uid]])


def _administered_gbq(ds: Dataset) -> float | None:
    """RadionuclideTotalDose (Bq) of the first radiopharmaceutical item, GBq."""
    items = ds.get("RadiopharmaceuticalInformationSequence") or []
    value = items[0].get("RadionuclideTotalDose") if items else None
    try:
        return float(value) / 1e9 if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _planar_frames(roles: NmSeriesSet, series: Mapping[str, list[tuple[Path, Dataset]]]
                   ) -> tuple[PlanarFrames | None, str | None]:
    """The first anterior/posterior pair held in one instance, pixels read, or why it cannot
    be read (both None: no such pair)."""
    pair = roles.planar_pair()
    if pair is None or pair[0].sop_instance_uid != pair[1].sop_instance_uid:
        return None, None
    anterior, posterior = pair
    path = next((p for p, ds in series.get(anterior.series.series_instance_uid, [])
                 if str(ds.get("SOPInstanceUID", "")) == anterior.sop_instance_uid), None)
    if path is None:
        return None, None
    try:
        return planar_frames(pydicom.dcmread(path), anterior.frame, posterior.frame), None
    except (OSError, PlanarRegistrationError, pydicom.errors.InvalidDicomError) as exc:
        return None, str(exc)


def _with_planar(dose: StudyDose, planar: PlanarLsf) -> StudyDose:
    result = dataclasses.replace(dose.output.result, planar=planar)
    return dataclasses.replace(dose, output=dataclasses.replace(dose.output, result=result))


def _mark_planar_used(section: dict[str, Any], result: DosimetryResult) -> None:
    used = result.planar is not None and result.planar.lsf is not None
    for view in section["source_series"]["maa"].get("planar_views", []):
        view["used"] = used


def _failure(kind: str, exc: Exception) -> tuple[str, Finding]:
    reason = f"{type(exc).__name__}: {exc}"
    return reason, Finding(
        "DOSIMETRY_FAILED",
        f"{kind} dosimetry not computed: {reason}",
        ["dosimetry"],
        "withheld",
        "dosimetry",
    )


def _sources(pair: EmissionPair, roles: NmSeriesSet | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "emission_series_uid": pair.emission.series_instance_uid,
        "emission_description": pair.emission.description,
        "ct_series_uid": None if pair.ct is None else pair.ct.series_instance_uid,
        "ct_paired_by": pair.paired_by,
    }
    if roles is not None:
        out["planar_views"] = [
            {
                "sop_instance_uid": v.sop_instance_uid,
                "frame": v.frame,
                "view": v.view,
                "used": False,
            }
            for v in roles.planar
        ]
    return out


_EMPTY_MAA: dict[str, Any] = {
    "lsf": None,
    "lsf_method": None,
    "tn_ratio": None,
    "source": None,
    "dose_method": None,
    "administered_gbq": None,
    "regions": [],
}


def run_dosimetry(
    files: Sequence[Path],
    planning_series_uid: str,
    planning: CTVolume,
    seg: SegmentationResult,
    config: DosimetryConfig,
    constants: DosimetryConstants,
) -> DosimetryStage:
    """Dosimetry of the MAA SPECT/CT and Y-90 PET/CT among ``files``.

    Parameters
    ----------
    files : sequence of Path
        Every file of the run (the planning CT's study and any linked NM/PET study).
    planning_series_uid : str
        The series chosen as planning CT.
    planning : CTVolume
        Its volume.
    seg : SegmentationResult
        Its segmentation (regions carried into the emission images).
    config : DosimetryConfig
        On/off, pairing window, the activity the MAA prediction is scaled to.
    constants : DosimetryConstants
        C, density, half-life (``QuantificationConfig.constants()``).

    Returns
    -------
    DosimetryStage
        Empty (``section`` None) when disabled or when no file is an NM/PET image.
    """
    if not config.enabled:
        return DosimetryStage()
    series = _headers(files)
    headers = [ds for items in series.values() for _, ds in items]
    if not any(is_emission(ds) for ds in headers):
        return DosimetryStage()
    roles = recognise_nm_series(headers, planning_series_uid, config.link())
    section: dict[str, Any] = {
        **_EMPTY_MAA,
        "error": None,
        "post_treatment": None,
        "source_series": {},
    }
    findings: list[Finding] = []
    maa = pet = None
    if roles.maa_spect is None and roles.y90_pet is None:
        section["error"] = (
            "no Tc-99m MAA SPECT reconstruction or Y-90 PET among the NM/PET "
            f"series ({len(roles.other_emission) + len(roles.planar)} found)"
        )
        findings.append(
            Finding(
                "DOSIMETRY_NOT_POSSIBLE",
                section["error"],
                ["dosimetry"],
                "not_computable",
                "dosimetry",
            )
        )
    if roles.maa_spect is not None:
        section["source_series"]["maa"] = _sources(roles.maa_spect, roles)
        try:
            spect = pydicom.dcmread(series[roles.maa_spect.emission.series_instance_uid][0][0])
            planar, planar_error = _planar_frames(roles, series)
            maa = maa_study(
                planning,
                seg.labelmap,
                seg.labels,
                spect,
                _emission_ct(roles.maa_spect, series),
                config.maa_activity_gbq,
                constants,
                demo=seg.is_demo,
                planar=planar,
            )
            if planar_error is not None:  # the SPECT's figures stand; the reason is said
                maa = _with_planar(maa, PlanarLsf(None, None, None, planar_error))
            section.update(maa.output.result.to_json())
            _mark_planar_used(section, maa.output.result)
        except (InputDataError, ValueError, RuntimeError) as exc:
            section["error"], finding = _failure("MAA SPECT", exc)
            findings.append(finding)
    if roles.y90_pet is not None:
        section["source_series"]["y90pet"] = _sources(roles.y90_pet)
        try:
            slices = [
                pydicom.dcmread(p) for p, _ in series[roles.y90_pet.emission.series_instance_uid]
            ]
            pet = y90_pet_study(
                planning,
                seg.labelmap,
                seg.labels,
                slices,
                _emission_ct(roles.y90_pet, series),
                constants,
                demo=seg.is_demo,
                administered_gbq=_administered_gbq(slices[0]),
            )
            section["post_treatment"] = {**pet.output.result.to_json(), "error": None}
        except (InputDataError, ValueError, RuntimeError) as exc:
            reason, finding = _failure("Y-90 PET", exc)
            section["post_treatment"] = {"error": reason}
            findings.append(finding)
    measured = (
        PlannerInputs()
        if maa is None
        else PlannerInputs(
            lung_shunt_fraction=maa.output.result.lsf,
            tumour_to_normal_ratio=maa.output.result.tn_ratio,
        )
    )
    groups: tuple[QuantityGroup, ...] = ()
    if maa is not None:
        groups += dosimetry_groups(maa.output.result, DoseSource.MAA_SPECT)
    if pet is not None:
        groups += dosimetry_groups(pet.output.result, DoseSource.Y90_PET)
    return DosimetryStage(
        section, maa, pet, findings, measured, groups, _report(planning, seg, maa, pet, section)
    )


def _report(
    planning: CTVolume,
    seg: SegmentationResult,
    maa: StudyDose | None,
    pet: StudyDose | None,
    section: dict[str, Any],
) -> DosimetryReport | None:
    if maa is None and pet is None:
        return None
    liver = np.isin(seg.labelmap, liver_labels(seg.labels))
    measured = [(d, source) for d, source in ((maa, DoseSource.MAA_SPECT),
                                              (pet, DoseSource.Y90_PET)) if d is not None]
    curves: list[DvhCurve] = []
    overlays: list[tuple[str, bytes]] = []
    for dose, source in measured:
        curves += dvh_curves(dose.output, str(source))
        title = (f"{source}: predicted dose, {dose.output.result.administered_gbq:g} GBq"
                 if source is DoseSource.MAA_SPECT else f"{source}: measured dose")
        overlays.append(
            (title, fused_png(planning, dose_on_planning(dose.output, planning), liver, title)))
    lines, rows = page_text([(d.output.result, source) for d, source in measured], section)
    return DosimetryReport(lines=lines, rows=rows, dvh_png=dvh_png(curves),
                           overlays=tuple(overlays))
