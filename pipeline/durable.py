"""One durable, atomic file write for every file a reader must never see half-written.

:func:`atomic_write` writes the bytes to a ``*.part`` file in the target's folder, flushes
it to disk (``fsync``), renames it over the target (``os.replace``, atomic on POSIX) and,
unless told otherwise, flushes the folder too, so that the new name survives a crash or a
power loss once the call returns. A reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

PART_SUFFIX = ".part"
"""Suffix of a file still being written; a left-over one was never complete."""


def part_path(path: Path) -> Path:
    """The temporary file :func:`atomic_write` writes before renaming it to ``path``.

    The name carries the process and thread id, so concurrent writers of the same target
    (e.g. a sender that repeats an instance on two associations) never share one.

    Parameters
    ----------
    path : Path
        The final path.

    Returns
    -------
    Path
        ``<path>.<pid>-<thread id>.part`` in the same folder.
    """
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{PART_SUFFIX}")


def fsync_directory(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk.

    Parameters
    ----------
    folder : Path
        An existing folder.

    Raises
    ------
    OSError
        If the folder cannot be opened or flushed.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes | bytearray | memoryview,
    *,
    fsync_dir: bool = True,
    mode: int | None = None,
) -> Path:
    """Write ``data`` as ``path`` atomically and durably.

    The bytes go to :func:`part_path` (created, or truncated if an interrupted write left
    it), which is flushed with ``fsync`` and renamed over ``path``; then the folder is
    flushed. The folder must exist: creating folders (and flushing their parents) is the
    caller's business.

    Parameters
    ----------
    path : Path
        The final path; an existing file there is replaced.
    data : bytes, bytearray or memoryview
        The complete file content.
    fsync_dir : bool, optional
        Flush the folder after the rename (default), so the new name itself is durable.
        Pass False only where losing the newest file in a crash is harmless (a cache).
    mode : int or None, optional
        Permission bits of a newly created file (e.g. ``0o640``), before the umask; None
        for ``0o666`` before the umask, as :func:`open` does.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        On any disk trouble (disk full, I/O error, permissions, missing folder). No
        ``*.part`` file is left behind; if only the folder flush failed, the file is in
        place but its name may not survive a crash.
    """
    part = part_path(path)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
        try:
            view = memoryview(data).cast("B")
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, path)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise
    if fsync_dir:
        fsync_directory(path.parent)
    return path
