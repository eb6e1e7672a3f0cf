"""Every check's status, recomputed from plan.json's numbers alone, and hand-made outcomes.

``outcome_checker`` reads only plan.json (no package code): on the bundled sample and on tiny
variants that reach each outcome, every check must say what its numbers say.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import build_facilities
from outcome_checker import recheck

from optimizer.cli import bundled_sample
from optimizer.inputs.reading import load_inputs
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.pipeline import make_plan
from optimizer.report.checks import Check, decide, make_check
from optimizer.rules.policy import Policy


def _plan(data: Path, settings: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return plan_to_dict(make_plan(load_inputs(data), Policy.from_dict(settings or {}), **kw))


def _check(plan: dict[str, Any], words: str, t: str | None = None) -> dict[str, Any]:
    return next(c for c in plan["checks"] if words in c["rule"] and t in (None, c["facility_type"]))


# ------------------------------------------------------------------ the decision rule by hand


def test_decide_each_outcome_by_hand() -> None:
    ok = {"id": "x", "reason": "理由", "by": "model"}
    assert decide([], [], principle=True) == "met"
    assert decide([], [ok], principle=True) == "exceptions"
    assert decide([{"id": "y", "reason": "r"}], [ok], principle=True) == "not_met"
    # a rule that admits no exception, an exception without who allowed it or without reason
    assert decide([], [ok], principle=False) == "not_met"
    assert decide([], [{**ok, "by": ""}], principle=True) == "not_met"
    assert decide([], [{**ok, "reason": ""}], principle=True) == "not_met"


def test_make_check_moves_inadmissible_exceptions_to_violations() -> None:
    c = make_check(
        "court",
        "11",
        "r",
        200,
        5,
        exceptions=[
            {"id": "a", "reason": "无相邻法庭", "by": "model"},
            {"id": "b", "reason": "整县放宽", "by": ""},
        ],
        principle=True,
    )
    assert c.status == "not_met" and not c.passed
    assert [e["id"] for e in c.exceptions] == ["a"]
    assert [e["id"] for e in c.violations] == ["b"]
    assert c.to_dict()["status"] == "not_met" and c.to_dict()["passed"] is False


def test_status_must_be_an_outcome() -> None:
    with pytest.raises(ValueError, match="status"):
        Check("court", "11", "r", 1, 1, "passed")


# ------------------------------------------------------------------ plans: recomputed from plan.json


@pytest.fixture(scope="module")
def sample_plan() -> dict[str, Any]:
    return _plan(bundled_sample())


def test_sample_every_status_recomputed(sample_plan: dict[str, Any]) -> None:
    assert recheck(sample_plan) == []
    counts = {
        o: sum(c["status"] == o for c in sample_plan["checks"])
        for o in ("met", "exceptions", "not_met")
    }
    assert sum(counts.values()) == len(sample_plan["checks"])


def test_sample_every_facility_has_a_chinese_reason_with_numbers(
    sample_plan: dict[str, Any],
) -> None:
    for f in sample_plan["facilities"]:
        assert f["reason_code"] and f["reason"], f["id"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in f["reason"]), f["reason"]
        assert any(ch.isdigit() for ch in f["reason"]), f["reason"]


def test_sample_caseload_per_court(sample_plan: dict[str, Any]) -> None:
    """Each kept court below the floor is listed with its own reason (no county waiver)."""
    check = _check(sample_plan, "cases a year")
    floor = sample_plan["policy"]["court"]["min_cases"]
    low = {
        f["id"]
        for f in sample_plan["facilities"]
        if f["type"] == "court" and f["decision"] == "keep" and f["caseload"] < floor
    }
    listed = {e["id"] for e in check["exceptions"]} | {v["id"] for v in check["violations"]}
    assert listed == low
    assert all("整县" not in e["reason"] for e in check["exceptions"])


def test_tiny_default_plan_recomputed(tiny_data: Path) -> None:
    plan = _plan(tiny_data)
    assert recheck(plan) == []


def test_tiny_exceptions_outcome(make_data_dir: Callable[..., Path]) -> None:
    """A county scope with a lone station cannot cut it: an exception the model allows."""
    facs = build_facilities()
    lone = facs[(facs["type"] == "police_station") & facs["township_code"].str.startswith("513222")]
    facs = facs[~facs["id"].isin(lone["id"]) | (facs["id"] == lone["id"].iloc[0])]
    plan = _plan(
        make_data_dir(facilities=facs), {"police": {"scope": "county"}}, types=["police_station"]
    )
    check = _check(plan, "fewer at scope county")
    assert check["status"] == "exceptions"
    assert recheck(plan) == []


def test_tiny_not_met_outcomes(tiny_data: Path) -> None:
    """No 下沉 and a pinned-closed township station: the numbers miss, the checks say so."""
    inputs = load_inputs(tiny_data)
    f = inputs.facilities
    big = f[(f["type"] == "police_station") & (f["township_code"] == "510122103")]["id"].tolist()
    plan = _plan(
        tiny_data,
        {
            "staffing": {"transfer_share": 0.0},
            "police": {"pin_closed": big, "pin_reasons": {big[0]: "县委决定撤并：合署办公"}},
        },
    )
    assert recheck(plan) == []
    statuses = {c["rule"]: c["status"] for c in plan["checks"]}
    assert "not_met" in statuses.values(), statuses
    own = _check(plan, "keeps a station of its own")
    planner = [e for e in own["exceptions"] if e["id"] == "510122103"]
    assert planner and planner[0]["by"] == "planner" and "合署办公" in planner[0]["reason"]
    closed = {x["id"]: x for x in plan["facilities"]}[big[0]]
    assert closed["reason_code"] == "pinned_closed" and "合署办公" in closed["reason"]


def test_recheck_catches_a_false_met(sample_plan: dict[str, Any]) -> None:
    """The independent recomputation fails when a check claims met over a breach."""
    import copy

    bad = copy.deepcopy(sample_plan)
    check = _check(bad, "cases a year")
    check["status"], check["exceptions"] = "met", []
    assert any("cases a year" in m for m in recheck(bad))


def test_tibetan_flags_one_source(tiny_townships: Any) -> None:
    """The data column wins; a disagreement with the policy's prefixes is named in a note."""
    from optimizer.rules.policy import PolicePolicy
    from optimizer.rules.screens import tibetan_disagreement

    tw = tiny_townships.copy()
    tw["county_code"] = tw["code"].str[:6]
    tw["tibetan_area"] = tw["county_code"].str.startswith("5132")
    assert tibetan_disagreement(tw, PolicePolicy()) == ""
    tw.loc[tw["code"] == "513222203", "tibetan_area"] = False
    note = tibetan_disagreement(tw, PolicePolicy())
    assert "513222203" in note and "data column wins" in note


