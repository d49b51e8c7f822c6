"""Series selection: candidate filtering, volume building with geometry QA, contrast phase,
liver coverage and ranking.

The entry points are :func:`pipeline.select.selector.select_series` (a folder of DICOM files
to one chosen :class:`pipeline.volume.CTVolume`, with the full ranking and reasons) and
:func:`pipeline.select.volume.build_volume` (a list of CT slices to a checked volume).
"""
