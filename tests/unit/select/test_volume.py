"""build_volume: HU per slice, geometry, errors; cross-checked with SimpleITK."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813  (the conventional name)
from pydicom import dcmread
from select_ctfactory import SeriesSpec, axial_slices, write_series

from pipeline.select.config import GeometryConfig
from pipeline.select.reasons import GeometryReason
from pipeline.select.volume import VolumeError, build_volume, build_volume_checked

CFG = GeometryConfig(min_slices=5)


def test_volume_matches_simpleitk(tmp_path):
    slices = axial_slices(n=8, rows=24, columns=20, pixel_spacing=(4.0, 3.5))
    paths = write_series(tmp_path, slices[::-1])
    vol = build_volume(paths, CFG)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader().GetGDCMSeriesFileNames(str(tmp_path)))
    image = reader.Execute()
    ref = sitk.GetArrayFromImage(image).astype(np.float32)
    assert vol.shape == (8, 24, 20)
    np.testing.assert_array_equal(vol.hu, ref)
    assert vol.spacing_mm == pytest.approx((5.0, 4.0, 3.5))
    assert vol.origin_mm == pytest.approx(image.GetOrigin())
    # slice k's source image is where the volume says it is
    for k, uid in enumerate(vol.sop_instance_uids):
        ds = dcmread(vol.source_paths[k])
        assert ds.SOPInstanceUID == uid
        np.testing.assert_allclose(vol.index_to_patient(np.array([[k, 0, 0]]))[0],
                                   [float(v) for v in ds.ImagePositionPatient], atol=1e-3)


def test_datasets_and_paths_give_the_same_volume(tmp_path):
    paths = write_series(tmp_path, axial_slices(n=6, rows=16, columns=16))
    from_paths = build_volume(paths, CFG)
    from_datasets = build_volume([dcmread(p) for p in paths], CFG)
    np.testing.assert_array_equal(from_paths.hu, from_datasets.hu)
    assert from_datasets.source_paths == from_paths.source_paths


def test_rescale_applied_per_slice(tmp_path):
    base = axial_slices(n=6)
    varied = [replace(s, slope=0.5 if k % 2 else 1.0, intercept=-1200.0 if k % 3 else -1024.0)
              for k, s in enumerate(base)]
    plain = build_volume(write_series(tmp_path / "a", base, seed=3), CFG)
    built = build_volume_checked(write_series(tmp_path / "b", varied, seed=3), CFG)
    assert GeometryReason.RESCALE_VARIES in {n.reason for n in built.notes}
    # same phantom and noise: only rounding of stored values differs (air clipped at -1024)
    inside = plain.hu > -1000
    assert np.max(np.abs(built.volume.hu - plain.hu)[inside]) <= 1.0
    assert float(plain.hu.min()) < -900 and float(plain.hu.max()) > 400


def test_volume_error_lists_every_blocking_reason(tmp_path):
    slices = axial_slices(n=10, rows=16, columns=16)
    slices = slices[:3] + slices[5:]
    paths = write_series(tmp_path, slices, SeriesSpec(extra={"GantryDetectorTilt": 15.0}))
    with pytest.raises(VolumeError) as info:
        build_volume(paths, CFG)
    assert set(info.value.reasons) == {GeometryReason.MISSING_SLICES, GeometryReason.GANTRY_TILT}
    assert "GantryDetectorTilt 15" in str(info.value)


def test_undecodable_pixels_are_named(tmp_path):
    paths = write_series(tmp_path, axial_slices(n=6, rows=16, columns=16))
    ds = dcmread(paths[2])
    ds.PixelData = ds.PixelData[:100]
    ds.save_as(paths[2])
    with pytest.raises(VolumeError) as info:
        build_volume(paths, CFG)
    assert info.value.reasons == [GeometryReason.UNREADABLE_PIXELS]
