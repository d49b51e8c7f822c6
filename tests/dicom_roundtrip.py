"""Write a data set as a DICOM file (Part 10) and read it back, the one way the tests do it.

A data set built in memory can hold what its file cannot (a value its VR cannot encode, a
missing file meta element); a test that judges an output reads it back from its bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO, TypeVar, overload

import pydicom
from pydicom.dataset import Dataset, FileDataset

T = TypeVar("T")


def dicom_bytes(dataset: Dataset) -> bytes:
    """The data set as a DICOM file: preamble, file meta and the data set.

    Parameters
    ----------
    dataset : Dataset
        A data set with file meta (``enforce_file_format``: the meta is checked and
        completed).

    Returns
    -------
    bytes
        The file's content.
    """
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@overload
def reread(dataset: Dataset) -> FileDataset: ...
@overload
def reread(dataset: Dataset, reader: Callable[[BinaryIO], T]) -> T: ...


def reread(dataset: Dataset, reader: Callable[[BinaryIO], T] | None = None) -> FileDataset | T:
    """The data set written as a DICOM file and read back.

    Parameters
    ----------
    dataset : Dataset
        What to write (see :func:`dicom_bytes`).
    reader : callable, optional
        What reads the file from a binary stream, e.g. :func:`highdicom.seg.segread` or
        :func:`highdicom.sr.srread`; :func:`pydicom.dcmread` when omitted.

    Returns
    -------
    FileDataset or object
        What the reader returns.
    """
    stream = io.BytesIO(dicom_bytes(dataset))
    return pydicom.dcmread(stream) if reader is None else reader(stream)
