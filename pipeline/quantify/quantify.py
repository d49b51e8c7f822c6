"""The quantification of one study, and re-planning from an earlier result.

:func:`quantify` measures the label map (volumes, lesions), applies the quality gates, and
plans (FLR, SIRT); :func:`replan` repeats only the planning with new planner inputs on the
figures an earlier result reported. The JSON schema is in ``docs/quantification.md``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.quantify.body import PatientSection
from pipeline.quantify.box import labelled_box
from pipeline.quantify.burden import TumourBurden, tumour_burden
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.flr import FLRPlan, compute_flr
from pipeline.quantify.flr_model import ModelFLR, RegionVolumes, model_flr
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.lesions import (
    Lesion,
    TumourAnalysis,
    analyse_tumour,
    measurable_threshold_mm,
)
from pipeline.quantify.quality import (
    LIVER,
    TUMOUR,
    Finding,
    coverage_gates,
    image_gates,
    segment_atom,
    usable_patient,
)
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.sirt_plan import SIRTPlan
from pipeline.quantify.volumetry import (
    LEFT_HEMILIVER,
    RIGHT_HEMILIVER,
    SEGMENTS,
    LiverVolumes,
    liver_volumes,
    lung_mass_from_ct_kg,
    parenchyma_keys,
    segment_name,
    structure_volumes_ml,
    structures_touching_edge,
)
from pipeline.structures import COUINAUD_SEGMENTS, Structure

SCHEMA = "dicomnode.quantification/1"


@dataclass(frozen=True)
class QuantResult:
    """Everything the quantification reports for one study (see :meth:`to_dict`).

    Parameters
    ----------
    volumes_ml : dict of str to float or None
        Structure, liver, hemiliver and lobe name -> volume, mL (None: withheld).
    lesions : tuple of Lesion
        Every tumour component of at least the minimum size, hepatic and extrahepatic.
    tumour_burden : TumourBurden
        Lesion counts, total tumour volume and tumour fraction per region.
    flr : FLRPlan
        FLR of every resection and the hypertrophy after PVE.
    sirt : SIRTPlan
        The SIRT plan, every method.
    patient : PatientSection
        Body size as given and as used, BSA.
    warnings : tuple of Finding
        Quality gates, lesion, lung-mass and planning findings.
    constants : dict
        Every constant, formula choice and threshold in force.
    inputs : dict
        Planner and patient inputs with their sources, study date, quality context.
    plan_revision : int
        1 for the first plan, incremented by each re-plan.
    lesion_map : ndarray of unsigned int, shape (z, y, x), optional
        Each tumour voxel labelled with its lesion's index (not in :meth:`to_dict`; None
        without lesions or when read back from ``result.json``).
    flr_model : ModelFLR or None
        FLR of a learned FLR model (``flr.model``; None: no model segments the remnant).
    """

    volumes_ml: dict[str, float | None]
    lesions: tuple[Lesion, ...]
    tumour_burden: TumourBurden
    flr: FLRPlan
    sirt: SIRTPlan
    patient: PatientSection
    warnings: tuple[Finding, ...]
    constants: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    plan_revision: int = 1
    lesion_map: NDArray[np.unsignedinteger] | None = field(default=None, compare=False, repr=False)
    flr_model: ModelFLR | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result with the top-level keys documented in ``docs/quantification.md``."""
        return {"schema": SCHEMA, "plan_revision": self.plan_revision,
                "volumes_ml": dict(self.volumes_ml),
                "lesions": [les.to_dict() for les in self.lesions],
                "tumour_burden": self.tumour_burden.to_dict(),
                "flr": {**self.flr.to_dict(),
                        "model": None if self.flr_model is None else self.flr_model.to_dict()},
                "sirt": self.sirt.to_dict(), "patient": self.patient.to_dict(),
                "warnings": [w.to_dict() for w in self.warnings],
                "constants": self.constants, "inputs": self.inputs}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> QuantResult:
        """Read back :meth:`to_dict` (an earlier ``result.json``; warnings of every stage).

        Raises
        ------
        KeyError
            If the document has no quantification (a rejected study).
        """
        return cls(
            volumes_ml=dict(doc["volumes_ml"]),
            lesions=tuple(Lesion.from_dict(d) for d in doc.get("lesions") or ()),
            tumour_burden=TumourBurden.from_dict(doc["tumour_burden"]),
            flr=FLRPlan.from_dict(doc["flr"]),
            sirt=SIRTPlan.from_dict(doc["sirt"], float(doc["constants"]["liver_density_g_ml"])),
            patient=PatientSection.from_dict(doc.get("patient") or {}),
            warnings=tuple(Finding.from_dict(w) for w in doc.get("warnings") or ()),
            constants=dict(doc.get("constants") or {}), inputs=dict(doc.get("inputs") or {}),
            plan_revision=int(doc.get("plan_revision") or 1),
            flr_model=(ModelFLR.from_dict(doc["flr"]["model"]) if doc["flr"].get("model")
                       else None))


