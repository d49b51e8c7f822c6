"""Quantification on the bounding box of the labelled voxels gives the whole grid's figures."""

from __future__ import annotations

import numpy as np

from pipeline.quantify.box import labelled_box
from pipeline.quantify.lesions import analyse_tumour
from pipeline.quantify.volumetry import parenchyma_keys
from pipeline.structures import COUINAUD_SEGMENTS, Structure

LABELS = {**{k + 1: s for k, s in enumerate(COUINAUD_SEGMENTS)}, 9: Structure.METASTASIS}


def _labelmap() -> np.ndarray:
    """Segments 1-8 in a block, three tumours: inside, touching the block, and one cut by
    the first slice (field-of-view contact) away from the liver (extrahepatic)."""
    lab = np.zeros((40, 60, 70), np.uint8)
    lab[10:30, 15:45, 20:60] = np.repeat(np.arange(1, 9), 5)[None, None, :]
    lab[14:19, 20:26, 30:37] = 9
    lab[25:31, 40:47, 50:56] = 9
    lab[0:3, 2:6, 2:7] = 9
    return lab


def _analyse(lab: np.ndarray, window: tuple[slice, ...] | None):
    sub = lab if window is None else lab[window]
    origin = (0, 0, 0) if window is None else [w.start for w in window]
    return analyse_tumour(
        sub == 9,
        parenchyma_keys(sub, LABELS),
        (2.0, 0.8, 0.8),
        connectivity=26,
        min_volume_mm3=1.0,
        contact_mm=3.0,
        measurable_mm=10.0,
        origin=origin,
        grid_shape=lab.shape,
    )


def test_labelled_box_is_the_nonzero_extent() -> None:
    lab = _labelmap()
    box = labelled_box(lab)
    assert box == (slice(0, 31), slice(2, 47), slice(2, 60))
    assert labelled_box(np.zeros((3, 4, 5), np.uint8)) == (slice(0, 3), slice(0, 4), slice(0, 5))


def test_lesions_on_the_box_equal_the_whole_grid() -> None:
    lab = _labelmap()
    whole = _analyse(lab, None)
    boxed = _analyse(lab, labelled_box(lab))
    assert [les.to_dict() for les in boxed.lesions] == [les.to_dict() for les in whole.lesions]
    assert len(whole.lesions) == 3
    assert any(les.touches_field_of_view for les in whole.lesions)
    assert any(not les.hepatic for les in whole.lesions)
    assert boxed.hepatic_tumour_voxels_by_key == whole.hepatic_tumour_voxels_by_key
    assert boxed.lesion_voxels_by_key == whole.lesion_voxels_by_key
    full_map = boxed.lesion_map()
    assert full_map is not None and full_map.shape == lab.shape
    np.testing.assert_array_equal(full_map, whole.lesion_map())


def test_lesion_map_is_one_byte_per_voxel_with_the_component_indices() -> None:
    lab = _labelmap()
    tumour = _analyse(lab, labelled_box(lab))
    lesion_map = tumour.lesion_map()
    assert lesion_map is not None and lesion_map.dtype == np.uint8
    assert tumour.components is not None
    # each lesion's voxels are its component's voxels, wherever the window put them
    window = tuple(slice(o, o + n) for o, n in zip(tumour.components_origin,
                                                   tumour.components.shape, strict=True))
    for les in tumour.lesions:
        expected = np.zeros(lab.shape, bool)
        expected[window] = tumour.components == les.component_label
        assert np.array_equal(lesion_map == les.index, expected)
    assert set(np.unique(lesion_map)) == {0, *(les.index for les in tumour.lesions)}


def test_structure_volumes_equal_bincount() -> None:
    from pipeline.quantify.volumetry import structure_volumes_ml

    lab = _labelmap()
    counts = np.bincount(lab.ravel().astype(np.int64), minlength=10)
    volumes = structure_volumes_ml(lab, LABELS, 0.5)
    assert volumes == {s.value: float(counts[v]) * 0.5 for v, s in LABELS.items()}


def test_liver_volumes_count_every_key_as_bincount() -> None:
    from pipeline.quantify.volumetry import liver_volumes

    lab = _labelmap()
    keys = parenchyma_keys(lab, LABELS)
    assert (keys < 0).any()
    tumour = _analyse(lab, None)
    counts = np.bincount(keys.ravel().astype(np.int16) + 1, minlength=10)
    volumes = liver_volumes(keys, tumour, 0.5)
    hepatic = sum(tumour.hepatic_tumour_voxels_by_key.values())
    assert volumes.liver_ml == (int(counts[1:].sum()) + hepatic) * 0.5
    for segment in range(1, 9):
        assigned = tumour.hepatic_tumour_voxels_by_key.get(segment, 0)
        assert volumes.segment_total_ml[segment] == (int(counts[segment + 1]) + assigned) * 0.5


def test_liver_box_holds_every_liver_and_tumour_voxel_only() -> None:
    from pipeline.quantify.quantify import _liver_box

    lab = _labelmap()
    lab[35:38, 50:55, 62:66] = 20            # another structure, away from the liver
    labels = {**LABELS, 20: Structure.LUNG}
    box = labelled_box(lab)
    liver_at = _liver_box(lab, labels, box)
    assert liver_at == labelled_box(np.where(lab == 20, 0, lab))
    assert liver_at != box
