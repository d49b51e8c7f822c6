"""Where the encode integration tests find the validators, and what they validate."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.volume import CTVolume

VENV_BIN = Path(sys.executable).parent
SHAPE = (12, 40, 36)


@dataclass(frozen=True)
class Outputs:
    """Files of one encoded study."""

    volume: CTVolume
    ct: list[Path]
    seg: Path
    seg_labelmap: Path
    sr: Path
    pdf: Path
    rejection_sr: Path
