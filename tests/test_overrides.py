"""Per-township overrides by the planner: serving facility and kind, each with its justification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from outcome_checker import recheck

from optimizer.errors import InfeasibleError, PolicyError
from optimizer.inputs.reading import load_inputs
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.pipeline import make_plan
from optimizer.rules.policy import Policy

EXACT = {"gap": 0.0, "time_limit": 60}


def _plan(data: Path, settings: dict[str, Any], types: list[str]) -> dict[str, Any]:
    settings = {**settings, "solver": EXACT}
    return plan_to_dict(make_plan(load_inputs(data), Policy.from_dict(settings), types=types))


def _town(plan: dict[str, Any], code: str) -> dict[str, Any]:
    return next(w for w in plan["townships"] if w["code"] == code)


def _fac(plan: dict[str, Any], fid: str) -> dict[str, Any]:
    return next(f for f in plan["facilities"] if f["id"] == fid)


def test_an_assigned_township_is_served_by_the_planners_office_with_the_reason(
    tiny_data: Path,
) -> None:
    why = "县委决定：就近办公"
    plan = _plan(
        tiny_data,
        {"judicial": {"assign_townships": {"510122202": {"facility": "JO01", "reason": why}}}},
        ["judicial_office"],
    )
    assert _town(plan, "510122202")["served_by"]["judicial_office"] == "JO01"
    office = _fac(plan, "JO01")
    assert office["decision"] == "keep"
    assert why in office["reason"] and "510122202" in office["reason"]
    assert plan["policy"]["judicial"]["assign_townships"]["510122202"]["facility"] == "JO01"
    assert recheck(plan) == []


def test_a_township_assigned_to_a_neighbours_station_is_a_planner_exception(
    tiny_data: Path,
) -> None:
    # 九江镇 (30,000 people) has two stations of its own; the planner has it served from 东升街道
    why = "县委决定：九江镇并入东升街道治安片区"
    plan = _plan(
        tiny_data,
        {"police": {"assign_townships": {"510122101": {"facility": "PS01", "reason": why}}}},
        ["police_station"],
    )
    assert _town(plan, "510122101")["served_by"]["police_station"] == "PS01"
    own = next(c for c in plan["checks"] if "keeps a station of its own" in c["rule"])
    listed = {e["id"]: e for e in own["exceptions"]}
    assert listed["510122101"]["by"] == "planner"
    assert why in listed["510122101"]["reason"]
    assert own["status"] == "exceptions"
    assert recheck(plan) == []


def test_a_kind_override_changes_the_kind_and_the_note_quotes_the_reason(tiny_data: Path) -> None:
    why = "2025年已改设街道，数据未更新"
    plan = _plan(
        tiny_data,
        {"township_kinds": {"510122102": {"kind": "街道", "reason": why}}},
        ["police_station"],
    )
    assert _town(plan, "510122102")["kind"] == "街道"
    assert any("510122102" in n and why in n and "改为街道" in n for n in plan["notes"])


def test_overrides_the_data_cannot_take_are_all_named(tiny_data: Path) -> None:
    r = "县委决定"
    policy = Policy.from_dict(
        {
            "township_kinds": {"510122999": {"kind": "镇", "reason": r}},
            "police": {
                "exempt_townships": {"510199001": r},
                "assign_townships": {
                    "510122101": {"facility": "PS-NOPE", "reason": r},
                    "510122102": {"facility": "JO01", "reason": r},
                    "510122103": {"facility": "PS07", "reason": r},  # PS07 is in 513222
                },
            },
        }
    )
    with pytest.raises(PolicyError) as err:
        make_plan(load_inputs(tiny_data), policy)
    msg = str(err.value)
    for words in (
        "township_kinds: township code(s) 510122999 are not in the townships file",
        "police.exempt_townships: township code(s) 510199001",
        "police.assign_townships.510122101: facility 'PS-NOPE' is not in the facilities file",
        "police.assign_townships.510122102: 'JO01' is a judicial_office, not a police_station",
        "police.assign_townships.510122103: 'PS07' is in county 513222",
    ):
        assert words in msg


def test_an_override_without_its_justification_or_with_a_bad_kind_is_rejected() -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_dict(
            {
                "township_kinds": {"510122102": {"kind": "村", "reason": "x"}},
                "court": {
                    "assign_townships": {"510122102": {"facility": "CT01"}},
                    "pin_closed": ["CT02"],
                },
                "judicial": {"assign_townships": {"5101": "JO01"}},
            }
        )
    msg = str(err.value)
    assert "township_kinds: unknown kind(s) 510122102: '村'" in msg
    assert "court.assign_townships.510122102: give reason" in msg
    assert "'judicial.assign_townships': the entries of 5101 must each be a mapping" in msg
    with pytest.raises(PolicyError, match="assigned to a facility in court.pin_closed"):
        Policy.from_dict(
            {
                "court": {
                    "assign_townships": {"510122102": {"facility": "CT02", "reason": "x"}},
                    "pin_closed": ["CT02"],
                }
            }
        )


def test_an_assignment_beyond_the_distance_limit_says_so(tiny_data: Path) -> None:
    settings = {
        "judicial": {
            "max_distance_km": 8,
            "assign_townships": {"510122202": {"facility": "JO01", "reason": "县委决定"}},
        }
    }
    with pytest.raises(
        InfeasibleError, match=r"judicial.assign_townships.510122202: 'JO01' may not"
    ):
        _plan(tiny_data, settings, ["judicial_office"])
