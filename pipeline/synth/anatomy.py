"""The anatomy of one synthetic patient as analytic solids, in patient coordinates (LPS, mm).

Axes: x towards the patient's left, y posterior, z superior. The portal vein bifurcation
lies near z = 0. :func:`pipeline.synth.phantom.make_phantom` builds a random one.

:meth:`Phantom.classify` is the single definition of what is where: it gives every point
its tissue (for HU) and its ground-truth label (``pipeline.structures.DEMO_LABELS``). Later
solids in its painting order win over earlier ones; labels follow the priority
vessel (IVC > hepatic vein > portal vein) > metastasis > Couinaud segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .liver import LiverModel
from .shapes import (
    BoolArray,
    Capsule,
    Ellipsoid,
    FloatArray,
    boxes_overlap,
    inside_bbox,
    mask_of,
    points_box,
)
from .tissue import LESION_BASE, Tissue

LABEL_METASTASIS = 9
LABEL_PORTAL_VEIN = 10
LABEL_HEPATIC_VEIN = 11
LABEL_IVC = 12

Box = tuple[FloatArray, FloatArray]


@dataclass(frozen=True)
class Lesion:
    """One liver metastasis.

    Parameters
    ----------
    solid : Ellipsoid
        Its extent (patient mm).
    diameter_mm : float
        Equivalent-sphere diameter of the solid, mm.
    rim_mm : float
        Thickness of the enhancing rim in mm (0: no rim enhancement).
    core_offset_hu : float
        Density offset of this lesion's core from the nominal metastasis HU.
    segment : int
        Couinaud segment (1..8) at its centre.
    """

    solid: Ellipsoid
    diameter_mm: float
    rim_mm: float
    core_offset_hu: float
    segment: int


@dataclass(frozen=True)
class Body:
    """Body outline and the fixed musculoskeletal anatomy.

    Parameters
    ----------
    semi_axes_mm : tuple of float
        Half width (x) and half depth (y) of the skin outline, mm.
    fat_mm, muscle_mm : float
        Subcutaneous fat and abdominal wall muscle thickness, mm.
    spine_y_mm : float
        y of the vertebral body centres, mm.
    z_range_mm : tuple of float
        Inferior and superior ends of the modelled anatomy (the usual scan range), mm.
    dome_z_mm : tuple of float
        Height of the right and left diaphragm domes, mm.
    rib_min_z_mm : float
        Lowest rib height (laterally), mm.
    """

    semi_axes_mm: tuple[float, float]
    fat_mm: float
    muscle_mm: float
    spine_y_mm: float
    z_range_mm: tuple[float, float]
    dome_z_mm: tuple[float, float]
    rib_min_z_mm: float


@dataclass(frozen=True)
class Phantom:
    """A synthetic patient: anatomy as analytic solids, demographics, contrast behaviour.

    Parameters
    ----------
    seed : int
        The seed it was made from.
    height_m, weight_kg : float
        Patient height (m) and weight (kg) (DICOM PatientSize, PatientWeight).
    enhancement_scale : float
        This patient's contrast enhancement relative to the nominal tables.
    body : Body
        Outline and skeleton.
    liver : LiverModel
        Liver shape and segment geometry.
    portal_veins, hepatic_veins, ivc, aorta, splanchnic_veins : list of Capsule
        Vessel trees (patient mm). Intrahepatic portal branches and hepatic veins are
        clipped to the liver capsule; the first ``portal_trunk_count`` portal capsules
        (the extrahepatic trunk) are not.
    lesions : list of Lesion
        Metastases (inside the liver).
    organs : dict
        Other organs by name (Ellipsoid or list of Capsule).
    """

    seed: int
    height_m: float
    weight_kg: float
    enhancement_scale: float
    body: Body
    liver: LiverModel
    portal_veins: list[Capsule]
    portal_trunk_count: int
    hepatic_veins: list[Capsule]
    ivc: list[Capsule]
    aorta: list[Capsule]
    splanchnic_veins: list[Capsule]
    lesions: list[Lesion]
    organs: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- geometry
    @property
    def liver_bbox(self) -> Box:
        """Patient bounding box of the liver and its vessels (mm)."""
        return self.liver.bbox

    def field_of_view(self, margin_mm: float = 15.0) -> Box:
        """Patient box (mm) covering the body outline over the modelled z range."""
        ax, ay = self.body.semi_axes_mm
        z0, z1 = self.body.z_range_mm
        return (np.array([-ax - margin_mm, -ay - margin_mm, z0]),
                np.array([ax + margin_mm, ay + margin_mm, z1]))

    # ------------------------------------------------------------- classification
    def classify(self, points: FloatArray, with_tissue: bool = True
                 ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """Tissue and ground-truth label of every point.

        Parameters
        ----------
        points : ndarray, shape (n, 3)
            Patient coordinates (x, y, z) in mm.
        with_tissue : bool
            False: skip the tissues that never carry a label (body, skeleton, other
            organs); their points get tissue 0. Labels and lesion tissues are unchanged.

        Returns
        -------
        tissue : ndarray of uint8, shape (n,)
            :class:`~pipeline.synth.tissue.Tissue` value, or ``LESION_BASE + 2 i`` (core)
            / ``+ 1`` (rim) inside lesion ``i``.
        label : ndarray of uint8, shape (n,)
            DEMO_LABELS value (0 outside the labelled structures).
        """
        n = len(points)
        tissue = np.zeros(n, dtype=np.uint8)
        label = np.zeros(n, dtype=np.uint8)
        if n == 0:
            return tissue, label
        box = points_box(points)
        if with_tissue:
            self._paint_body(points, tissue)
            self._paint_organs(points, box, tissue)
        if boxes_overlap(box, self.liver.bbox):
            sel = inside_bbox(points, self.liver.bbox)
            if sel.size:
                sub_t, sub_l = tissue[sel], label[sel]
                self._paint_liver(points[sel], sub_t, sub_l)
                tissue[sel], label[sel] = sub_t, sub_l
        for cap in self.portal_veins[:self.portal_trunk_count]:
            m = mask_of(cap, points, box)
            tissue[m] = Tissue.PORTAL_VEIN
            label[m] = LABEL_PORTAL_VEIN
        for cap in self.ivc:
            m = mask_of(cap, points, box)
            tissue[m] = Tissue.IVC
            label[m] = LABEL_IVC
        return tissue, label

    def _paint_body(self, p: FloatArray, tissue: NDArray[np.uint8]) -> None:
        b = self.body
        ax, ay = b.semi_axes_mm
        x, y = p[:, 0], p[:, 1]
        x2, y2 = x * x, y * y

        def inside(shrink: float) -> BoolArray:
            return np.asarray(x2 / (ax - shrink) ** 2 + y2 / (ay - shrink) ** 2 <= 1.0)

        tissue[inside(0.0)] = Tissue.FAT
        tissue[inside(b.fat_mm)] = Tissue.MUSCLE
        wall = b.fat_mm + b.muscle_mm
        cavity = inside(wall)
        tissue[cavity] = Tissue.FAT
        zr, zl = b.dome_z_mm
        sel = np.flatnonzero(cavity & (p[:, 2] > min(zr, zl) - 0.01 * ax * ax - 0.02 * ay * ay))
        if sel.size:
            self._paint_lungs(p[sel], sel, tissue)
        sy = b.spine_y_mm
        sel = np.flatnonzero((np.abs(x) < 70.0) & (y > sy - 30.0))
        if sel.size:
            self._paint_spine(p[sel], sel, tissue)
        # ribs: sloping bands just inside the muscle wall
        mid = b.fat_mm + b.muscle_mm * 0.5
        ri2 = x2 / (ax - mid) ** 2 + y2 / (ay - mid) ** 2
        sel = np.flatnonzero((ri2 > 0.925 ** 2) & (ri2 < 1.015 ** 2)
                             & (p[:, 2] > b.rib_min_z_mm - 0.25 * ax))
        if sel.size:
            q = p[sel]
            ri = np.sqrt(ri2[sel])
            xs, ys, zs = q[:, 0], q[:, 1], q[:, 2]
            phase = np.mod(zs + 0.3 * ys, 28.0)
            lateral = ((np.abs(xs) > 45.0) | (ys > 30.0)) & ~((np.abs(xs) < 35.0) & (ys > 0.0))
            ribs = (np.abs(phase - 14.0) < 5.0) & lateral
            ribs &= zs > b.rib_min_z_mm - 0.25 * np.abs(xs)
            ribs &= np.abs(ri - 0.97) < 0.045
            tissue[sel[ribs]] = Tissue.BONE_CORTEX
            marrow = ribs & (np.abs(phase - 14.0) < 2.5) & (np.abs(ri - 0.97) < 0.02)
            tissue[sel[marrow]] = Tissue.BONE_MARROW

    def _paint_lungs(self, p: FloatArray, sel: NDArray[np.intp],
                     tissue: NDArray[np.uint8]) -> None:
        b = self.body
        ax, ay = b.semi_axes_mm
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        zr, zl = b.dome_z_mm
        dome = np.where(x < 0, zr - 0.006 * (x + 0.45 * ax) ** 2,
                        zl - 0.006 * (x - 0.45 * ax) ** 2) - 0.004 * (y + 0.2 * ay) ** 2
        mediastinum = (np.abs(x - 8.0) < 38.0) & (y < b.spine_y_mm + 5.0)
        tissue[sel[(z > dome) & ~mediastinum]] = Tissue.LUNG

    def _paint_spine(self, p: FloatArray, sel: NDArray[np.intp],
                     tissue: NDArray[np.uint8]) -> None:
        sy = self.body.spine_y_mm
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        sub = tissue[sel]
        para = ((np.abs(x) - 38.0) / 24.0) ** 2 + ((y - sy - 45.0) / 22.0) ** 2 <= 1.0
        sub[para] = Tissue.MUSCLE
        psoas_r = np.clip(8.0 + (-40.0 - z) * 0.15, 0.0, 26.0)
        psoas = (((np.abs(x) - 42.0) ** 2 + (y - sy + 2.0) ** 2) <= psoas_r ** 2) & (z < -40.0)
        sub[psoas] = Tissue.MUSCLE
        r2 = x ** 2 + (y - sy) ** 2
        level = np.mod(z, 33.0)
        body_r = 19.0 + 0.02 * (-z).clip(0.0)
        vb = r2 <= body_r ** 2
        sub[vb] = Tissue.BONE_CORTEX
        sub[vb & (r2 <= (body_r - 2.5) ** 2)] = Tissue.BONE_MARROW
        sub[vb & (level > 27.0)] = Tissue.DISC
        canal_r2 = x ** 2 + (y - sy - body_r - 10.0) ** 2
        arch = (canal_r2 <= 16.0 ** 2) | ((np.abs(x) < 5.0) & (y > sy + body_r + 10.0)
                                          & (y < sy + body_r + 42.0))
        sub[arch & (level < 26.0)] = Tissue.BONE_CORTEX
        sub[canal_r2 <= 9.0 ** 2] = Tissue.SPINAL_CANAL
        tissue[sel] = sub

    def _paint_organs(self, p: FloatArray, box: Box, tissue: NDArray[np.uint8]) -> None:
        o = self.organs

        def paint(solid: Ellipsoid | Capsule, value: Tissue) -> None:
            tissue[mask_of(solid, p, box)] = value

        for cap in o["bowel"]:
            paint(cap, Tissue.BOWEL_FLUID)
        for cap in o["bowel_gas"]:
            paint(cap, Tissue.BOWEL_GAS)
        paint(o["stomach"], Tissue.STOMACH_WALL)
        lumen: Ellipsoid = o["stomach_lumen"]
        if boxes_overlap(box, lumen.bbox):
            m = mask_of(lumen, p, box)
            tissue[m] = Tissue.STOMACH_FLUID
            tissue[m & (p[:, 1] < o["stomach_air_y"])] = Tissue.BOWEL_GAS
        for cap in o["pancreas"]:
            paint(cap, Tissue.PANCREAS)
        paint(o["spleen"], Tissue.SPLEEN)
        for side in ("kidney_right", "kidney_left"):
            paint(o[side], Tissue.KIDNEY_CORTEX)
            paint(o[side + "_medulla"], Tissue.KIDNEY_MEDULLA)
        paint(o["heart"], Tissue.HEART_WALL)
        paint(o["heart_blood"], Tissue.HEART_BLOOD)
        for cap in self.splanchnic_veins:
            paint(cap, Tissue.SPLANCHNIC_VEIN)
        for cap in self.aorta:
            paint(cap, Tissue.AORTA)

    def liver_mask(self, points: FloatArray) -> tuple[BoolArray, FloatArray]:
        """Liver parenchyma before vessels and lesions: the capsule minus solids it yields to.

        Parameters
        ----------
        points : ndarray, shape (n, 3)
            Patient coordinates in mm.

        Returns
        -------
        mask : ndarray of bool
            Inside the liver parenchyma.
        f : ndarray of float
            The liver shape function (< 1 inside the capsule).
        """
        box = points_box(points)
        f = self.liver.implicit(points)
        mask = f < 1.0
        b = self.body
        ax, ay = b.semi_axes_mm
        shrink = b.fat_mm + b.muscle_mm + 2.0
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        mask &= (x / (ax - shrink)) ** 2 + (y / (ay - shrink)) ** 2 <= 1.0
        mask &= x ** 2 + (y - b.spine_y_mm) ** 2 > 24.0 ** 2
        zr, zl = b.dome_z_mm
        mask &= z < np.where(x < 0, zr, zl) + 2.0
        for name in ("kidney_right", "kidney_left", "heart", "gallbladder"):
            solid = self.organs.get(name)
            if solid is not None:
                mask &= ~mask_of(solid, points, box)
        for cap in self.aorta:
            mask &= ~mask_of(cap, points, box)
        return mask, f

    def _paint_liver(self, p: FloatArray, tissue: NDArray[np.uint8],
                     label: NDArray[np.uint8]) -> None:
        mask, f = self.liver_mask(p)
        box = points_box(p)
        tissue[mask] = Tissue.LIVER
        label[mask] = self.liver.segment(p[mask])
        gb = self.organs.get("gallbladder")
        if gb is not None:
            tissue[mask_of(gb, p, box)] = Tissue.GALLBLADDER
        for i, les in enumerate(self.lesions):
            if not boxes_overlap(box, les.solid.bbox):
                continue
            sel = inside_bbox(p, les.solid.bbox)
            if not sel.size:
                continue
            r2 = les.solid.radius2(p[sel])
            m = (r2 <= 1.0) & mask[sel]
            tissue[sel[m]] = LESION_BASE + 2 * i
            if les.rim_mm > 0:
                inner = max(0.0, 1.0 - les.rim_mm / (les.diameter_mm / 2.0))
                tissue[sel[m & (r2 > inner ** 2)]] = LESION_BASE + 2 * i + 1
            label[sel[m]] = LABEL_METASTASIS
        capsule = f < 1.0
        for cap in self.portal_veins[self.portal_trunk_count:]:
            m = mask_of(cap, p, box) & capsule
            tissue[m] = Tissue.PORTAL_VEIN
            label[m] = LABEL_PORTAL_VEIN
        for cap in self.hepatic_veins:
            m = mask_of(cap, p, box) & capsule
            tissue[m] = Tissue.HEPATIC_VEIN
            label[m] = LABEL_HEPATIC_VEIN
