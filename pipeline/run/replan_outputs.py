"""The SR and PDF of a re-plan, written as version N beside a study's earlier files.

A study folder written by :func:`pipeline.run.study.run_study` holds ``seg.dcm``,
``sr.dcm``, ``summary-pdf.dcm`` and ``summary.pdf`` (version 1). A re-plan writes
``sr.vN.dcm`` (Predecessor Documents Sequence naming the newest earlier SR, the same SEG
referenced, in the earlier SR's series), ``summary.vN.pdf`` and ``summary-pdf.vN.dcm`` (in
the earlier PDF's series). The CT is not needed: patient and study come from the SEG, the
measurements from the result document; the PDF then has no overlays (and its dosimetry page,
where the study had NM/PET images, has the first run's DVH plot but no fused dose images).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from pipeline.dosimetry.config import DVH_FILE
from pipeline.dosimetry.report_page import recorded_report
from pipeline.durable import atomic_write
from pipeline.encode.config import EncodeConfig
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.sanitise import TYPE2_PATIENT_STUDY
from pipeline.encode.sr import build_sr
from pipeline.run.report_content import recorded_content

_VERSION = re.compile(r"^(?P<stem>[a-z-]+?)(?:\.v(?P<n>\d+))?\.dcm$")


def newest(result_dir: Path, stem: str) -> Path | None:
    """The highest version of ``STEM.dcm`` / ``STEM.vN.dcm`` in a folder (None if none)."""
    found: dict[int, Path] = {}
    for path in result_dir.iterdir():
        match = _VERSION.match(path.name)
        if match and match.group("stem") == stem and path.is_file():
            found[int(match.group("n") or 1)] = path
    return found[max(found)] if found else None


def _dicom_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


_STUDY_KEYWORDS = (*TYPE2_PATIENT_STUDY, "StudyInstanceUID", "IssuerOfPatientID",
                   "StudyDescription", "SpecificCharacterSet")


def source_references(seg: Dataset) -> list[Dataset]:
    """Headers standing in for the CT images the SEG was made from (the SR's evidence).

    Each holds the SEG's patient and study attributes and the image's SOP Class, SOP
    Instance and Series Instance UIDs, as listed in the SEG's Referenced Series Sequence.
    """
    out = []
    for series in seg.ReferencedSeriesSequence:
        for ref in series.ReferencedInstanceSequence:
            ds = Dataset()
            for keyword in _STUDY_KEYWORDS:
                if keyword in seg:
                    ds[keyword] = seg[keyword]
            ds.SOPClassUID, ds.SOPInstanceUID = ref.ReferencedSOPClassUID, \
                ref.ReferencedSOPInstanceUID
            ds.SeriesInstanceUID, ds.Modality = series.SeriesInstanceUID, "CT"
            out.append(ds)
    return out


def _chosen_description(doc: Mapping[str, Any]) -> str:
    series = doc.get("series") or {}
    uid = series.get("chosen_series_instance_uid")
    return next((str(r.get("series_description") or "") for r in series.get("ranking") or []
                 if r.get("series_instance_uid") == uid), "")


def write_replan_outputs(result_dir: Path, doc: Mapping[str, Any], version: int,
                         config: EncodeConfig | None = None) -> list[Path]:
    """Write the SR and PDF of result version ``version`` into ``result_dir``.

    Parameters
    ----------
    result_dir : Path
        The study's output folder (with ``seg.dcm``).
    doc : mapping
        The re-planned result document.
    version : int
        Its version number N (>= 2).
    config : EncodeConfig, optional
        Writer settings (``write_pdf`` off writes the SR only).

    Returns
    -------
    list of Path
        ``sr.vN.dcm`` and, with PDFs on, ``summary.vN.pdf`` and ``summary-pdf.vN.dcm``.

    Raises
    ------
    FileNotFoundError
        If the folder has no ``seg.dcm`` (a rejected study has nothing to re-plan).
    """
    config = config or EncodeConfig()
    seg_path = result_dir / "seg.dcm"
    if not seg_path.is_file():
        raise FileNotFoundError(f"{seg_path} (the SEG the new SR must reference)")
    seg = pydicom.dcmread(seg_path)
    earlier_sr = newest(result_dir, "sr")
    previous = [pydicom.dcmread(earlier_sr)] if earlier_sr is not None else []
    content = recorded_content(doc, _chosen_description(doc))
    dvh = result_dir / DVH_FILE
    content = dataclasses.replace(content, dosimetry_report=recorded_report(
        doc.get("dosimetry"), dvh.read_bytes() if dvh.is_file() else None))
    sr = build_sr(seg, source_references(seg), content, config,
                  series_instance_uid=previous[0].SeriesInstanceUID if previous else None,
                  previous_versions=previous)
    written = [atomic_write(result_dir / f"sr.v{version}.dcm", _dicom_bytes(sr))]
    if not config.write_pdf:
        return written
    pdf = build_pdf(None, seg, None, content, config)
    written.append(atomic_write(result_dir / f"summary.v{version}.pdf", pdf))
    earlier_pdf = newest(result_dir, "summary-pdf")
    series = (pydicom.dcmread(earlier_pdf, stop_before_pixels=True).SeriesInstanceUID
              if earlier_pdf is not None else None)
    encapsulated = build_encapsulated_pdf(pdf, seg, content.algorithm, config,
                                          derived_from=[seg, sr], series_instance_uid=series)
    written.append(atomic_write(result_dir / f"summary-pdf.v{version}.dcm",
                                 _dicom_bytes(encapsulated)))
    return written
