"""Image-based dosimetry as SR/PDF content: TID 1500 groups for :mod:`pipeline.encode.sr`.

:func:`dosimetry_groups` turns a :class:`~pipeline.dosimetry.result.DosimetryResult` into
:class:`~pipeline.encode.content.QuantityGroup` items (e.g. appended to
``ReportContent.sirt``): one summary group (measured LSF and T/N), the planar views' LSF in
a group of its own (titled so, where there are planar views), and one group per region with
its mean absorbed dose (DCM 128533), D50/D70/D90/D95 and
V70/V100/V120/V205 (private codes, ``docs/sr-private-codes.md``). A region that is a SEG
segment (liver, Couinaud segments, metastases, lesions) is written as a TID 1411 group on
that segment; normal liver references the liver and metastasis segments it was computed
from. Every group carries a ``DOSESOURCE`` evaluation (MAA prediction or Y-90 PET
measurement) and, where it is not a segment's group, a title naming region and source, so a
reader of the SR alone never confuses two mean doses.
"""

from __future__ import annotations

from enum import StrEnum

from pipeline.dosimetry.result import DosimetryResult, RegionDose
from pipeline.encode import codes
from pipeline.encode.content import (
    CodedEvaluation,
    NamedQuantity,
    QuantityGroup,
    lesion_tracking_id,
)
from pipeline.encode.segments import ALL_LESIONS_LABEL, structure_tracking_id
from pipeline.structures import CATALOGUE, Code, Structure


class DoseSource(StrEnum):
    """Where a dose distribution comes from (the group titles' prefix)."""

    MAA_SPECT = "MAA SPECT"
    Y90_PET = "Y-90 PET"


_SOURCE_CODES = {DoseSource.MAA_SPECT: codes.MAA_SPECT_PREDICTION,
                 DoseSource.Y90_PET: codes.Y90_PET_MEASUREMENT}

_D = ((codes.DOSE_D50, "d50_gy"), (codes.DOSE_D70, "d70_gy"), (codes.DOSE_D90, "d90_gy"),
      (codes.DOSE_D95, "d95_gy"))
_V = ((codes.VOLUME_V70, "v70_percent"), (codes.VOLUME_V100, "v100_percent"),
      (codes.VOLUME_V120, "v120_percent"), (codes.VOLUME_V205, "v205_percent"))


def _structure(name: str) -> Structure | None:
    if name == "tumour":
        return Structure.METASTASIS
    try:
        return Structure(name)
    except ValueError:
        return None


def _region_codes(name: str) -> tuple[Code, str, tuple[str, ...]]:
    """Finding type, its own SEG segment's tracking ID (or ''), and the segments it was
    computed on where they differ (referenced when the SEG has no segment of its own)."""
    if name.startswith("lesion_"):
        return codes.NEOPLASM, lesion_tracking_id(int(name.split("_", 1)[1])), ()
    # The SEG holds the metastases as one segment, or as lesions plus their union.
    tumour = (structure_tracking_id(Structure.METASTASIS), ALL_LESIONS_LABEL)
    if name == "normal_liver":
        return codes.WHOLE_NORMAL_LIVER, "", (structure_tracking_id(Structure.LIVER), *tumour)
    structure = _structure(name)
    if structure is None:
        raise ValueError(f"region {name!r} has no coded concept")
    computed_on = tumour if structure is Structure.METASTASIS else ()
    return CATALOGUE[structure].type, structure_tracking_id(structure), computed_on


def _q(concept: Code, value: float, unit: str, label: str = "") -> NamedQuantity:
    return NamedQuantity(concept, value, codes.unit(unit), label)


def _source(source: DoseSource) -> CodedEvaluation:
    return CodedEvaluation(codes.DOSE_SOURCE, _SOURCE_CODES[source])


def region_group(region: RegionDose, source: DoseSource) -> QuantityGroup:
    """The group of one region's dose figures.

    The region's volume on the dose grid is left out of the SR (it is in ``result.json``):
    on a SEG segment's group it would read as a second, different volume of the segment.

    Parameters
    ----------
    region : RegionDose
        Figures of the region.
    source : DoseSource
        Where the dose comes from: title prefix and the ``DOSESOURCE`` evaluation.
    """
    concept, segment, computed_on = _region_codes(region.name)
    label = region.name.replace("_", " ")
    quantities = [_q(codes.MEAN_ABSORBED_DOSE, region.mean_gy, "Gy")]
    quantities += [_q(code, getattr(region, field), "Gy") for code, field in _D]
    quantities += [_q(code, getattr(region, field), "%") for code, field in _V]
    return QuantityGroup(
        title=f"{source} dose: {label}"[:64], concept=concept, quantities=tuple(quantities),
        notes=("D_x: dose of the k-th hottest voxel, k = ceil(x/100 x voxels); "
               "V_y: % of voxels with at least y Gy",),
        segments=computed_on or ((segment,) if segment else ()), roi_segment=segment,
        evaluations=(_source(source),))


def dosimetry_groups(result: DosimetryResult, source: DoseSource
                     ) -> tuple[QuantityGroup, ...]:
    """SR/PDF groups of a dosimetry result: summary first, then one per region.

    Parameters
    ----------
    result : DosimetryResult
        The result.
    source : DoseSource
        Where the dose comes from (MAA SPECT prediction or Y-90 PET measurement).
    """
    summary = []
    if result.lsf is not None:
        summary.append(_q(codes.LUNG_SHUNT_FRACTION, 100.0 * result.lsf, "%"))
    if result.tn_ratio is not None:
        summary.append(_q(codes.TUMOUR_TO_NORMAL_RATIO, result.tn_ratio, "{ratio}"))
    notes = (result.source, f"dose by {result.dose_method}", *result.notes)
    planar = result.planar
    if planar is not None and planar.lsf is None:
        notes += (f"planar views: no lung shunt fraction ({planar.error})",)
    head = QuantityGroup(title=f"{source} dosimetry"[:64], concept=codes.IMAGE_DOSIMETRY,
                         quantities=tuple(summary), notes=notes,
                         evaluations=(_source(source),))
    groups = [head]
    if planar is not None and planar.lsf is not None:
        groups.append(QuantityGroup(
            title="MAA planar views: lung shunt", concept=codes.IMAGE_DOSIMETRY,
            quantities=(_q(codes.LUNG_SHUNT_FRACTION, 100.0 * planar.lsf, "%",
                           "Lung shunt fraction (planar)"),),
            notes=(planar.method, f"match to the SPECT: NCC {planar.ncc:.2f}",
                   f"the plan uses the {source} figure"),
            evaluations=(_source(source),)))
    return (*groups, *(region_group(r, source) for r in result.regions))
