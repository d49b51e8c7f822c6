"""dicomnode: the DICOM node (network, spool, jobs, audit DB, admin, CLI).

Composes the processing library :mod:`pipeline` through one door; nothing is built at import
time.
"""

__version__ = "0.1.0"
