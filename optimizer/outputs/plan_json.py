"""``plan.json``: the documented structure of a plan (docs/outputs.md), as plain data.

Codes stay English (``keep``, ``police_office``, ...); numbers are rounded to 6 decimals and
missing values are ``null``, so the same plan gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from optimizer.outputs.grassroots import grassroots_json  # grassroots (issue 14)
from optimizer.report import Plan
from optimizer.report.metrics import json_number, json_text
from optimizer.rules.staffing import ROLE_MINIMA

__all__ = ["SCHEMA_VERSION", "plan_json_text", "plan_to_dict"]

#: Version of the plan.json structure.
SCHEMA_VERSION = 1


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """Return the plan as the documented ``plan.json`` structure.

    Parameters
    ----------
    plan
        The plan.

    Returns
    -------
    dict
        ``schema_version``, ``synthetic``, ``scenario``, ``policy``, ``inputs``, ``notes``,
        ``facility_types``, ``facilities``, ``townships``, ``metrics``, ``checks``, ``solver``, ``grassroots``.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "synthetic": plan.synthetic,
        "scenario": plan.policy.name,
        "policy": plan.policy.to_dict(),
        "inputs": plan.sources,
        "notes": plan.notes,
        "facility_types": list(plan.types),
        "facilities": facility_records(plan),
        "townships": township_records(plan),
        "metrics": plan.metrics.to_dict(),
        "checks": [c.to_dict() for c in plan.checks],
        "solver": plan.solver.to_dict(),
        # grassroots (issue 14): grids, centres, cameras, mediators; null without villages
        "grassroots": None if plan.grassroots is None else grassroots_json(plan.grassroots),
    }


def plan_json_text(plan: Plan) -> str:
    """Return the text of ``plan.json``, indented, UTF-8 without escapes."""
    return json.dumps(plan_to_dict(plan), ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def facility_records(plan: Plan) -> list[dict[str, Any]]:
    """Return one plain record per current facility: its decision and what it serves."""
    fac_records = []
    for r in plan.facilities.itertuples(index=False):
        fac_records.append(
            {
                "id": r.id,
                "type": r.type,
                "name": r.name,
                "township_code": r.township_code,
                "county_code": r.county_code,
                "lon": json_number(r.lon),
                "lat": json_number(r.lat),
                "staff": json_number(r.staff),
                "decision": r.decision,
                "becomes": json_text(r.becomes),
                "central": bool(r.central),
                "serves": [str(c) for c in r.serves],  # type: ignore[union-attr]
                "reason_code": r.reason_code,
                "reason": r.reason,
                "exception": json_text(r.exception),
                "exception_by": json_text(getattr(r, "exception_by", None)),
                "pinned": json_text(r.pinned),
                "caseload": json_number(getattr(r, "caseload", None)),
                "caseload_before": json_number(getattr(r, "caseload_before", None)),
                "min_cases": json_number(getattr(r, "min_cases", None)),
                "merged_into": json_text(getattr(r, "merged_into", None)),
                "minimum_staff": json_number(getattr(r, "minimum_staff", None)),
                "proposed_staff": json_number(getattr(r, "proposed_staff", None)),
                "roles": {
                    c: json_number(getattr(r, c, None)) for c in ROLE_MINIMA.get(str(r.type), {})
                },
            }
        )
    return fac_records


def township_records(plan: Plan) -> list[dict[str, Any]]:
    """Return one plain record per township: who serves it, distances and travel, per type."""
    town_records = []
    tw = plan.townships
    for i in range(len(tw)):
        row = tw.iloc[i]
        town_records.append(
            {
                "code": row["code"],
                "name": row["name"],
                "county_code": row["county_code"],
                "kind": row["kind"],
                "population": json_number(row["population"]),
                "incidents": json_number(row["incidents"]),
                "cases": json_number(row.get("cases")),
                "tibetan_area": bool(row["tibetan_area"]),
                "below_threshold": bool(row["below_threshold"]),
                "served_by": {t: json_text(row[f"served_by__{t}"]) for t in plan.types},
                "distance_km": {t: json_number(row[f"distance_km__{t}"]) for t in plan.types},
                "distance_before_km": {
                    t: json_number(row[f"distance_before_km__{t}"]) for t in plan.types
                },
                "minutes": {t: json_number(row[f"minutes__{t}"]) for t in plan.types},
                "minutes_before": {t: json_number(row[f"minutes_before__{t}"]) for t in plan.types},
                "by_road": {t: bool(row[f"by_road__{t}"]) for t in plan.types},
                "in_township": {t: json_text(row[f"in_township__{t}"]) for t in plan.types},
            }
        )
    return town_records
