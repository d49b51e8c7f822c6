"""Plain-text summary of a quantification result (for the terminal and logs)."""

from __future__ import annotations

from typing import Any


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "not reported" if value is None else f"{value:.{digits}f} {unit}"


def _flag_lines(flags: list[dict[str, Any]], indent: str) -> list[str]:
    return [f"{indent}[{f['status']}] {f.get('rule_id', '')}: {f['rule']}: "
            f"{_num(f['value'], f['unit'])}" + (f" ({f['note']})" if f.get("note") else "")
            for f in flags]


def _activity_line(method: dict[str, Any]) -> str:
    act = method.get("activities") or {}
    line = f"A_inj {method['injected_activity_gbq']:.3f} GBq at administration"
    if act.get("administration_time"):
        line += f" ({act['administration_time']})"
    if method.get("vial_activity_gbq") is not None:
        line += f", vial {method['vial_activity_gbq']:.3f} GBq at administration"
    if act.get("vial_at_calibration_gbq") is not None:
        line += (f", vial {act['vial_at_calibration_gbq']:.3f} GBq at calibration "
                 f"{act['calibration_time']} (decay x{act['decay_factor']:.4f})")
    return line


def format_plan(doc: dict[str, Any]) -> str:
    """Human-readable summary of volumes, FLR, SIRT plan and warnings of a result document.

    Parameters
    ----------
    doc : dict
        A result document (``QuantResult.to_dict()`` or a re-plan of it).
    """
    vols = doc.get("volumes_ml", {})
    tb = doc.get("tumour_burden", {})
    lines = [f"Plan revision {doc.get('plan_revision', 1)}", "Volumes:"]
    for key in ("liver", "liver_without_tumour", "right_hemiliver", "left_hemiliver",
                "couinaud_1", "couinaud_4"):
        if key in vols:
            lines.append(f"  {key}: {_num(vols[key], 'mL')}")
    lines.append(f"  tumour: {tb.get('lesion_count', 0)} lesion(s), TTV "
                 f"{_num(tb.get('total_tumour_volume_ml'), 'mL')}, tumour fraction "
                 f"{_num(tb.get('tumour_fraction_percent'), '%')}")
    flr = doc.get("flr", {})
    lines.append(f"FLR (TELV {_num(flr.get('telv_ml'), 'mL', 0)}, {flr.get('telv_formula')}):")
    for row in flr.get("resections", []):
        lines.append(f"  {row['label']}: FLR {_num(row['flr_ml'], 'mL')}, sFLR "
                     f"{_num(row['sflr_percent'], '%')}, FLR/BW "
                     f"{_num(row['flr_body_weight_percent'], '%', 2)}"
                     + (f"; missing: {', '.join(row['missing'])}" if row["missing"] else ""))
    hyp = flr.get("hypertrophy") or {}
    if hyp.get("degree_of_hypertrophy_points") is not None:
        lines.append(f"  hypertrophy ({hyp['resection']}): DH "
                     f"{_num(hyp['degree_of_hypertrophy_points'], 'points')}, KGR "
                     f"{_num(hyp['kinetic_growth_rate_percent_per_week'], '%/week')} "
                     f"(PVE {hyp.get('pve_date')}, {_num(hyp.get('weeks_since_pve'), 'weeks')})")
    sirt = doc.get("sirt", {})
    target = sirt.get("target") or {}
    lines.append(f"SIRT ({sirt.get('microspheres') or 'microspheres unknown'}, territory "
                 f"{target.get('territory', 'unknown')}, lung mass "
                 f"{sirt.get('lung_mass', {}).get('kg')} kg, "
                 f"{sirt.get('lung_mass', {}).get('label')}):")
    for name, method in sirt.get("methods", {}).items():
        if not method.get("applicable", True):
            lines.append(f"  {name}: not applicable ({method.get('note', '')})")
            continue
        if method.get("injected_activity_gbq") is None:
            why = ", ".join(method.get("missing", [])) or (
                "do not treat (lung shunt)" if method.get("do_not_treat") else "")
            lines.append(f"  {name}: not computed ({why})")
            continue
        doses = method["implied_doses"]
        lines.append(f"  {name}: {_activity_line(method)}")
        lines.append(f"    doses: territory {_num(doses['target_mean_gy'], 'Gy')}, normal "
                     f"liver of territory {_num(doses['normal_liver_gy'], 'Gy')}, whole normal "
                     f"liver {_num(doses.get('whole_normal_liver_gy'), 'Gy')}, tumour "
                     f"{_num(doses['tumour_gy'], 'Gy')}, lungs {_num(doses['lung_gy'], 'Gy')}")
        lines.extend(_flag_lines(method.get("flags", []), "    "))
    if sirt.get("missing"):
        lines.append(f"  missing inputs: {', '.join(sirt['missing'])}")
    warnings = doc.get("warnings", [])
    if warnings:
        lines.append("Warnings:")
        lines.extend(f"  {w['code']} ({w['action']}): {w['message']}" for w in warnings)
    return "\n".join(lines)
