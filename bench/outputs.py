"""Benchmark of the DICOM writers: build time and size of SEG, SR and PDF.

A synthetic abdominal label map (eight Couinaud segments, vessels, metastases as separate
lesion segments: 19 segments in a BINARY SEG) on a 512 x 512 CT grid of 300 and 600
slices; source headers are built in memory (no pixel data is needed to write a SEG).

Run::

    OMP_NUM_THREADS=1 python bench/outputs.py --slices 300 600 [--no-unions]
        [--type LABELMAP] [--highdicom] [--trace-memory] [--json OUT.json]
        [--base /work/main --new .]

The source headers are sanitised first, untimed, as the pipeline hands them to the writers;
a 4-slice case is built first, untimed, as a warm job worker does at start
(``pipeline.encode.warm``): the figures are those of a worker's study, not of a process's
first build. With ``--base DIR --new DIR`` each case runs in a subprocess on each checkout
(``PYTHONPATH=DIR``, the bench of ``--new``), one after the other, and a table shows the
figures side by side with their ratio ``new / base``.

Prints one JSON object per case: seconds to build and to serialise each output, the sum
(``encode_s``) and the process's CPU seconds for all of them (``encode_cpu_s``, less
sensitive to other processes on a loaded machine than the wall-clock figures), its size
in bytes, the number of segments and frames, and the process's peak resident memory (all
cases so far, inputs included: a 600-slice case holds ~1.4 GB of CT, label and lesion
arrays). ``--trace-memory`` adds the SEG's own peak memory (``seg_peak_mb``: what building
and serialising the SEG allocates beyond the inputs, tracemalloc, numpy buffers included;
measured in a second, untimed build). ``--highdicom`` has highdicom make the frames
(``build_seg(..., fast=False)``: a 3-D array of segment numbers, or one mask per segment
where segments overlap; the same object, the reference for ``seg_build_s``). Figures:
docs/development.md, "DICOM writers".
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, generate_uid

from pipeline.encode import codes
from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import (
    AlgorithmInfo,
    LesionMeasurement,
    NamedQuantity,
    ReportContent,
    SegmentationContent,
    SeriesChoice,
    StructureMeasurement,
)
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.sanitise import sanitised_all
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.structures import COUINAUD_SEGMENTS, DEMO_LABELS, Structure
from pipeline.volume import CTVolume

SIZE = 512
SPACING = (1.0, 0.75, 0.75)  # slice, row, column spacing in mm


def _headers(n: int) -> tuple[CTVolume, list[Dataset]]:
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    headers = []
    for k in range(n):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.PatientName, ds.PatientID = "Bench^Case", "B1"
        ds.PatientBirthDate, ds.PatientSex = "", ""
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "1200", "1", ""
        ds.ReferringPhysicianName, ds.Modality, ds.SeriesNumber = "", "CT", 1
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-192.0, -192.0, -300.0 + SPACING[0] * k]
        ds.PixelSpacing, ds.SliceThickness = list(SPACING[1:]), SPACING[0]
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        headers.append(ds)
    hu = np.full((n, SIZE, SIZE), -80.0, np.float32)
    volume = CTVolume(
        hu,
        SPACING,
        (-192.0, -192.0, -300.0),
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        [h.SOPInstanceUID for h in headers],
        series,
        study,
        frame,
        SPACING[0],
    )
    return volume, headers


def _labels(n: int, lesions: int) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
    """Liver ellipsoid over ~45 % of the slices, split in eight, plus vessels and lesions."""
    z, y, x = np.ogrid[0:n, 0:SIZE, 0:SIZE]
    cz, rz = n * 0.5, n * 0.225
    inside = ((z - cz) / rz) ** 2 + ((y - 230) / 120.0) ** 2 + ((x - 200) / 150.0) ** 2 <= 1
    lab = np.zeros((n, SIZE, SIZE), np.uint8)
    upper = np.broadcast_to(z >= cz, inside.shape)
    column = np.broadcast_to(np.clip((x - 50) // 75, 0, 3), inside.shape)
    lab[inside] = (1 + column + 4 * upper)[inside].astype(np.uint8)
    lesion_map = np.zeros(lab.shape, np.int32)
    rng = np.random.default_rng(0)
    for i in range(1, lesions + 1):
        c = (
            cz + rng.uniform(-0.6, 0.6) * rz,
            230 + rng.uniform(-60, 60),
            200 + rng.uniform(-80, 80),
        )
        r = rng.uniform(8, 25)
        ball = ((z - c[0]) * SPACING[0]) ** 2 + ((y - c[1]) * SPACING[1]) ** 2 + (
            (x - c[2]) * SPACING[2]
        ) ** 2 <= r**2
        lesion_map[ball & inside] = i
    lab[lesion_map > 0] = 9
    zz = slice(int(cz - rz), int(cz + rz))
    lab[zz, 300:316, 250:266] = 10
    lab[zz, 180:190, 300:310] = 11
    lab[:, 330:350, 280:300] = 12
    return lab, lesion_map


def _report(volume: CTVolume, algorithm: AlgorithmInfo, lesions: int) -> ReportContent:
    ml = codes.unit("mL")
    return ReportContent(
        series=SeriesChoice(volume.series_instance_uid, "Bench", ("benchmark",)),
        algorithm=algorithm,
        structures=tuple(
            StructureMeasurement(s, 180.0)
            for s in (
                Structure.LIVER,
                Structure.METASTASIS,
                *COUINAUD_SEGMENTS,
                Structure.PORTAL_VEIN,
                Structure.HEPATIC_VEIN,
                Structure.IVC,
            )
        ),
        lesions=tuple(LesionMeasurement(i, 5.0, 20.0, 12.0) for i in range(1, lesions + 1)),
        tumour_burden=(NamedQuantity(codes.TOTAL_TUMOUR_VOLUME, 25.0, ml),),
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory traced by tracemalloc (numpy buffers included) while ``fn`` runs, MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _serialise(ds: Dataset) -> bytes:
    """The file's bytes, as the pipeline writes them (``pipeline.encode.writer`` where the
    checkout has it, else ``save_as``: the bench also runs on older checkouts, --base)."""
    try:
        from pipeline.encode.writer import file_bytes
    except ImportError:
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        return buf.getvalue()
    return file_bytes(ds)


def run_case(
    slices: int,
    lesions: int,
    segmentation_type: SegmentationType,
    union_segments: bool = True,
    trace_memory: bool = False,
    highdicom: bool = False,
) -> dict[str, Any]:
    """Build and serialise SEG, SR and PDF for one synthetic case; return the figures.

    With ``trace_memory`` the SEG is built and serialised a second time under tracemalloc
    to report the memory it needs itself (``seg_peak_mb``), apart from the inputs.
    """
    volume, headers = _headers(slices)
    headers = sanitised_all(headers)  # as the pipeline gives them (read once, sanitised)
    labelmap, lesion_map = _labels(slices, lesions)
    algorithm = AlgorithmInfo("bench-model", "1", True, "0" * 64)
    segmentation = SegmentationContent(labelmap, dict(DEMO_LABELS), algorithm, lesion_map)
    config = EncodeConfig(segmentation_type=segmentation_type, union_segments=union_segments)

    def seg_build() -> Any:
        # no keyword by default: the bench also runs on checkouts before ``fast`` (--base)
        options = {"fast": False} if highdicom else {}
        return build_seg(volume, headers, segmentation, config, **options)

    cpu_started = time.process_time()
    seg, seg_s = _timed(seg_build)
    seg_bytes, seg_write_s = _timed(lambda: _serialise(seg))
    content = _report(volume, algorithm, lesions)
    sr, sr_s = _timed(lambda: build_sr(seg, headers, content, config))
    sr_bytes, sr_write_s = _timed(lambda: _serialise(sr))
    pdf, pdf_s = _timed(lambda: build_pdf(volume, headers[0], segmentation, content, config))
    doc, doc_s = _timed(lambda: _serialise(build_encapsulated_pdf(pdf, headers[0], algorithm)))
    figures: dict[str, Any] = {}
    if trace_memory:
        figures["seg_peak_mb"] = round(_traced_peak_mb(lambda: _serialise(seg_build())))
    encode_cpu_s = time.process_time() - cpu_started
    encode_s = seg_s + seg_write_s + sr_s + sr_write_s + pdf_s + doc_s
    return figures | {
        "slices": slices,
        "rows": SIZE,
        "columns": SIZE,
        "segmentation_type": segmentation_type.value,
        "union_segments": union_segments,
        "highdicom": highdicom,
        "segments": len(seg.SegmentSequence),
        "frames": int(seg.NumberOfFrames),
        "seg_build_s": round(seg_s, 2),
        "seg_write_s": round(seg_write_s, 2),
        "seg_bytes": len(seg_bytes),
        "sr_build_s": round(sr_s, 2),
        "sr_write_s": round(sr_write_s, 2),
        "sr_bytes": len(sr_bytes),
        "pdf_build_s": round(pdf_s, 2),
        "pdf_dicom_s": round(doc_s, 2),
        "pdf_bytes": len(pdf),
        "pdf_dicom_bytes": len(doc),
        "encode_s": round(encode_s, 2),
        "encode_cpu_s": round(encode_cpu_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


COMPARED = (
    "seg_build_s",
    "seg_write_s",
    "sr_build_s",
    "sr_write_s",
    "pdf_build_s",
    "pdf_dicom_s",
    "encode_s",
    "encode_cpu_s",
    "seg_bytes",
    "seg_peak_mb",
    "peak_rss_mb",
)
"""Figures shown side by side with ``--base``/``--new``."""


def _child(checkout: Path, argv: list[str]) -> list[dict[str, Any]]:
    """Run this bench (without ``--base``/``--new``) on ``checkout``; its JSON lines."""
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    out = subprocess.run(
        [sys.executable, __file__, *argv], env=env, check=True, capture_output=True, text=True
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def compare(base: Path, new: Path, argv: list[str]) -> list[dict[str, Any]]:
    """Run each case on ``base`` then on ``new``; print the figures side by side.

    Returns
    -------
    list of dict
        Per case: ``{"base": figures, "new": figures}``.
    """
    results = []
    print(f"{'case / figure':<28}{'base':>12}{'new':>12}{'new/base':>10}")
    for case in _cases(argv):
        pair = {"base": _child(base, case)[0], "new": _child(new, case)[0]}
        results.append(pair)
        b, n = pair["base"], pair["new"]
        print(f"{b['slices']} slices, {b['segments']} segments, {b['frames']} frames")
        for key in COMPARED:
            ratio = f"{n[key] / b[key]:.2f}" if b.get(key) and n.get(key) else "-"
            print(f"  {key:<26}{b.get(key, '-'):>12}{n.get(key, '-'):>12}{ratio:>10}")
    return results


def _cases(argv: list[str]) -> list[list[str]]:
    """One argument list per ``--slices`` value (the other arguments kept)."""
    options, slices, rest = [], [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--slices":
            while rest and not rest[0].startswith("--"):
                slices.append(rest.pop(0))
        else:
            options.append(arg)
    return [[*options, "--slices", n] for n in (slices or ["300", "600"])]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, nargs="+", default=[300, 600])
    parser.add_argument("--lesions", type=int, default=6)
    parser.add_argument(
        "--type", choices=[t.value for t in SegmentationType], default=SegmentationType.BINARY.value
    )
    parser.add_argument(
        "--no-unions",
        action="store_true",
        help="leave out the derived liver and all-lesions segments",
    )
    parser.add_argument(
        "--highdicom",
        action="store_true",
        help="let highdicom make the SEG's frames (the reference build)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--base", type=Path, help="baseline checkout (with --new)")
    parser.add_argument("--new", type=Path, help="checkout compared with --base")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="also measure the SEG writer's own peak memory (slower)",
    )
    args = parser.parse_args()
    if (args.base is None) != (args.new is None):
        parser.error("--base and --new go together")
    if args.base is not None:
        argv = _without(sys.argv[1:], ("--base", "--new", "--json"))
        pairs = compare(args.base, args.new, argv)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(pairs, f, indent=2)
        return
    run_case(4, 1, SegmentationType(args.type), not args.no_unions)  # a worker's warm-up
    results = []
    for n in args.slices:
        result = run_case(
            n,
            args.lesions,
            SegmentationType(args.type),
            not args.no_unions,
            args.trace_memory,
            args.highdicom,
        )
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def _without(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """``argv`` without the given options and their values."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    main()
