"""Lesions: 3-D connected tumour components, their location in the liver and their size.

A metastasis voxel carries the metastasis label, not a segment label, so each tumour voxel is
located by the nearest liver parenchyma voxel (Euclidean distance transform in mm): the
lesion's segment is the segment that holds most of its voxels. A component farther from
parenchyma than the contact tolerance is extrahepatic: reported, but not part of the liver or
of the total tumour volume. Components below the minimum volume are not lesions: their voxels
stay liver (they are counted in the liver and segment volumes, not in the tumour volume).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.quantify.diameters import AxialDiameters, axial_diameters

UNSEGMENTED_LIVER = 0
"""Parenchyma key of an explicit liver label (no Couinaud segment)."""

NO_PARENCHYMA = -1
"""Parenchyma key of a voxel that is not liver parenchyma."""

_CONNECTIVITY_RANK = {6: 1, 18: 2, 26: 3}
_CONTEXT_MM = 10.0


@dataclass(frozen=True)
class Lesion:
    """One tumour component of at least the minimum size.

    Parameters
    ----------
    index : int
        1-based number, in order of decreasing volume.
    voxel_count : int
        Voxels in the component.
    volume_ml : float
        Voxel count x voxel volume, mL.
    centroid_zyx : tuple of float
        Centroid in voxel indices (z, y, x) of the native grid.
    hepatic : bool
        Within the contact tolerance of liver parenchyma.
    distance_to_liver_mm : float or None
        Smallest centre-to-centre distance from a lesion voxel to parenchyma, mm (None:
        no parenchyma within the search margin).
    segment : int or None
        Couinaud segment holding most of the lesion's voxels (0: unsegmented liver label,
        None: extrahepatic).
    segment_volumes_ml : dict of int to float
        Lesion volume located in each segment, mL.
    diameters : AxialDiameters
        Longest axial diameter and perpendicular short axis, mm; ``slice_index`` on the
        native grid.
    measurable : bool
        RECIST 1.1 measurable (longest diameter at least the measurable threshold).
    touches_field_of_view : bool
        The component reaches the edge of the image: its size is a lower bound.
    recist_target_candidate : bool
        One of the (at most two) largest measurable hepatic lesions.
    component_label : int
        Label of the component in :attr:`TumourAnalysis.components` (0: not known, a lesion
        read back from ``result.json``).
    withheld : bool
        A quality gate withholds the tumour: volume, diameters, segment volumes and
        measurability are not reported.
    """

    index: int
    voxel_count: int
    volume_ml: float
    centroid_zyx: tuple[float, float, float]
    hepatic: bool
    distance_to_liver_mm: float | None
    segment: int | None
    segment_volumes_ml: dict[int, float]
    diameters: AxialDiameters
    measurable: bool
    touches_field_of_view: bool
    recist_target_candidate: bool = False
    component_label: int = 0
    withheld: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (schema in ``docs/quantification.md``)."""
        out = {
            "index": self.index,
            "voxel_count": self.voxel_count,
            "volume_ml": self.volume_ml,
            "centroid_voxel_zyx": list(self.centroid_zyx),
            "hepatic": self.hepatic,
            "distance_to_liver_mm": self.distance_to_liver_mm,
            "segment": self.segment,
            "segment_volumes_ml": {str(k): v for k, v in sorted(self.segment_volumes_ml.items())},
            "long_axis_mm": self.diameters.long_axis_mm,
            "short_axis_mm": self.diameters.short_axis_mm,
            "axial_slice_index": self.diameters.slice_index,
            "measurable": self.measurable,
            "touches_field_of_view": self.touches_field_of_view,
            "recist_target_candidate": self.recist_target_candidate,
        }
        if self.withheld:
            out.update(volume_ml=None, long_axis_mm=None, short_axis_mm=None,
                       segment_volumes_ml=None, measurable=None, recist_target_candidate=None)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lesion:
        """Read back :meth:`to_dict` (no component label; figures withheld when null)."""
        withheld = data.get("volume_ml") is None
        centroid = [float(c) for c in data.get("centroid_voxel_zyx") or (0.0, 0.0, 0.0)]
        return cls(
            index=int(data["index"]), voxel_count=int(data.get("voxel_count") or 0),
            volume_ml=float(data.get("volume_ml") or 0.0),
            centroid_zyx=(centroid[0], centroid[1], centroid[2]),
            hepatic=bool(data.get("hepatic", True)),
            distance_to_liver_mm=data.get("distance_to_liver_mm"),
            segment=data.get("segment"),
            segment_volumes_ml={int(k): float(v) for k, v in
                                (data.get("segment_volumes_ml") or {}).items()},
            diameters=AxialDiameters(float(data.get("long_axis_mm") or 0.0),
                                     float(data.get("short_axis_mm") or 0.0),
                                     int(data.get("axial_slice_index") or 0)),
            measurable=bool(data.get("measurable")),
            touches_field_of_view=bool(data.get("touches_field_of_view")),
            recist_target_candidate=bool(data.get("recist_target_candidate")),
            withheld=withheld)


