"""Whole synthetic CT studies: DICOM series of several phases and reconstructions plus truth.

``write_study(out, seed)`` writes ``out/dicom/series_NNN/*.dcm`` and ``out/truth/``
(``volumes.json``, ``series.json``, ``labels/<SeriesInstanceUID>.nii.gz`` and ``.npy``);
see ``pipeline/synth/README.md`` for the truth layout.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray

from .dicom_write import (
    SeriesContext,
    StudyContext,
    ct_series_template,
    deterministic_uid,
    dose_report_image,
    fill_ct_slice,
    localizer_image,
    save,
)
from .phantom import Phantom, make_phantom
from .render import Grid, phase_table
from .series_volume import MasterGrid, series_volume
from .spec import (
    AXIAL_IOP,
    KERNEL_NAMES,
    PROFILES,
    PRONE_IOP,
    Kernel,
    Profile,
    SeriesKind,
    SeriesSpec,
    StudySpec,
    Vendor,
    expected_choice,
)
from .tissue import Phase
from .truth import exact_volumes

_PHASE_DELAY_S = {Phase.ARTERIAL: 35, Phase.PORTAL_VENOUS: 75, Phase.DELAYED: 300}
"""Scan delay after the start of the injection, seconds."""

_DESCRIPTIONS: dict[Phase, list[str]] = {
    Phase.NATIVE: ["Nativ 5mm", "sans injection", "NATIVE", "senza mdc", "Abdomen nativ",
                   "PRE CONTRAST"],
    Phase.ARTERIAL: ["Arteriell {t}mm", "arterielle {t}", "ART", "fase arteriosa",
                     "Leber arteriell", "ARTERIAL {t}"],
    Phase.PORTAL_VENOUS: ["Portalvenös {t}mm", "portale veneuse {t}", "PV", "fase portale",
                          "Abdomen venös {t}", "PORTAL VENOUS {t}mm"],
    Phase.DELAYED: ["Spätphase {t}mm", "tardive", "DELAY", "fase tardiva", "Delayed {t}",
                    "equilibre"],
}
_MISLEADING = ["Abdomen {t}", "Routine {t}mm", "Leber", "CT ABD"]


def _fmt(t: float) -> str:
    return f"{t:g}"


def _describe(rng: np.random.Generator, phase: Phase, thickness: float, kernel: Kernel) -> str:
    r = rng.random()
    if r < 0.08:
        return ""
    if r < 0.16:
        return rng.choice(_MISLEADING).format(t=_fmt(thickness))
    text = str(rng.choice(_DESCRIPTIONS[phase])).format(t=_fmt(thickness))
    if kernel is Kernel.BONE:
        text += " " + str(rng.choice(["Knochen", "os", "BONE", "osso"]))
    elif kernel is Kernel.LUNG:
        text += " " + str(rng.choice(["Lunge", "poumon", "LUNG", "polmone"]))
    return text


def default_study_spec(seed: int, profile: str = "small") -> StudySpec:
    """A realistic multi-series study with exactly one correct choice.

    The correct series (see :func:`~pipeline.synth.spec.expected_choice`) is the thin
    soft-kernel portal venous reconstruction; around it: a localizer, optional native,
    arterial and delayed phases, thick reconstructions, a bone-kernel twin of the correct
    series, descriptions in several languages (sometimes empty or misleading), contrast
    tags present or missing, reversed instance order, varied rescale intercepts and
    optionally a dose-report screen and a prone (flipped) patient.

    Parameters
    ----------
    seed : int
        Seed of the phantom and of every choice here.
    profile : str
        ``small`` or ``realistic``.
    """
    prof = PROFILES[profile]
    rng = np.random.default_rng([seed, 7])
    contrast_tags = bool(rng.random() < 0.75)
    low_dose = bool(rng.random() < 0.12)
    iop = PRONE_IOP if rng.random() < 0.08 else AXIAL_IOP
    thin = prof.thin_mm
    thin_spacing = prof.thin_mm
    if not prof.liver_only and rng.random() < 0.5:
        thin = 2 * prof.thin_mm  # overlapping reconstruction: 1.25 mm every 0.625 mm
    thick = 5.0

    def axial(phase: Phase, t: float, kernel: Kernel = Kernel.SOFT, **kw: Any) -> SeriesSpec:
        intercept, unsigned = [(-1024.0, False), (-1024.0, True), (-8192.0, True),
                               (0.0, False)][int(rng.integers(4))]
        spacing = thin_spacing if t == thin else None
        return SeriesSpec(SeriesKind.AXIAL, phase, t, spacing, None, None, iop[0], iop[1],
                          bool(rng.random() < 0.3), kernel, _describe(rng, phase, t, kernel),
                          contrast_tags and phase is not Phase.NATIVE, low_dose, None,
                          intercept, unsigned, 1, **kw)

    series: list[SeriesSpec] = [SeriesSpec(
        SeriesKind.LOCALIZER, Phase.NATIVE, 0.0, description=str(rng.choice(
            ["Topogram 0.6 T20f", "Scout", "SCOUT", "Localizer", "Topogramm", ""])),
        contrast_tags=False, images=int(rng.integers(1, 3)))]
    if rng.random() < 0.6:
        series.append(axial(Phase.NATIVE, thick))
    if rng.random() < 0.7:
        series.append(axial(Phase.ARTERIAL, thin))
        if rng.random() < 0.5:
            series.append(axial(Phase.ARTERIAL, thick))
    pv = [axial(Phase.PORTAL_VENOUS, thin), axial(Phase.PORTAL_VENOUS, thick)]
    if rng.random() < 0.5:
        pv.append(axial(Phase.PORTAL_VENOUS, thin, Kernel.BONE))
    if rng.random() < 0.3:
        pv.append(axial(Phase.PORTAL_VENOUS, thick, Kernel.LUNG))
    order = rng.permutation(len(pv))
    series += [pv[i] for i in order]
    if rng.random() < 0.5:
        series.append(axial(Phase.DELAYED, thick))
    if rng.random() < 0.7:
        series.append(SeriesSpec(SeriesKind.DOSE_REPORT, None, 0.0, description=str(
            rng.choice(["Dose Report", "Dosisreport", "Patient Protocol", ""])),
            contrast_tags=False))
    vendor = Vendor.GE if rng.random() < 0.5 else Vendor.SIEMENS
    return StudySpec(seed, profile, tuple(series), {}, vendor)


@dataclass(frozen=True)
class StudyTruth:
    """What :func:`write_study` wrote.

    Parameters
    ----------
    out_dir : Path
        The output folder.
    study_instance_uid : str
        StudyInstanceUID.
    expected_series_uid : str or None
        SeriesInstanceUID a correct selection must choose.
    series : list of dict
        The entries of ``truth/series.json``.
    volumes : dict
        The content of ``truth/volumes.json`` (empty when not computed).
    phantom : Phantom
        The anatomy.
    study_context : StudyContext or None
        Patient, study and equipment attributes of the files (reused by the nuclear-medicine
        studies of the same patient, :mod:`pipeline.synth.nm_study`).
    """

    out_dir: Path
    study_instance_uid: str
    expected_series_uid: str | None
    series: list[dict[str, Any]]
    volumes: dict[str, Any]
    phantom: Phantom
    study_context: StudyContext | None = None


@dataclass(frozen=True)
class _StudyGeometry:
    pixel_mm: float
    matrix: int
    centre_xy: tuple[float, float]
    z_range: tuple[float, float]


def _geometry(phantom: Phantom, prof: Profile, rng: np.random.Generator) -> _StudyGeometry:
    ax, _ = phantom.body.semi_axes_mm
    fov = math.ceil((2 * ax + 40.0) / 10.0) * 10.0
    if prof.liver_only:
        lo, hi = phantom.liver_bbox
        z_range = (float(lo[2]) - 15.0, float(hi[2]) + 15.0)
    else:
        z_range = phantom.body.z_range_mm
    centre = (0.0, float(np.round(rng.normal(0, 8), 1)))
    return _StudyGeometry(round(fov / prof.matrix, 5), prof.matrix, centre, z_range)


def series_grid(spec: SeriesSpec, geo: _StudyGeometry, lattice_mm: float) -> Grid:
    """The grid of an axial series: centred in-plane, covering its z range.

    Slice positions along z fall on multiples of ``lattice_mm`` when the normal is axial.
    """
    ps = spec.pixel_spacing_mm or geo.pixel_mm
    m = spec.matrix or geo.matrix
    r = np.asarray(spec.row_cosine, float)
    c = np.asarray(spec.column_cosine, float)
    n = np.cross(r, c)
    z0, z1 = spec.z_range_mm or geo.z_range
    step = spec.slice_spacing_mm
    count = math.floor((z1 - z0) / step + 1e-6) + 1
    centre = np.array([geo.centre_xy[0], geo.centre_xy[1], (z0 + z1) / 2.0])
    if abs(abs(n[2]) - 1.0) < 1e-9:
        first_z = z0 if n[2] > 0 else z0 + (count - 1) * step
        first_z = round(first_z / lattice_mm) * lattice_mm
        first = np.array([centre[0], centre[1], first_z])
    else:
        first = centre - (count - 1) / 2.0 * step * n
    origin = first - (m - 1) / 2.0 * ps * (r + c)
    return Grid((count, m, m), (step, ps, ps), (float(origin[0]), float(origin[1]),
                                                float(origin[2])),
                (float(r[0]), float(r[1]), float(r[2])), (float(c[0]), float(c[1]), float(c[2])))


def _patient_position(spec: SeriesSpec) -> str:
    n = np.cross(np.asarray(spec.row_cosine), np.asarray(spec.column_cosine))
    if n[2] < -0.5:
        return "FFS"
    return "HFP" if spec.column_cosine[1] < -0.5 else "HFS"


def _uses_master(s: SeriesSpec) -> bool:
    """Whether a series can be derived from the shared grid (study pixels, axial normal)."""
    normal = np.cross(np.asarray(s.row_cosine, float), np.asarray(s.column_cosine, float))
    return (s.kind is SeriesKind.AXIAL and s.pixel_spacing_mm is None and s.matrix is None
            and abs(abs(normal[2]) - 1.0) < 1e-9)


def _master(phantom: Phantom, specs: list[SeriesSpec], geo: _StudyGeometry,
            prof: Profile) -> MasterGrid | None:
    axial = [s for s in specs if _uses_master(s)]
    if not axial:
        return None
    dz = prof.master_dz_mm
    z0 = min((s.z_range_mm or geo.z_range)[0] for s in axial)
    z1 = max((s.z_range_mm or geo.z_range)[1] for s in axial)
    margin = max(s.slice_thickness_mm for s in axial) / 2.0 + 2 * dz
    k0 = math.floor((z0 - margin) / dz)
    k1 = math.ceil((z1 + max(s.slice_spacing_mm for s in axial) + margin) / dz)
    m = geo.matrix
    ps = geo.pixel_mm
    origin = (geo.centre_xy[0] - (m - 1) / 2 * ps, geo.centre_xy[1] - (m - 1) / 2 * ps, k0 * dz)
    return MasterGrid.build(phantom, Grid((k1 - k0 + 1, m, m), (dz, ps, ps), origin))


def write_study(out_dir: Path, spec_or_seed: StudySpec | int, profile: str = "small", *,
                volumes: bool = True) -> StudyTruth:
    """Write a synthetic study and its ground truth.

    Parameters
    ----------
    out_dir : Path
        Output folder; ``dicom/`` and ``truth/`` are created inside.
    spec_or_seed : StudySpec or int
        The study, or a seed for :func:`default_study_spec`.
    profile : str
        Size profile when a seed is given (``small`` or ``realistic``).
    volumes : bool
        Compute the exact volumes and write ``truth/volumes.json`` (a few seconds of CPU;
        tests that need only the images, labels and ``series.json`` may skip it).

    Returns
    -------
    StudyTruth
        What was written.
    """
    spec = (spec_or_seed if isinstance(spec_or_seed, StudySpec)
            else default_study_spec(int(spec_or_seed), profile))
    prof = PROFILES[spec.profile]
    out_dir = Path(out_dir)
    rng = np.random.default_rng([spec.seed, 11])
    phantom = make_phantom(spec.seed, **spec.phantom_overrides)
    geo = _geometry(phantom, prof, rng)
    study = _study_context(spec, phantom, rng)
    numbers = spec.series_numbers or _series_numbers(spec.series)
    choice = expected_choice(spec.series)
    master = _master(phantom, list(spec.series), geo, prof)
    entries: list[dict[str, Any]] = []
    labels_dir = out_dir / "truth" / "labels"
    labels_dir.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(spec.series):
        uid = deterministic_uid(spec.seed, "series", i, numbers[i])
        ctx = SeriesContext(uid, numbers[i], s.description, _acquisition_time(study, s, i),
                            _acquisition_number(s), s.contrast_tags and s.phase not in
                            (None, Phase.NATIVE))
        folder = Path("dicom") / f"series_{numbers[i]:03d}"
        entry: dict[str, Any] = {
            "series_instance_uid": uid, "series_number": numbers[i], "folder": str(folder),
            "kind": s.kind.value, "phase": s.phase.value if s.phase else None,
            "slice_thickness_mm": s.slice_thickness_mm if s.kind is SeriesKind.AXIAL else None,
            "spacing_mm": s.slice_spacing_mm if s.kind is SeriesKind.AXIAL else None,
            "kernel": s.kernel.value if s.kind is SeriesKind.AXIAL else None,
            "description": s.description, "contrast_tags": ctx.contrast,
            "orientation": [*s.row_cosine, *s.column_cosine],
            "low_dose": s.low_dose, "reversed_order": s.reversed_order,
            "expected_choice": i == choice,
        }
        if s.kind is SeriesKind.AXIAL:
            entry.update(_write_axial(out_dir / folder, labels_dir, phantom, master, s, geo,
                                      prof, study, ctx, spec.vendor, rng))
        elif s.kind is SeriesKind.LOCALIZER:
            entry.update(_write_localizer(out_dir / folder, phantom, s, geo, prof, study, ctx))
        else:
            entry.update(_write_dose_report(out_dir / folder, study, ctx, spec, prof))
        entries.append(entry)
    truth_dir = out_dir / "truth"
    volumes_json: dict[str, Any] = {}
    if volumes:
        volumes_json = _volumes_json(phantom)
        (truth_dir / "volumes.json").write_text(json.dumps(volumes_json, indent=2))
    (truth_dir / "series.json").write_text(json.dumps(entries, indent=2, ensure_ascii=False))
    expected = next((e["series_instance_uid"] for e in entries if e["expected_choice"]), None)
    return StudyTruth(out_dir, study.study_instance_uid, expected, entries, volumes_json,
                      phantom, study)


def _series_numbers(series: tuple[SeriesSpec, ...]) -> tuple[int, ...]:
    out, n = [], 1
    for s in series:
        if s.kind is SeriesKind.DOSE_REPORT:
            out.append(999)
        else:
            out.append(n)
            n += 1
    return tuple(out)


def _study_context(spec: StudySpec, phantom: Phantom, rng: np.random.Generator) -> StudyContext:
    day = datetime(2025, 1, 6, 7, 30) + timedelta(days=int(rng.integers(0, 360)),
                                                   minutes=int(rng.integers(0, 600)),
                                                   seconds=int(rng.integers(0, 60)))
    model = {Vendor.GE: ("GE MEDICAL SYSTEMS", "Revolution CT"),
             Vendor.SIEMENS: ("SIEMENS", "SOMATOM Force")}[spec.vendor]
    return StudyContext(
        seed=spec.seed,
        study_instance_uid=deterministic_uid(spec.seed, "study"),
        frame_of_reference_uid=deterministic_uid(spec.seed, "frame-of-reference"),
        study_time=day,
        injection_time=day + timedelta(seconds=150),
        height_m=phantom.height_m, weight_kg=phantom.weight_kg,
        sex="M" if rng.random() < 0.55 else "F", age_years=int(rng.integers(35, 85)),
        manufacturer=model[0], model=model[1],
        contrast_agent=str(rng.choice(["Iomeprol 350", "Iohexol 300", "Iopromide 370"])),
        accession_number=f"SYN{spec.seed:07d}",
    )


def _acquisition_time(study: StudyContext, s: SeriesSpec, index: int) -> datetime:
    if s.kind is SeriesKind.LOCALIZER:
        return study.study_time + timedelta(seconds=20 + index)
    if s.kind is SeriesKind.DOSE_REPORT:
        return study.injection_time + timedelta(seconds=420)
    if s.phase is None or s.phase is Phase.NATIVE:
        return study.study_time + timedelta(seconds=90)
    return study.injection_time + timedelta(seconds=_PHASE_DELAY_S[s.phase])


def _acquisition_number(s: SeriesSpec) -> int:
    if s.kind is not SeriesKind.AXIAL or s.phase is None:
        return 1
    return {Phase.NATIVE: 2, Phase.ARTERIAL: 3, Phase.PORTAL_VENOUS: 4, Phase.DELAYED: 5}[s.phase]


def _write_axial(folder: Path, labels_dir: Path, phantom: Phantom, master: MasterGrid | None,
                 s: SeriesSpec, geo: _StudyGeometry, prof: Profile, study: StudyContext,
                 ctx: SeriesContext, vendor: Vendor, rng: np.random.Generator
                 ) -> dict[str, Any]:
    grid = series_grid(s, geo, prof.master_dz_mm)
    hu, labels = series_volume(phantom, master, s, grid, rng, phantom.body.semi_axes_mm[0])
    n = grid.shape_zyx[0]
    ds = ct_series_template(study, ctx, grid=grid, slice_thickness_mm=s.slice_thickness_mm,
                            kernel_name=KERNEL_NAMES[vendor][s.kernel],
                            image_type=["ORIGINAL", "PRIMARY", "AXIAL"],
                            patient_position=_patient_position(s),
                            kvp=100.0 if s.low_dose else 120.0,
                            tube_current_ma=90.0 if s.low_dose else 260.0)
    for k in range(n):
        number = n - k if s.reversed_order else k + 1
        fill_ct_slice(ds, ctx, grid, k, number, hu[k], s.rescale_intercept, s.unsigned)
        save(ds, folder / f"{number:04d}.dcm")
    write_label_map(labels, grid, labels_dir / ctx.series_instance_uid)
    counts = np.bincount(labels.ravel(), minlength=13)
    return {
        "pixel_spacing_mm": [grid.spacing_zyx_mm[1], grid.spacing_zyx_mm[2]],
        "rows": grid.shape_zyx[1], "columns": grid.shape_zyx[2], "n_instances": n,
        "first_ipp_mm": [float(v) for v in grid.origin_mm],
        "labels": f"truth/labels/{ctx.series_instance_uid}.nii.gz",
        "label_volumes_ml": {str(v): float(counts[v]) * grid.voxel_volume_ml
                             for v in range(1, 13)},
    }


def write_label_map(labels: NDArray[np.uint8], grid: Grid, stem: Path) -> None:
    """Write a label map as ``<stem>.nii.gz`` (with the grid's geometry) and ``<stem>.npy``.

    The NIfTI is written through SimpleITK, whose image geometry is in DICOM patient
    (LPS) coordinates: origin = first voxel, direction columns = row cosine, column
    cosine, slice normal, spacing = (column spacing, row spacing, slice spacing).
    """
    img = sitk.GetImageFromArray(labels)
    dz, dy, dx = grid.spacing_zyx_mm
    img.SetSpacing((dx, dy, dz))
    img.SetOrigin(grid.origin_mm)
    d = np.column_stack([grid.row_cosine, grid.column_cosine, grid.normal])
    img.SetDirection(tuple(float(v) for v in d.ravel()))
    sitk.WriteImage(img, str(stem) + ".nii.gz", useCompression=True)
    np.save(str(stem) + ".npy", labels)


def _write_localizer(folder: Path, phantom: Phantom, s: SeriesSpec, geo: _StudyGeometry,
                     prof: Profile, study: StudyContext, ctx: SeriesContext) -> dict[str, Any]:
    px = prof.localizer_pixel_mm
    ax, ay = phantom.body.semi_axes_mm
    z0, z1 = phantom.body.z_range_mm
    z_top = z1 + 40.0
    n_rows = int((z_top - (z0 - 40.0)) / px)
    views = [((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), ax + 30.0, 1),
             ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), ay + 30.0, 0)][:max(1, s.images)]
    table = phase_table(phantom, Phase.NATIVE)
    mu = np.clip((table + 1000.0) / 1000.0, 0.0, None)
    for number, (row, col, half, axis) in enumerate(views, start=1):
        n_cols = int(2 * half / px)
        depth_half = (ay if axis == 1 else ax) + 20.0
        depth_step = 8.0
        depths = np.arange(-depth_half, depth_half, depth_step)
        zs = z_top - np.arange(n_rows) * px
        ws = -half + np.arange(n_cols) * px
        image = np.zeros((n_rows, n_cols))
        for d in depths:
            zz, ww = np.meshgrid(zs, ws, indexing="ij")
            pts = np.zeros((zz.size, 3))
            pts[:, 2] = zz.ravel()
            pts[:, 1 - axis] = ww.ravel()
            pts[:, axis] = d
            tissue, _ = phantom.classify(pts)
            image += mu[tissue].reshape(zz.shape) * depth_step
        ipp = np.zeros(3)
        ipp[2] = z_top
        ipp[1 - axis] = -half
        ds = localizer_image(study, ctx, instance_number=number, image=image * 8.0, ipp=ipp,
                             row_cosine=row, column_cosine=col, pixel_mm=px,
                             patient_position="HFS")
        save(ds, folder / f"{number:04d}.dcm")
    return {"n_instances": len(views)}


def _write_dose_report(folder: Path, study: StudyContext, ctx: SeriesContext,
                       spec: StudySpec, prof: Profile) -> dict[str, Any]:
    lines = ["Dose Report", f"Exam: {study.accession_number}", "",
             "Series  Type      Scan range  CTDIvol  DLP"]
    total = 0.0
    for i, s in enumerate(spec.series):
        if s.kind is SeriesKind.AXIAL:
            ctdi = 4.0 if s.low_dose else 11.0
            dlp = ctdi * 30.0
            total += dlp
            lines.append(f"{i + 1:<7} Helical   I-S         {ctdi:6.2f}  {dlp:7.1f}")
    lines.append(f"Total Exam DLP: {total:.1f} mGy-cm")
    ds = dose_report_image(study, ctx, lines, 512 if prof.matrix >= 512 else 256)
    save(ds, folder / "0001.dcm")
    return {"n_instances": 1}


def _volumes_json(phantom: Phantom) -> dict[str, Any]:
    truth = exact_volumes(phantom)
    lesions = [{"centre_mm": [float(v) for v in les.solid.centre],
                "diameter_mm": les.diameter_mm, "volume_ml": vol,
                "couinaud_segment": les.segment, "rim_enhancement": les.rim_mm > 0}
               for les, vol in zip(phantom.lesions, truth.lesions_ml, strict=True)]
    return {**{k: round(v, 4) for k, v in truth.structures_ml.items()},
            "lesions": lesions, "height_m": phantom.height_m, "weight_kg": phantom.weight_kg,
            "method": {"sampling_mm": truth.sample_mm, "coarse_mm": 2.0,
                       "description": "adaptive sampling of the continuous phantom; see "
                                      "pipeline/synth/README.md"}}