def _gate_volumes(raw: LiverVolumes, withheld: set[str]) -> LiverVolumes:
    def seg(values: dict[int, float | None], tumour_part: bool) -> dict[int, float | None]:
        return {s: (None if segment_atom(s) in withheld or (tumour_part and TUMOUR in withheld)
                    else v) for s, v in values.items()}
    return LiverVolumes(
        liver_ml=None if LIVER in withheld else raw.liver_ml,
        tumour_ml=None if TUMOUR in withheld else raw.tumour_ml,
        segment_total_ml=seg(raw.segment_total_ml, False),
        segment_tumour_ml=seg(raw.segment_tumour_ml, True))


def _structure_atom(structure: Structure) -> str:
    if structure in COUINAUD_SEGMENTS:
        return segment_atom(COUINAUD_SEGMENTS.index(structure) + 1)
    if structure is Structure.METASTASIS:
        return TUMOUR
    if structure is Structure.LIVER:
        return LIVER
    return structure.value


def _volume_table(structure_ml: dict[str, float], volumes: LiverVolumes, withheld: set[str],
                  config: QuantificationConfig) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        name: None if _structure_atom(Structure(name)) in withheld else v
        for name, v in structure_ml.items()}
    out["liver"] = volumes.liver_ml
    out["liver_without_tumour"] = (None if volumes.liver_ml is None or volumes.tumour_ml is None
                                   else volumes.liver_ml - volumes.tumour_ml)
    out["right_hemiliver"] = volumes.region(RIGHT_HEMILIVER)[0]
    out["left_hemiliver"] = volumes.region(LEFT_HEMILIVER)[0]
    for name, segs in config.lobes.items():
        out[f"lobe_{name}"] = volumes.region(segs)[0]
    return out


def _planning_findings(planner: PlannerInputs, config: QuantificationConfig) -> list[Finding]:
    out = []
    lsf = planner.lung_shunt_fraction
    limit = config.thresholds.resin_lsf_do_not_treat_above
    if lsf is not None and lsf > limit:
        device = ("resin SIRT is not given (SIR-Spheres IFU)"
                  if planner.microspheres is Microspheres.RESIN else
                  "resin SIRT would not be given; check the lung dose")
        out.append(Finding("LSF_ABOVE_LIMIT",
                           f"Lung shunt fraction {lsf:.1%} above {limit:.0%}: {device}.",
                           ["sirt.methods"], "warning", "planning"))
    tn = planner.tumour_to_normal_ratio
    if tn is not None and tn < 1.0:
        out.append(Finding("TN_BELOW_ONE",
                           f"T/N {tn:g} < 1: the tumour takes up less than normal liver; the "
                           "partition figures are reported for information only.",
                           ["sirt.methods.partition"], "warning", "planning"))
    return out