def test_pin_reasons_must_name_pinned_ids() -> None:
    from optimizer.errors import PolicyError

    with pytest.raises(PolicyError, match="not pinned"):
        Policy.from_dict({"police": {"pin_reasons": {"PS1": "县委决定保留"}}})
    p = Policy.from_dict({"police": {"pin_open": ["PS1"], "pin_reasons": {"PS1": "边境治安"}}})
    assert p.police.pin_reasons == {"PS1": "边境治安"}
    assert p.to_dict()["police"]["pin_reasons"] == {"PS1": "边境治安"}


def test_planner_exempts_a_township_from_the_threshold(tiny_data: Path) -> None:
    """An exempt small township is no longer screened: it keeps its station in principle."""
    plan = _plan(
        tiny_data,
        {"police": {"exempt_townships": {"510122202": "县委决定：边境治安"}}},
        types=["police_station"],
    )
    town = next(w for w in plan["townships"] if w["code"] == "510122202")
    assert town["below_threshold"] is False
    own = _check(plan, "keeps a station of its own")
    stations = [f for f in plan["facilities"] if f["township_code"] == "510122202"]
    kept = [f for f in stations if f["decision"] == "keep"]
    if kept:
        assert "边境治安" in kept[0]["reason"]
    else:
        assert "510122202" in {e["id"] for e in own["exceptions"]}
    assert recheck(plan) == []


