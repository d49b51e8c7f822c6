"""The liver of the phantom: shape, Couinaud segments defined from its vessels, vessel trees.

The liver is modelled in a local frame (u, v, w) = (left, posterior, superior) in mm with its
origin at the portal vein bifurcation; a similarity transform (rotation, uniform scale,
translation) places it in the patient. Segments follow Couinaud's scheme as radiologists
draw it on CT:

- vertical planes through the IVC axis and each hepatic vein: the right hepatic vein (RHV)
  separates the posterior (S6/S7) from the anterior (S5/S8) right sector, the middle hepatic
  vein (MHV) the right liver from S4, the left hepatic vein (LHV) S4 from the lateral left
  segments (S2/S3);
- the plane through the portal bifurcation (normal = local w, optionally tilted) separates the
  superior (S2, S7, S8, S4a) from the inferior (S3, S6, S5, S4b) segments;
- the caudate lobe (S1) is the liver within an ellipsoid around the IVC between the IVC and
  the portal bifurcation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .shapes import Capsule, Ellipsoid, FloatArray, tube

_SMOOTH_K = 0.1
"""Smooth-union sharpness of the lobe ellipsoids (in normalised radius units)."""


@dataclass(frozen=True)
class LiverModel:
    """A liver in its local frame and its placement in the patient.

    Parameters
    ----------
    origin_mm : ndarray, shape (3,)
        Patient position (x, y, z) of the portal bifurcation, mm.
    rotation : ndarray, shape (3, 3)
        Columns are the local axes (u, v, w) in patient coordinates.
    scale : float
        Uniform scale from local units to mm.
    lobes : list of Ellipsoid
        Lobe ellipsoids in local units, smoothly united.
    impressions : list of Ellipsoid
        Ellipsoids (local units) carved out of the lobes (renal impression).
    waves : ndarray, shape (k, 5)
        Low-frequency surface deformation: amplitude, wave vector (3), phase.
    ivc_uv : ndarray, shape (2,)
        (u, v) of the IVC axis in local units (the IVC is vertical in the local frame).
    hv_angles_deg : ndarray, shape (3,)
        Axial angle, from the IVC axis, of the right, middle and left hepatic veins,
        measured as atan2(v, u) in [90, 450) degrees.
    portal_plane_normal : ndarray, shape (3,)
        Unit normal (local) of the portal plane through the bifurcation (origin).
    caudate : Ellipsoid
        Region (local units) whose liver is segment 1.
    """

    origin_mm: FloatArray
    rotation: FloatArray
    scale: float
    lobes: list[Ellipsoid]
    impressions: list[Ellipsoid]
    waves: FloatArray
    ivc_uv: FloatArray
    hv_angles_deg: FloatArray
    portal_plane_normal: FloatArray
    caudate: Ellipsoid
    hv_confluence_w: float
    _bbox: tuple[FloatArray, FloatArray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # tight box: sample the shape function on a 5-unit lattice over the lobes' boxes
        lo = np.min([e.bbox[0] for e in self.lobes], axis=0) * 1.3
        hi = np.max([e.bbox[1] for e in self.lobes], axis=0) * 1.3
        step = 5.0
        axes = [np.arange(lo[a], hi[a] + step, step) for a in range(3)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        inside = grid[self.implicit_local(grid) < 1.0]
        qlo, qhi = inside.min(axis=0) - 2 * step, inside.max(axis=0) + 2 * step
        corners = np.array([[x, y, z] for x in (qlo[0], qhi[0]) for y in (qlo[1], qhi[1])
                            for z in (qlo[2], qhi[2])])
        pts = self.to_patient(corners)
        object.__setattr__(self, "_bbox", (pts.min(axis=0), pts.max(axis=0)))

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        """Patient bounding box (min xyz, max xyz) of the liver, mm."""
        return self._bbox

    def to_local(self, points: FloatArray) -> FloatArray:
        """Patient points (n, 3) in mm to local units."""
        return np.asarray((points - self.origin_mm) @ self.rotation / self.scale)

    def to_patient(self, local: FloatArray) -> FloatArray:
        """Local points (n, 3) to patient mm."""
        return np.asarray(local * self.scale @ self.rotation.T + self.origin_mm)

    def implicit_local(self, q: FloatArray) -> FloatArray:
        """Shape function of local points: < 1 inside the liver capsule."""
        g = [np.sqrt(e.radius2(q)) for e in self.lobes]
        gmin = np.minimum.reduce(g)
        f = gmin - _SMOOTH_K * np.log(np.add.reduce([np.exp((gmin - gi) / _SMOOTH_K) for gi in g]))
        for imp in self.impressions:
            f = np.maximum(f, 2.0 - np.sqrt(imp.radius2(q)))
        wobble = np.ones(len(q))
        for amp, kx, ky, kz, ph in self.waves:
            wobble += amp * np.sin(q @ np.array([kx, ky, kz]) + ph)
        return np.asarray(f * wobble)

    def implicit(self, points: FloatArray) -> FloatArray:
        """Shape function of patient points (n, 3) in mm: < 1 inside the liver capsule."""
        return self.implicit_local(self.to_local(points))

    def segment_local(self, q: FloatArray) -> NDArray[np.uint8]:
        """Couinaud segment (1..8) of local points, wherever they are."""
        rel = q[:, :2] - self.ivc_uv
        ang = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]))
        ang = np.where(ang < 90.0, ang + 360.0, ang)
        rhv, mhv, lhv = self.hv_angles_deg
        up = q @ self.portal_plane_normal > 0.0
        seg = np.where(ang < rhv, np.where(up, 7, 6),
                       np.where(ang < mhv, np.where(up, 8, 5),
                                np.where(ang < lhv, 4, np.where(up, 2, 3))))
        seg = np.where(self.caudate.contains(q), 1, seg)
        return np.asarray(seg, dtype=np.uint8)

    def segment(self, points: FloatArray) -> NDArray[np.uint8]:
        """Couinaud segment (1..8) of patient points (n, 3) in mm."""
        return self.segment_local(self.to_local(points))

    def capsules_to_patient(self, local_caps: list[Capsule]) -> list[Capsule]:
        """Capsules from local units to patient mm."""
        out = []
        for c in local_caps:
            ends = self.to_patient(np.stack([c.start, c.end]))
            out.append(Capsule(ends[0], ends[1], c.radius_start * self.scale,
                               c.radius_end * self.scale))
        return out

    def ivc_axis_point(self, w: float) -> FloatArray:
        """Patient position of the IVC axis at local height ``w``."""
        return self.to_patient(np.array([[self.ivc_uv[0], self.ivc_uv[1], w]]))[0]


def _direction(angle_deg: float, slope: float = 0.0) -> FloatArray:
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a), slope])


def hepatic_veins_local(model: LiverModel, rng: np.random.Generator) -> list[Capsule]:
    """The three hepatic veins, each in its own plane, draining into the IVC (local units)."""
    conf = np.array([model.ivc_uv[0], model.ivc_uv[1], model.hv_confluence_w])
    caps: list[Capsule] = []
    for angle, length in zip(model.hv_angles_deg, (95.0, 100.0, 80.0), strict=True):
        d = _direction(float(angle), slope=-rng.uniform(0.35, 0.7))
        d /= np.linalg.norm(d)
        mid = conf + d * length * 0.5
        end = conf + d * length
        caps += tube(np.stack([conf, mid, end]), np.array([6.5, 4.5, 2.5]))
        # one tributary per vein, in the same plane, running more steeply downwards
        d2 = _direction(float(angle), slope=-rng.uniform(1.2, 1.8))
        d2 /= np.linalg.norm(d2)
        caps += tube(np.stack([mid, mid + d2 * length * 0.4]), np.array([3.0, 2.0]))
    return caps


def portal_veins_local(model: LiverModel, lobe_factors: tuple[float, float]) -> list[Capsule]:
    """Intrahepatic portal branches from the bifurcation into every segment (local units).

    Parameters
    ----------
    model : LiverModel
        The liver (its hepatic vein angles place the segmental branches mid-sector).
    lobe_factors : tuple of float
        Size factors of the right and left lobes (branch lengths follow them).
    """
    ivc = np.array([model.ivc_uv[0], model.ivc_uv[1], 0.0])
    rhv, mhv, lhv = model.hv_angles_deg
    fr, fl = lobe_factors

    def at(angle: float, radius: float, w: float) -> FloatArray:
        return ivc + np.array([np.cos(np.deg2rad(angle)) * radius,
                               np.sin(np.deg2rad(angle)) * radius, w])

    origin = np.zeros(3)
    caps: list[Capsule] = []
    right = origin + np.array([-22.0 * fr, 6.0, 0.0])
    caps += tube(np.stack([origin, right]), np.array([6.0, 5.5]))
    ant = at((rhv + mhv) / 2, 55 * fr, 0.0)
    caps += tube(np.stack([right, ant]), np.array([4.5, 4.0]))
    caps += tube(np.stack([ant, at((rhv + mhv) / 2, 75 * fr, 35.0)]), np.array([3.5, 2.0]))
    caps += tube(np.stack([ant, at((rhv + mhv) / 2, 80 * fr, -35.0)]), np.array([3.5, 2.0]))
    post = at((150 + rhv) / 2, 55 * fr, 0.0)
    caps += tube(np.stack([right, post]), np.array([4.5, 4.0]))
    caps += tube(np.stack([post, at((120 + rhv) / 2, 85 * fr, 35.0)]), np.array([3.5, 2.0]))
    caps += tube(np.stack([post, at((130 + rhv) / 2, 85 * fr, -35.0)]), np.array([3.5, 2.0]))
    left = origin + np.array([22.0 * fl, -6.0, 0.0])
    caps += tube(np.stack([origin, left]), np.array([5.5, 5.0]))
    umbilical = at(lhv - 4.0, 60 * fl, 0.0)
    caps += tube(np.stack([left, umbilical]), np.array([5.0, 4.5]))
    caps += tube(np.stack([umbilical, at(lhv + 35.0, 100 * fl, 20.0)]), np.array([3.5, 2.0]))
    caps += tube(np.stack([umbilical, at(lhv + 15.0, 95 * fl, -20.0)]), np.array([3.5, 2.0]))
    caps += tube(np.stack([umbilical, at((mhv + lhv) / 2, 75 * fl, 15.0)]), np.array([3.0, 2.0]))
    caps += tube(np.stack([umbilical, at((mhv + lhv) / 2, 80 * fl, -20.0)]), np.array([3.0, 2.0]))
    return caps