def _lesion_findings(tumour: TumourAnalysis, withheld: set[str]) -> list[Finding]:
    out = []
    extra = [les.index for les in tumour.lesions if not les.hepatic]
    if extra:
        out.append(Finding("LESION_OUTSIDE_LIVER",
                           f"Tumour component(s) {extra} lie outside the liver: reported, but "
                           "not counted in the liver volume or the total tumour volume.",
                           ["lesions", "tumour_burden"], "warning"))
    cut = [les.index for les in tumour.lesions if les.touches_field_of_view]
    if cut and TUMOUR not in withheld:
        out.append(Finding("LESION_INCOMPLETE",
                           f"Lesion(s) {cut} touch the edge of the field of view: their size "
                           "is a lower bound.", ["lesions", "tumour_burden"], "warning"))
    if tumour.fragment_ml > 0:
        out.append(Finding("SUBTHRESHOLD_TUMOUR",
                           f"{tumour.fragment_ml:.3f} mL of tumour-labelled voxels form "
                           "components below the minimum lesion size: counted as liver.",
                           ["tumour_burden.total_tumour_volume_ml"], "warning"))
    return out


def _plan(volumes: LiverVolumes, patient: PatientInfo, planner: PlannerInputs,
          config: QuantificationConfig, lung: tuple[float, str], study_date: dt.date | None
          ) -> tuple[FLRPlan, SIRTPlan, PatientSection, list[Finding]]:
    """Planning from reported volumes: (flr, sirt, patient section, planning findings)."""
    usable, gate = usable_patient(patient, config.quality)
    flr = compute_flr(volumes, usable, planner, config, study_date)
    patient_section = PatientSection.of(patient.height_m, patient.weight_kg,
                                        usable.height_m, usable.weight_kg)
    bsa_sirt = patient_section.bsa_m2(config.bsa_formula_sirt)
    sirt = plan_sirt(volumes, bsa_sirt, planner, config, lung[0], lung[1])
    return flr, sirt, patient_section, gate.findings + _planning_findings(planner, config)


MEASURED_SOURCE = "MAA images"
"""``inputs.planner_source`` of a planner input measured on the images (LSF, T/N from the
MAA SPECT, :mod:`pipeline.run.dosimetry`)."""


def _inputs(planner: PlannerInputs, config: QuantificationConfig, patient: PatientInfo,
            quality: QualityContext, patient_source: dict[str, str | None],
            study_date: dt.date | None, measured: PlannerInputs | None = None
            ) -> dict[str, Any]:
    measured = measured or PlannerInputs()
    effective = planner.merged_with(measured).merged_with(config.planner_defaults)
    given = planner.model_dump(mode="json")
    found = measured.model_dump(mode="json")
    source = {k: ("planner" if (given[k] not in (None, {})) else
                  MEASURED_SOURCE if found[k] not in (None, {}) else
                  "site default" if v not in (None, {}) else None)
              for k, v in effective.model_dump(mode="json").items()}
    return {"planner": given, "planner_effective": effective.model_dump(mode="json"),
            "planner_source": source,
            "measured": {k: v for k, v in found.items() if v not in (None, {})},
            "patient": patient.model_dump(mode="json"),
            "patient_source": patient_source,
            "study_date": None if study_date is None else study_date.isoformat(),
            "quality": quality.model_dump(mode="json")}


def _header_sources(patient: PatientInfo) -> dict[str, str | None]:
    return {k: None if v is None else "header" for k, v in patient.model_dump().items()}


def _lung_mass(config: QuantificationConfig, hu: NDArray[np.floating] | None,
               lung: NDArray[np.bool_] | None, voxel_ml: float, incomplete: set[str]
               ) -> tuple[tuple[float, str], list[Finding]]:
    if not config.lung_mass_from_ct:
        return (config.lung_mass_kg, "config"), []
    reason = ("no HU volume given" if hu is None else
              "no lung segmented" if lung is None or not lung.any() else
              "lung not fully covered by the CT" if Structure.LUNG.value in incomplete else "")
    if reason:
        return (config.lung_mass_kg, "config"), [Finding(
            "LUNG_MASS_NOT_FROM_CT", f"Lung mass from CT requested but {reason}: the "
            f"configured {config.lung_mass_kg:g} kg is used.", ["sirt"], "warning")]
    assert hu is not None and lung is not None
    mass = lung_mass_from_ct_kg(hu, lung, voxel_ml, config.lung_density_max_g_ml)
    return (mass, "ct"), []


