"""Readable summary: a PDF (fpdf2) and its DICOM Encapsulated PDF Storage object (pydicom).

The first page is the SIRT worksheet a planner signs (:mod:`pipeline.encode.worksheet_pdf`)
where the content has one, with the warnings. Then the analysed series and why it was
chosen, overlays of the segmentation on representative axial slices, the volume / lesion /
FLR / SIRT tables, confidence, and a red "Demo model, not for clinical use" banner on every
page where the demo model produced the result. fpdf2's core fonts are Latin-1: other
characters are replaced.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Sequence

import highdicom as hd
import numpy as np
from fpdf import FPDF
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, EncapsulatedPDFStorage, ExplicitVRLittleEndian

from pipeline.encode import codes
from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import (
    AlgorithmInfo,
    DosimetryReport,
    NamedQuantity,
    QualityFlag,
    QuantityGroup,
    RejectionContent,
    ReportContent,
    SegmentationContent,
)
from pipeline.encode.overlay import (
    display_transform,
    label_mask,
    overlay_png,
    representative_slices,
)
from pipeline.encode.sanitise import sanitised
from pipeline.encode.seg import series_description
from pipeline.encode.worksheet_pdf import render_worksheet
from pipeline.segment.confidence import SCORE_METHOD
from pipeline.structures import CATALOGUE, liver_labels
from pipeline.volume import CTVolume

_STUDY_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                     "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                     "AccessionNumber", "ReferringPhysicianName", "IssuerOfPatientID",
                     "StudyDescription")


def _latin1(text: str) -> str:
    return text.replace("\u2014", "-").replace("\u2013", "-").encode(
        "latin-1", "replace").decode("latin-1")


class _Summary(FPDF):
    """An A4 report whose header carries the title and, for the demo model, the banner."""

    def __init__(self, title: str, demo: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title = title
        self.demo = demo
        self.set_auto_page_break(auto=True, margin=15)
        self.set_creator("dicomnode")
        self.set_title(title)

    def header(self) -> None:
        if self.demo:
            self.set_fill_color(200, 0, 0)
            self.set_text_color(255, 255, 255)
            self.set_font("Helvetica", "B", 12)
            self.cell(0, 8, _latin1(codes.DEMO_NOTICE.upper()), fill=True, align="C",
                      new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
        self.set_font("Helvetica", "B", 14)
        self.cell(0, 9, _latin1(self.report_title), new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 9)

    def line_text(self, text: str) -> None:
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def rows(self, header: Sequence[str], rows: Sequence[Sequence[str]],
             widths: Sequence[float] | None = None, size: float = 9) -> None:
        """A table; ``widths`` relative column widths (equal if None), ``size`` in pt."""
        if not rows:
            return
        self.set_font("Helvetica", "", size)
        # fpdf2's default line height is twice the font size; smaller tables are compact.
        line_height = self.font_size * (2.0 if size >= 9 else 1.3)
        with self.table(text_align="LEFT", first_row_as_headings=True, line_height=line_height,
                        col_widths=tuple(widths) if widths else None) as table:
            for row in [header, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(_latin1(value))


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _quantity_rows(quantities: Sequence[NamedQuantity]) -> list[list[str]]:
    return [[q.display_name, f"{q.value:.4g}", q.unit.value] for q in quantities]


def _patient_lines(header: Dataset) -> list[str]:
    def text(keyword: str) -> str:
        return str(header.get(keyword) or "")

    return [f"Patient: {text('PatientName')}  ID: {text('PatientID')}",
            f"Study date: {text('StudyDate')}  Accession: {text('AccessionNumber')}",
            f"Study UID: {text('StudyInstanceUID')}"]


def _flag_lines(flags: Sequence[QualityFlag]) -> list[str]:
    return [f"[{f.severity.value.upper()}] {f.code}: {f.message}" for f in flags]


def _flags(pdf: _Summary, flags: Sequence[QualityFlag]) -> None:
    pdf.heading("Warnings and quality flags")
    for line in _flag_lines(flags) or ["None."]:
        pdf.line_text(line)


def _results(pdf: _Summary, content: ReportContent) -> None:
    pdf.heading("Volumes")
    pdf.rows(["Structure", "Volume (mL)", "Note"],
             [[CATALOGUE[m.structure].label, _fmt(m.volume_ml),
               "incomplete coverage: lower bound" if m.incomplete_coverage
               else ("not found" if m.volume_ml == 0 else "")]
              for m in content.structures])
    if content.lesions:
        pdf.heading("Lesions")
        pdf.rows(["Lesion", "Volume (mL)", "Longest diameter (mm)", "Short axis (mm)",
                  "Segment"],
                 [[m.tracking_id, _fmt(m.volume_ml, 2), _fmt(m.longest_diameter_mm),
                   _fmt(m.short_axis_mm),
                   CATALOGUE[m.segment].label if m.segment is not None else "-"]
                  for m in content.lesions])
    if content.tumour_burden:
        pdf.heading("Tumour burden")
        pdf.rows(["Quantity", "Value", "Unit"], _quantity_rows(content.tumour_burden))
    for flr in content.flr:
        pdf.heading(f"Future liver remnant: {flr.resection}")
        remnant = ", ".join(CATALOGUE[s].label.replace("Couinaud segment ", "")
                            for s in flr.remnant)
        pdf.line_text(f"Remnant segments: {remnant}; caudate lobe "
                      f"{'included' if flr.caudate_included else 'excluded'}.")
        pdf.rows(["Quantity", "Value", "Unit"], _quantity_rows(flr.quantities()))
        for note in flr.notes:
            pdf.line_text(note)
    comparisons = [g for g in content.flr_model
                   if any(q.concept == codes.SEGMENT_RULE_FLR for q in g.quantities)]
    for group in content.flr_model:
        if group not in comparisons:
            _group(pdf, group)
    if comparisons:
        pdf.rows(["Learned model vs segment rule", "Segment-rule FLR (mL)",
                  "Model - rule (mL)", "Model - rule (%)"],
                 [[g.title, *_comparison_cells(g)] for g in comparisons])
    for group in content.sirt:
        _group(pdf, group)
    if content.constants:
        pdf.heading("Constants used")
        pdf.rows(["Constant", "Value", "Unit"], _quantity_rows(content.constants))


def _comparison_cells(group: QuantityGroup) -> list[str]:
    """Segment-rule FLR, difference (mL) and difference (%) of a comparison group."""
    values = {q.concept: q.value for q in group.quantities}
    return [_fmt(values.get(c)) for c in (codes.SEGMENT_RULE_FLR, codes.FLR_DIFFERENCE,
                                          codes.FLR_DIFFERENCE_PERCENT)]


def _group(pdf: _Summary, group: QuantityGroup) -> None:
    """A titled quantity group: time reference, region, quantities, evaluations, notes."""
    pdf.heading(group.title)
    if group.time_point:
        pdf.line_text(f"Time reference: {group.time_point}")
    if group.finding_sites:
        pdf.line_text("Region: " + ", ".join(c.meaning for c in group.finding_sites))
    pdf.rows(["Quantity", "Value", "Unit"], _quantity_rows(group.quantities))
    for evaluation in group.evaluations:
        pdf.line_text(evaluation.display_text)
    for note in group.notes:
        pdf.line_text(note)


DOSIMETRY_TABLE_HEADER = ("Source", "Region", "Volume (mL)", "Mean (Gy)", "D70 (Gy)",
                          "V100 (%)")
"""Columns of the PDF's dosimetry table (every region's figures are in the SR)."""


def _dosimetry(pdf: _Summary, report: DosimetryReport) -> None:
    """The dosimetry page: summary, DVH plot, region table, fused dose overlays."""
    pdf.add_page()
    pdf.heading("Image-based SIRT dosimetry (MAA SPECT prediction / Y-90 PET measurement)")
    for line in report.lines:
        pdf.line_text(line)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    if report.dvh_png is not None:
        info = pdf.image(io.BytesIO(report.dvh_png), x=pdf.l_margin, y=pdf.get_y() + 2,
                         w=width * 0.8)
        pdf.ln(float(info.rendered_height) + 4)
    pdf.rows(DOSIMETRY_TABLE_HEADER, report.rows, widths=(1.4, 1.4, 1, 1, 1, 1), size=8)
    half = width / 2 - 2
    if report.overlays and pdf.get_y() + half * 1.1 > pdf.h - pdf.b_margin:
        pdf.add_page()
    y = pdf.get_y() + 2
    tallest = 0.0
    for i, (_, png) in enumerate(report.overlays[:2]):
        shown = pdf.image(io.BytesIO(png), x=pdf.l_margin + i * (half + 4), y=y, w=half)
        tallest = max(tallest, float(shown.rendered_height))
    pdf.ln(tallest + 4)
    pdf.line_text("Dose by local deposition (D = C x a / rho) on the emission grid"
                  + ("; the overlays show it resampled onto the planning CT through the "
                     "registration." if report.overlays else
                     "; the fused dose overlays are in the first version of this report."))


def _confidence(pdf: _Summary, content: ReportContent) -> None:
    pdf.heading("Confidence")
    c = content.confidence
    if c is None:
        pdf.line_text("Not assessed.")
        return
    pdf.line_text(f"Overall score: {_fmt(c.score, 2)} (0-1). "
                  f"Review required: {'YES' if c.review_recommended else 'no'}. {SCORE_METHOD}")
    pdf.rows(["Structure", "Confidence"],
             [[CATALOGUE[s].label, f"{v:.2f}"] for s, v in c.fold_dice.items()])


def _overlays(pdf: _Summary, volume: CTVolume, segmentation: SegmentationContent,
              config: EncodeConfig) -> None:
    liver = label_mask(segmentation.labelmap, liver_labels(segmentation.labels))
    if not liver.any():
        liver = segmentation.labelmap > 0
    slices = representative_slices(liver, config.pdf_overlay_slices)
    if not slices:
        return
    pdf.add_page()
    pdf.heading("Segmentation overlays (axial, radiological view: patient left on the "
                "image right)")
    transform = display_transform(volume.row_cosine, volume.column_cosine)
    centres = volume.index_to_patient(np.array([[k, (volume.shape[1] - 1) / 2,
                                                 (volume.shape[2] - 1) / 2] for k in slices]))
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2 - 2
    row_height = 0.0
    for i, (k, centre) in enumerate(zip(slices, centres, strict=True)):
        png = overlay_png(volume.hu[k], segmentation.labelmap[k], segmentation.labels,
                          transform, f"Slice {k + 1}/{volume.shape[0]}, z = {centre[2]:.1f} mm",
                          (config.overlay_window_center_hu, config.overlay_window_width_hu),
                          config.pdf_overlay_dpi)
        if i % 2 == 0:
            pdf.ln(row_height)
            row_height = 0.0
            if pdf.get_y() + width * 1.1 > pdf.h - pdf.b_margin:
                pdf.add_page()
        x = pdf.l_margin + (i % 2) * (width + 4)
        info = pdf.image(io.BytesIO(png), x=x, y=pdf.get_y(), w=width)
        row_height = max(row_height, float(info.rendered_height) + 2)
    pdf.ln(row_height)
    legend = sorted({CATALOGUE[s].label for v, s in segmentation.labels.items()
                     if np.any(segmentation.labelmap[slices] == v)})
    pdf.line_text("Shown: " + ", ".join(legend))


def build_pdf(
    volume: CTVolume | None,
    source_header: Dataset,
    segmentation: SegmentationContent | None,
    content: ReportContent,
    config: EncodeConfig | None = None,
) -> bytes:
    """Render the readable summary of a measured study.

    Parameters
    ----------
    volume : CTVolume or None
        The analysed volume (for overlays); None for a re-plan made without the CT (the
        PDF then says the overlays are in the first version).
    source_header : pydicom.Dataset
        One source image header (patient and study shown).
    segmentation : SegmentationContent or None
        Label map on the volume (for overlays; None with ``volume`` None).
    content : ReportContent
        Measurements, confidence, flags, chosen series.
    config : EncodeConfig, optional
        Overlay settings.

    Returns
    -------
    bytes
        The PDF document.
    """
    config = config or EncodeConfig()
    algorithm = content.algorithm
    pdf = _Summary("Liver CT analysis", algorithm.is_demo)
    pdf.add_page()
    for line in _patient_lines(source_header):
        pdf.line_text(line)
    if content.worksheet is not None:
        render_worksheet(pdf, content.worksheet, _flag_lines(content.flags),
                         algorithm.is_demo)
        pdf.add_page()
    pdf.heading("Analysed series")
    pdf.line_text(f"{content.series.description} ({content.series.series_instance_uid})")
    for reason in content.series.reasons:
        pdf.line_text(f"- {reason}")
    pdf.line_text(f"Model: {algorithm.name} {algorithm.version}"
                  + (f"  (weights {algorithm.weights_sha256[:16]})"
                     if algorithm.weights_sha256 else ""))
    _confidence(pdf, content)
    if content.worksheet is None:
        _flags(pdf, content.flags)
    _results(pdf, content)
    if content.dosimetry_report is not None:
        _dosimetry(pdf, content.dosimetry_report)
    if volume is not None and segmentation is not None:
        _overlays(pdf, volume, segmentation, config)
    else:
        pdf.line_text("Segmentation overlays: in the first version of this report (the CT "
                      "was not available to this re-plan).")
    return bytes(pdf.output())


def build_rejection_pdf(source_header: Dataset, rejection: RejectionContent,
                        algorithm: AlgorithmInfo) -> bytes:
    """Render the summary of a study that was not measured, and why.

    Parameters
    ----------
    source_header : pydicom.Dataset
        One image header of the study.
    rejection : RejectionContent
        Reasons and the series considered.
    algorithm : AlgorithmInfo
        The configured model.

    Returns
    -------
    bytes
        The PDF document.
    """
    pdf = _Summary("Liver CT analysis: not performed", algorithm.is_demo)
    pdf.add_page()
    for line in _patient_lines(source_header):
        pdf.line_text(line)
    pdf.heading("No measurement was made, for these reasons")
    for r in rejection.reasons:
        pdf.line_text(f"{r.code}: {r.message}")
    if rejection.series_considered:
        pdf.heading("Series considered")
        for s in rejection.series_considered:
            pdf.line_text(f"{s.description} ({s.series_instance_uid}): {'; '.join(s.reasons)}")
    return bytes(pdf.output())


def build_encapsulated_pdf(
    pdf: bytes,
    source_header: Dataset,
    algorithm: AlgorithmInfo,
    config: EncodeConfig | None = None,
    *,
    derived_from: Sequence[Dataset] = (),
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    document_title: str = "Liver CT analysis summary",
) -> Dataset:
    """Wrap a PDF in an Encapsulated PDF Storage instance in the source study.

    Parameters
    ----------
    pdf : bytes
        The PDF document.
    source_header : pydicom.Dataset
        A source image header: patient and study attributes are copied from its
        :func:`~pipeline.encode.sanitise.sanitised` copy (absent Type 2 ones written empty).
    algorithm : AlgorithmInfo
        The model (the demo notice goes into SeriesDescription).
    config : EncodeConfig, optional
        Manufacturer strings and series number.
    derived_from : sequence of pydicom.Dataset
        Instances the summary was made from (the SEG and SR), listed in
        SourceInstanceSequence.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs to use; new ones by default.
    document_title : str
        DocumentTitle.

    Returns
    -------
    pydicom.Dataset
        A dataset with file meta, ready for ``save_as``.

    Raises
    ------
    ValueError
        If ``pdf`` is not a PDF document.
    pipeline.encode.sanitise.SourceHeaderError
        If the source header lacks a Type 1 identifier.
    """
    config = config or EncodeConfig()
    if not pdf.startswith(b"%PDF"):
        raise ValueError("not a PDF document")
    source_header = sanitised(source_header)
    now = datetime.datetime.now()
    sop_uid = UID(sop_instance_uid or hd.UID())
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = EncapsulatedPDFStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = source_header.get("SpecificCharacterSet", "ISO_IR 100")
    ds.SOPClassUID, ds.SOPInstanceUID = EncapsulatedPDFStorage, sop_uid
    for keyword in _STUDY_ATTRIBUTES:
        if keyword in source_header:
            setattr(ds, keyword, source_header[keyword].value)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_instance_uid or hd.UID()
    ds.SeriesNumber = config.pdf_series_number
    ds.SeriesDescription = series_description(config.pdf_series_description, algorithm)
    ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.Manufacturer = config.manufacturer
    ds.ManufacturerModelName = config.manufacturer_model_name
    ds.SoftwareVersions = config.software_versions
    ds.DeviceSerialNumber = config.device_serial_number
    ds.ConversionType = "WSD"
    ds.InstanceNumber = 1
    ds.BurnedInAnnotation = "YES"
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = document_title[:64]
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    if derived_from:
        items = []
        for src in derived_from:
            item = Dataset()
            item.ReferencedSOPClassUID = src.SOPClassUID
            item.ReferencedSOPInstanceUID = src.SOPInstanceUID
            items.append(item)
        ds.SourceInstanceSequence = items
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    return ds
