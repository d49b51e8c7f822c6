"""Image-based dosimetry of one emission study: MAA SPECT (prediction) or Y-90 PET
(post-treatment), from images already read.

Steps: register the emission study's CT to the planning CT (:mod:`.register`); carry the
planning regions onto the emission grid (:mod:`.masks`: nearest-neighbour masks for the DVH,
partial-volume fractions for count sums); find the lungs on the emission CT where the
planning regions have none (:mod:`.lungs`); MAA: lung shunt from SPECT counts (and, with
planar views, by geometric mean on regions carried from the SPECT: :mod:`.planar`),
perfused territory and T/N (:mod:`.maa`); voxel dose by local deposition (:mod:`.ldm`); dose
figures per region (:mod:`.dvh`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray

from pipeline.dosimetry import dvh, ldm, maa, masks
from pipeline.dosimetry.lungs import lungs_from_ct
from pipeline.dosimetry.planar import PlanarFrames, PlanarRegistrationError, planar_lung_shunt
from pipeline.dosimetry.register import Registration, RegistrationSettings, register_ct
from pipeline.dosimetry.result import DosimetryResult, PlanarLsf, RegionDose
from pipeline.quantify.constants import DosimetryConstants

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class EmissionImages:
    """An emission study as images.

    Parameters
    ----------
    image : SimpleITK.Image
        SPECT counts, or PET activity concentration in Bq/mL, in patient coordinates.
    ct : SimpleITK.Image or None
        The study's own CT (HU), in the same frame of reference as ``image``; None when
        the image is already aligned with the planning CT (no registration).
    """

    image: sitk.Image
    ct: sitk.Image | None


@dataclass(frozen=True)
class DoseOutput:
    """Dosimetry result with the dose grid and the regions it was evaluated on.

    Parameters
    ----------
    result : DosimetryResult
        LSF, T/N, figures per region, registration quality.
    dose : SimpleITK.Image
        Absorbed dose, Gy (float64), on the emission grid.
    regions : dict of str to ndarray of bool
        Regions (z, y, x) on the emission grid, nearest-neighbour.
    registration : Registration or None
        The registration used (None: none needed).
    """

    result: DosimetryResult
    dose: sitk.Image
    regions: dict[str, BoolArray]
    registration: Registration | None


@dataclass(frozen=True)
class _Prepared:
    counts: FloatArray
    voxel_ml: float
    registration: Registration | None
    on_grid: dict[str, BoolArray]
    fractions: dict[str, NDArray[np.float32]]


def _prepare(emission: EmissionImages, planning_ct: sitk.Image,
             regions: Mapping[str, BoolArray], settings: RegistrationSettings | None,
             subsamples: int) -> _Prepared:
    registration = (None if emission.ct is None
                    else register_ct(planning_ct, emission.ct, settings))
    grid = emission.image
    on_grid = masks.regions_on_grid(regions, planning_ct, grid, registration)
    wanted = [n for n in ("liver", "tumour", "normal_liver", "lung") if n in regions]
    fractions = masks.region_fractions(regions, planning_ct, grid, registration,
                                       subsamples=subsamples, names=wanted)
    if "lung" not in regions and emission.ct is not None:
        lung_ct = lungs_from_ct(emission.ct)
        if lung_ct.any():
            own = {"lung": lung_ct}
            on_grid.update(masks.regions_on_grid(own, emission.ct, grid, None))
            fractions.update(masks.region_fractions(own, emission.ct, grid, None,
                                                    subsamples=subsamples))
    counts = sitk.GetArrayFromImage(grid).astype(np.float64)
    return _Prepared(counts, float(np.prod(grid.GetSpacing())) / 1000.0, registration,
                     on_grid, fractions)


def _figures(dose: FloatArray, on_grid: Mapping[str, BoolArray], voxel_ml: float
             ) -> tuple[RegionDose, ...]:
    return tuple(dvh.region_dose(name, dose, mask, voxel_ml)
                 for name, mask in on_grid.items() if mask.any())


def _dose_image(dose: FloatArray, grid: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(dose)
    image.CopyInformation(grid)
    return image


def _tn(prep: _Prepared, territory: BoolArray | None) -> maa.TumourToNormal | None:
    if "tumour" not in prep.fractions or "normal_liver" not in prep.fractions:
        return None
    return maa.tumour_to_normal(prep.counts, prep.fractions["tumour"],
                                prep.fractions["normal_liver"], prep.voxel_ml, territory)


def maa_dosimetry(spect: EmissionImages, planning_ct: sitk.Image,
                  regions: Mapping[str, BoolArray], administered_gbq: float,
                  constants: DosimetryConstants, *, planar: PlanarFrames | None = None,
                  territory_fraction_of_max: float | None = 0.1,
                  registration_settings: RegistrationSettings | None = None,
                  subsamples: int = 3) -> DoseOutput:
    """Pre-treatment dosimetry from a Tc-99m MAA SPECT(/CT) and, optionally, planar views.

    Parameters
    ----------
    spect : EmissionImages
        SPECT counts and its CT.
    planning_ct : SimpleITK.Image
        Planning CT (HU) on whose grid ``regions`` lie.
    regions : mapping of str to ndarray of bool
        Planning regions (:func:`pipeline.dosimetry.masks.planning_regions`); ``liver`` is
        required, ``lung`` is taken from the SPECT's CT when absent.
    administered_gbq : float
        Planned injected Y-90 activity the counts in liver + lungs are scaled to, GBq.
    constants : DosimetryConstants
        C, density, half-life (``QuantificationConfig.constants()``).
    planar : PlanarFrames, optional
        Anterior/posterior planar views: their LSF (geometric mean, regions carried from
        the SPECT) is reported beside the SPECT's in ``result.planar``; a view that cannot
        be matched to the SPECT gives the reason there instead. The SPECT's LSF is the
        one used (attenuation and overlap of lungs and liver bias the planar figure).
    territory_fraction_of_max : float or None
        T/N restricted to liver voxels above this fraction of the liver's maximum count;
        None: the whole liver.
    registration_settings : RegistrationSettings, optional
        Registration pyramid and acceptance thresholds.
    subsamples : int
        Partial-volume subsamples per voxel edge.

    Returns
    -------
    DoseOutput
        Result, dose grid (Gy) and the regions on the SPECT grid.

    Raises
    ------
    RegistrationError
        If the SPECT's CT cannot be registered to the planning CT.
    MAAMeasurementError
        If the lungs or liver hold no counts, or T/N has no region.
    """
    prep = _prepare(spect, planning_ct, regions, registration_settings, subsamples)
    liver = prep.fractions["liver"]
    lung = prep.fractions.get("lung")
    if lung is None:
        raise maa.MAAMeasurementError("no lung region: neither the planning regions nor the "
                                      "SPECT's CT give lungs")
    shunt = maa.lung_shunt_spect(prep.counts, lung, liver)
    planar_section = None if planar is None else _planar_shunt(planar, prep, spect.image)
    territory = (None if territory_fraction_of_max is None else maa.perfused_territory(
        prep.counts, prep.on_grid["liver"], fraction_of_max=territory_fraction_of_max))
    tn = _tn(prep, territory)
    normalising = liver + lung
    dose = ldm.maa_dose(prep.counts, normalising, prep.voxel_ml, administered_gbq, constants)
    notes = ["Tc-99m MAA distribution taken as the Y-90 microsphere distribution",
             f"counts in liver + lungs scaled to {administered_gbq:g} GBq injected"]
    if territory is not None:
        notes.append(f"T/N within the perfused territory: liver voxels above "
                     f"{territory_fraction_of_max:g} x the liver's maximum count")
    source = "Tc-99m MAA SPECT/CT" + ("; planning-CT regions by rigid registration"
                                      if prep.registration is not None else "")
    result = DosimetryResult(
        source=source, dose_method="local deposition", lsf=shunt.lsf,
        lsf_method=shunt.method.value, tn_ratio=None if tn is None else tn.ratio,
        administered_gbq=administered_gbq, regions=_figures(dose, prep.on_grid, prep.voxel_ml),
        constants=constants,
        registration=None if prep.registration is None else prep.registration.quality,
        notes=tuple(notes), planar=planar_section)
    return DoseOutput(result, _dose_image(dose, spect.image), prep.on_grid, prep.registration)


def _planar_shunt(planar: PlanarFrames, prep: _Prepared, grid: sitk.Image) -> PlanarLsf:
    """The planar views' LSF, or why there is none (the SPECT's LSF stands either way)."""
    try:
        found = planar_lung_shunt(planar, prep.counts, prep.on_grid["lung"],
                                  prep.on_grid["liver"], grid)
    except (PlanarRegistrationError, maa.MAAMeasurementError) as exc:
        return PlanarLsf(None, None, None, str(exc))
    return PlanarLsf(found.shunt.lsf, found.registration.ncc,
                     found.registration.translation_mm, None)


def pet_dosimetry(pet: EmissionImages, planning_ct: sitk.Image,
                  regions: Mapping[str, BoolArray], hours_since_administration: float,
                  constants: DosimetryConstants, *, administered_gbq: float | None = None,
                  registration_settings: RegistrationSettings | None = None,
                  subsamples: int = 3) -> DoseOutput:
    """Post-treatment dosimetry from a Y-90 PET(/CT) in Bq/mL.

    Parameters
    ----------
    pet : EmissionImages
        PET activity concentration (Bq/mL, decay-corrected to its reference time) and CT.
    planning_ct, regions, constants, registration_settings, subsamples
        As for :func:`maa_dosimetry`.
    hours_since_administration : float
        Hours from administration to the PET's decay-correction reference time.
    administered_gbq : float, optional
        Injected activity, reported only (the PET is quantitative itself).

    Returns
    -------
    DoseOutput
        Result (T/N from PET concentrations; no LSF), dose grid (Gy), regions.
    """
    prep = _prepare(pet, planning_ct, regions, registration_settings, subsamples)
    dose = ldm.pet_dose(prep.counts, hours_since_administration, constants)
    tn = _tn(prep, None)
    notes = [f"PET activity decay-corrected back {hours_since_administration:g} h to the "
             f"administration (half-life {constants.half_life_h:g} h)"]
    result = DosimetryResult(
        source="Y-90 PET/CT" + ("; planning-CT regions by rigid registration"
                                if prep.registration is not None else ""),
        dose_method="local deposition", lsf=None, lsf_method=None,
        tn_ratio=None if tn is None else tn.ratio, administered_gbq=administered_gbq,
        regions=_figures(dose, prep.on_grid, prep.voxel_ml), constants=constants,
        registration=None if prep.registration is None else prep.registration.quality,
        notes=tuple(notes))
    return DoseOutput(result, _dose_image(dose, pet.image), prep.on_grid, prep.registration)