def _liver_box(labelmap: NDArray[np.integer], labels: dict[int, Structure],
               box: tuple[slice, slice, slice]) -> tuple[slice, slice, slice]:
    """Bounding box (on the whole grid) of the liver, Couinaud segment and metastasis
    voxels inside ``box`` (``box`` itself where there are none).

    The lesion analysis and the liver's volumes depend only on these voxels
    (:func:`~pipeline.quantify.lesions.analyse_tumour` gives the whole grid's figures on
    any window that holds them), so they run on the liver's box instead of the box of
    every labelled structure: a fraction of its component labels and look-ups.
    """
    wanted = np.zeros(max(max(labels, default=0), int(labelmap.max(initial=0))) + 1, np.uint8)
    wanted[[v for v, s in labels.items()
            if s in (Structure.LIVER, Structure.METASTASIS, *COUINAUD_SEGMENTS)]] = 1
    inner = labelled_box(wanted[labelmap[box]])
    return (slice(box[0].start + inner[0].start, box[0].start + inner[0].stop),
            slice(box[1].start + inner[1].start, box[1].start + inner[1].stop),
            slice(box[2].start + inner[2].start, box[2].start + inner[2].stop))


def quantify(labelmap: NDArray[np.integer], labels: dict[int, Structure],
             spacing_mm: tuple[float, float, float], patient: PatientInfo,
             planner: PlannerInputs, quality: QualityContext, config: QuantificationConfig,
             hu: NDArray[np.floating] | None = None, study_date: dt.date | None = None,
             regions: Mapping[Structure, NDArray[np.bool_]] | None = None,
             region_model: str = "", image_inputs: PlannerInputs | None = None
             ) -> QuantResult:
    """Volumes, tumour burden, FLR and SIRT plan of one segmented CT.

    Parameters
    ----------
    labelmap : ndarray of int, shape (z, y, x)
        Label map on the native CT grid (0 background). Every figure is measured on the
        bounding box of its labelled voxels (:func:`pipeline.quantify.box.labelled_box`),
        lesions and liver volumes on the box of the liver and tumour voxels; the results
        are those of the whole grid.
    labels : dict of int to Structure
        Label value -> structure (e.g. ``pipeline.structures.DEMO_LABELS``).
    spacing_mm : tuple of float
        Voxel spacing (z, y, x), mm.
    patient : PatientInfo
        Height and weight (None where unknown).
    planner : PlannerInputs
        Planner inputs; ``None`` fields fall back to ``config.planner_defaults``.
    quality : QualityContext
        Coverage, slice thickness and confidence from earlier stages.
    config : QuantificationConfig
        Settings.
    hu : ndarray of float, shape (z, y, x), optional
        Hounsfield units, needed only for the CT lung mass.
    study_date : datetime.date, optional
        StudyDate of the CT (the KGR counts weeks from the PVE date to it).
    regions : mapping of Structure to ndarray of bool, optional
        Planning regions of a learned FLR model (same grid as ``labelmap``); with a
        future-liver-remnant region the result has ``flr.model``.
    region_model : str
        Name of the model that segmented ``regions``.
    image_inputs : PlannerInputs, optional
        Planner inputs measured on images (LSF and T/N from the MAA SPECT): used where the
        planner gave none, before the site defaults; ``inputs.planner_source`` says
        ``MAA images``.

    Returns
    -------
    QuantResult
        The result; ``to_dict()`` gives the JSON document.
    """
    spacing = (float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]))
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    box = labelled_box(labelmap)  # every labelled voxel: the figures are the whole grid's
    labelled = labelmap[box]
    structure_ml = structure_volumes_ml(labelled, labels, voxel_ml)
    tumour_values = [v for v, s in labels.items() if s is Structure.METASTASIS]
    liver_at = _liver_box(labelmap, labels, box)  # every liver and tumour voxel
    liver = labelmap[liver_at]
    keys = parenchyma_keys(liver, labels)
    thickness = quality.slice_thickness_mm or spacing[0]
    tumour = analyse_tumour(
        np.isin(liver, tumour_values, kind="table"), keys, spacing,
        connectivity=config.lesion_connectivity, min_volume_mm3=config.min_lesion_volume_mm3,
        contact_mm=config.liver_contact_mm,
        measurable_mm=measurable_threshold_mm(config.measurable_diameter_mm, thickness),
        origin=[b.start for b in liver_at], grid_shape=labelmap.shape)
    raw = liver_volumes(keys, tumour, voxel_ml)

    incomplete = set(quality.incomplete_coverage) | structures_touching_edge(labelmap, labels)
    coverage = coverage_gates(incomplete, config.quality)
    image = image_gates(quality, spacing[0], config.quality, set(structure_ml))
    withheld = coverage.withheld | image.withheld
    volumes = _gate_volumes(raw, withheld)
    reported = tumour.withheld() if TUMOUR in withheld else tumour

    lung_values = [v for v, s in labels.items() if s is Structure.LUNG]
    lung_mask = np.isin(labelled, lung_values, kind="table") if lung_values else None
    lung, lung_findings = _lung_mass(config, None if hu is None else hu[box], lung_mask,
                                     voxel_ml,
                                     incomplete | (withheld & {Structure.LUNG.value}))
    effective = planner.merged_with(image_inputs or PlannerInputs()).merged_with(
        config.planner_defaults)
    flr, sirt, patient_section, planning = _plan(volumes, patient, effective, config, lung,
                                                 study_date)
    notes = [Finding("VESSELS_NOT_PARENCHYMA",
                     "Vessel-labelled voxels are not liver parenchyma: excluded from liver, "
                     "segment, lobe and FLR volumes.", ["volumes_ml", "flr"], "note")
             ] if any(s in labels.values() for s in
                      (Structure.PORTAL_VEIN, Structure.HEPATIC_VEIN, Structure.IVC)) else []
    findings = (coverage.findings + image.findings + _lesion_findings(tumour, withheld)
                + lung_findings + notes + planning)
    # the tumour mask of the whole grid only for a model's regions
    measured = RegionVolumes.of(regions, np.isin(labelmap, tumour_values, kind="table"),
                                voxel_ml) if regions else None
    flr_model = None if measured is None else model_flr(
        region_model, measured, flr, usable_patient(patient, config.quality)[0], effective,
        config, withheld=bool({LIVER, TUMOUR} & withheld))
    return QuantResult(
        volumes_ml=_volume_table(structure_ml, volumes, withheld, config),
        lesions=tuple(reported.lesions),
        tumour_burden=tumour_burden(volumes, reported, config),
        flr=flr, sirt=sirt, patient=patient_section, warnings=tuple(findings),
        constants=constants_section(config),
        inputs=_inputs(planner, config, patient, quality, _header_sources(patient),
                       study_date, image_inputs),
        lesion_map=tumour.lesion_map(), flr_model=flr_model)


