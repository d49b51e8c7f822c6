"""The random anatomy: determinism, liver size, Couinaud segments defined by the vessels."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synth.phantom import Phantom, _parenchyma_volume_ml, make_phantom
from pipeline.synth.shapes import Ellipsoid, rotation_matrix


def test_same_seed_same_phantom_other_seed_other_phantom() -> None:
    a, b, c = make_phantom(11), make_phantom(11), make_phantom(12)
    assert np.array_equal(a.liver.origin_mm, b.liver.origin_mm)
    assert [les.solid.centre.tolist() for les in a.lesions] == [
        les.solid.centre.tolist() for les in b.lesions]
    assert a.liver.scale != c.liver.scale


@pytest.mark.parametrize("seed", [0, 1, 5, 9])
def test_liver_volume_in_the_adult_range(seed: int) -> None:
    volume = _parenchyma_volume_ml(make_phantom(seed), step_mm=4.0)
    assert 950.0 < volume < 2600.0


def test_requested_liver_volume_is_met() -> None:
    phantom = make_phantom(3, liver_volume_ml=1800.0)
    assert _parenchyma_volume_ml(phantom, step_mm=3.0) == pytest.approx(1800.0, rel=0.03)


def test_lesion_overrides_and_unknown_override() -> None:
    phantom = make_phantom(4, lesion_diameters_mm=[30.0, 8.0])
    assert [round(les.diameter_mm) for les in phantom.lesions] == [30, 8]
    inside, _ = phantom.liver_mask(np.array([les.solid.centre for les in phantom.lesions]))
    assert inside.all()
    with pytest.raises(TypeError, match="unknown phantom overrides"):
        make_phantom(4, spleen_size=3)


def _sector_points(phantom: Phantom, angle_deg: float, w: float) -> np.ndarray:
    """Local points 45 units from the IVC axis at an axial angle and height w."""
    liver = phantom.liver
    a = np.deg2rad(angle_deg)
    q = np.array([[liver.ivc_uv[0] + 45 * np.cos(a), liver.ivc_uv[1] + 45 * np.sin(a), w]])
    return liver.to_patient(q)


@pytest.mark.parametrize("seed", [0, 7])
def test_hepatic_vein_planes_and_portal_plane_separate_segments(seed: int) -> None:
    phantom = make_phantom(seed)
    rhv, mhv, lhv = phantom.liver.hv_angles_deg
    seg = phantom.liver.segment

    def pair(angle: float, w: float) -> tuple[int, int]:
        return (int(seg(_sector_points(phantom, angle - 3, w))[0]),
                int(seg(_sector_points(phantom, angle + 3, w))[0]))

    up, down = 40.0, -40.0
    assert pair(rhv, up) == (7, 8) and pair(rhv, down) == (6, 5)
    assert pair(mhv, up) == (8, 4) and pair(mhv, down) == (5, 4)
    assert pair(lhv, up) == (4, 2) and pair(lhv, down) == (4, 3)


def test_hepatic_veins_lie_in_their_planes() -> None:
    phantom = make_phantom(0)
    liver = phantom.liver
    for cap in phantom.hepatic_veins:
        q = liver.to_local(np.stack([cap.start, cap.end]))
        rel = q[:, :2] - liver.ivc_uv
        angles = np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) % 360
        moved = np.linalg.norm(rel, axis=1) > 1.0
        nearest = np.min(np.abs(angles[moved, None] - (liver.hv_angles_deg % 360)), axis=1)
        assert np.all(nearest < 1e-6)


def test_ellipsoid_volume_and_bbox() -> None:
    e = Ellipsoid(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 5.0]),
                  rotation_matrix(30.0, 10.0))
    lo, hi = e.bbox
    rng = np.random.default_rng(0)
    pts = rng.uniform(lo, hi, size=(200_000, 3))
    mc = e.contains(pts).mean() * np.prod(hi - lo) / 1000.0
    assert mc == pytest.approx(e.volume_ml, rel=0.02)
