"""DICOM writers: DICOM-SEG, TID 1500 quantitative SR and an Encapsulated PDF summary.

Modules, in the order of the flow:

- :mod:`.config` -- :class:`EncodeConfig`, the stage's settings.
- :mod:`.content` -- plain input types (segmentation, measurements, report content).
- :mod:`.codes` -- the coded concepts and UCUM units used, including the private scheme
  ``99DCMNODE`` (``docs/sr-private-codes.md``).
- :mod:`.source` -- reads and checks the source CT headers in the volume's slice order.
- :mod:`.segments` -- which segments a SEG holds and their masks.
- :mod:`.seg` -- :func:`build_seg`.
- :mod:`.sr` -- :func:`build_sr` and :func:`build_rejection_sr`.
- :mod:`.overlay`, :mod:`.pdf` -- the readable summary and its DICOM encapsulation.
- :mod:`.outputs` -- :func:`encode_study` / :func:`encode_rejection` (all of the above in
  one call) and :func:`write_outputs`.
"""