def constants_section(config: QuantificationConfig) -> dict[str, Any]:
    """Every constant, formula choice and threshold in force (echoed into the output)."""
    return {**config.constants().to_dict(),
            "bsa_formula_sirt": config.bsa_formula_sirt,
            "bsa_formula_telv": config.bsa_formula_telv,
            "telv_formula": config.telv_formula,
            "lesion_connectivity": config.lesion_connectivity,
            "min_lesion_volume_mm3": config.min_lesion_volume_mm3,
            "liver_contact_mm": config.liver_contact_mm,
            "measurable_diameter_mm": config.measurable_diameter_mm,
            "include_caudate_in_flr": config.include_caudate_in_flr,
            "lobes": {k: list(v) for k, v in config.lobes.items()},
            "thresholds": config.thresholds.model_dump(mode="json"),
            "quality_gates": config.quality.model_dump(mode="json")}


def _volumes_from_result(previous: dict[str, Any]) -> LiverVolumes:
    vols = previous["volumes_ml"]
    segs = previous["tumour_burden"].get("segments", {})
    total = {s: segs[segment_name(s)]["volume_ml"] for s in SEGMENTS if segment_name(s) in segs}
    tumour = {s: segs[segment_name(s)]["tumour_ml"] for s in SEGMENTS if segment_name(s) in segs}
    return LiverVolumes(liver_ml=vols.get("liver"),
                        tumour_ml=previous["tumour_burden"].get("total_tumour_volume_ml"),
                        segment_total_ml=total, segment_tumour_ml=tumour)


