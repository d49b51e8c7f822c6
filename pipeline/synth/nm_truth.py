"""``truth/dosimetry.json`` of the synthetic NM/PET studies (keys: :func:`dosimetry_truth`).

Mean doses come from the exact activity model (:mod:`.nm_activity`), never from the images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .dicom_write import StudyContext
from .nm_activity import C_GY_KG_PER_GBQ, RHO_G_PER_ML, ActivityModel, region_doses
from .nm_geometry import Misregistration
from .study import StudyTruth

NM_NOTE = "synthetic phantom, not a patient, not for clinical use"

ASSUMPTIONS: tuple[str, ...] = (
    "activity only in perfused liver (normal and tumour) and lungs; none elsewhere",
    "a lesion is perfused when its centre's Couinaud segment is in the territory",
    "lungs closed 180 mm above the higher diaphragm dome",
    "local deposition with one density (1.03 g/mL) for every region, lungs included",
    "administered activity at administration time; vial calibration decay ignored",
    "MAA and Y-90 distributions are identical (same LSF, T/N and territory)",
    "reconstructions: Gaussian blur + Poisson noise, ideal attenuation/scatter correction",
    "planar views: uniform attenuation 0.0153/mm inside the body outline",
)
"""The model's assumptions, written into ``truth/dosimetry.json``."""


@dataclass(frozen=True)
class WrittenNmStudy:
    """One NM/PET study as written.

    Parameters
    ----------
    study : StudyContext
        Its patient/study attributes (StudyInstanceUID, FrameOfReferenceUID, date).
    misregistration : Misregistration
        Planning CT -> this study's frame.
    series : dict
        Role (``planar``, ``ct``, ``spect``, ``pet``) -> truth entry of the series.
    """

    study: StudyContext
    misregistration: Misregistration
    series: dict[str, dict[str, Any]]


def dosimetry_truth(study: StudyTruth, model: ActivityModel,
                    written: dict[str, WrittenNmStudy]) -> dict[str, Any]:
    """The content of ``truth/dosimetry.json``.

    Keys: ``note``, ``lsf``, ``tn_ratio``, ``administered_gbq``, ``perfused_territory``
    (``name``, ``segments``), ``constants`` (``c_gy_kg_per_gbq``, ``rho_g_per_ml``),
    ``concentrations_mbq_per_ml`` (``normal_perfused``, ``lungs``, ``lesions``),
    ``regions`` (name -> ``mean_gy``, ``volume_ml``, ``mass_kg``, ``activity_mbq``; see
    :func:`.nm_activity.region_doses`), ``lesions`` (list: ``index``, ``region``,
    ``couinaud_segment``, ``perfused``, ``centre_mm``, ``volume_ml``, ``mean_gy``),
    ``planning`` (``study_instance_uid``, ``frame_of_reference_uid``,
    ``series_instance_uid``), ``misregistration`` (kind -> :meth:`Misregistration.to_json`),
    ``studies`` (kind -> ``study_instance_uid``, ``frame_of_reference_uid``,
    ``study_date``, ``series`` (role -> entry)), ``assumptions``.
    """
    regions = region_doses(model, study.phantom)
    ctx = study.study_context
    assert ctx is not None
    lesions = [{"index": i, "region": f"lesion_{i}", "couinaud_segment": les.segment,
                "perfused": les.segment in model.territory.segments,
                "centre_mm": [float(v) for v in les.solid.centre],
                "volume_ml": model.lesion_volumes_ml[i - 1],
                "mean_gy": regions[f"lesion_{i}"]["mean_gy"]}
               for i, les in enumerate(study.phantom.lesions, start=1)]
    return {
        "note": NM_NOTE,
        "lsf": model.lsf, "tn_ratio": model.tn_ratio,
        "administered_gbq": model.administered_gbq,
        "perfused_territory": {"name": model.territory.value,
                               "segments": list(model.territory.segments)},
        "constants": {"c_gy_kg_per_gbq": C_GY_KG_PER_GBQ, "rho_g_per_ml": RHO_G_PER_ML},
        "concentrations_mbq_per_ml": {"normal_perfused": model.normal_mbq_per_ml,
                                      "lungs": model.lung_mbq_per_ml,
                                      "lesions": list(model.lesion_mbq_per_ml)},
        "lung_z_range_mm": list(model.lung_z_range_mm),
        "regions": regions,
        "lesions": lesions,
        "planning": {"study_instance_uid": study.study_instance_uid,
                     "frame_of_reference_uid": ctx.frame_of_reference_uid,
                     "series_instance_uid": study.expected_series_uid},
        "misregistration": {k: w.misregistration.to_json() for k, w in written.items()},
        "studies": {k: {"study_instance_uid": w.study.study_instance_uid,
                        "frame_of_reference_uid": w.study.frame_of_reference_uid,
                        "study_date": w.study.study_time.strftime("%Y%m%d"),
                        "series": w.series} for k, w in written.items()},
        "assumptions": list(ASSUMPTIONS),
    }
