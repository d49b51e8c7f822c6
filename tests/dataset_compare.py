"""Element-by-element comparison of two data sets, nested sequences included."""

from __future__ import annotations

from collections.abc import Iterator, Set

from pydicom.dataset import Dataset


def differences(a: Dataset, b: Dataset, skip: Set[str] = frozenset(),
                path: str = "") -> Iterator[str]:
    """Where ``a`` and ``b`` differ, one line each (empty: the same).

    Parameters
    ----------
    a, b : pydicom.Dataset
        The data sets (``a`` e.g. ours, ``b`` the reference).
    skip : set of str
        VRs whose values are not compared (e.g. UIDs and dates that legitimately differ).
    path : str
        Prefix of the lines (the sequence items walked so far).
    """
    for tag in sorted(set(a.keys()) | set(b.keys())):
        if tag not in a or tag not in b:
            yield f"{path}{tag}: only in {'a' if tag in a else 'b'}"
            continue
        ea, eb = a[tag], b[tag]
        if ea.VR in skip:
            continue
        if ea.VR == "SQ":
            if len(ea.value) != len(eb.value):
                yield f"{path}{ea.keyword}: {len(ea.value)} items, not {len(eb.value)}"
                continue
            for i, (ia, ib) in enumerate(zip(ea.value, eb.value, strict=True)):
                yield from differences(ia, ib, skip, f"{path}{ea.keyword}[{i}].")
        elif ea.VR != eb.VR or ea.value != eb.value:
            yield f"{path}{ea.keyword}: {str(ea.value)[:60]} != {str(eb.value)[:60]}"