def replan(previous: dict[str, Any], planner: PlannerInputs, config: QuantificationConfig,
           patient: PatientInfo | None = None, study_date: dt.date | None = None
           ) -> dict[str, Any]:
    """Recompute FLR and SIRT of an earlier result with new planner inputs.

    Measured figures (volumes, lesions, tumour burden) and the measurement warnings are kept
    as reported (a withheld figure stays withheld); planner inputs given now override those of
    the earlier result, which override the inputs measured on images (``inputs.measured``:
    LSF, T/N from the MAA SPECT), which override the configuration's defaults.

    Parameters
    ----------
    previous : dict
        An earlier result document (``QuantResult.to_dict()``, possibly inside a larger
        ``result.json``; other top-level keys are kept).
    planner : PlannerInputs
        New planner inputs.
    config : QuantificationConfig
        Settings (constants and thresholds may differ from the earlier run).
    patient : PatientInfo, optional
        New body size; by default the earlier one, with fields given here taking precedence.
    study_date : datetime.date, optional
        StudyDate of the CT; by default the earlier result's.

    Returns
    -------
    dict
        The new result document with ``plan_revision`` incremented.
    """
    inputs = previous.get("inputs", {})
    # Inputs an earlier schema had and this one dropped (weeks_since_prior) are ignored.
    earlier_planner = PlannerInputs(**{k: v for k, v in inputs.get("planner", {}).items()
                                       if k in PlannerInputs.model_fields})
    combined = planner.merged_with(earlier_planner)
    measured = PlannerInputs(**{k: v for k, v in (inputs.get("measured") or {}).items()
                                if k in PlannerInputs.model_fields})
    earlier_patient = PatientInfo(**inputs.get("patient", {}))
    sources = dict(inputs.get("patient_source") or _header_sources(earlier_patient))
    if patient is not None:
        sources.update({k: "planner" for k, v in patient.model_dump().items() if v is not None})
        patient = PatientInfo(
            height_m=patient.height_m if patient.height_m is not None
            else earlier_patient.height_m,
            weight_kg=patient.weight_kg if patient.weight_kg is not None
            else earlier_patient.weight_kg)
    else:
        patient = earlier_patient
    quality = QualityContext(**inputs.get("quality", {}))
    earlier_lung = previous.get("sirt", {}).get("lung_mass", {})
    lung = ((float(earlier_lung["kg"]), "ct")
            if config.lung_mass_from_ct and earlier_lung.get("source") == "ct"
            else (config.lung_mass_kg, "config"))
    volumes = _volumes_from_result(previous)
    effective = combined.merged_with(measured).merged_with(config.planner_defaults)
    if study_date is None and inputs.get("study_date"):
        study_date = dt.date.fromisoformat(inputs["study_date"])
    flr, sirt, patient_section, planning = _plan(volumes, patient, effective, config, lung,
                                                 study_date)
    kept = [w for w in previous.get("warnings", []) if w.get("stage") != "planning"]
    earlier_model = (previous.get("flr") or {}).get("model")
    flr_model = None
    if earlier_model:  # the regions as measured, planned again
        earlier = ModelFLR.from_dict(earlier_model)
        flr_model = model_flr(earlier.model, earlier.measured, flr,
                              usable_patient(patient, config.quality)[0], effective, config,
                              withheld=earlier.flr_ml is None)
    out = copy.deepcopy(previous)
    out.update(
        plan_revision=int(previous.get("plan_revision", 1)) + 1,
        flr={**flr.to_dict(), "model": None if flr_model is None else flr_model.to_dict()},
        sirt=sirt.to_dict(), patient=patient_section.to_dict(),
        warnings=kept + [f.to_dict() for f in planning],
        constants=constants_section(config),
        inputs=_inputs(combined, config, patient, quality, sources, study_date, measured))
    return out

