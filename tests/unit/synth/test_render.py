"""Sampling the phantom: labels, HU per phase, partial volume, the training case."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.structures import DEMO_LABELS, Structure
from pipeline.synth import Phase
from pipeline.synth.phantom import Phantom, make_phantom
from pipeline.synth.render import (
    Grid,
    phase_table,
    render_hu,
    render_labels,
    render_tissue,
    render_training_case,
)


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(21, lesion_diameters_mm=[40.0, 12.0, 6.0])


@pytest.fixture(scope="module")
def liver_grid(phantom: Phantom) -> Grid:
    return Grid.covering(phantom.liver_bbox, (3.0, 3.0, 3.0))


def test_segments_are_non_empty_and_label_values_known(phantom: Phantom, liver_grid: Grid) -> None:
    labels = render_labels(phantom, liver_grid)
    present = set(np.unique(labels).tolist())
    assert set(range(1, 13)) <= present
    assert present <= {0, *DEMO_LABELS}
    assert DEMO_LABELS[9] is Structure.METASTASIS


def test_label_priority_vessel_over_metastasis_over_segment(phantom: Phantom) -> None:
    centres = np.array([les.solid.centre for les in phantom.lesions])
    _, lab = phantom.classify(centres)
    assert set(lab.tolist()) <= {9, 10, 11, 12}
    ivc_mid = (phantom.ivc[2].start + phantom.ivc[2].end) / 2
    _, lab = phantom.classify(ivc_mid[None, :])
    assert lab[0] == 12
    pv = phantom.portal_veins[phantom.portal_trunk_count]
    _, lab = phantom.classify(((pv.start + pv.end) / 2)[None, :])
    assert lab[0] == 10


def _mean_hu(hu: np.ndarray, labels: np.ndarray, values: list[int]) -> float:
    return float(hu[np.isin(labels, values)].mean())


def test_phase_enhancement_ordering(phantom: Phantom, liver_grid: Grid) -> None:
    tissue, labels = render_tissue(phantom, liver_grid)
    hu = {p: phase_table(phantom, p)[tissue] for p in Phase}
    parenchyma = list(range(1, 9))
    liver = {p: _mean_hu(hu[p], labels, parenchyma) for p in Phase}
    pv = {p: _mean_hu(hu[p], labels, [10]) for p in Phase}
    hv = {p: _mean_hu(hu[p], labels, [11]) for p in Phase}
    met = {p: _mean_hu(hu[p], labels, [9]) for p in Phase}
    aorta = {p: float(phase_table(phantom, p)[10]) for p in Phase}
    assert pv[Phase.PORTAL_VENOUS] > liver[Phase.PORTAL_VENOUS] > liver[Phase.NATIVE] + 30
    assert aorta[Phase.ARTERIAL] > pv[Phase.ARTERIAL] + 100
    assert hv[Phase.PORTAL_VENOUS] > hv[Phase.ARTERIAL] + 50
    assert met[Phase.PORTAL_VENOUS] < liver[Phase.PORTAL_VENOUS] - 20
    assert liver[Phase.PORTAL_VENOUS] > liver[Phase.DELAYED] > liver[Phase.NATIVE]
    low = phase_table(phantom, Phase.PORTAL_VENOUS, enhancement_factor=0.65)[tissue]
    assert _mean_hu(low, labels, parenchyma) < liver[Phase.PORTAL_VENOUS] - 10


def test_thick_slices_average_small_lesions_away(phantom: Phantom) -> None:
    small = min(phantom.lesions, key=lambda les: les.diameter_mm)
    c = small.solid.centre
    grid = Grid((1, 1, 1), (1.0, 1.0, 1.0), (float(c[0]), float(c[1]), float(c[2])))
    rng = np.random.default_rng(0)
    thin = render_hu(phantom, grid, Phase.PORTAL_VENOUS, slice_thickness_mm=0.5, noise_hu=0.0,
                     rng=rng, inplane_subsamples=1)[0, 0, 0]
    thick = render_hu(phantom, grid, Phase.PORTAL_VENOUS, slice_thickness_mm=15.0,
                      noise_hu=0.0, rng=rng, inplane_subsamples=1)[0, 0, 0]
    liver_hu = phase_table(phantom, Phase.PORTAL_VENOUS)[15]
    assert abs(thick - liver_hu) < abs(thin - liver_hu)
    assert thin < thick


def test_noise_level_matches_request(phantom: Phantom) -> None:
    grid = Grid((2, 32, 32), (5.0, 2.0, 2.0), (300.0, 300.0, 0.0))  # in air, outside the body
    hu = render_hu(phantom, grid, Phase.NATIVE, slice_thickness_mm=5.0, noise_hu=12.0,
                   rng=np.random.default_rng(1))
    assert float(hu.mean()) == pytest.approx(-1000.0, abs=2.0)
    assert float(hu.std()) == pytest.approx(12.0, rel=0.1)


def test_training_case_is_a_whole_labelled_abdomen() -> None:
    hu, labels, spacing = render_training_case(5, spacing_zyx_mm=(5.0, 5.0, 5.0))
    assert hu.shape == labels.shape and hu.dtype == np.float32 and labels.dtype == np.uint8
    assert spacing == (5.0, 5.0, 5.0)
    assert set(range(1, 13)) <= set(np.unique(labels).tolist())
    assert hu.min() < -900 and hu.max() > 500  # air and bone present
    # the liver sits in the right upper abdomen: patient right = low x index
    xx = np.nonzero((labels >= 1) & (labels <= 9))[2]
    assert xx.mean() < hu.shape[2] / 2
