"""Advisory flags: a figure compared with a published threshold, with the rule cited.

Flags inform the treating team; they never decide. A flag whose figure is unknown says
``not_evaluable`` and why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Flag:
    """One figure against one threshold.

    Parameters
    ----------
    code : str
        Stable machine code.
    rule : str
        The rule in words, e.g. ``"normal liver (resin, unilobar) < 40 Gy"``.
    source : str
        Citation of the rule.
    value : float or None
        The figure (None: not evaluable).
    limit : float
        The threshold.
    comparison : str
        How ``value`` must relate to ``limit`` to satisfy the rule: ``<``, ``<=``, ``>``, ``>=``.
    unit : str
        UCUM unit of value and limit.
    note : str
        Why not evaluable, or which assumption was made.
    """

    code: str
    rule: str
    source: str
    value: float | None
    limit: float
    comparison: str
    unit: str
    note: str = ""

    @property
    def status(self) -> str:
        """``met``, ``not_met`` or ``not_evaluable``."""
        if self.value is None:
            return "not_evaluable"
        return "met" if _COMPARE[self.comparison](self.value, self.limit) else "not_met"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"code": self.code, "rule": self.rule, "source": self.source,
                "value": self.value, "limit": self.limit, "comparison": self.comparison,
                "unit": self.unit, "status": self.status, "note": self.note}
