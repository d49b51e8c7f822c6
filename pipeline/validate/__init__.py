"""Site validation: measure a segmentation model on local cases the way the studies did.

``dicomnode validate CASES --out OUT`` runs the configured pipeline (or reads existing
predictions) on a case set with reference segmentations and writes every figure per case
and structure, a summary with bootstrap confidence intervals, plots and an HTML report.

Modules: :mod:`.metrics` (the figures), :mod:`.cases` (case-set layout),
:mod:`.labelmaps` (NIfTI / DICOM-SEG label maps and resampling), :mod:`.evaluate` (one
case), :mod:`.runner` (the resumable loop), :mod:`.summary` (over cases),
:mod:`.published` (the seed studies' figures), :mod:`.plots` and :mod:`.report` (outputs),
:mod:`.synthetic` (a synthetic case set). See ``docs/validation.md``.
"""
