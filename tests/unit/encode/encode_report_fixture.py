"""A complete :class:`ReportContent` for the encode tests."""

from __future__ import annotations

from pipeline.encode import codes
from pipeline.encode.content import (
    AlgorithmInfo,
    CodedEvaluation,
    FLRMeasurement,
    LesionMeasurement,
    NamedQuantity,
    QualityFlag,
    QuantityGroup,
    ReportContent,
    SeriesChoice,
    Severity,
    StructureMeasurement,
)
from pipeline.segment.confidence import Confidence, StructureConfidence
from pipeline.structures import COUINAUD_SEGMENTS, Structure


def report_content(series_uid: str, algorithm: AlgorithmInfo) -> ReportContent:
    """Report content with every kind of group (values are plausible, not computed)."""
    structures = [StructureMeasurement(Structure.LIVER, 1612.5),
                  StructureMeasurement(Structure.METASTASIS, 41.25),
                  StructureMeasurement(Structure.LUNG, 0.0),
                  StructureMeasurement(Structure.IVC, 22.0, incomplete_coverage=True)]
    structures += [StructureMeasurement(s, 150.0 + i) for i, s in enumerate(COUINAUD_SEGMENTS)]
    pct, gbq, gy = codes.unit("%"), codes.unit("GBq"), codes.unit("Gy")
    return ReportContent(
        series=SeriesChoice(series_uid, "Portal venous 2.5mm",
                            ("portal-venous phase", "thinnest complete series")),
        algorithm=algorithm,
        structures=tuple(structures),
        lesions=(LesionMeasurement(1, 30.5, 42.1, 28.0, Structure.COUINAUD_2),
                 LesionMeasurement(2, 10.75, 12.0, None, None)),
        tumour_burden=(NamedQuantity(codes.TOTAL_TUMOUR_VOLUME, 41.25, codes.unit("mL")),
                       NamedQuantity(codes.TUMOUR_FRACTION, 2.56, pct)),
        flr=(FLRMeasurement("Right hepatectomy", COUINAUD_SEGMENTS[:4], 612.0, 38.0, 35.2,
                            1740.15, 0.77, True, ("TELV Vauthey 2002, BSA DuBois",)),),
        sirt=(QuantityGroup("SIRT partition model", codes.SIRT_PLAN, (
            NamedQuantity(codes.PLANNED_INJECTED_ACTIVITY, 3.2257, gbq),
            NamedQuantity(codes.MEAN_ABSORBED_DOSE, 100.0, gy, "Normal liver dose"),
            NamedQuantity(codes.LUNG_SHUNT_FRACTION, 10.0, pct),
            NamedQuantity(codes.TUMOUR_TO_NORMAL_RATIO, 3.0, codes.unit("{ratio}"))),
            ("EANM 2022: resin, normal liver < 40 Gy unilobar",)),
              QuantityGroup(
                  "SIRT partition: normal liver of territory", codes.TERRITORY_NORMAL_LIVER,
                  (NamedQuantity(codes.MEAN_ABSORBED_DOSE, 38.0, gy),),
                  finding_sites=(codes.LIVER,),
                  segments=("Couinaud segment II", "Couinaud segment III"),
                  evaluations=(CodedEvaluation(codes.rule_code("EANM2022-RESIN-NL-UNILOBAR"),
                                               codes.RULE_MET),),
                  time_point="administration 2026-03-05T12:00:00")),
        constants=(NamedQuantity(codes.Y90_DOSE_CONSTANT, 49.67, codes.unit("Gy.kg/GBq"),
                                 "Y-90 energy"),),
        confidence=Confidence(0.91, False, per_structure={
            Structure.LIVER: StructureConfidence(0.97, 1500.0, False),
            Structure.METASTASIS: StructureConfidence(0.71, 12.0, False)}),
        flags=(QualityFlag("INCOMPLETE", "IVC touches the field of view", Severity.WARNING),),
    )
