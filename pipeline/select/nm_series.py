"""Recognition of nuclear-medicine series for SIRT dosimetry, and linking NM/PET studies to
the planning CT study of the same patient.

:func:`recognise_nm_series` sorts the series of a set of headers into (field names of
:class:`NmSeriesSet`):

- ``planning_ct_series_uid``: the planning CT, as chosen by the existing selection
  (:func:`pipeline.select.selector.select_series`, passed in; this module does not rank CTs);
- ``maa_spect``: Tc-99m SPECT reconstruction (NM Image, ImageType value 3 ``RECON TOMO``,
  radionuclide Tc-99m) with its CT (``EmissionPair``);
- ``planar``: anterior/posterior static views (NM Image, ImageType value 3 ``STATIC`` or
  ``WHOLE BODY``, each frame's view from the Detector Information Sequence's View Code
  Sequence: SCT 399321004 anterior, 399001007 posterior);
- ``y90_pet``: PET (PET, Enhanced PET or Legacy Converted Enhanced PET Image Storage) whose
  radionuclide is Y-90 (SCT 14691008), with its CT;
- ``other_emission``: every other NM/PET series (FDG PET, bremsstrahlung SPECT, derived or
  secondary captures with Modality NM, ...), never guessed into a role.

A CT pairs with an emission series when it shares the emission series' FrameOfReferenceUID
(SPECT/CT, PET/CT); otherwise with the CT of the same study acquired closest in time within
``pair_window_min`` minutes (``paired_by``: ``frame_of_reference``, ``time_window`` or
``none``).

:func:`find_planning_study` is the cross-study link: a pure function over
:class:`StudySummary` rows (what the audit DB's ``studies``/``series`` tables hold).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, NuclearMedicineImageStorage

from pipeline.select.emission import PET_SOP_CLASSES, is_emission

TC99M_CODE = "72454006"
"""SNOMED CT ^99m^Technetium (CID 4020)."""
Y90_CODE = "14691008"
"""SNOMED CT ^90^Yttrium (CID 4020)."""
ANTERIOR_CODE = "399321004"
"""SNOMED CT Anterior projection (CID 26)."""
POSTERIOR_CODE = "399001007"
"""SNOMED CT Posterior projection (CID 26)."""


class NmLinkConfig(BaseModel):
    """Recognition and linking of NM/PET studies (``dosimetry.link_window_days`` and
    ``dosimetry.pair_window_min`` once mounted in the dosimetry configuration)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    link_window_days: float = Field(
        default=30.0, gt=0,
        description="Largest time between a planning CT study and an NM/PET study of the same "
                    "patient for the two to be linked, days.")
    pair_window_min: float = Field(
        default=30.0, gt=0,
        description="Largest time between an emission series and a CT of the same study "
                    "(without a shared FrameOfReferenceUID) for the two to pair, minutes.")


@dataclass(frozen=True)
class SeriesRef:
    """One series of the input.

    Parameters
    ----------
    series_instance_uid, study_instance_uid, frame_of_reference_uid : str
        Its UIDs ('' when absent).
    modality, sop_class_uid, description : str
        Modality, SOP Class UID and SeriesDescription of its first instance.
    image_type : tuple of str
        ImageType values of its first instance.
    acquired : datetime or None
        Earliest AcquisitionDate/Time (else SeriesDate/Time) of the series.
    n_instances : int
        Instances (files) in the input.
    """

    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    modality: str
    sop_class_uid: str
    description: str
    image_type: tuple[str, ...]
    acquired: datetime | None
    n_instances: int


@dataclass(frozen=True)
class EmissionPair:
    """An emission series and the CT acquired with it.

    Parameters
    ----------
    emission : SeriesRef
        SPECT or PET series.
    ct : SeriesRef or None
        Its CT (attenuation correction / localisation), None when none was found.
    paired_by : str
        ``frame_of_reference``, ``time_window`` or ``none``.
    """

    emission: SeriesRef
    ct: SeriesRef | None
    paired_by: str


@dataclass(frozen=True)
class PlanarView:
    """One planar view: a frame of an NM Image.

    Parameters
    ----------
    series : SeriesRef
        The series holding it.
    sop_instance_uid : str
        The instance.
    frame : int
        1-based frame number in the instance.
    view : str
        ``anterior`` or ``posterior``.
    """

    series: SeriesRef
    sop_instance_uid: str
    frame: int
    view: str


