"""The text of the PDF's dosimetry page: summary lines and the region table.

One place for what the page says of a dosimetry result, used by the job's own PDF
(:mod:`pipeline.run.dosimetry`, which adds the DVH plot and the fused overlays from the dose
grids) and by a re-plan's PDF (:func:`recorded_report`, from ``result.json`` and the DVH
plot kept in the result folder; the dose grids are not kept, so a re-plan has no overlays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.dosimetry.result import DosimetryResult, PlanarLsf
from pipeline.dosimetry.sr_content import DoseSource
from pipeline.encode.content import DosimetryReport

DOSIMETRY_REGIONS_SHOWN = ("liver", "normal_liver", "tumour", "lung", "lesion_1")
"""Regions of the PDF/dashboard table (every region is in ``result.json`` and the SR)."""


def _planar_line(planar: PlanarLsf) -> str:
    if planar.lsf is None:
        return f"MAA planar views: no lung shunt fraction ({planar.error})"
    return (f"MAA planar views: lung shunt fraction {100 * planar.lsf:.1f} % (geometric mean, "
            f"match NCC {planar.ncc:.2f}; not used by the plan)")


def _result_lines(result: DosimetryResult, source: DoseSource) -> list[str]:
    lines = []
    if result.lsf is not None:
        lines.append(f"{source}: lung shunt fraction {100 * result.lsf:.1f} % "
                     f"({result.lsf_method})")
    if result.planar is not None:
        lines.append(_planar_line(result.planar))
    if result.tn_ratio is not None:
        lines.append(f"{source}: T/N {result.tn_ratio:.2f}")
    lines.append(f"{source}: {result.source}; dose by {result.dose_method}")
    if result.registration is not None:
        reg = result.registration
        lines.append(f"{source}: registration NCC {reg.ncc:.2f}, body Dice "
                     f"{reg.body_dice:.2f}, rotation {reg.rotation_deg:.1f} deg")
    return lines


def _rows(result: DosimetryResult, source: DoseSource) -> list[tuple[str, ...]]:
    return [(str(source), region.name.replace("_", " "), f"{region.volume_ml:.1f}",
             f"{region.mean_gy:.1f}", f"{region.d70_gy:.1f}", f"{region.v100_percent:.1f}")
            for region in result.regions if region.name in DOSIMETRY_REGIONS_SHOWN]


def page_text(results: Sequence[tuple[DosimetryResult, DoseSource]],
              section: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Summary lines and table rows of the dosimetry page.

    Parameters
    ----------
    results : sequence of (DosimetryResult, DoseSource)
        The results measured (MAA prediction first).
    section : mapping
        ``result.json`` key ``dosimetry`` (its errors are said on the page).

    Returns
    -------
    tuple
        Lines (LSF, planar LSF, T/N, source, registration quality, what failed) and rows
        (source, region, volume mL, mean Gy, D70 Gy, V100 %).
    """
    lines: list[str] = []
    rows: list[tuple[str, ...]] = []
    for result, source in results:
        lines += _result_lines(result, source)
        rows += _rows(result, source)
    if section.get("error"):
        lines.append(f"Not computed: {section['error']}")
    post = section.get("post_treatment") or {}
    if post.get("error"):
        lines.append(f"Y-90 PET not computed: {post['error']}")
    return tuple(lines), tuple(rows)


def recorded_results(section: Mapping[str, Any]) -> list[tuple[DosimetryResult, DoseSource]]:
    """The results of a ``result.json`` ``dosimetry`` section (MAA prediction, then the
    Y-90 PET's ``post_treatment``); empty when nothing was measured."""
    return [(DosimetryResult.from_json(data), source)
            for data, source in ((section, DoseSource.MAA_SPECT),
                                 (section.get("post_treatment") or {}, DoseSource.Y90_PET))
            if data.get("regions")]


def recorded_report(section: Mapping[str, Any] | None, dvh_png: bytes | None
                    ) -> DosimetryReport | None:
    """A re-plan's dosimetry page from the first run's ``result.json`` section.

    Parameters
    ----------
    section : mapping or None
        ``result.json`` key ``dosimetry``.
    dvh_png : bytes or None
        The DVH plot the first run wrote into the result folder (None: not there).

    Returns
    -------
    DosimetryReport or None
        None when nothing was measured; no overlays (the dose grids are not kept).
    """
    results = recorded_results(section or {})
    if not results:
        return None
    lines, rows = page_text(results, section or {})
    return DosimetryReport(lines=lines, rows=rows, dvh_png=dvh_png)
