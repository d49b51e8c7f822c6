"""Quantitative SR writer: Comprehensive 3D SR with a TID 1500 Measurement Report.

Groups, in order:

- one TID 1411 volumetric ROI group per structure and per lesion, referencing its SEG
  segment (Tracking Identifier = the segment's TrackingID and TrackingUID); a structure with
  no segment (empty, or the derived liver of a LABELMAP SEG) gets a TID 1501 group instead;
- TID 1501 groups for tumour burden, each planned resection's FLR, the SIRT plan (one group
  per input source, and per method one group per activity time reference and one per dose
  region, each with its finding sites, TID 1502 time point, guideline checks and, on every
  measurement, an INFERRED FROM "Source of Measurement" IMAGE reference to the SEG segments
  it was computed on), the constants used, segmentation confidence and the quality flags;
- where the model is the demo model, a TID 1500 "Qualitative Evaluations" text saying so.

Concepts without a standard code use the private scheme ``99DCMNODE``
(``docs/sr-private-codes.md``), declared in the Coding Scheme Identification Sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes
from pydicom.sr.coding import Code as PydicomCode
from pydicom.uid import generate_uid

from pipeline.encode import codes
from pipeline.encode.codes import coded
from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import (
    AlgorithmInfo,
    CodedEvaluation,
    FLRMeasurement,
    LesionMeasurement,
    NamedQuantity,
    QualityFlag,
    QuantityGroup,
    RejectionContent,
    ReportContent,
    StructureMeasurement,
)
from pipeline.encode.sanitise import sanitised_all
from pipeline.encode.seg import series_description
from pipeline.encode.segments import ALL_LESIONS_LABEL, structure_tracking_id
from pipeline.segment.confidence import Confidence
from pipeline.structures import ANATOMICAL_STRUCTURE, CATALOGUE, Structure

Group = (
    hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    | hd.sr.MeasurementsAndQualitativeEvaluations
)


def private_coding_scheme() -> hd.coding_schemes.CodingSchemeIdentificationItem:
    """Coding Scheme Identification item of the private scheme ``99DCMNODE``."""
    return hd.coding_schemes.CodingSchemeIdentificationItem(
        designator=codes.PRIVATE_SCHEME,
        name=codes.PRIVATE_SCHEME_NAME,
        responsible_organization="dicomnode project",
    )


def _algorithm_id(algorithm: AlgorithmInfo) -> hd.sr.AlgorithmIdentification:
    parameters = (
        [f"weights_sha256={algorithm.weights_sha256}"] if algorithm.weights_sha256 else None
    )
    name = f"{algorithm.name} ({codes.DEMO_NOTICE})" if algorithm.is_demo else algorithm.name
    return hd.sr.AlgorithmIdentification(
        name=name[:64], version=algorithm.version[:64], parameters=parameters
    )


def _measurement(
    q: NamedQuantity, algorithm: hd.sr.AlgorithmIdentification | None
) -> hd.sr.Measurement:
    return hd.sr.Measurement(
        name=coded(q.concept), value=float(q.value), unit=coded(q.unit), algorithm_id=algorithm
    )


def _yes_no(name: CodedConcept, flag: bool) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(name, coded(codes.YES if flag else codes.NO))


class _SegmentIndex:
    """Segments of the SEG by Tracking ID."""

    def __init__(self, seg: Dataset) -> None:
        self.seg = seg
        self.by_tracking_id = {
            str(s.TrackingID): s for s in seg.SegmentSequence if "TrackingID" in s
        }

    def _reference(self, number: int) -> hd.sr.ReferencedSegment:
        """Reference to segment ``number`` and to the source series of the SEG.

        TID 1411 wants the source images of the segment or, where they are not listed,
        its source series. The SEG's frames already reference their source images (or
        frames); listing them again per segment in the SR (a 300-slice SEG: ~1,500 image
        references in 19 groups) made the SR take seconds to build, so the SR names the
        source series, for BINARY as for LABELMAP (whose frames hold all segments).
        """
        series_uid = self.seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        return hd.sr.ReferencedSegment(
            sop_class_uid=self.seg.SOPClassUID,
            sop_instance_uid=self.seg.SOPInstanceUID,
            segment_number=number,
            source_series=hd.sr.SourceSeriesForSegmentation(series_uid),
        )

    def group(
        self,
        tracking_id: str,
        finding_type: CodedConcept,
        finding_category: CodedConcept,
        measurements: list[hd.sr.Measurement],
        evaluations: list[hd.sr.QualitativeEvaluation],
        finding_sites: list[hd.sr.FindingSite] | None = None,
    ) -> Group:
        """A TID 1411 group for a segment that exists, otherwise a TID 1501 group."""
        segment = self.by_tracking_id.get(tracking_id)
        if segment is None:
            return hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=tracking_id),
                finding_type=finding_type,
                finding_category=finding_category,
                finding_sites=finding_sites,
                measurements=measurements,
                qualitative_evaluations=evaluations or None,
            )
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=segment.TrackingUID, identifier=tracking_id
            ),
            referenced_segment=self._reference(int(segment.SegmentNumber)),
            finding_type=finding_type,
            finding_category=finding_category,
            finding_sites=finding_sites,
            measurements=measurements,
            qualitative_evaluations=evaluations or None,
        )


def _segment_tracking_id(structure: Structure) -> str:
    """Tracking ID of the SEG segment of a structure (all metastases are one segment)."""
    return (
        ALL_LESIONS_LABEL if structure is Structure.METASTASIS else structure_tracking_id(structure)
    )


def _structure_group(
    m: StructureMeasurement, index: _SegmentIndex, algorithm: hd.sr.AlgorithmIdentification
) -> Group:
    info = CATALOGUE[m.structure]
    tracking_id = _segment_tracking_id(m.structure)
    volume = NamedQuantity(codes.VOLUME, m.volume_ml, codes.unit("mL"))
    evaluations = []
    if m.incomplete_coverage:
        evaluations.append(_yes_no(coded(codes.INCOMPLETE_COVERAGE), True))
    if m.volume_ml == 0:
        evaluations.append(_yes_no(coded(codes.STRUCTURE_NOT_FOUND), True))
    return index.group(
        tracking_id,
        coded(info.type),
        coded(info.category),
        [_measurement(volume, algorithm)],
        evaluations,
    )


def _lesion_group(
    m: LesionMeasurement, index: _SegmentIndex, algorithm: hd.sr.AlgorithmIdentification
) -> Group:
    info = CATALOGUE[Structure.METASTASIS]
    site = CATALOGUE[m.segment].type if m.segment is not None else codes.LIVER
    items = [NamedQuantity(codes.VOLUME, m.volume_ml, codes.unit("mL"))]
    if m.longest_diameter_mm is not None:
        items.append(NamedQuantity(codes.LONG_AXIS, m.longest_diameter_mm, codes.unit("mm")))
    if m.short_axis_mm is not None:
        items.append(NamedQuantity(codes.SHORT_AXIS, m.short_axis_mm, codes.unit("mm")))
    return index.group(
        m.tracking_id,
        coded(info.type),
        coded(info.category),
        [_measurement(q, algorithm) for q in items],
        [],
        finding_sites=[hd.sr.FindingSite(coded(site))],
    )


def _plain_group(
    title: str,
    finding_type: CodedConcept,
    quantities: Sequence[NamedQuantity],
    algorithm: hd.sr.AlgorithmIdentification | None,
    evaluations: list[hd.sr.QualitativeEvaluation] | None = None,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=title[:64]),
        finding_type=finding_type,
        measurements=[_measurement(q, algorithm) for q in quantities] or None,
        qualitative_evaluations=evaluations or None,
    )


def _evaluation(e: CodedEvaluation) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(coded(e.name), coded(e.value))


def _flr_group(
    m: FLRMeasurement, algorithm: hd.sr.AlgorithmIdentification
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return _plain_group(
        f"FLR {m.resection}",
        coded(codes.FLR_ASSESSMENT),
        m.quantities(),
        algorithm,
        [
            _yes_no(coded(codes.CAUDATE_INCLUDED), m.caudate_included),
            *(_evaluation(e) for e in m.evaluations),
        ],
    )


SOURCE_OF_MEASUREMENT = PydicomCode("121112", "DCM", "Source of Measurement")


def _segment_source(seg: Dataset, numbers: list[int]) -> hd.sr.ImageContentItem:
    """TID 300 "Source of Measurement": the SEG segments a figure was computed on."""
    return hd.sr.ImageContentItem(
        name=SOURCE_OF_MEASUREMENT,
        referenced_sop_class_uid=seg.SOPClassUID,
        referenced_sop_instance_uid=seg.SOPInstanceUID,
        referenced_segment_numbers=numbers,
        relationship_type=hd.sr.RelationshipTypeValues.INFERRED_FROM,
    )


def _quantity_group(g: QuantityGroup, index: _SegmentIndex,
                    algorithm: hd.sr.AlgorithmIdentification | None = None) -> Group:
    if g.roi_segment in index.by_tracking_id:
        return index.group(
            g.roi_segment, coded(g.concept), coded(ANATOMICAL_STRUCTURE),
            [_measurement(q, algorithm) for q in g.quantities],
            [_evaluation(e) for e in g.evaluations],
            finding_sites=[hd.sr.FindingSite(coded(c)) for c in g.finding_sites] or None)
    numbers = sorted(int(index.by_tracking_id[t].SegmentNumber) for t in g.segments
                     if t in index.by_tracking_id)
    measurements = []
    for q in g.quantities:
        m = _measurement(q, None)
        if numbers:
            items = list(getattr(m[0], "ContentSequence", []))
            m[0].ContentSequence = hd.sr.ContentSequence(
                [*items, _segment_source(index.seg, numbers)]
            )
        measurements.append(m)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=g.title[:64]),
        time_point_context=(hd.sr.TimePointContext(g.time_point[:1024]) if g.time_point else None),
        finding_type=coded(g.concept),
        finding_sites=[hd.sr.FindingSite(coded(c)) for c in g.finding_sites] or None,
        measurements=measurements or None,
        qualitative_evaluations=[_evaluation(e) for e in g.evaluations] or None,
    )


def _confidence_groups(
    c: Confidence, index: _SegmentIndex, algorithm: hd.sr.AlgorithmIdentification
) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    """The study's confidence score and review flag, then one group per structure with a
    fold agreement: its finding site and its SEG segment at group level, so that a reader
    which keeps one finding site per group (dcmqi's tid1500reader) still knows whose value
    it is."""
    ratio = codes.unit("1")
    groups = [
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier="Segmentation confidence"
            ),
            finding_type=coded(codes.CONFIDENCE_ASSESSMENT),
            measurements=[
                _measurement(NamedQuantity(codes.CONFIDENCE_SCORE, c.score, ratio), algorithm)
            ],
            qualitative_evaluations=[_yes_no(coded(codes.REVIEW_REQUIRED), c.review_recommended)],
        )
    ]
    for structure, value in c.fold_dice.items():
        info = CATALOGUE[structure]
        measurement = _measurement(
            NamedQuantity(codes.STRUCTURE_CONFIDENCE, value, ratio), algorithm
        )
        segment = index.by_tracking_id.get(_segment_tracking_id(structure))
        if segment is not None:
            items = list(getattr(measurement[0], "ContentSequence", []))
            measurement[0].ContentSequence = hd.sr.ContentSequence(
                [*items, _segment_source(index.seg, [int(segment.SegmentNumber)])]
            )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=hd.UID(), identifier=f"Segmentation confidence: {info.type.meaning}"[:64]
                ),
                finding_type=coded(codes.CONFIDENCE_ASSESSMENT),
                finding_sites=[hd.sr.FindingSite(coded(info.type))],
                measurements=[measurement],
            )
        )
    return groups


def flag_code(flag: QualityFlag) -> CodedConcept:
    """The private-scheme code of a quality flag (Code Value = the flag's code)."""
    return CodedConcept(flag.code, codes.PRIVATE_SCHEME, flag.message[:64])


def _flags_group(
    title: str, finding_type: CodedConcept, name: CodedConcept, flags: Sequence[QualityFlag]
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=title),
        finding_type=finding_type,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name, flag_code(f)) for f in flags],
    )


