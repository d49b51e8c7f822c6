"""Pixel decodes counted at pydicom's decoder and at the selection's own reader of native
Pixel Data (:func:`pipeline.select.native.read_native`), per SOP Instance UID: what
selection and the pipeline decode, whichever of our functions asks for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import Decoder

from pipeline.select import volume

NOT_A_DATA_SET = "(decoded from a file or buffer, not a data set)"
"""The key of decodes whose source is not a pydicom data set."""


def count_decodes(patch: Callable[[Any, str, Any], None]) -> Counter[str]:
    """Count every decode from now on (``Decoder.as_array``, ``Decoder.iter_array`` and
    the native reads of :func:`pipeline.select.volume.slice_hu` that return pixels).

    Parameters
    ----------
    patch : callable
        Sets an attribute: ``monkeypatch.setattr`` in a test (undone after it), ``setattr``
        in a process of its own.

    Returns
    -------
    Counter
        Decodes per SOPInstanceUID of the decoded data set, updated as decodes happen.
    """
    decodes: Counter[str] = Counter()
    as_array, iter_array = Decoder.as_array, Decoder.iter_array
    read_native = volume.read_native

    def key(src: Any) -> str:
        return str(src.SOPInstanceUID) if isinstance(src, Dataset) else NOT_A_DATA_SET

    def counted_as_array(self: Decoder, src: Any, *args: Any, **kwargs: Any) -> Any:
        decodes[key(src)] += 1
        return as_array(self, src, *args, **kwargs)

    def counted_iter_array(self: Decoder, src: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        decodes[key(src)] += 1
        yield from iter_array(self, src, *args, **kwargs)

    def counted_read_native(ds: Dataset, *args: Any, **kwargs: Any) -> Any:
        pixels = read_native(ds, *args, **kwargs)
        if pixels is not None:
            decodes[key(ds)] += 1
        return pixels

    patch(Decoder, "as_array", counted_as_array)
    patch(Decoder, "iter_array", counted_iter_array)
    patch(volume, "read_native", counted_read_native)
    return decodes