@dataclass(frozen=True)
class TumourAnalysis:
    """Every tumour component, located.

    Parameters
    ----------
    lesions : list of Lesion
        Components of at least the minimum volume, hepatic and extrahepatic.
    hepatic_tumour_voxels_by_key : dict of int to int
        All hepatic tumour voxels (lesions and small fragments) per nearest parenchyma key.
    lesion_voxels_by_key : dict of int to int
        Voxels of hepatic lesions per nearest parenchyma key.
    fragment_ml : float
        Hepatic components below the minimum volume, mL (counted as liver).
    extrahepatic_fragment_ml : float
        Extrahepatic components below the minimum volume, mL (ignored).
    measurable_threshold_mm : float
        Longest-diameter threshold applied for measurability, mm.
    components : ndarray of int32, shape (z, y, x), optional
        Connected components of the tumour mask (0 background) on the window of the image
        grid the analysis ran on; each lesion's ``component_label`` is its value here.
    components_origin : tuple of int
        Index (z, y, x) on the image grid of the window's first voxel.
    grid_shape : tuple of int, optional
        Shape of the image grid (None: the window is the whole grid).
    """

    lesions: list[Lesion]
    hepatic_tumour_voxels_by_key: dict[int, int] = field(default_factory=dict)
    lesion_voxels_by_key: dict[int, int] = field(default_factory=dict)
    fragment_ml: float = 0.0
    extrahepatic_fragment_ml: float = 0.0
    measurable_threshold_mm: float = 10.0
    components: NDArray[np.int32] | None = field(default=None, compare=False, repr=False)
    components_origin: tuple[int, int, int] = (0, 0, 0)
    grid_shape: tuple[int, int, int] | None = None

    def withheld(self) -> TumourAnalysis:
        """The same analysis with every lesion's figures withheld (a quality gate)."""
        return replace(self, lesions=[replace(les, withheld=True) for les in self.lesions])

    def lesion_map(self) -> NDArray[np.unsignedinteger] | None:
        """Each tumour voxel labelled with its lesion's index (0: background or a component
        below the minimum size) on the whole image grid, so that SEG segments and SR lesion
        groups name the same lesion; None without lesions.

        The map has the smallest unsigned type that holds the largest index (uint8 below
        256 lesions: one byte per CT voxel instead of four).
        """
        if self.components is None or not self.lesions:
            return None
        dtype = np.min_scalar_type(max(les.index for les in self.lesions))
        lookup = np.zeros(int(self.components.max()) + 1, dtype)
        for les in self.lesions:
            lookup[les.component_label] = les.index
        window: NDArray[np.unsignedinteger] = lookup[self.components]
        if self.grid_shape is None or self.grid_shape == window.shape:
            return window
        out = np.zeros(self.grid_shape, dtype)
        out[_window(self.components_origin, window.shape)] = window
        return out