@dataclass(frozen=True)
class NmSeriesSet:
    """The roles of a study's (or several studies') series for dosimetry.

    Parameters
    ----------
    planning_ct_series_uid : str or None
        The planning CT chosen by the series selection (passed through).
    maa_spect : EmissionPair or None
        Tc-99m SPECT and its CT.
    planar : tuple of PlanarView
        Anterior and posterior views found (in input order).
    y90_pet : EmissionPair or None
        Y-90 PET and its CT.
    other_emission : tuple of SeriesRef
        NM/PET series with no role here.
    """

    planning_ct_series_uid: str | None
    maa_spect: EmissionPair | None
    planar: tuple[PlanarView, ...]
    y90_pet: EmissionPair | None
    other_emission: tuple[SeriesRef, ...]

    def planar_pair(self) -> tuple[PlanarView, PlanarView] | None:
        """The first anterior and the first posterior view, or None when one is missing."""
        ant = next((v for v in self.planar if v.view == "anterior"), None)
        post = next((v for v in self.planar if v.view == "posterior"), None)
        return (ant, post) if ant is not None and post is not None else None


def _when(ds: Dataset) -> datetime | None:
    for d_key, t_key in (("AcquisitionDate", "AcquisitionTime"), ("SeriesDate", "SeriesTime"),
                         ("StudyDate", "StudyTime")):
        d, t = str(ds.get(d_key, "") or ""), str(ds.get(t_key, "") or "")
        if len(d) == 8 and len(t) >= 4:
            try:
                return datetime.strptime(d + t.split(".")[0].ljust(6, "0")[:6], "%Y%m%d%H%M%S")
            except ValueError:
                continue
    return None


def _ref(series: Sequence[Dataset]) -> SeriesRef:
    first = series[0]
    times = [t for t in (_when(ds) for ds in series) if t is not None]
    return SeriesRef(
        str(first.get("SeriesInstanceUID", "")), str(first.get("StudyInstanceUID", "")),
        str(first.get("FrameOfReferenceUID", "") or ""), str(first.get("Modality", "")),
        str(first.get("SOPClassUID", "")), str(first.get("SeriesDescription", "")),
        tuple(str(v).upper() for v in first.get("ImageType", [])),
        min(times) if times else None, len(series))


def _radionuclides(ds: Dataset) -> set[str]:
    codes: set[str] = set()
    for item in ds.get("RadiopharmaceuticalInformationSequence", []) or []:
        for code in item.get("RadionuclideCodeSequence", []) or []:
            codes.add(str(code.get("CodeValue", "")))
    return codes


def _planar_views(series: Sequence[Dataset], ref: SeriesRef) -> list[PlanarView]:
    views = []
    for ds in series:
        for frame, item in enumerate(ds.get("DetectorInformationSequence", []) or [], start=1):
            for code in item.get("ViewCodeSequence", []) or []:
                name = {ANTERIOR_CODE: "anterior", POSTERIOR_CODE: "posterior"}.get(
                    str(code.get("CodeValue", "")))
                if name is not None:
                    views.append(PlanarView(ref, str(ds.get("SOPInstanceUID", "")), frame, name))
    return views


def _pair(emission: SeriesRef, cts: Sequence[SeriesRef], window_min: float) -> EmissionPair:
    same_frame = [c for c in cts if emission.frame_of_reference_uid
                  and c.frame_of_reference_uid == emission.frame_of_reference_uid]
    if same_frame:
        return EmissionPair(emission, same_frame[0], "frame_of_reference")
    if emission.acquired is not None:
        near = [(abs((c.acquired - emission.acquired).total_seconds()), c) for c in cts
                if c.study_instance_uid == emission.study_instance_uid
                and c.acquired is not None]
        near = [(dt, c) for dt, c in near if dt <= window_min * 60.0]
        if near:
            return EmissionPair(emission, min(near, key=lambda x: x[0])[1], "time_window")
    return EmissionPair(emission, None, "none")


