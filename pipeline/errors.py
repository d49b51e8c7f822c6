"""Errors that say the study's data, not the program, is at fault.

A stage raises :class:`InputDataError` when the study's files violate an assumption the
pipeline relies on and no reading of them can repair it. :func:`pipeline.run.study.run_study`
turns it into a rejected study with the error's message as the reason: a retry of the same
files cannot help, so the node does not retry it either.
"""

from __future__ import annotations


class InputDataError(ValueError):
    """The study's data cannot be processed; the message says why, in words."""
