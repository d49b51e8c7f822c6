"""``dicomnode echo`` and ``dicomnode send``: verify a DICOM peer, send a folder to it."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from pydicom.misc import is_dicom
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from dicomnode.cli.app import app
from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.delivery.config import DimseDestinationConfig, DimseTimeouts
from dicomnode.delivery.dimse import CStoreSender, echo

HostArg = Annotated[str, typer.Argument(help="Peer host name or IP address.")]
PortArg = Annotated[int, typer.Argument(min=1, max=65535, help="Peer DICOM port.")]
AetOpt = Annotated[str, typer.Option("--aet", help="Calling AE title (ours).")]
AecOpt = Annotated[str, typer.Option("--aec", help="Called AE title (the peer's).")]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=0.1, help="Connect/association/response time limit, s."),
]

_STYLE = {
    DeliveryStatus.SUCCESS: "green",
    DeliveryStatus.WARNING: "yellow",
    DeliveryStatus.TRANSIENT: "red",
    DeliveryStatus.PERMANENT: "bold red",
}
_MAX_PROBLEMS_SHOWN = 10


def _peer(host: str, port: int, aet: str, aec: str, timeout: float) -> DimseDestinationConfig:
    return DimseDestinationConfig(
        name="cli",
        host=host,
        port=port,
        called_aet=aec,
        calling_aet=aet,
        timeouts=DimseTimeouts(
            connection_s=timeout, acse_s=timeout, dimse_s=timeout, network_s=timeout
        ),
    )


def dicom_files(folder: Path) -> list[Path]:
    """All DICOM Part 10 files (``DICM`` preamble) below ``folder``, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_dicom(p))


@app.command("echo")
def echo_command(
    host: HostArg,
    port: PortArg,
    aet: AetOpt = "DICOMNODE",
    aec: AecOpt = "ANY-SCP",
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Verify a DICOM peer with C-ECHO; exit 0 if it answers Success, 1 otherwise."""
    result = echo(_peer(host, port, aet, aec, timeout))
    style = _STYLE[result.status]
    Console().print(
        f"C-ECHO {aec}@{host}:{port}: [{style}]{result.status.value}[/{style}] "
        f"({result.detail}) in {result.round_trip_ms:.1f} ms"
    )
    raise typer.Exit(0 if result.status.delivered else 1)


@app.command("send")
def send_command(
    folder: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="Folder of DICOM files (recursive)."),
    ],
    host: HostArg,
    port: PortArg,
    aet: AetOpt = "DICOMNODE",
    aec: AecOpt = "ANY-SCP",
    timeout: TimeoutOpt = 60.0,
) -> None:
    """C-STORE every DICOM file below FOLDER to a peer on one association.

    Exit 0 when every instance was stored (success or warning), 1 when any was not, 2 when
    the folder holds no DICOM file.
    """
    console = Console()
    paths = dicom_files(folder)
    if not paths:
        console.print(f"no DICOM files below {folder}")
        raise typer.Exit(2)
    total_bytes = sum(p.stat().st_size for p in paths)
    started = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"C-STORE to {aec}@{host}:{port}", total=len(paths))

        def advance(_outcome: InstanceOutcome) -> None:
            progress.advance(task)

        outcomes = CStoreSender(_peer(host, port, aet, aec, timeout)).send(
            paths, on_outcome=advance
        )
    elapsed = time.perf_counter() - started
    _print_summary(console, outcomes, total_bytes, elapsed)
    raise typer.Exit(0 if all(o.status.delivered for o in outcomes) else 1)


def _print_summary(
    console: Console, outcomes: list[InstanceOutcome], total_bytes: int, elapsed_s: float
) -> None:
    """Counts per status, throughput, and the commonest reasons for problems."""
    counts = Counter(o.status for o in outcomes)
    table = Table(title="C-STORE summary")
    table.add_column("status")
    table.add_column("instances", justify="right")
    for status in DeliveryStatus:
        table.add_row(f"[{_STYLE[status]}]{status.value}", str(counts.get(status, 0)))
    console.print(table)
    rate = len(outcomes) / elapsed_s if elapsed_s > 0 else float("inf")
    console.print(
        f"{len(outcomes)} instances, {total_bytes / 1e6:.1f} MB in {elapsed_s:.2f} s "
        f"({rate:.1f} instances/s, {total_bytes / 1e6 / max(elapsed_s, 1e-9):.1f} MB/s)"
    )
    problems = Counter(
        (o.status, o.detail) for o in outcomes if o.status is not DeliveryStatus.SUCCESS
    )
    for (status, detail), count in problems.most_common(_MAX_PROBLEMS_SHOWN):
        console.print(f"  {count} x {status.value}: {detail}")
    if len(problems) > _MAX_PROBLEMS_SHOWN:
        console.print(f"  ... and {len(problems) - _MAX_PROBLEMS_SHOWN} other reasons")
