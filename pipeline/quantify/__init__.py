"""Quantification: volumetry, tumour burden, future liver remnant and SIRT Y-90 dosimetry.

Pure functions over the label map on the native CT grid and over numbers; every formula and
constant is that of ``docs/clinical-sources.md`` and is echoed in the output. Entry points:
:func:`pipeline.quantify.quantify.quantify` (a segmented study) and
:func:`pipeline.quantify.quantify.replan` (new planner inputs for an earlier result). The output
schema is documented in ``docs/quantification.md``.
"""
