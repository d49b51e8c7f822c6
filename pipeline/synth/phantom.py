"""Random synthetic patients: :func:`make_phantom` draws the anatomy of :class:`Phantom`.

Every random choice comes from ``numpy.random.default_rng(seed)``, so a seed always gives
the same phantom. The anatomy types and the classification of points live in
:mod:`pipeline.synth.anatomy` (re-exported here).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .anatomy import Body, Lesion, Phantom
from .liver import LiverModel, hepatic_veins_local, portal_veins_local
from .shapes import Ellipsoid, rotation_matrix, tube

__all__ = ["Body", "Lesion", "Phantom", "make_phantom"]


def _lobes(rng: np.random.Generator, right: float, left: float,
           riedel: bool) -> tuple[list[Ellipsoid], list[Ellipsoid]]:
    eye = np.eye(3)
    lobes = [
        Ellipsoid(np.array([-45.0, 8.0, 5.0]), np.array([58.0, 72.0, 72.0]) * right,
                  rotation_matrix(rng.normal(0, 4), rng.normal(0, 4))),
        Ellipsoid(np.array([5.0, 5.0, 18.0]), np.array([42.0, 50.0, 42.0]) * (right + left) / 2,
                  eye),
        Ellipsoid(np.array([40.0, -22.0, 0.0]), np.array([62.0, 40.0, 33.0]) * left,
                  rotation_matrix(rng.normal(-10, 5), rng.normal(8, 4))),
    ]
    if riedel:
        lobes.append(Ellipsoid(np.array([-75.0, 0.0, -70.0]), np.array([30.0, 45.0, 60.0]),
                               rotation_matrix(0.0, -15.0)))
    impressions = [Ellipsoid(np.array([-50.0, 60.0, -95.0]), np.array([45.0, 40.0, 50.0]), eye)]
    return lobes, impressions


def _liver_volume_estimate(model: LiverModel) -> float:
    """Volume of the liver capsule in local units^3 by 4-unit sampling."""
    lo, hi = [], []
    for e in model.lobes:
        a, b = e.bbox
        lo.append(a)
        hi.append(b)
    lo_a, hi_a = np.min(lo, axis=0) - 10, np.max(hi, axis=0) + 10
    step = 4.0
    axes = [np.arange(lo_a[i], hi_a[i], step) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return float((model.implicit_local(grid) < 1.0).sum()) * step ** 3


def _random_hv_angles(rng: np.random.Generator) -> NDArray[np.float64]:
    return np.array([205.0 + rng.normal(0, 6), 255.0 + rng.normal(0, 5),
                     290.0 + rng.normal(0, 5)])


def make_phantom(seed: int, **overrides: Any) -> Phantom:
    """A random synthetic patient.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same phantom.
    **overrides
        Fixed values for random choices: ``liver_volume_ml`` (target capsule volume,
        1000-2500), ``n_lesions`` (0-20), ``lesion_diameters_mm`` (sequence, overrides the
        count), ``right_lobe_factor``/``left_lobe_factor`` (0.7-1.3: atrophy or hypertrophy),
        ``liver_yaw_deg`` (rotation of the liver about z), ``height_m``, ``weight_kg``,
        ``enhancement_scale``, ``gallbladder`` (bool), ``riedel_lobe`` (bool).

    Returns
    -------
    Phantom
        The phantom.
    """
    allowed = {"liver_volume_ml", "n_lesions", "lesion_diameters_mm", "right_lobe_factor",
               "left_lobe_factor", "liver_yaw_deg", "height_m", "weight_kg",
               "enhancement_scale", "gallbladder", "riedel_lobe"}
    unknown = set(overrides) - allowed
    if unknown:
        raise TypeError(f"unknown phantom overrides: {sorted(unknown)}")
    # The capsule is scaled to the target volume, but the parenchyma loses the gallbladder
    # fossa, the body wall and its neighbours: measure once and rescale (same random draws).
    first, _, target_ml = _build(seed, overrides, 1.0)
    actual_ml = _parenchyma_volume_ml(first, step_mm=3.0)
    phantom, rng, _ = _build(seed, overrides, target_ml / max(actual_ml, 1.0))
    diameters = overrides.get("lesion_diameters_mm")
    if diameters is None:
        n = int(overrides.get("n_lesions", 0 if rng.random() < 0.2 else int(rng.integers(1, 21))))
        diameters = np.sort(np.exp(rng.uniform(np.log(3.0), np.log(80.0), n)))[::-1]
    lesions = _place_lesions(phantom, rng, [float(d) for d in diameters])
    return replace(phantom, lesions=lesions)


def _parenchyma_volume_ml(phantom: Phantom, step_mm: float) -> float:
    """Liver parenchyma volume (before vessels) by sampling on a regular grid, mL."""
    lo, hi = phantom.liver.bbox
    axes = [np.arange(lo[a] + step_mm / 2, hi[a], step_mm) for a in range(3)]
    total = 0
    for z in axes[2]:
        xx, yy = np.meshgrid(axes[0], axes[1], indexing="ij")
        pts = np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, z)])
        mask, _ = phantom.liver_mask(pts)
        total += int(mask.sum())
    return total * step_mm ** 3 / 1000.0


def _build(seed: int, overrides: dict[str, Any],
           volume_correction: float) -> tuple[Phantom, np.random.Generator, float]:
    """The phantom without lesions, the generator to continue with, the target volume."""
    rng = np.random.default_rng(seed)

    def pick(name: str, value: Any) -> Any:
        return overrides.get(name, value)

    height = float(pick("height_m", round(rng.uniform(1.55, 1.95), 2)))
    bmi = rng.uniform(18.5, 34.0)
    weight = float(pick("weight_kg", round(bmi * height ** 2, 1)))
    bmi = weight / height ** 2
    enhancement = float(pick("enhancement_scale", rng.uniform(0.8, 1.2)))
    shape_kind = rng.random()
    right = float(pick("right_lobe_factor",
                       rng.uniform(0.72, 0.85) if shape_kind < 0.15 else rng.uniform(0.9, 1.1)))
    left = float(pick("left_lobe_factor",
                      rng.uniform(1.15, 1.35) if shape_kind < 0.15
                      else rng.uniform(0.7, 0.8) if shape_kind > 0.88 else rng.uniform(0.85, 1.15)))
    riedel = bool(pick("riedel_lobe", rng.random() < 0.1))
    target_ml = float(pick("liver_volume_ml", rng.uniform(1000.0, 2500.0)))
    unusual = rng.random() < 0.15
    yaw = float(pick("liver_yaw_deg", rng.normal(0, 20) if unusual else rng.normal(0, 4)))
    pitch, roll = rng.normal(0, 8 if unusual else 3, size=2)

    lobes, impressions = _lobes(rng, right, left, riedel)
    waves = np.column_stack([rng.uniform(0.01, 0.03, 4), rng.normal(0, 0.03, (4, 3)),
                             rng.uniform(0, 2 * np.pi, 4)])
    ivc_uv = np.array([5.0, 40.0])
    hv = _random_hv_angles(rng)
    tilt = rng.normal(0, 0.08, 2)
    normal = np.array([tilt[0], tilt[1], 1.0]) / np.linalg.norm([tilt[0], tilt[1], 1.0])
    caudate = Ellipsoid(np.array([ivc_uv[0] + 12.0, ivc_uv[1] - 20.0, 12.0]),
                        np.array([24.0, 17.0, 36.0]) * (right + left) / 2,
                        rotation_matrix(rng.normal(20, 5)))
    conf_w = float(rng.uniform(45.0, 58.0)) * right
    rot = rotation_matrix(yaw, pitch, roll)
    unit = LiverModel(np.zeros(3), rot, 1.0, lobes, impressions, waves, ivc_uv, hv, normal,
                      caudate, conf_w)
    scale = float((target_ml * volume_correction * 1000.0 / _liver_volume_estimate(unit))
                  ** (1.0 / 3.0))

    # body size: from BMI, but always wide enough for the liver
    ax = 135.0 + 4.0 * (bmi - 18.5) + rng.normal(0, 6)
    fat = 6.0 + 1.6 * (bmi - 18.5)
    muscle = float(rng.uniform(8.0, 13.0))
    right_extent = (45.0 + 58.0 * right) * scale + 30.0
    ax = max(ax, right_extent + fat + muscle + 12.0)
    ay = ax * rng.uniform(0.68, 0.78)
    spine_y = ay - fat - 62.0
    ivc_xy = np.array([-22.0, spine_y - 30.0])

    # place the liver so that its IVC groove holds the IVC
    local_ivc = np.array([ivc_uv[0], ivc_uv[1], 0.0])
    origin = np.array([ivc_xy[0], ivc_xy[1], 0.0]) - scale * (rot @ local_ivc)
    origin[2] = 0.0
    liver = LiverModel(origin, rot, scale, lobes, impressions, waves, ivc_uv, hv, normal,
                       caudate, conf_w)
    lbox = liver.bbox
    liver_top = float(liver.to_patient(np.array([[-45.0, 8.0, 5.0 + 72.0 * right]]))[0, 2])
    liver_bottom = float(lbox[0][2])
    dome_r = liver_top + 2.0
    dome_l = dome_r - rng.uniform(5.0, 20.0)
    z_range = (liver_bottom - rng.uniform(60.0, 100.0), dome_r + rng.uniform(30.0, 50.0))
    body = Body((float(ax), float(ay)), float(fat), muscle, float(spine_y),
                (float(z_range[0]), float(z_range[1])), (float(dome_r), float(dome_l)),
                float(liver_bottom + 40.0))

    # vessels
    hv_caps = liver.capsules_to_patient(hepatic_veins_local(liver, rng))
    pv_local = portal_veins_local(liver, (right, left))
    bif = liver.origin_mm
    confluence = np.array([ivc_xy[0] + 32.0, ivc_xy[1] - 22.0, bif[2] - 55.0 * scale])
    trunk = tube(np.stack([confluence, (confluence + bif) / 2 + np.array([0, -4.0, 0]), bif]),
                 np.array([7.0, 7.0, 6.5]))
    pv_caps = trunk + liver.capsules_to_patient(pv_local)
    heart_z = dome_l + 45.0
    ivc_path = np.stack([
        np.array([ivc_xy[0], ivc_xy[1], z_range[0] - 20.0]),
        np.array([ivc_xy[0], ivc_xy[1], bif[2] - 60.0]),
        liver.ivc_axis_point(-30.0),
        liver.ivc_axis_point(conf_w + 15.0),
        np.array([ivc_xy[0] + 15.0, ivc_xy[1] - 25.0, heart_z - 10.0]),
    ])
    ivc_r = rng.uniform(9.5, 12.5)
    ivc_caps = tube(ivc_path, np.full(5, ivc_r))
    aorta_r = rng.uniform(9.0, 12.5)
    aorta_xy = np.array([16.0, spine_y - 32.0])
    aorta_caps = tube(np.stack([
        np.array([aorta_xy[0], aorta_xy[1], z_range[0] - 20.0]),
        np.array([aorta_xy[0] - 2.0, aorta_xy[1], z_range[1] + 20.0])]),
        np.full(2, aorta_r))

    spleen_c = np.array([ax * 0.58, spine_y + 2.0, 10.0 * rng.uniform(0.5, 1.5)])
    spleen = Ellipsoid(spleen_c, np.array([28.0, 55.0, 50.0]) * rng.uniform(0.85, 1.2),
                       rotation_matrix(35.0 + rng.normal(0, 5), 0.0, 10.0))
    hilum = spleen_c + np.array([-25.0, -15.0, -5.0])
    splanchnic = tube(np.stack([confluence, confluence + np.array([30.0, 25.0, 10.0]), hilum]),
                      np.array([5.0, 5.0, 4.5]))
    splanchnic += tube(np.stack([confluence, confluence + np.array([6.0, -8.0, -80.0]),
                                 np.array([confluence[0] + 10, confluence[1] - 15,
                                           z_range[0] - 10.0])]),
                       np.array([6.0, 5.5, 5.0]))
    organs: dict[str, Any] = {"spleen": spleen}
    organs["pancreas"] = tube(np.stack([
        hilum + np.array([-5.0, -5.0, 0.0]), confluence + np.array([20.0, -12.0, 5.0]),
        confluence + np.array([-10.0, -14.0, -5.0]), confluence + np.array([-35.0, -5.0, -25.0])]),
        np.array([9.0, 11.0, 13.0, 15.0]))
    for side, sign, dz in (("kidney_right", -1.0, -12.0), ("kidney_left", 1.0, 0.0)):
        c = np.array([sign * 75.0, spine_y + 8.0, liver_bottom + 25.0 + dz])
        rot_k = rotation_matrix(sign * -25.0, sign * 12.0, 0.0)
        semi = np.array([27.0, 24.0, 55.0]) * rng.uniform(0.9, 1.1)
        organs[side] = Ellipsoid(c, semi, rot_k)
        organs[side + "_medulla"] = Ellipsoid(c + rot_k @ np.array([-sign * 4.0, 0, 0]),
                                              semi - np.array([10.0, 9.0, 14.0]), rot_k)
    st_c = np.array([60.0, -20.0 + rng.normal(0, 8), 25.0 + rng.normal(0, 10)])
    st_semi = np.array([45.0, 33.0, 60.0]) * rng.uniform(0.8, 1.2)
    st_rot = rotation_matrix(-30.0, 20.0)
    organs["stomach"] = Ellipsoid(st_c, st_semi, st_rot)
    organs["stomach_lumen"] = Ellipsoid(st_c, st_semi - 4.0, st_rot)
    organs["stomach_air_y"] = float(st_c[1] - st_semi[1] * rng.uniform(0.2, 0.7))
    organs["heart"] = Ellipsoid(np.array([25.0, -15.0, heart_z + 40.0]),
                                np.array([60.0, 50.0, 55.0]), rotation_matrix(30.0))
    organs["heart_blood"] = Ellipsoid(np.array([25.0, -15.0, heart_z + 40.0]),
                                      np.array([49.0, 39.0, 44.0]), rotation_matrix(30.0))
    if pick("gallbladder", rng.random() < 0.85):
        gb_c = liver.to_patient(np.array([[-22.0 * right, -42.0, -48.0]]))[0]
        gb_semi = np.array([15.0, 14.0, 35.0]) * rng.uniform(0.7, 1.1)
        organs["gallbladder"] = Ellipsoid(gb_c, gb_semi, rot @ rotation_matrix(0.0, 0.0, 35.0))
    bowel, gas = [], []
    for _ in range(8):
        a = np.array([rng.uniform(-0.6, 0.6) * ax, rng.uniform(-0.7, 0.1) * ay,
                      rng.uniform(z_range[0], liver_bottom + 10.0)])
        b = a + rng.normal(0, 35, 3)
        r = rng.uniform(10.0, 18.0)
        bowel += tube(np.stack([a, b]), np.array([r, r]))
        if rng.random() < 0.4:
            gas += tube(np.stack([a, b]) + np.array([0.0, -r * 0.5, 0.0]),
                        np.array([r * 0.5, r * 0.5]))
    organs["bowel"] = bowel
    organs["bowel_gas"] = gas

    phantom = Phantom(seed, height, weight, enhancement, body, liver, pv_caps, len(trunk),
                      hv_caps, ivc_caps, aorta_caps, splanchnic, [], organs)
    return phantom, rng, target_ml


def _place_lesions(phantom: Phantom, rng: np.random.Generator,
                   diameters: list[float]) -> list[Lesion]:
    """Lesions wholly inside the liver parenchyma, not overlapping each other."""
    lo, hi = phantom.liver.bbox
    candidates = rng.uniform(lo, hi, size=(20000, 3))
    inside, _ = phantom.liver_mask(candidates)
    pool = candidates[inside]
    sphere = rng.normal(size=(64, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    placed: list[Lesion] = []
    for d in diameters:
        for attempt in range(60):
            size = d * (0.97 ** attempt)
            c = pool[int(rng.integers(len(pool)))]
            elong = rng.uniform(0.85, 1.15, 3)
            semi = size / 2 * elong / np.prod(elong) ** (1 / 3)
            rot = rotation_matrix(*rng.uniform(0, 180, 3))
            surface = c + (sphere * (semi + 1.0)) @ rot.T
            ok, _ = phantom.liver_mask(surface)
            if not ok.all():
                continue
            if any(np.linalg.norm(c - other.solid.centre) < (size + other.diameter_mm) / 2 + 2.0
                   for other in placed):
                continue
            rim = float(rng.uniform(2.0, 4.0)) if size > 10 and rng.random() < 0.45 else 0.0
            seg = int(phantom.liver.segment(c[None, :])[0])
            placed.append(Lesion(Ellipsoid(c, semi, rot), float(size), rim,
                                 float(rng.normal(0, 12)), seg))
            break
    return placed