def _add_text_evaluations(report: hd.sr.MeasurementReport, texts: Sequence[str]) -> None:
    """Append TID 1500 row 12 "Qualitative Evaluations" holding TEXT comments."""
    container = hd.sr.ContainerContentItem(
        name=coded(codes.QUALITATIVE_EVALUATIONS),
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )
    container.ContentSequence = hd.sr.ContentSequence(
        [
            hd.sr.TextContentItem(
                name=coded(codes.COMMENT),
                value=t[:1024],
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
            for t in texts
        ]
    )
    report[0].ContentSequence.append(container)


def _observation_context(
    config: EncodeConfig, algorithm: AlgorithmInfo
) -> hd.sr.ObservationContext:
    # A stable Device Observer UID: the same node and model always report as one device.
    uid = generate_uid(
        entropy_srcs=[
            config.manufacturer,
            config.manufacturer_model_name,
            config.device_serial_number,
            algorithm.name,
        ]
    )
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=uid,
        name=config.manufacturer_model_name[:64],
        manufacturer_name=config.manufacturer[:64],
        model_name=algorithm.name[:64],
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=dcm_codes.cid270.Device, observer_identifying_attributes=device
        )
    )


def measurement_groups(content: ReportContent, seg: Dataset) -> list[Group]:
    """All measurement groups of the report, in document order.

    Parameters
    ----------
    content : ReportContent
        What to report.
    seg : pydicom.Dataset
        The SEG whose segments the ROI groups reference.

    Returns
    -------
    list
        highdicom TID 1411 and TID 1501 groups.
    """
    algorithm = _algorithm_id(content.algorithm)
    index = _SegmentIndex(seg)
    groups: list[Group] = [_structure_group(m, index, algorithm) for m in content.structures]
    groups += [_lesion_group(m, index, algorithm) for m in content.lesions]
    if content.tumour_burden:
        groups.append(
            _plain_group(
                "Tumor burden", coded(codes.TUMOUR_BURDEN), content.tumour_burden, algorithm
            )
        )
    groups += [_flr_group(m, algorithm) for m in content.flr]
    groups += [_quantity_group(g, index, algorithm) for g in content.flr_model]
    groups += [_quantity_group(g, index) for g in content.sirt]
    groups += [_quantity_group(g, index) for g in content.dosimetry]
    if content.constants:
        groups.append(
            _plain_group("Constants", coded(codes.SIRT_CONSTANTS), content.constants, None)
        )
    if content.confidence is not None:
        groups += _confidence_groups(content.confidence, index, algorithm)
    if content.flags:
        groups.append(
            _flags_group(
                "Quality flags",
                coded(codes.QUALITY_ASSESSMENT),
                coded(codes.QUALITY_FLAG),
                content.flags,
            )
        )
    return groups


