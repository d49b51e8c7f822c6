"""The segmentation models the node is configured with, verified once (hashes read)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pipeline.segment.config import SegmentationConfig


@dataclass(frozen=True)
class ModelStatus:
    """One configured model: verified (identity known) or why not."""

    key: str
    ok: bool
    name: str
    version: str
    is_demo: bool
    weights_sha256: str
    detail: str


class ModelStatusCache:
    """Verifies the configured models on first use and keeps the answer.

    Verification hashes every checkpoint, so it is done once per process, not per page.

    Parameters
    ----------
    config : SegmentationConfig
        The segmentation stage's settings (the model registry).
    """

    def __init__(self, config: SegmentationConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._status: list[ModelStatus] | None = None

    def get(self) -> list[ModelStatus]:
        """The status of every configured model."""
        with self._lock:
            if self._status is None:
                self._status = self._verify()
            return self._status

    def _verify(self) -> list[ModelStatus]:
        from pipeline.segment.model_folders import ModelError, verify_config

        try:
            infos = verify_config(self._config)
        except (ModelError, OSError) as exc:
            return [ModelStatus("(all)", False, "", "", False, "", str(exc))]
        return [
            ModelStatus(
                key=key,
                ok=True,
                name=info.name,
                version=info.version,
                is_demo=info.is_demo,
                weights_sha256=info.weights_sha256,
                detail=info.description,
            )
            for key, info in sorted(infos.items())
        ]
