"""Label maps with their geometry: read from NIfTI or DICOM-SEG, resampled onto a grid.

A :class:`LabelImage` is a SimpleITK image of label values (patient LPS geometry) and the
structure of each value. Reference and prediction are compared on one grid, the
prediction's (the CT grid when the pipeline runs): the reference is resampled onto it with
nearest-neighbour interpolation in patient coordinates, so files on other grids (a NIfTI
export, a SEG with sparse frames) still line up.

The planning regions of a learned FLR model (:data:`pipeline.structures.PLANNING_REGIONS`)
overlap the liver's parts, so a LabelImage keeps them as masks of their own: a NIfTI whose
mapping names them (a reference file of the remnant and resected regions, which do not
overlap each other), a SEG's region segments, and the engine's regions are read into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray

from pipeline.segment.config import DEFAULT_PRIORITY
from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import CATALOGUE, PLANNING_REGIONS, Structure, liver_labels
from pipeline.volume import CTVolume


@dataclass(frozen=True)
class LabelImage:
    """Label values on a grid and what they mean.

    Parameters
    ----------
    image : SimpleITK.Image
        3-D integer label image in patient LPS (SimpleITK geometry: origin = first voxel,
        direction columns = row cosine, column cosine, slice direction).
    labels : dict[int, Structure]
        Label value -> structure (several values may name one structure).
    regions : dict[Structure, SimpleITK.Image]
        Planning regions as uint8 mask images on the same grid (they overlap the labels).
    """

    image: sitk.Image
    labels: dict[int, Structure]
    regions: dict[Structure, sitk.Image] = field(default_factory=dict)

    @property
    def array(self) -> NDArray[np.integer]:
        """Label values, shape (z, y, x)."""
        return np.asarray(sitk.GetArrayViewFromImage(self.image))

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel spacing (z, y, x), mm."""
        sx, sy, sz = self.image.GetSpacing()
        return (float(sz), float(sy), float(sx))

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel, mL."""
        return float(np.prod(self.image.GetSpacing())) / 1000.0

    def structures(self) -> set[Structure]:
        """Structures this label map can hold, the liver included when its parts are."""
        out = set(self.labels.values()) | set(self.regions)
        if liver_labels(self.labels):
            out.add(Structure.LIVER)
        return out

    def mask(self, structure: Structure) -> NDArray[np.bool_]:
        """Boolean mask (z, y, x) of a structure; the liver is the union of its parts."""
        if structure in self.regions:
            return np.asarray(sitk.GetArrayViewFromImage(self.regions[structure])) > 0
        if structure == Structure.LIVER:
            values = liver_labels(self.labels)
        else:
            values = [v for v, s in self.labels.items() if s == structure]
        return np.isin(self.array, values)


def volume_grid(volume: CTVolume) -> sitk.Image:
    """An empty (uint8) image with the geometry of a CT volume."""
    nz, ny, nx = volume.shape
    image = sitk.Image(nx, ny, nz, sitk.sitkUInt8)
    _set_geometry(image, volume)
    return image


def _set_geometry(image: sitk.Image, volume: CTVolume) -> None:
    dz, dy, dx = volume.spacing_mm
    image.SetSpacing((float(dx), float(dy), float(dz)))
    image.SetOrigin(tuple(float(v) for v in volume.origin_mm))
    direction = np.column_stack([volume.row_cosine, volume.column_cosine, volume.normal])
    image.SetDirection(tuple(float(v) for v in direction.ravel()))


def _mask_image(mask: NDArray[np.bool_], like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=np.uint8))
    image.CopyInformation(like)
    return image


def on_volume(labelmap: NDArray[np.integer], labels: dict[int, Structure],
              volume: CTVolume,
              regions: dict[Structure, NDArray[np.bool_]] | None = None) -> LabelImage:
    """A label map on a CT volume's grid (e.g. the segmentation engine's output).

    Parameters
    ----------
    labelmap : ndarray of int, shape (z, y, x)
        Label values in the volume's slice order.
    labels : dict[int, Structure]
        Value -> structure.
    volume : CTVolume
        The grid.
    regions : dict[Structure, ndarray of bool], optional
        Planning regions on the same grid (the engine's ``regions``).

    Returns
    -------
    LabelImage
        The label map with the volume's geometry.
    """
    if labelmap.shape != volume.shape:
        raise ValueError(f"label map shape {labelmap.shape} differs from the CT's {volume.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(labelmap))
    _set_geometry(image, volume)
    return LabelImage(image, dict(labels),
                      {s: _mask_image(m, image) for s, m in (regions or {}).items()})


def read_nifti(path: Path, labels: dict[int, Structure]) -> LabelImage:
    """Read a NIfTI label map (any integer type) with its label mapping.

    Parameters
    ----------
    path : Path
        ``.nii`` or ``.nii.gz`` file.
    labels : dict[int, Structure]
        Value -> structure (values not listed are ignored); values naming a planning
        region become that region's mask.

    Returns
    -------
    LabelImage
        The label map (SimpleITK reads NIfTI geometry into patient LPS).
    """
    image = sitk.ReadImage(str(path))
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{path}: expected a 3-D single-component label image")
    image = sitk.Cast(image, sitk.sitkUInt16)
    values = np.asarray(sitk.GetArrayViewFromImage(image))
    regions = {s: _mask_image(np.isin(values, [v for v, r in labels.items() if r == s]), image)
               for s in PLANNING_REGIONS if s in labels.values()}
    return LabelImage(image, {v: s for v, s in labels.items() if s not in PLANNING_REGIONS},
                      regions)


def write_nifti(label_image: LabelImage, path: Path) -> None:
    """Write the label values of a LabelImage as NIfTI (the mapping is stored separately)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(label_image.image, str(path), useCompression=True)


_CODES: dict[tuple[str, str], Structure] = {
    (info.type.scheme, info.type.value): s for s, info in CATALOGUE.items()}


def segment_structures(seg: hd.seg.Segmentation,
                       overrides: dict[int, Structure] | None = None) -> dict[int, Structure]:
    """Structure of each segment of a SEG, from its Segmented Property Type code.

    Parameters
    ----------
    seg : highdicom.seg.Segmentation
        The SEG.
    overrides : dict[int, Structure], optional
        Segment Number -> structure, for segments whose codes are not those of
        :data:`pipeline.structures.CATALOGUE` (it wins over the code).

    Returns
    -------
    dict[int, Structure]
        Segment Number -> structure for every segment recognised; others are ignored.
    """
    out: dict[int, Structure] = {}
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        code = item.SegmentedPropertyTypeCodeSequence[0]
        structure = (overrides or {}).get(number) or _CODES.get(
            (str(code.CodingSchemeDesignator), str(code.CodeValue)))
        if structure is not None:
            out[number] = structure
    return out


def read_seg(path: Path, overrides: dict[int, Structure] | None = None) -> LabelImage:
    """Read a DICOM-SEG (BINARY, FRACTIONAL or LABELMAP) as a label map.

    Segments may overlap (a derived liver, an all-lesions segment): they are painted from
    the lowest to the highest overlap priority of the pipeline
    (:data:`pipeline.segment.config.DEFAULT_PRIORITY`), each with its structure's output
    label value (:data:`pipeline.segment.result.OUTPUT_LABEL_VALUES`). Fractional segments
    count where the fraction is at least 0.5.

    Parameters
    ----------
    path : Path
        The SEG file.
    overrides : dict[int, Structure], optional
        Segment Number -> structure (see :func:`segment_structures`).

    Returns
    -------
    LabelImage
        The label map on the SEG's volume geometry.
    """
    seg = hd.seg.segread(str(path))
    structures = segment_structures(seg, overrides)
    if not structures:
        raise ValueError(f"{path}: no segment with a known structure code")
    rank = {s: i for i, s in enumerate(DEFAULT_PRIORITY)}
    order = sorted(structures, key=lambda n: -rank.get(structures[n], len(rank)))
    volume: hd.Volume | None = None
    labelmap: NDArray[np.uint16] | None = None
    regions: dict[Structure, NDArray[np.bool_]] = {}
    for number in order:
        part = seg.get_volume(segment_numbers=[number], combine_segments=True, relabel=True,
                              dtype=np.float32)
        if labelmap is None:
            volume = part
            labelmap = np.zeros(part.spatial_shape, np.uint16)
        inside = np.asarray(part.array) >= 0.5
        structure = structures[number]
        if structure in PLANNING_REGIONS:
            regions[structure] = regions.get(structure, np.zeros_like(inside)) | inside
        else:
            labelmap[inside] = OUTPUT_LABEL_VALUES[structure]
    assert volume is not None and labelmap is not None
    labels = {OUTPUT_LABEL_VALUES[s]: s for s in set(structures.values())
              if s not in PLANNING_REGIONS}
    image = volume.with_array(labelmap).to_simpleitk()
    masks = {s: volume.with_array(m.astype(np.uint8)).to_simpleitk() for s, m in regions.items()}
    return LabelImage(image, labels, masks)


def resample_onto(label_image: LabelImage, grid: sitk.Image) -> LabelImage:
    """The label map resampled onto another grid (nearest neighbour, 0 outside).

    Parameters
    ----------
    label_image : LabelImage
        Source.
    grid : SimpleITK.Image
        Target geometry (its pixel values are not used).

    Returns
    -------
    LabelImage
        Same labels on the target grid (returned unchanged if the geometry already matches).
    """
    src = label_image.image
    if (src.GetSize() == grid.GetSize()
            and np.allclose(src.GetSpacing(), grid.GetSpacing(), atol=1e-4)
            and np.allclose(src.GetOrigin(), grid.GetOrigin(), atol=1e-3)
            and np.allclose(src.GetDirection(), grid.GetDirection(), atol=1e-5)):
        return label_image
    out = sitk.Resample(src, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                        src.GetPixelID())
    regions = {s: sitk.Resample(m, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                m.GetPixelID()) for s, m in label_image.regions.items()}
    return LabelImage(out, label_image.labels, regions)