def recognise_nm_series(datasets: Iterable[Dataset], planning_ct_series_uid: str | None = None,
                        config: NmLinkConfig | None = None) -> NmSeriesSet:
    """Sort headers into the dosimetry roles.

    Parameters
    ----------
    datasets : iterable of Dataset
        Headers (pixel data not needed) of one or several studies of a patient.
    planning_ct_series_uid : str, optional
        The series chosen as planning CT by the selection; never offered as an NM's CT.
    config : NmLinkConfig, optional
        Pairing window.

    Returns
    -------
    NmSeriesSet
        The roles; the first series of a role in SeriesNumber order wins, later ones go to
        ``other_emission``.
    """
    cfg = config or NmLinkConfig()
    by_series: dict[str, list[Dataset]] = defaultdict(list)
    for ds in datasets:
        by_series[str(ds.get("SeriesInstanceUID", ""))].append(ds)
    groups = sorted(by_series.values(), key=lambda s: (str(s[0].get("StudyInstanceUID", "")),
                                                       int(s[0].get("SeriesNumber", 0) or 0)))
    cts = [_ref(s) for s in groups
           if str(s[0].get("SOPClassUID", "")) == CTImageStorage
           and str(s[0].get("SeriesInstanceUID", "")) != (planning_ct_series_uid or "")]
    spect: EmissionPair | None = None
    pet: EmissionPair | None = None
    planar: list[PlanarView] = []
    other: list[SeriesRef] = []
    for series in groups:
        first = series[0]
        if not is_emission(first):
            continue
        ref = _ref(series)
        nuclides = _radionuclides(first)
        kind = ref.image_type[2] if len(ref.image_type) > 2 else ""
        is_nm = ref.sop_class_uid == NuclearMedicineImageStorage
        if is_nm and kind in ("RECON TOMO", "RECON GATED TOMO") and TC99M_CODE in nuclides \
                and spect is None:
            spect = _pair(ref, cts, cfg.pair_window_min)
        elif is_nm and kind in ("STATIC", "WHOLE BODY") and _planar_views(series, ref):
            planar.extend(_planar_views(series, ref))
        elif ref.sop_class_uid in PET_SOP_CLASSES and Y90_CODE in nuclides and pet is None:
            pet = _pair(ref, cts, cfg.pair_window_min)
        else:
            other.append(ref)
    return NmSeriesSet(planning_ct_series_uid, spect, tuple(planar), pet, tuple(other))


@dataclass(frozen=True)
class StudySummary:
    """What the audit DB knows of a study (``studies`` row + its series' modalities).

    Parameters
    ----------
    study_instance_uid : str
        StudyInstanceUID.
    patient_id : str or None
        PatientID.
    study_date : str or None
        StudyDate (YYYYMMDD).
    modalities : frozenset of str
        Modalities of its series (CT, NM, PT, ...).
    """

    study_instance_uid: str
    patient_id: str | None
    study_date: str | None
    modalities: frozenset[str]

    @property
    def is_emission(self) -> bool:
        """Whether the study holds NM or PET series."""
        return bool(self.modalities & {"NM", "PT"})

    def date(self) -> date | None:
        """StudyDate as a date, None when absent or malformed."""
        try:
            return datetime.strptime(self.study_date or "", "%Y%m%d").date()
        except ValueError:
            return None


def find_planning_study(nm_study: StudySummary, studies: Iterable[StudySummary],
                        config: NmLinkConfig | None = None) -> StudySummary | None:
    """The planning CT study an NM/PET study belongs to.

    Candidates: other studies of the same (non-empty) PatientID that hold CT and no NM/PET
    series, dated within ``link_window_days`` of the NM/PET study. The latest candidate on or
    before the NM/PET study's date wins (a planning CT precedes the MAA work-up and the
    treatment); when none precedes it, the nearest later one.

    Parameters
    ----------
    nm_study : StudySummary
        The NM/PET study.
    studies : iterable of StudySummary
        Studies of the patient (e.g. from the audit DB); ``nm_study`` may be among them.
    config : NmLinkConfig, optional
        The window.

    Returns
    -------
    StudySummary or None
        None when the NM/PET study has no PatientID or date, or no candidate qualifies.
    """
    cfg = config or NmLinkConfig()
    when = nm_study.date()
    if not nm_study.patient_id or when is None:
        return None
    scored = []
    for s in studies:
        d = s.date()
        if (s.study_instance_uid == nm_study.study_instance_uid or s.patient_id !=
                nm_study.patient_id or "CT" not in s.modalities or s.is_emission or d is None):
            continue
        days = (when - d).days
        if abs(days) <= cfg.link_window_days:
            scored.append(((0 if days >= 0 else 1, abs(days)), s))
    return min(scored, key=lambda x: x[0])[1] if scored else None
