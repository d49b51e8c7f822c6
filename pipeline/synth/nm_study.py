"""Nuclear-medicine studies of the synthetic patient: Tc-99m MAA SPECT/CT and Y-90 PET/CT.

``write_nm_studies(study_truth, options)`` adds, for the patient of a study written by
:func:`pipeline.synth.study.write_study` (same PatientID, other studies):

``OUT/dicom/maa/`` (kind ``maa``, its own StudyInstanceUID, 10 days after the planning CT)
    ``series_001/0001.dcm``  planar anterior + posterior views (NM Image, STATIC, 2 frames)
    ``series_002/NNNN.dcm``  low-dose CT of the SPECT/CT (CT Image Storage, 5 mm, native)
    ``series_003/0001.dcm``  SPECT reconstruction (NM Image, RECON TOMO, 128x128x128,
    4.42 mm, counts)
``OUT/dicom/y90pet/`` (kind ``y90pet``, its own StudyInstanceUID, day after treatment)
    ``series_001/NNNN.dcm``  low-dose CT of the PET/CT
    ``series_002/NNNN.dcm``  Y-90 PET (PET Image Storage, BQML, decay-corrected to ADMIN)

Each NM/PET study has its own FrameOfReferenceUID shared by its emission series and its CT,
and a known rigid misregistration from the planning CT (:mod:`.nm_geometry`). The truth goes
to ``OUT/truth/dosimetry.json`` (keys in :func:`.nm_truth.dosimetry_truth`) and the label map of
each NM/PET CT to ``OUT/truth/labels/<SeriesInstanceUID>.nii.gz`` / ``.npy`` (as for the
planning series). The activity model is :mod:`.nm_activity`; the image model
:mod:`.nm_images`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import (
    CTImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
)

from .dicom_write import (
    SeriesContext,
    StudyContext,
    ct_series_template,
    deterministic_uid,
    fill_ct_slice,
    save,
)
from .nm_activity import (
    ActivityModel,
    Territory,
    activity_box,
    body_mask,
    build_activity_model,
    render_activity,
)
from .nm_geometry import Misregistration, axial_grid, draw_misregistration, slices_to_cover
from .nm_images import emission_counts, planar_views
from .nm_truth import WrittenNmStudy, dosimetry_truth
from .nm_write import pet_series, planar_dataset, spect_dataset
from .phantom import Phantom
from .render import Grid, render_hu_and_labels
from .study import StudyTruth, write_label_map
from .tissue import Phase
from .truth import exact_volumes


class NmKind(StrEnum):
    """A nuclear-medicine study the generator can add."""

    MAA = "maa"
    """Tc-99m MAA SPECT/CT with planar anterior/posterior views (work-up)."""
    Y90PET = "y90pet"
    """Y-90 PET/CT after the treatment."""


@dataclass(frozen=True)
class NmOptions:
    """What to simulate (``dicomnode synth --nm ...`` options).

    Parameters
    ----------
    kinds : tuple of NmKind
        Studies to write.
    lsf : float
        Lung shunt fraction.
    tn_ratio : float
        Tumour-to-normal concentration ratio.
    administered_gbq : float
        Y-90 activity reaching the patient (liver + lungs), GBq.
    territory : Territory
        Perfused territory.
    maa_mbq : float
        Tc-99m MAA activity injected, MBq (scales nothing in the truth; written in DICOM).
    spect_fwhm_mm, pet_fwhm_mm, planar_fwhm_mm : float
        System resolution (Gaussian FWHM), mm.
    spect_counts, planar_counts, pet_counts : float
        Expected total counts of the SPECT image, of each planar view before attenuation,
        and of the PET acquisition.
    """

    kinds: tuple[NmKind, ...] = (NmKind.MAA,)
    lsf: float = 0.08
    tn_ratio: float = 3.0
    administered_gbq: float = 2.0
    territory: Territory = Territory.RIGHT
    maa_mbq: float = 150.0
    spect_fwhm_mm: float = 12.0
    pet_fwhm_mm: float = 8.0
    planar_fwhm_mm: float = 10.0
    spect_counts: float = 4.0e6
    planar_counts: float = 1.0e6
    pet_counts: float = 1.0e6


SPECT_MATRIX = 128
SPECT_PIXEL_MM = 4.42
PET_MATRIX = 128
PET_PIXEL_MM = 4.0
NM_CT_FOV_MM = 500.0
NM_CT_SLICE_MM = 5.0


def write_nm_studies(study: StudyTruth, options: NmOptions) -> dict[str, Any]:
    """Write the NM/PET studies of ``options.kinds`` and ``truth/dosimetry.json``.

    Parameters
    ----------
    study : StudyTruth
        The planning CT study (its phantom, volumes and study context are reused).
    options : NmOptions
        What to simulate.

    Returns
    -------
    dict
        The content of ``truth/dosimetry.json``.
    """
    if study.study_context is None:
        raise ValueError("the planning study has no study context")
    phantom = study.phantom
    segments, lesions = _liver_volumes(study)
    model = build_activity_model(phantom, segments, lesions,
                                 administered_gbq=options.administered_gbq, lsf=options.lsf,
                                 tn_ratio=options.tn_ratio, territory=options.territory)
    rng = np.random.default_rng([phantom.seed, 31])
    written: dict[str, WrittenNmStudy] = {}
    for kind in dict.fromkeys(NmKind(k) for k in options.kinds):
        misreg = draw_misregistration(phantom, rng)
        writer = _write_maa if kind is NmKind.MAA else _write_y90pet
        written[kind.value] = writer(study, model, misreg, options, rng)
    truth = dosimetry_truth(study, model, written)
    truth_dir = study.out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / "dosimetry.json").write_text(json.dumps(truth, indent=2))
    return truth


def _liver_volumes(study: StudyTruth) -> tuple[tuple[float, ...], tuple[float, ...]]:
    vols = study.volumes
    if vols:
        return (tuple(float(vols[f"couinaud_{s}"]) for s in range(1, 9)),
                tuple(float(les["volume_ml"]) for les in vols["lesions"]))
    truth = exact_volumes(study.phantom)
    return (tuple(truth.structures_ml[f"couinaud_{s}"] for s in range(1, 9)),
            tuple(truth.lesions_ml))


def _nm_study_context(study: StudyTruth, kind: NmKind, days: float,
                      manufacturer: tuple[str, str], description: str) -> StudyContext:
    base = study.study_context
    assert base is not None
    seed = study.phantom.seed
    return replace(
        base,
        study_instance_uid=deterministic_uid(seed, "nm-study", kind.value),
        frame_of_reference_uid=deterministic_uid(seed, "nm-frame-of-reference", kind.value),
        study_time=base.study_time.replace(hour=9, minute=0, second=0, microsecond=0)
        + timedelta(days=days),
        manufacturer=manufacturer[0], model=manufacturer[1],
        accession_number=f"SYN{seed:07d}{'M' if kind is NmKind.MAA else 'P'}",
        study_description=description)


def _series(study: StudyContext, kind: NmKind, number: int, description: str,
            minutes: float) -> SeriesContext:
    uid = deterministic_uid(study.seed, "nm-series", kind.value, number)
    return SeriesContext(uid, number, description,
                         study.study_time + timedelta(minutes=minutes), number, False)


def _emission_grid(model: ActivityModel, phantom: Phantom, misreg: Misregistration,
                   matrix: int, pixel_mm: float, n_slices: int | None) -> Grid:
    """Axial grid in the NM frame centred on the activity, ``n_slices`` or covering it."""
    lo, hi = activity_box(model, phantom)
    centre_plan = (np.asarray(lo) + np.asarray(hi)) / 2.0
    centre = np.round(misreg.matrix()[:3, :3] @ centre_plan + misreg.matrix()[:3, 3])
    if n_slices is None:
        n_slices = slices_to_cover((float(lo[2]) - 20.0, float(hi[2]) + 20.0), pixel_mm)
    return axial_grid(centre, matrix, pixel_mm, n_slices, pixel_mm)


def _write_ct(out: Path, folder: Path, study: StudyContext, series: SeriesContext,
              phantom: Phantom, misreg: Misregistration, emission: Grid, profile_matrix: int,
              rng: np.random.Generator) -> dict[str, Any]:
    """The low-dose CT of an NM/PET study on an axial grid of the NM frame."""
    top = emission.slice_position(emission.shape_zyx[0] - 1)[2]
    bottom = emission.origin_mm[2]
    centre = np.array([emission.origin_mm[0] + (emission.shape_zyx[2] - 1) / 2
                       * emission.spacing_zyx_mm[2],
                       emission.origin_mm[1] + (emission.shape_zyx[1] - 1) / 2
                       * emission.spacing_zyx_mm[1], (top + bottom) / 2.0])
    z_span = min(top - bottom, 450.0)
    grid = axial_grid(centre, profile_matrix, round(NM_CT_FOV_MM / profile_matrix, 5),
                      slices_to_cover((0.0, z_span), NM_CT_SLICE_MM), NM_CT_SLICE_MM)
    hu, labels = render_hu_and_labels(phantom, misreg.grid_in_planning(grid), Phase.NATIVE,
                                      slice_thickness_mm=NM_CT_SLICE_MM, noise_hu=25.0,
                                      rng=rng, inplane_subsamples=1)
    ds = ct_series_template(study, series, grid=grid, slice_thickness_mm=NM_CT_SLICE_MM,
                            kernel_name="B08s", image_type=["ORIGINAL", "PRIMARY", "AXIAL"],
                            patient_position="HFS", kvp=130.0, tube_current_ma=30.0)
    n = grid.shape_zyx[0]
    for k in range(n):
        fill_ct_slice(ds, series, grid, k, k + 1, hu[k], -1024.0, False)
        save(ds, out / folder / f"{k + 1:04d}.dcm")
    write_label_map(labels, grid, out / "truth" / "labels" / series.series_instance_uid)
    return {"series_instance_uid": series.series_instance_uid,
            "series_number": series.series_number, "folder": str(folder),
            "modality": "CT", "sop_class_uid": str(CTImageStorage),
            "description": series.description, "n_instances": n,
            "slice_thickness_mm": NM_CT_SLICE_MM, "rows": grid.shape_zyx[1],
            "columns": grid.shape_zyx[2],
            "pixel_spacing_mm": [grid.spacing_zyx_mm[1], grid.spacing_zyx_mm[2]],
            "first_ipp_mm": [float(v) for v in grid.origin_mm],
            "labels": f"truth/labels/{series.series_instance_uid}.nii.gz",
            "kvp": 130.0, "tube_current_ma": 30.0}


def _emission_entry(series: SeriesContext, folder: Path, modality: str, sop_class: str,
                    n: int, grid: Grid | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"series_instance_uid": series.series_instance_uid,
                             "series_number": series.series_number, "folder": str(folder),
                             "modality": modality, "sop_class_uid": sop_class,
                             "description": series.description, "n_instances": n}
    if grid is not None:
        entry.update({"matrix": [grid.shape_zyx[2], grid.shape_zyx[1], grid.shape_zyx[0]],
                      "voxel_mm": list(grid.spacing_zyx_mm),
                      "first_ipp_mm": [float(v) for v in grid.origin_mm]})
    return {**entry, **extra}


def _write_maa(study: StudyTruth, model: ActivityModel, misreg: Misregistration,
               options: NmOptions, rng: np.random.Generator) -> WrittenNmStudy:
    kind = NmKind.MAA
    ctx = _nm_study_context(study, kind, 10, ("SIEMENS", "Symbia Intevo"),
                           "NM LIVER MAA SPECT/CT (SYNTHETIC)")
    injection = ctx.study_time
    out = study.out_dir
    phantom = study.phantom
    grid = _emission_grid(model, phantom, misreg, SPECT_MATRIX, SPECT_PIXEL_MM, SPECT_MATRIX)
    activity = render_activity(model, phantom, misreg.grid_in_planning(grid))
    tc_scale = options.maa_mbq / (model.administered_gbq * 1000.0)  # Y-90 MBq -> Tc-99m MBq
    planar = _series(ctx, kind, 1, "MAA Planar ANT/POST", 60)
    ct = _series(ctx, kind, 2, "CT Low Dose AC 5mm", 70)
    spect = _series(ctx, kind, 3, "SPECT MAA Liver OSEM", 75)
    views = planar_views(activity * tc_scale, body_mask(phantom, misreg.grid_in_planning(grid)),
                         grid.spacing_zyx_mm, fwhm_mm=options.planar_fwhm_mm,
                         total_counts=options.planar_counts, rng=rng)
    folder = Path("dicom") / "maa"
    save(planar_dataset(ctx, planar, views.anterior, views.posterior,
                        (grid.spacing_zyx_mm[0], grid.spacing_zyx_mm[2]),
                        injected_mbq=options.maa_mbq, injection_time=injection),
         out / folder / "series_001" / "0001.dcm")
    counts, per_mbq = emission_counts(activity * tc_scale, grid.spacing_zyx_mm,
                                      options.spect_fwhm_mm, options.spect_counts, rng)
    save(spect_dataset(ctx, spect, counts, grid, fwhm_mm=options.spect_fwhm_mm,
                       injected_mbq=options.maa_mbq, injection_time=injection),
         out / folder / "series_003" / "0001.dcm")
    ct_entry = _write_ct(out, folder / "series_002", ctx, ct, phantom, misreg, grid,
                         _profile_matrix(study), rng)
    return WrittenNmStudy(ctx, misreg, {
        "planar": _emission_entry(
            planar, folder / "series_001", "NM", str(NuclearMedicineImageStorage), 1, None,
            frames=["anterior", "posterior"], fwhm_mm=options.planar_fwhm_mm,
            pixel_spacing_mm=[grid.spacing_zyx_mm[0], grid.spacing_zyx_mm[2]],
            counts_per_mbq_tc99m=views.counts_per_mbq, mu_per_mm=views.mu_per_mm,
            orientation=("rows head to feet; anterior: columns patient right to left; "
                         "posterior: columns patient left to right")),
        "ct": ct_entry,
        "spect": _emission_entry(
            spect, folder / "series_003", "NM", str(NuclearMedicineImageStorage), 1, grid,
            fwhm_mm=options.spect_fwhm_mm, counts_per_mbq_tc99m=per_mbq,
            total_counts=int(counts.sum()), injected_mbq_tc99m=options.maa_mbq),
    })


def _write_y90pet(study: StudyTruth, model: ActivityModel, misreg: Misregistration,
                  options: NmOptions, rng: np.random.Generator) -> WrittenNmStudy:
    kind = NmKind.Y90PET
    ctx = _nm_study_context(study, kind, 25, ("GE MEDICAL SYSTEMS", "Discovery MI"),
                           "PET/CT LIVER Y90 (SYNTHETIC)")
    administration = ctx.study_time - timedelta(hours=22)
    out = study.out_dir
    phantom = study.phantom
    grid = _emission_grid(model, phantom, misreg, PET_MATRIX, PET_PIXEL_MM, None)
    activity = render_activity(model, phantom, misreg.grid_in_planning(grid))
    ct = _series(ctx, kind, 1, "CT AC Low Dose", 0)
    pet = _series(ctx, kind, 2, "PET Y90 Liver OSEM", 5)
    counts, per_mbq = emission_counts(activity, grid.spacing_zyx_mm, options.pet_fwhm_mm,
                                      options.pet_counts, rng)
    voxel_ml = float(np.prod(grid.spacing_zyx_mm)) / 1000.0
    bq_per_ml = counts / (per_mbq * voxel_ml) * 1e6
    folder = Path("dicom") / "y90pet"
    for ds in pet_series(ctx, pet, bq_per_ml, grid, fwhm_mm=options.pet_fwhm_mm,
                         administered_gbq=model.administered_gbq,
                         administration=administration, duration_s=1200.0):
        save(ds, out / folder / "series_002" / f"{int(ds.InstanceNumber):04d}.dcm")
    ct_entry = _write_ct(out, folder / "series_001", ctx, ct, phantom, misreg, grid,
                         _profile_matrix(study), rng)
    return WrittenNmStudy(ctx, misreg, {
        "ct": ct_entry,
        "pet": _emission_entry(
            pet, folder / "series_002", "PT", str(PositronEmissionTomographyImageStorage),
            grid.shape_zyx[0], grid, fwhm_mm=options.pet_fwhm_mm, units="BQML",
            decay_correction="ADMIN", counts_per_mbq=per_mbq,
            administration_datetime=administration.strftime("%Y%m%d%H%M%S")),
    })


def _profile_matrix(study: StudyTruth) -> int:
    rows = [int(e["rows"]) for e in study.series if e.get("rows")]
    return min(rows) if rows else 112