# ------------------------------------------------------------------ staff by role (clauses 8, 12)


def _with_roles(make_data_dir: Callable[..., Path], no_clerk: tuple[str, ...] = ()) -> Path:
    """Tiny data with Chinese role headers: each court 2 judges, 1 clerk (none in ``no_clerk``)
    and 1 法警; each office 1 司法助理员. Planned as is, CT01-CT03 are kept and CT04 closes."""
    facs = build_facilities()
    court = facs["type"] == "court"
    facs.loc[court, "员额法官"] = 2
    facs.loc[court, "书记员"] = 1
    facs.loc[court & facs["id"].isin(no_clerk), "书记员"] = 0
    facs.loc[court, "司法警察"] = 1
    facs.loc[facs["type"] == "judicial_office", "司法助理员"] = 1
    return make_data_dir("roles" + "".join(no_clerk), facilities=facs)


def _role_check(plan: dict[str, Any], t: str) -> dict[str, Any]:
    return _check(plan, "by role: each kept", t)


def test_minima_by_role_met_when_every_unit_has_each_role(
    make_data_dir: Callable[..., Path],
) -> None:
    plan = _plan(_with_roles(make_data_dir), types=["judicial_office", "court"])
    assert _role_check(plan, "court")["status"] == "met"
    assert _role_check(plan, "judicial_office")["status"] == "met"
    ct01 = next(f for f in plan["facilities"] if f["id"] == "CT01")
    assert ct01["roles"] == {"judges": 2, "clerks": 1, "judicial_police": 1}
    assert not any("checked by head count only" in n for n in plan["notes"])
    assert recheck(plan) == []


def test_a_court_without_a_clerk_is_not_met_and_named(
    make_data_dir: Callable[..., Path],
) -> None:
    """CT01 has 5 staff (enough by head count) but no 书记员: only the role check sees it."""
    plan = _plan(_with_roles(make_data_dir, ("CT01",)), types=["court"])
    check = _role_check(plan, "court")
    ct01 = next(f for f in plan["facilities"] if f["id"] == "CT01")
    assert ct01["decision"] == "keep"
    assert check["status"] == "not_met"
    assert [x["id"] for x in check["violations"]] == ["CT01"]
    v = check["violations"][0]
    assert v["missing"] == {"clerks": 1} and "缺书记员1名" in v["reason"]
    assert _check(plan, "kept court >=", "court")["status"] == "met"
    assert recheck(plan) == []
    # the independent checker catches the role check claiming met over the missing clerk
    check["status"], check["violations"] = "met", []
    assert any("by role" in m for m in recheck(plan))


def test_a_closed_courts_clerk_moves_to_the_court_absorbing_it(
    make_data_dir: Callable[..., Path],
) -> None:
    """CT04 closes; its clerk joins the court serving its township, which then has one."""
    plan = _plan(_with_roles(make_data_dir), types=["court"])
    ct04 = next(f for f in plan["facilities"] if f["id"] == "CT04")
    assert ct04["decision"] == "close"
    town = next(w for w in plan["townships"] if w["code"] == ct04["township_code"])
    absorber = town["served_by"]["court"]
    plan = _plan(_with_roles(make_data_dir, (absorber,)), types=["court"])
    assert _role_check(plan, "court")["status"] == "met"
    plan = _plan(_with_roles(make_data_dir, (absorber, "CT04")), types=["court"])
    check = _role_check(plan, "court")
    assert check["status"] == "not_met" and [x["id"] for x in check["violations"]] == [absorber]
    assert recheck(plan) == []


def test_without_role_columns_the_minima_are_by_head_count_with_a_note(tiny_data: Path) -> None:
    plan = _plan(tiny_data, types=["court"])
    assert not any("by role" in c["rule"] for c in plan["checks"])
    assert any("court: the facilities give no staff by role" in n for n in plan["notes"])
    assert recheck(plan) == []
