"""Advisory flags: a figure compared with a published threshold, with the rule cited.

Flags inform the treating team; they never decide. A flag whose figure is unknown says
``not_evaluable`` and why. Where an input that selects the threshold is unknown (e.g.
pretreatment, bilirubin, disease), the flag carries every candidate threshold with the
condition under which it applies, and its status is ``depends_on_unknown_input`` unless the
figure meets (or fails) all of them alike: the stricter threshold is never taken silently.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Candidate:
    """A threshold that applies under a condition on an unknown input.

    Parameters
    ----------
    limit : float
        The threshold, in the flag's unit.
    applies_when : str
        The condition, e.g. ``"liver pretreated or compromised"``.
    rule_id : str
        Identifier of the rule this threshold comes from.
    """

    limit: float
    applies_when: str
    rule_id: str


@dataclass(frozen=True)
class Flag:
    """One figure against one threshold (or against the candidates of an unknown input).

    Parameters
    ----------
    code : str
        Stable machine code, e.g. ``NORMAL_LIVER_DOSE``.
    rule_id : str
        Identifier of the rule applied, e.g. ``EANM2022-RESIN-NL-UNILOBAR`` (the
        candidates' identifiers joined with ``|`` when an input is unknown).
    rule : str
        The rule in words, e.g. ``"resin, unilobar: normal liver < 40 Gy"``.
    source : str
        Citation of the rule.
    value : float or None
        The figure (None: not evaluable).
    limit : float or None
        The threshold; None when it depends on an unknown input (see ``candidates``).
    comparison : str
        How ``value`` must relate to the threshold to satisfy the rule: ``<``, ``<=``, ``>``,
        ``>=``.
    unit : str
        UCUM unit of value and limit.
    note : str
        Why not evaluable, or what the threshold depends on.
    candidates : tuple of Candidate
        With ``limit`` None: every threshold the unknown input could select.
    unknown_inputs : tuple of str
        Names of the unknown inputs that select among ``candidates``.
    """

    code: str
    rule_id: str
    rule: str
    source: str
    value: float | None
    limit: float | None
    comparison: str
    unit: str
    note: str = ""
    candidates: tuple[Candidate, ...] = ()
    unknown_inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.limit is None) == (not self.candidates):
            raise ValueError(f"flag {self.code}: give either a limit or candidates")

    def _meets(self, limit: float) -> bool:
        assert self.value is not None
        # A value within 1e-9 (relative) of the limit is at the limit: a prescription computed
        # to reach a limit must not pass or fail it by rounding.
        value = limit if abs(self.value - limit) <= 1e-9 * abs(limit) else self.value
        return _COMPARE[self.comparison](value, limit)

    @property
    def status(self) -> str:
        """``met``, ``not_met``, ``not_evaluable`` or ``depends_on_unknown_input``."""
        if self.value is None:
            return "not_evaluable"
        limits = [self.limit] if self.limit is not None else [c.limit for c in self.candidates]
        results = {self._meets(limit) for limit in limits}
        if len(results) > 1:
            return "depends_on_unknown_input"
        return "met" if results.pop() else "not_met"

    def candidate_status(self, candidate: Candidate) -> str | None:
        """``met`` or ``not_met`` of one candidate threshold (None: the figure is unknown)."""
        if self.value is None:
            return None
        return "met" if self._meets(candidate.limit) else "not_met"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"code": self.code, "rule_id": self.rule_id, "rule": self.rule,
                "source": self.source, "value": self.value, "limit": self.limit,
                "comparison": self.comparison, "unit": self.unit, "status": self.status,
                "note": self.note,
                "candidates": [{"limit": c.limit, "applies_when": c.applies_when,
                                "rule_id": c.rule_id,
                                "status": self.candidate_status(c)}
                               for c in self.candidates],
                "unknown_inputs": list(self.unknown_inputs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Flag:
        """Read back :meth:`to_dict` (``status`` is recomputed, not read)."""
        return cls(
            code=str(data["code"]), rule_id=str(data["rule_id"]), rule=str(data["rule"]),
            source=str(data.get("source") or ""), value=data.get("value"),
            limit=data.get("limit"), comparison=str(data["comparison"]),
            unit=str(data.get("unit") or ""), note=str(data.get("note") or ""),
            candidates=tuple(Candidate(float(c["limit"]), str(c["applies_when"]),
                                       str(c["rule_id"]))
                             for c in data.get("candidates") or ()),
            unknown_inputs=tuple(data.get("unknown_inputs") or ()))
