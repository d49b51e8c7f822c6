"""Benchmark: read and build a 600-slice 512x512 CT series, ours vs SimpleITK.

Writes the series once (``--dir``, default /tmp/dicomnode-bench-volume), then times each
reader in a fresh subprocess so that peak memory (ru_maxrss) belongs to that reader alone:

- ``build_volume``: :func:`pipeline.select.volume.build_volume` on the file paths
  (headers, geometry QA, highdicom cross-check, pixels, per-slice rescale);
- ``select_series``: the whole selection on the folder (one series);
- ``simpleitk``: ``sitk.ImageSeriesReader`` on GDCM-sorted file names, float32 output,
  array view without copy (no QA).

Not run in CI. Usage::

    python bench/volume.py [--dir DIR] [--slices 600] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_series(out: Path, slices: int, size: int = 512) -> None:
    """Write an axial CT series of ``slices`` files (uint16, intercept -1024), 1 mm apart."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    body = ((xx - size / 2) / (0.42 * size)) ** 2 + ((yy - size / 2) / (0.32 * size)) ** 2 <= 1
    base = np.where(body, 1024 + 50, 24).astype(np.float64)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        uid = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, uid, "CT"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SeriesDescription = "bench portal venous"
        ds.SliceThickness = 1.0
        ds.ImagePositionPatient = [-200.0, -200.0, -300.0 + k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.78125, 0.78125]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        pixels = np.clip(base + rng.normal(0, 10, base.shape), 0, 4095).astype(np.uint16)
        ds.PixelData = pixels.tobytes()
        ds.save_as(out / f"ct_{k:04d}.dcm", enforce_file_format=True)


def run_one(method: str, folder: Path) -> dict[str, float]:
    """Time one reader in this process; returns seconds, peak RSS and a checksum."""
    paths = sorted(folder.glob("*.dcm"))
    if method == "simpleitk":
        import SimpleITK as sitk  # noqa: N813

        start = time.perf_counter()
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        reader.SetOutputPixelType(sitk.sitkFloat32)  # HU as float32, like CTVolume
        image = reader.Execute()
        array = sitk.GetArrayViewFromImage(image)  # no copy
    elif method == "build_volume":
        from pipeline.select.volume import build_volume

        start = time.perf_counter()
        array = build_volume(paths).hu
    else:
        from pipeline.select.config import SelectionConfig
        from pipeline.select.selector import select_series

        start = time.perf_counter()
        result = select_series([folder], SelectionConfig())
        assert result.chosen is not None, result.rejection_reason
        array = result.chosen.hu
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "seconds": seconds,
        "peak_mib": peak_mib,
        "checksum": float(array.sum(dtype=np.float64)),
    }


def main() -> None:
    """Write the series if needed, run every reader ``--repeat`` times, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dicomnode-bench-volume"))
    parser.add_argument("--slices", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.dir)))
        return
    if len(list(args.dir.glob("*.dcm"))) != args.slices:
        print(f"writing {args.slices} slices to {args.dir} ...", flush=True)
        for old in args.dir.glob("*.dcm"):
            old.unlink()
        write_series(args.dir, args.slices)
    results: dict[str, list[dict[str, float]]] = {}
    for method in ("simpleitk", "build_volume", "select_series"):
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--dir", str(args.dir), "--run", method],
                check=True,
                capture_output=True,
                text=True,
            )
            results.setdefault(method, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    ref = results["simpleitk"]
    ref_s = min(r["seconds"] for r in ref)
    ref_m = max(r["peak_mib"] for r in ref)
    print(f"{args.slices} slices 512x512 in {args.dir} (best of {args.repeat} runs)")
    print(f"{'reader':<15}{'seconds':>10}{'x sitk':>9}{'peak MiB':>11}{'x sitk':>9}  same HU")
    for method, runs in results.items():
        s = min(r["seconds"] for r in runs)
        m = max(r["peak_mib"] for r in runs)
        same = runs[0]["checksum"] == ref[0]["checksum"]
        print(f"{method:<15}{s:>10.2f}{s / ref_s:>9.2f}{m:>11.0f}{m / ref_m:>9.2f}  {same}")


if __name__ == "__main__":
    main()