def measurable_threshold_mm(base_mm: float, slice_thickness_mm: float) -> float:
    """RECIST 1.1 measurability threshold: ``base``, or twice the slice thickness above 5 mm."""
    return max(base_mm, 2.0 * slice_thickness_mm) if slice_thickness_mm > 5.0 else base_mm


def _touches_edge(box: tuple[slice, ...], shape: Sequence[int]) -> bool:
    return any(s.start == 0 or s.stop == n for s, n in zip(box, shape, strict=True))


def _window(origin: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))


def _padded(window: NDArray[Any], origin: Sequence[int], crop: tuple[slice, ...],
            fill: int | bool) -> NDArray[Any]:
    """``crop`` (image grid indices) of an image whose part at ``origin`` is ``window`` and
    which holds ``fill`` elsewhere."""
    out = np.full(tuple(c.stop - c.start for c in crop), fill, window.dtype)
    inner = tuple(slice(max(c.start, o), min(c.stop, o + n))
                  for c, o, n in zip(crop, origin, window.shape, strict=True))
    out[tuple(slice(i.start - c.start, i.stop - c.start) for i, c in zip(inner, crop,
                                                                          strict=True))] = \
        window[tuple(slice(i.start - o, i.stop - o) for i, o in zip(inner, origin,
                                                                     strict=True))]
    return out


def _grow(box: tuple[slice, ...], shape: Sequence[int], spacing: Sequence[float],
          margin_mm: float) -> tuple[slice, ...]:
    return tuple(slice(max(0, s.start - math.ceil(margin_mm / d)),
                       min(n, s.stop + math.ceil(margin_mm / d)))
                 for s, n, d in zip(box, shape, spacing, strict=True))


def _locate(component: NDArray[np.bool_], keys: NDArray[np.int8],
            spacing: tuple[float, float, float]) -> tuple[float | None, NDArray[np.int8]]:
    """Nearest parenchyma key of every component voxel and the smallest distance (mm)."""
    parenchyma = keys >= 0
    if not parenchyma.any():
        return None, np.full(int(component.sum()), NO_PARENCHYMA, np.int8)
    dist, idx = ndimage.distance_transform_edt(~parenchyma, sampling=spacing,
                                               return_indices=True)
    nearest = keys[idx[0][component], idx[1][component], idx[2][component]]
    return float(dist[component].min()), nearest