def build_sr(
    seg: Dataset,
    source_images: Sequence[Dataset],
    content: ReportContent,
    config: EncodeConfig | None = None,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    previous_versions: Sequence[Dataset] = (),
) -> hd.sr.Comprehensive3DSR:
    """Build the TID 1500 quantitative SR of a measured study.

    Parameters
    ----------
    seg : pydicom.Dataset
        The SEG built by :func:`pipeline.encode.seg.build_seg` (its segments' Tracking IDs
        link them to the measurement groups).
    source_images : sequence of pydicom.Dataset
        The source CT headers (evidence; patient and study are taken from the
        :func:`~pipeline.encode.sanitise.sanitised` copy of the first).
    content : ReportContent
        Measurements, confidence and flags.
    config : EncodeConfig, optional
        Writer settings.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs to use; new ones by default.
    previous_versions : sequence of pydicom.Dataset
        Earlier SRs this one replaces (a re-plan): listed in the Predecessor Documents
        Sequence.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        The SR (a new series in the source study).
    """
    config = config or EncodeConfig()
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(config, content.algorithm),
        procedure_reported=codes.CT_PROCEDURE,
        imaging_measurements=measurement_groups(content, seg),
    )
    if content.algorithm.is_demo:
        _add_text_evaluations(report, [codes.DEMO_NOTICE])
    return _document(
        report,
        [*source_images, seg],
        content.algorithm,
        config,
        series_instance_uid,
        sop_instance_uid,
        previous_versions,
    )


