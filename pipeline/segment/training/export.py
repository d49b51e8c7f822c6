"""Writing training cases in nnU-Net v2's raw dataset layout (``nnUNet_raw/DatasetXXX_Name``).

Arrays are (z, y, x) with spacing (z, y, x) in mm, as :class:`pipeline.volume.CTVolume` holds
them. SimpleITK writes NIfTI with (x, y, z) spacing, and nnU-Net's SimpleITK reader turns them
back into (z, y, x) arrays and spacing, which is therefore also the order the trained network
expects at inference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray


@dataclass(frozen=True)
class TrainingCase:
    """One training case.

    Parameters
    ----------
    identifier : str
        Case identifier (file name stem, no channel suffix).
    channels : list of ndarray of float32, shape (z, y, x)
        Input channels; channel 0 is CT in Hounsfield units, further channels are binary masks.
    labels : ndarray of uint8, shape (z, y, x)
        Label map (0 = background).
    spacing_mm : tuple[float, float, float]
        Voxel spacing (z, y, x) in mm.
    """

    identifier: str
    channels: list[NDArray[np.float32]]
    labels: NDArray[np.uint8]
    spacing_mm: tuple[float, float, float]


def write_image(array: NDArray[np.generic], spacing_mm: Sequence[float], path: Path) -> None:
    """Write a (z, y, x) array as NIfTI with (z, y, x) spacing in mm.

    Parameters
    ----------
    array : ndarray, shape (z, y, x)
        Voxel values.
    spacing_mm : sequence of float
        Spacing (z, y, x) in mm.
    path : Path
        Output file (``.nii.gz``).
    """
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(tuple(spacing_mm))))
    sitk.WriteImage(image, str(path), useCompression=True)


def dataset_folder_name(dataset_id: int, name: str) -> str:
    """nnU-Net dataset folder name, e.g. ``Dataset501_DemoLiver``."""
    return f"Dataset{dataset_id:03d}_{name}"


def write_raw_dataset(
    raw_root: Path,
    dataset_id: int,
    name: str,
    cases: Sequence[TrainingCase],
    channel_names: Sequence[str],
    label_names: dict[int, str],
) -> Path:
    """Write ``imagesTr``/``labelsTr`` and ``dataset.json`` of an nnU-Net v2 raw dataset.

    Parameters
    ----------
    raw_root : Path
        The ``nnUNet_raw`` folder.
    dataset_id : int
        nnU-Net dataset id (three digits).
    name : str
        Dataset name (no spaces).
    cases : sequence of TrainingCase
        The training cases; each must have ``len(channel_names)`` channels.
    channel_names : sequence of str
        nnU-Net channel names; ``"CT"`` selects CT normalisation, ``"noNorm"`` none.
    label_names : dict[int, str]
        Label value -> name, background (0) excluded.

    Returns
    -------
    Path
        The dataset folder.
    """
    folder = raw_root / dataset_folder_name(dataset_id, name)
    (folder / "imagesTr").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTr").mkdir(parents=True, exist_ok=True)
    for case in cases:
        if len(case.channels) != len(channel_names):
            raise ValueError(f"case {case.identifier}: {len(case.channels)} channels, "
                             f"expected {len(channel_names)}")
        for c, channel in enumerate(case.channels):
            write_image(channel.astype(np.float32),
                        case.spacing_mm, folder / "imagesTr" / f"{case.identifier}_{c:04d}.nii.gz")
        write_image(case.labels.astype(np.uint8), case.spacing_mm,
                    folder / "labelsTr" / f"{case.identifier}.nii.gz")
    labels = {"background": 0, **{n: v for v, n in sorted(label_names.items())}}
    dataset_json = {
        "channel_names": {str(i): n for i, n in enumerate(channel_names)},
        "labels": labels,
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
        "name": name,
    }
    (folder / "dataset.json").write_text(json.dumps(dataset_json, indent=2))
    return folder