def analyse_tumour(tumour: NDArray[np.bool_], parenchyma_keys: NDArray[np.int8],
                   spacing_mm: tuple[float, float, float], *, connectivity: int,
                   min_volume_mm3: float, contact_mm: float, measurable_mm: float,
                   origin: Sequence[int] = (0, 0, 0),
                   grid_shape: Sequence[int] | None = None) -> TumourAnalysis:
    """Split tumour voxels into lesions, locate them in the liver and measure them.

    The arrays may be a window of the image grid (``origin``, ``grid_shape``) that holds
    every tumour and parenchyma voxel, e.g. the bounding box of the labelled voxels: each
    component is then measured on the same crop of the whole grid as without the window
    (the voxels outside it are neither tumour nor parenchyma), so the figures are the same.

    Parameters
    ----------
    tumour : ndarray of bool, shape (z, y, x)
        Voxels labelled as metastasis.
    parenchyma_keys : ndarray of int8, shape (z, y, x)
        Couinaud segment number (1-8) of each parenchyma voxel, 0 for an explicit liver
        label, -1 elsewhere (background, tumour, vessels).
    spacing_mm : tuple of float
        Voxel spacing (z, y, x), mm.
    connectivity : int
        6, 18 or 26.
    min_volume_mm3 : float
        Smallest lesion, mm³.
    contact_mm : float
        Largest distance to parenchyma for a hepatic component, mm (at least one voxel
        diagonal is used).
    measurable_mm : float
        Smallest measurable longest diameter, mm.
    origin : sequence of int
        Index (z, y, x) on the image grid of the arrays' first voxel.
    grid_shape : sequence of int, optional
        Shape (z, y, x) of the image grid; None: the arrays are the whole grid.

    Returns
    -------
    TumourAnalysis
        Lesions with centroids, slice indices and field-of-view contact on the image grid.
    """
    at = (int(origin[0]), int(origin[1]), int(origin[2]))
    grid = tuple(int(n) for n in (grid_shape if grid_shape is not None else tumour.shape))
    structure = ndimage.generate_binary_structure(3, _CONNECTIVITY_RANK[connectivity])
    components, _ = ndimage.label(tumour, structure=structure)
    voxel_mm3 = float(np.prod(spacing_mm))
    tolerance = max(contact_mm, math.sqrt(sum(d * d for d in spacing_mm)))
    boxes = ndimage.find_objects(components)
    hepatic_keys: dict[int, int] = {}
    lesion_keys: dict[int, int] = {}
    fragment_mm3 = 0.0
    extra_fragment_mm3 = 0.0
    found: list[Lesion] = []
    for label, box in enumerate(boxes, start=1):
        if box is None:
            continue
        box = tuple(slice(s.start + o, s.stop + o) for s, o in zip(box, at, strict=True))
        crop = _grow(box, grid, spacing_mm, tolerance + _CONTEXT_MM)
        component = _padded(components, at, crop, 0) == label
        n_vox = int(component.sum())
        distance, nearest = _locate(component, _padded(parenchyma_keys, at, crop, NO_PARENCHYMA),
                                    spacing_mm)
        hepatic = distance is not None and distance <= tolerance
        big = n_vox * voxel_mm3 >= min_volume_mm3
        if hepatic:
            for key, n in zip(*np.unique(nearest, return_counts=True), strict=True):
                hepatic_keys[int(key)] = hepatic_keys.get(int(key), 0) + int(n)
                if big:
                    lesion_keys[int(key)] = lesion_keys.get(int(key), 0) + int(n)
        if not big:
            if hepatic:
                fragment_mm3 += n_vox * voxel_mm3
            else:
                extra_fragment_mm3 += n_vox * voxel_mm3
            continue
        per_segment: dict[int, float] = {}
        if hepatic:
            keys, counts = np.unique(nearest, return_counts=True)
            per_segment = {int(k): int(c) * voxel_mm3 / 1000.0
                           for k, c in zip(keys, counts, strict=True)}
        offset = np.array([s.start for s in crop], float)
        centroid = np.argwhere(component).mean(axis=0) + offset
        diam = axial_diameters(component, spacing_mm)
        diam = AxialDiameters(diam.long_axis_mm, diam.short_axis_mm,
                              diam.slice_index + crop[0].start)
        found.append(Lesion(
            index=0, voxel_count=n_vox, volume_ml=n_vox * voxel_mm3 / 1000.0,
            centroid_zyx=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
            hepatic=hepatic, distance_to_liver_mm=distance,
            segment=max(per_segment, key=lambda k: per_segment[k]) if per_segment else None,
            segment_volumes_ml=per_segment, diameters=diam,
            measurable=diam.long_axis_mm >= measurable_mm,
            touches_field_of_view=_touches_edge(box, grid), component_label=label))
    found.sort(key=lambda les: (-les.voxel_count, les.centroid_zyx))
    targets = sorted((les for les in found if les.hepatic and les.measurable),
                     key=lambda les: -les.diameters.long_axis_mm)[:2]
    target_ids = {id(les) for les in targets}
    lesions = [Lesion(**{**les.__dict__, "index": i,
                         "recist_target_candidate": id(les) in target_ids})
               for i, les in enumerate(found, start=1)]
    return TumourAnalysis(lesions=lesions, hepatic_tumour_voxels_by_key=hepatic_keys,
                          lesion_voxels_by_key=lesion_keys, fragment_ml=fragment_mm3 / 1000.0,
                          extrahepatic_fragment_ml=extra_fragment_mm3 / 1000.0,
                          measurable_threshold_mm=measurable_mm, components=components,
                          components_origin=at,
                          grid_shape=(grid[0], grid[1], grid[2]))
