"""All outputs of one study in one call, and writing them to a folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import (
    AlgorithmInfo,
    RejectionContent,
    ReportContent,
    SegmentationContent,
)
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf, build_rejection_pdf
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_rejection_sr, build_sr
from pipeline.encode.writer import file_bytes
from pipeline.volume import CTVolume


@dataclass(frozen=True)
class EncodedOutputs:
    """The DICOM instances made for one study (SEG absent for a rejected study).

    Parameters
    ----------
    sr : pydicom.Dataset
        The TID 1500 SR (or the rejection SR).
    seg : pydicom.Dataset or None
        The DICOM-SEG.
    pdf : pydicom.Dataset or None
        The Encapsulated PDF (None where ``write_pdf`` is off).
    """

    sr: Dataset
    seg: Dataset | None = None
    pdf: Dataset | None = None

    def instances(self) -> list[Dataset]:
        """SEG, SR and PDF, those that exist, in sending order (references resolve)."""
        return [ds for ds in (self.seg, self.sr, self.pdf) if ds is not None]


def encode_study(
    volume: CTVolume,
    source_images: Sequence[Dataset],
    segmentation: SegmentationContent,
    content: ReportContent,
    config: EncodeConfig | None = None,
) -> EncodedOutputs:
    """Build SEG, SR and (if configured) the PDF of a measured study.

    Parameters
    ----------
    volume : CTVolume
        The analysed volume.
    source_images : sequence of pydicom.Dataset
        Its source headers in slice order.
    segmentation : SegmentationContent
        Label map, labels, lesion map, algorithm.
    content : ReportContent
        Measurements, confidence, flags.
    config : EncodeConfig, optional
        Writer settings.

    Returns
    -------
    EncodedOutputs
    """
    config = config or EncodeConfig()
    seg = build_seg(volume, source_images, segmentation, config)
    sr = build_sr(seg, source_images, content, config)
    pdf = None
    if config.write_pdf:
        pdf = build_encapsulated_pdf(
            build_pdf(volume, source_images[0], segmentation, content, config),
            source_images[0], content.algorithm, config, derived_from=[seg, sr])
    return EncodedOutputs(sr=sr, seg=seg, pdf=pdf)


def encode_rejection(
    source_images: Sequence[Dataset],
    rejection: RejectionContent,
    algorithm: AlgorithmInfo,
    config: EncodeConfig | None = None,
) -> EncodedOutputs:
    """Build the SR (and PDF if configured) saying why a study was not measured.

    Parameters
    ----------
    source_images : sequence of pydicom.Dataset
        At least one image header of the study.
    rejection : RejectionContent
        The reasons.
    algorithm : AlgorithmInfo
        The configured model.
    config : EncodeConfig, optional
        Writer settings.

    Returns
    -------
    EncodedOutputs
        No SEG.
    """
    config = config or EncodeConfig()
    sr = build_rejection_sr(source_images, rejection, algorithm, config)
    pdf = None
    if config.write_pdf:
        pdf = build_encapsulated_pdf(
            build_rejection_pdf(source_images[0], rejection, algorithm), source_images[0],
            algorithm, config, derived_from=[sr],
            document_title="Liver CT analysis not performed")
    return EncodedOutputs(sr=sr, pdf=pdf)


def write_outputs(outputs: EncodedOutputs, folder: Path) -> list[Path]:
    """Save the instances as DICOM files named ``<Modality>_<SOPInstanceUID>.dcm``.

    Parameters
    ----------
    outputs : EncodedOutputs
        The instances.
    folder : Path
        Destination (created).

    Returns
    -------
    list[Path]
        The files written, in sending order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in outputs.instances():
        path = folder / f"{ds.Modality}_{ds.SOPInstanceUID}.dcm"
        path.write_bytes(file_bytes(ds))  # what ds.save_as(path) writes
        paths.append(path)
    return paths
