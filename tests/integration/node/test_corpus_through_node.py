"""Corpus series sent with DCMTK storescu to a running node (``dicomnode serve``, the real
pipeline job, the demo model with one fold) each end as a job that succeeded or was
rejected with its reason in the audit database: never a failed job, never a retry."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from served_node import ServedNode

from pipeline.synth import Phase
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study

sys.path.append(str(Path(__file__).parents[2]))
sys.path.append(str(Path(__file__).parents[2] / "unit" / "run"))
from conftest import free_port, storescu
from corpus_series import DERIVERS, derive
from enhanced_ct import enhanced, write

pytestmark = [pytest.mark.peers, pytest.mark.slow]

JOB_TIMEOUT_S = 480.0
"""Longest wait for every job: one segmentation (~30 s alone) and four quick rejections on
two busy cores."""
PIPELINE = {
    "segmentation": {"models": {"demo": {"folds": [0]}}, "tile_step_size": 1.0},
    "write_rejection_report": True,
}


def _new_study(change: Callable[[Dataset, int], Dataset | None]
               ) -> Callable[[Dataset, int], Dataset | None]:
    """``change``, on a copy with its own Study, Series and SOP Instance UIDs."""
    study, series = generate_uid(), generate_uid()

    def renamed(ds: Dataset, k: int) -> Dataset | None:
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        return change(ds, k)

    return renamed


def _keep(ds: Dataset, k: int) -> Dataset:
    return ds


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders to send, by name: Enhanced CT with and without per-frame positions, two
    single-frame oddities and pydicom's Enhanced CT file, each its own study."""
    root = tmp_path_factory.mktemp("corpus")
    spec = StudySpec(seed=1, series=(SeriesSpec(phase=Phase.PORTAL_VENOUS,
                                                slice_thickness_mm=5.0, description="PV 5mm"),))
    write_study(root / "base", spec, volumes=False)
    base = next((root / "base" / "dicom").iterdir())
    folders: dict[str, Path] = {}
    for name, change in (("enhanced_ct", _keep), ("enhanced_ct_without_frame_positions", _keep),
                         ("gantry_tilt", DERIVERS["gantry_tilt"]),
                         ("rgb_secondary_capture", DERIVERS["rgb_secondary_capture"])):
        folders[name] = derive(base, root / "single" / name, _new_study(change))
    for name, positions in (("enhanced_ct", True), ("enhanced_ct_without_frame_positions", False)):
        folders[name] = write(enhanced(folders[name], positions=positions), root / "mf" / name)
    folders["pydicom_eCT_Supplemental"] = root / "pydicom"
    folders["pydicom_eCT_Supplemental"].mkdir()
    shutil.copy(get_testdata_file("eCT_Supplemental.dcm"), root / "pydicom")
    return folders


EXPECTED = {
    "enhanced_ct": ("succeeded", None),
    "enhanced_ct_without_frame_positions": ("rejected", "enhanced_ct_no_frame_positions"),
    "gantry_tilt": ("rejected", "gantry_tilt"),
    "rgb_secondary_capture": ("rejected", "not_ct_image_storage"),
    "pydicom_eCT_Supplemental": ("rejected", "derived: ImageType DERIVED"),
}
"""How each corpus series must end: job state and what its reason says."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    """The node with the real pipeline job; a failed attempt would be retried."""
    served = ServedNode(tmp_path_factory.mktemp("node") / "node", free_port(), {
        "jobs": {"handler": "dicomnode.pipeline_job:run_job", "workers": 2,
                 "max_attempts": 2},
        "pipeline": PIPELINE,
    }, env={"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    served.start()
    yield served
    assert served.stop() == 0, served.log_text()[-3000:]


def _study_uid(folder: Path) -> str:
    return str(pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True)
               .StudyInstanceUID)


def test_each_corpus_series_ends_as_succeeded_or_rejected_with_its_reason(
        node: ServedNode, corpus: dict[str, Path]) -> None:
    studies = {name: _study_uid(folder) for name, folder in corpus.items()}
    assert len(set(studies.values())) == len(studies)
    for folder in corpus.values():
        sent = storescu(node.port, folder)
        assert sent.returncode == 0, sent.stderr

    def final() -> bool:
        rows = node.query("SELECT state FROM jobs")
        return len(rows) == len(corpus) and all(
            s in ("succeeded", "rejected", "dead_lettered") for (s,) in rows)

    node.wait_for(final, timeout_s=JOB_TIMEOUT_S, what="every corpus job to end")
    for name, study in studies.items():
        rows = node.query("SELECT state, error, attempts FROM jobs WHERE study_instance_uid = ?",
                          study)
        assert len(rows) == 1, (name, rows)
        state, error, attempts = rows[0]
        expected_state, expected_reason = EXPECTED[name]
        assert (state, attempts) == (expected_state, 1), (name, rows[0])
        if expected_reason is None:
            assert error is None
        else:
            assert expected_reason in error and "Traceback" not in error, (name, error)
