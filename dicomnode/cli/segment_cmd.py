"""``dicomnode segment``: run the segmentation engine on a DICOM folder or a NIfTI file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from dicomnode.cli.app import app

if TYPE_CHECKING:
    from pipeline.volume import CTVolume

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


@app.command("segment")
def segment_command(
    input_path: Annotated[Path, typer.Argument(
        exists=True, help="DICOM folder (series chosen by pipeline.select) or CT NIfTI file "
                          "in HU.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    models_dir: Annotated[Path | None, typer.Option(
        "--models-dir", help="Folder of model folders (default: $DICOMNODE_MODELS_DIR or "
                             "the repository's models/).")] = None,
    device: Annotated[str, typer.Option(
        "--device", help="auto, cuda or cpu.")] = "auto",
    mirroring: Annotated[bool, typer.Option(
        "--mirroring/--no-mirroring", help="Test-time mirroring (where the model allows).")]
        = True,
    tile_step_size: Annotated[float, typer.Option(
        "--tile-step-size", min=0.05, max=1.0, help="Sliding-window step (fraction).")] = 0.5,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads.")] = 2,
) -> None:
    """Segment liver, Couinaud segments, vessels and metastases; write NIfTI masks + JSON.

    Writes OUT/labelmap.nii.gz (values as in segmentation.json "labels"), one
    OUT/masks/<structure>.nii.gz per structure and OUT/segmentation.json (volumes, fold
    agreement, confidence, models, timings). Outputs of the demo model are not for clinical
    use.
    """
    import numpy as np

    from pipeline.segment.config import SegmentationConfig
    from pipeline.segment.engine import SegmentationEngine
    from pipeline.segment.model_folders import ModelError
    from pipeline.segment.nifti import write_on_volume_grid

    console = Console(stderr=True)
    if device not in ("auto", "cuda", "cpu"):
        raise typer.BadParameter("device must be auto, cuda or cpu", param_hint="--device")
    chosen: Literal["auto", "cuda", "cpu"] = device  # type: ignore[assignment]
    config = SegmentationConfig(models_dir=models_dir, device=chosen, use_mirroring=mirroring,
                                tile_step_size=tile_step_size, cpu_threads=threads)
    volume, series = _read_input(input_path)
    if volume is None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "segmentation.json").write_text(json.dumps({"series": series}, indent=2) + "\n")
        console.print(f"[yellow]no series to segment: {series.get('rejection_reason')}")
        return
    engine = SegmentationEngine(config)
    try:
        result = engine.segment(volume)
    except ModelError as exc:
        console.print(f"[bold red]model error:[/] {exc}")
        raise typer.Exit(2) from exc
    (out / "masks").mkdir(parents=True, exist_ok=True)
    write_on_volume_grid(result.labelmap, volume, out / "labelmap.nii.gz")
    for value, structure in result.labels.items():
        mask = result.labelmap == value
        if mask.any():
            write_on_volume_grid(mask.astype(np.uint8), volume,
                                 out / "masks" / f"{structure.value}.nii.gz")
    for structure, region in result.regions.items():  # a learned FLR model's regions
        if region.any():
            write_on_volume_grid(region.astype(np.uint8), volume,
                                 out / "masks" / f"{structure.value}.nii.gz")
    summary = {"series": series, "segmentation": result.to_dict()}
    (out / "segmentation.json").write_text(json.dumps(summary, indent=2) + "\n")
    if result.is_demo:
        console.print("[bold yellow]Demo model — not for clinical use.")
    for structure, ml in result.volumes_ml.items():
        console.print(f"{structure.value:>14}: {ml:9.1f} mL")
    console.print(f"confidence {result.confidence.score:.3f}, review recommended: "
                  f"{result.confidence.review_recommended}; written to {out}")


def _read_input(path: Path) -> tuple[CTVolume | None, dict[str, Any]]:
    """The CT volume (or None) and a JSON-able note on where it came from."""
    from pipeline.segment.nifti import read_nifti_volume

    if path.is_file() and path.name.endswith(_NIFTI_SUFFIXES):
        return read_nifti_volume(path), {"source": str(path), "kind": "nifti"}
    if not path.is_dir():
        raise typer.BadParameter("expected a DICOM folder or a .nii/.nii.gz file",
                                 param_hint="INPUT")
    from pipeline.select.config import SelectionConfig
    from pipeline.select.selector import select_series

    selection = select_series([path], SelectionConfig())
    return selection.chosen, {"source": str(path), "kind": "dicom", **selection.to_dict()}
