"""EANM 2022 advisory dose thresholds of a SIRT plan, rule by rule (``docs/clinical-sources.md``
§3).

Each function picks the threshold that applies to the device, territory and patient, as a
:class:`LimitChoice` naming its rule. An input that selects the threshold but is unknown
(pretreatment, bilirubin, disease) gives every candidate with the condition under which it
applies, never the stricter one alone. Rule identifiers (``rule_id``) are stable and are
written into ``result.json``, the SR and the PDF:

=================================  ==========================================================
``EANM2022-RESIN-NL-UNILOBAR``     resin, unilobar (lobe or segments of one lobe): normal
                                   liver of the territory < 40 Gy
``EANM2022-RESIN-NL-BILOBAR``      resin, bilobar, liver not pretreated: < 40 Gy
``EANM2022-RESIN-NL-BILOBAR-PRE``  resin, bilobar, liver pretreated or compromised: < 30 Gy
``EANM2022-RESIN-TUMOUR-MCRC``     resin, mCRC: tumour > 100 Gy
``EANM2022-RESIN-SEGMENTECTOMY``   resin, segmental: perfused territory > 150 Gy
``EANM2022-GLASS-WNL``             glass: whole normal liver < 75 Gy (bilirubin <= 1.1 mg/dL)
``EANM2022-GLASS-WNL-BILIRUBIN``   glass: whole normal liver < 50 Gy (bilirubin > 1.1 mg/dL)
``EANM2022-GLASS-TUMOUR-HCC``      glass, HCC: tumour >= 205 Gy
``EANM2022-GLASS-TUMOUR-MCRC``     glass, mCRC: tumour >= 189 Gy
``EANM2022-GLASS-SEGMENTECTOMY``   glass, segmental: perfused territory > 400 Gy
``EANM2022-LUNG-SESSION``          lungs <= 30 Gy per session
``EANM2022-LUNG-CUMULATIVE``       lungs <= 50 Gy cumulative
=================================  ==========================================================

Normal-liver limits ("< 40 Gy" in the guideline) are compared as maxima (``<=``): the
partition prescription (``docs/clinical-sources.md`` §3, "the activity that gives the normal
liver a chosen dose") reaches them exactly and is within them. The glass whole-normal-liver
limit was derived from unilobar treatments, so it applies to lobar (and segmental) plans as
well as to whole-liver ones; its dose is the energy reaching
the non-tumoral liver of the territory spread over the whole non-tumoral liver.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.quantify.advisory import Candidate, Flag
from pipeline.quantify.config import Thresholds
from pipeline.quantify.inputs import Disease, Microspheres, PlannerInputs

EANM = "EANM 2022 procedure guideline for radioembolisation, Table 3 (advisory)"

TERRITORY_NORMAL = "normal_liver_gy"
WHOLE_NORMAL = "whole_normal_liver_gy"


@dataclass(frozen=True)
class LimitChoice:
    """The threshold (or the candidates) of one rule for one dose.

    Parameters
    ----------
    code : str
        Flag code, e.g. ``NORMAL_LIVER_DOSE``.
    dose_key : str
        Key of the dose it applies to in ``implied_doses``.
    rule : str
        The rule in words (region, device, threshold or candidates).
    comparison : str
        How the dose must relate to the threshold: ``<``, ``<=``, ``>``, ``>=``.
    candidates : tuple of Candidate
        One candidate when the threshold is determined, several when it depends on
        ``unknown_inputs``.
    unknown_inputs : tuple of str
        Planner inputs that would select among the candidates.
    note : str
        Remark carried into the flag (e.g. why a rule is assumed to apply).
    """

    code: str
    dose_key: str
    rule: str
    comparison: str
    candidates: tuple[Candidate, ...]
    unknown_inputs: tuple[str, ...] = ()
    note: str = ""

    @property
    def limit(self) -> float | None:
        """The threshold, or None when it depends on an unknown input."""
        return None if self.unknown_inputs else self.candidates[0].limit

    @property
    def rule_id(self) -> str:
        """The rule identifier (the candidates' joined with ``|`` when undetermined)."""
        return "|".join(c.rule_id for c in self.candidates)

    def describe_unknown(self) -> str:
        """What each candidate needs, e.g. ``"pretreated unknown: 40 Gy if ...; 30 Gy if ..."``."""
        options = "; ".join(f"{c.limit:g} Gy if {c.applies_when}" for c in self.candidates)
        return f"{', '.join(self.unknown_inputs)} unknown: {options}"

    def flag(self, value: float | None, why_missing: str = "") -> Flag:
        """The flag of ``value`` (Gy) against this choice."""
        notes = [self.note] if self.note else []
        if self.unknown_inputs:
            notes.append(self.describe_unknown())
        if value is None and why_missing:
            notes.append(why_missing)
        return Flag(code=self.code, rule_id=self.rule_id, rule=self.rule, source=EANM,
                    value=value, limit=self.limit, comparison=self.comparison, unit="Gy",
                    note="; ".join(notes),
                    candidates=self.candidates if self.unknown_inputs else (),
                    unknown_inputs=self.unknown_inputs)


def _choice(code: str, dose_key: str, region: str, comparison: str,
            options: list[Candidate], chosen: int | None, unknown: str, note: str = ""
            ) -> LimitChoice:
    """One candidate where ``chosen`` is known, otherwise all of them."""
    if chosen is not None:
        c = options[chosen]
        return LimitChoice(code, dose_key, f"{region} {comparison} {c.limit:g} Gy "
                           f"({c.applies_when})", comparison, (c,), note=note)
    alternatives = " or ".join(f"{comparison} {c.limit:g} Gy ({c.applies_when})"
                               for c in options)
    return LimitChoice(code, dose_key, f"{region} {alternatives}", comparison, tuple(options),
                       (unknown,), note)


def normal_liver_choice(planner: PlannerInputs, bilobar: bool, t: Thresholds
                        ) -> LimitChoice | None:
    """Normal-liver limit of the device (None if the microsphere type is unknown).

    Resin: the non-tumoral liver of the treated territory, < 40 Gy unilobar; bilobar < 40 Gy,
    or < 30 Gy when the liver is pretreated or compromised (pretreatment changes the bilobar
    limit only). Glass: the whole non-tumoral liver, < 75 Gy, < 50 Gy if bilirubin is above
    1.1 mg/dL, whatever the territory.
    """
    if planner.microspheres is Microspheres.RESIN:
        region = "resin: mean dose to the non-tumoral liver of the treated territory"
        if not bilobar:
            return _choice("NORMAL_LIVER_DOSE", TERRITORY_NORMAL, region, "<=", [Candidate(
                t.resin_normal_liver_unilobar_gy, "unilobar, pretreated or not",
                "EANM2022-RESIN-NL-UNILOBAR")], 0, "")
        options = [
            Candidate(t.resin_normal_liver_bilobar_gy, "bilobar, liver not pretreated",
                      "EANM2022-RESIN-NL-BILOBAR"),
            Candidate(t.resin_normal_liver_bilobar_pretreated_gy,
                      "bilobar, liver pretreated or compromised",
                      "EANM2022-RESIN-NL-BILOBAR-PRE")]
        chosen = None if planner.pretreated is None else int(planner.pretreated)
        return _choice("NORMAL_LIVER_DOSE", TERRITORY_NORMAL, region, "<=", options, chosen,
                       "pretreated")
    if planner.microspheres is Microspheres.GLASS:
        high = t.bilirubin_high_mg_dl
        options = [
            Candidate(t.glass_whole_normal_liver_gy, f"bilirubin <= {high:g} mg/dL",
                      "EANM2022-GLASS-WNL"),
            Candidate(t.glass_whole_normal_liver_high_bilirubin_gy,
                      f"bilirubin > {high:g} mg/dL", "EANM2022-GLASS-WNL-BILIRUBIN")]
        chosen = (None if planner.bilirubin_mg_dl is None
                  else int(planner.bilirubin_mg_dl > high))
        return _choice("WHOLE_NORMAL_LIVER_DOSE", WHOLE_NORMAL,
                       "glass: mean dose to the whole non-tumoral liver", "<=", options, chosen,
                       "bilirubin_mg_dl",
                       note="derived from unilobar treatments: applies to lobar plans too "
                            f"(up to {t.glass_whole_normal_liver_seen_gy:g} Gy seen)")
    return None


def tumour_choice(planner: PlannerInputs, t: Thresholds) -> LimitChoice | None:
    """Tumour mean-dose threshold of the device and disease (None where none is given)."""
    if planner.microspheres is Microspheres.GLASS:
        options = [Candidate(t.glass_tumour_hcc_gy, "HCC", "EANM2022-GLASS-TUMOUR-HCC"),
                   Candidate(t.glass_tumour_mcrc_gy, "mCRC", "EANM2022-GLASS-TUMOUR-MCRC")]
        chosen = None if planner.disease is None else int(planner.disease is Disease.MCRC)
        return _choice("TUMOUR_DOSE", "tumour_gy", "glass: tumour mean dose", ">=", options,
                       chosen, "disease")
    if planner.microspheres is Microspheres.RESIN and planner.disease is not Disease.HCC:
        note = ("" if planner.disease is Disease.MCRC else
                "disease unknown: the reference gives this resin threshold for mCRC only")
        return _choice("TUMOUR_DOSE", "tumour_gy", "resin: tumour mean dose", ">", [Candidate(
            t.resin_tumour_gy, "mCRC", "EANM2022-RESIN-TUMOUR-MCRC")], 0, "", note)
    return None


def segmentectomy_choice(planner: PlannerInputs, t: Thresholds) -> LimitChoice | None:
    """Perfused-territory dose of a radiation segmentectomy (segmental plans only)."""
    if planner.microspheres is Microspheres.RESIN:
        return _choice("SEGMENTECTOMY_DOSE", "target_mean_gy",
                       "resin: mean dose to the perfused territory", ">", [Candidate(
                           t.resin_segmentectomy_gy, "radiation segmentectomy",
                           "EANM2022-RESIN-SEGMENTECTOMY")], 0, "")
    if planner.microspheres is Microspheres.GLASS:
        return _choice("SEGMENTECTOMY_DOSE", "target_mean_gy",
                       "glass: mean dose to the perfused territory", ">", [Candidate(
                           t.glass_segmentectomy_gy, "radiation segmentectomy",
                           "EANM2022-GLASS-SEGMENTECTOMY")], 0, "")
    return None


def lung_choices(t: Thresholds) -> tuple[LimitChoice, LimitChoice]:
    """Lung mean-dose limits per session and cumulative."""
    return (_choice("LUNG_DOSE_SESSION", "lung_gy", "lungs: mean dose", "<=", [Candidate(
                t.lung_session_gy, "per session", "EANM2022-LUNG-SESSION")], 0, ""),
            _choice("LUNG_DOSE_CUMULATIVE", "lung_cumulative_gy", "lungs: mean dose", "<=",
                    [Candidate(t.lung_cumulative_gy, "cumulative over all sessions",
                               "EANM2022-LUNG-CUMULATIVE")], 0, ""))
