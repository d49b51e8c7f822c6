"""What was assumed while reading headers (tolerant reading), in words a person reads.

Anonymisers and some archives leave SOP Class UID or SOP Instance UID empty in the data
set while the file meta (written from the C-STORE's Affected SOP Class and Instance) holds
them. Such a header is completed from its file meta and the assumption is recorded, once
per kind and value, with the number of files: "SOP Class UID empty in 20 files; taken from
the file meta: CT Image Storage".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

FROM_FILE_META = {
    "SOPClassUID": ("MediaStorageSOPClassUID", "SOP Class UID"),
    "SOPInstanceUID": ("MediaStorageSOPInstanceUID", "SOP Instance UID"),
}
"""Data set attribute -> (file meta attribute standing in for it, its name in words)."""


@dataclass(frozen=True)
class Assumption:
    """One attribute of one header that was taken from somewhere else.

    Parameters
    ----------
    name : str
        The attribute's name in words (``"SOP Class UID"``).
    state : {"empty", "missing"}
        What the data set held.
    source : str
        Where the value was taken from (``"the file meta"``).
    value : str
        The value taken, in words where it is a well-known UID (``"CT Image Storage"``);
        empty where it differs per file (SOP Instance UID).
    """

    name: str
    state: str
    source: str
    value: str = ""


def complete_from_file_meta(ds: Dataset) -> list[Assumption]:
    """Fill an empty or missing SOP Class / Instance UID of ``ds`` from its file meta.

    Parameters
    ----------
    ds : pydicom.Dataset
        A header as read from a file; completed in place.

    Returns
    -------
    list[Assumption]
        What was taken from the file meta (empty when nothing was needed or possible).
    """
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return []
    out: list[Assumption] = []
    for keyword, (meta_keyword, name) in FROM_FILE_META.items():
        if str(ds.get(keyword) or "").strip():
            continue
        value = str(meta.get(meta_keyword) or "").strip()
        if not value:
            continue
        state = "empty" if keyword in ds else "missing"
        ds.add(DataElement(keyword, "UI", value))
        shown = UID(value).name if keyword == "SOPClassUID" else ""
        out.append(Assumption(name, state, "the file meta", shown))
    return out


def describe(assumptions: Iterable[Assumption]) -> list[str]:
    """One sentence per kind of assumption, with the number of files, most frequent first.

    Parameters
    ----------
    assumptions : iterable of Assumption
        Every assumption, one per attribute and file.

    Returns
    -------
    list[str]
        E.g. ``"SOP Class UID empty in 20 files; taken from the file meta: CT Image
        Storage"``.
    """
    counts = Counter(assumptions)
    return [
        f"{a.name} {a.state} in {n} file{'s' if n != 1 else ''}; taken from {a.source}"
        + (f": {a.value}" if a.value else "")
        for a, n in counts.most_common()
    ]
