"""Durable storage of received instances in the spool folder.

Layout: ``<root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. An
instance is written to a ``.part`` file, flushed with ``fsync``, renamed over its final
name and the folder is flushed too, so once :meth:`SpoolWriter.write` returns the file
survives a crash or power loss. Callers validate the UIDs (:mod:`dicomnode.scp.uids`)
before they reach this module; it checks them again because they become paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dicomnode.scp.uids import uid_problem
from pipeline.durable import PART_SUFFIX, atomic_write, fsync_directory

SPOOL_FILE_MODE = 0o640
"""Permission bits of a spooled instance (before the umask): owner writes, group reads."""

INSTANCE_SUFFIX = ".dcm"
"""Suffix of complete instances."""

QUARANTINE_FOLDER = ".quarantine"
"""Folder in the spool root for files found unreadable at start-up (flat, never scanned)."""


class SpoolError(OSError):
    """Writing an instance to the spool failed (disk full, I/O error, permissions)."""


@dataclass(frozen=True)
class SpooledFile:
    """An instance that is durably on disk.

    Parameters
    ----------
    path : Path
        Its final path in the spool.
    size_bytes : int
        Its size in bytes.
    replaced : bool
        Whether it overwrote an earlier copy of the same instance (a duplicate).
    """

    path: Path
    size_bytes: int
    replaced: bool


@dataclass(frozen=True)
class SpoolEntry:
    """A complete instance found while scanning the spool (UIDs taken from its path)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    path: Path


class SpoolWriter:
    """Writes received instances durably into the spool folder.

    Parameters
    ----------
    root : Path
        The spool folder; created (durably) if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """The final path of an instance.

        Raises
        ------
        ValueError
            If any UID is not a valid UID (it would be unsafe as a path component).
        """
        for uid in (study_uid, series_uid, sop_uid):
            problem = uid_problem(uid)
            if problem is not None:
                raise ValueError(problem)
        return self.root / study_uid / series_uid / f"{sop_uid}{INSTANCE_SUFFIX}"

    def write(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> SpooledFile:
        """Write one instance's bytes (a complete Part 10 file) durably.

        Parameters
        ----------
        study_uid, series_uid, sop_uid : str
            Study, Series and SOP Instance UIDs naming the file.
        data : bytes
            The file content: preamble, file meta and the data set as received.

        Returns
        -------
        SpooledFile
            The final path, size in bytes and whether an earlier copy was replaced.

        Raises
        ------
        ValueError
            If a UID is invalid.
        SpoolError
            If the file could not be written and flushed; no ``.part`` file is left.
        """
        final = self.path_for(study_uid, series_uid, sop_uid)
        try:
            self._make_folders(final.parent)
            replaced = final.exists()
            atomic_write(final, data, mode=SPOOL_FILE_MODE)
        except OSError as exc:
            raise SpoolError(exc.errno, f"spool write failed: {exc.strerror or exc}") from exc
        return SpooledFile(path=final, size_bytes=len(data), replaced=replaced)

    def _make_folders(self, folder: Path) -> None:
        """Create ``folder`` and its parents, flushing each parent that gained an entry."""
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue  # another thread or process created it first
            fsync_directory(path.parent)

    def remove_partial_files(self) -> int:
        """Delete ``.part`` files left by an interrupted write; returns how many."""
        removed = 0
        for part in self.root.glob(f"*/*/*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)
            removed += 1
        return removed

    def quarantine(self, entry: SpoolEntry) -> Path:
        """Move an instance out of the spool's scans into :data:`QUARANTINE_FOLDER`,
        durably; returns its new path (``<study>_<series>_<sop>.dcm``).

        Raises
        ------
        OSError
            If it could not be moved.
        """
        folder = self.root / QUARANTINE_FOLDER
        self._make_folders(folder)
        target = folder / "_".join(
            (entry.study_instance_uid, entry.series_instance_uid, entry.path.name)
        )
        os.replace(entry.path, target)
        fsync_directory(folder)
        fsync_directory(entry.path.parent)
        return target

    def scan(self) -> Iterator[SpoolEntry]:
        """Every complete instance in the spool whose path components are valid UIDs."""
        for path in self.root.glob(f"*/*/*{INSTANCE_SUFFIX}"):
            study, series, sop = path.parent.parent.name, path.parent.name, path.stem
            if all(uid_problem(uid) is None for uid in (study, series, sop)):
                yield SpoolEntry(study, series, sop, path)