def build_rejection_sr(
    source_images: Sequence[Dataset],
    rejection: RejectionContent,
    algorithm: AlgorithmInfo,
    config: EncodeConfig | None = None,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """Build an SR saying that the study was not measured, and why.

    Parameters
    ----------
    source_images : sequence of pydicom.Dataset
        Headers of the study's images that were considered (at least one: the SR joins
        their study; patient and study are taken from the
        :func:`~pipeline.encode.sanitise.sanitised` copy of the first).
    rejection : RejectionContent
        The named reasons and the series considered.
    algorithm : AlgorithmInfo
        The configured model (named so the reader knows what would have run).
    config : EncodeConfig, optional
        Writer settings.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs to use; new ones by default.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        One TID 1501 group "Analysis not performed" listing the reasons as coded
        evaluations, and the full messages as TEXT comments.
    """
    config = config or EncodeConfig()
    if not source_images:
        raise ValueError("a rejection SR needs at least one image of the study")
    group = _flags_group(
        "Analysis not performed",
        coded(codes.ANALYSIS_NOT_PERFORMED),
        coded(codes.REJECTION_REASON),
        rejection.reasons,
    )
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(config, algorithm),
        procedure_reported=codes.CT_PROCEDURE,
        imaging_measurements=[group],
    )
    texts = [f"{r.code}: {r.message}" for r in rejection.reasons]
    texts += [
        f"Series {s.series_instance_uid} ({s.description}): {'; '.join(s.reasons)}"
        for s in rejection.series_considered
    ]
    _add_text_evaluations(report, texts)
    return _document(
        report, source_images, algorithm, config, series_instance_uid, sop_instance_uid
    )


def _document(
    report: hd.sr.MeasurementReport,
    evidence: Sequence[Dataset],
    algorithm: AlgorithmInfo,
    config: EncodeConfig,
    series_instance_uid: str | None,
    sop_instance_uid: str | None,
    previous_versions: Sequence[Dataset] = (),
) -> hd.sr.Comprehensive3DSR:
    return hd.sr.Comprehensive3DSR(
        evidence=sanitised_all(evidence),
        previous_versions=list(previous_versions) or None,
        content=report,
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=config.sr_series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer=config.manufacturer,
        institution_name=config.institution_name or None,
        is_complete=True,
        is_final=False,
        is_verified=False,
        coding_schemes=[private_coding_scheme()],
        series_description=series_description(config.sr_series_description, algorithm),
        manufacturer_model_name=config.manufacturer_model_name,
        software_versions=config.software_versions,
        device_serial_number=config.device_serial_number,
    )
