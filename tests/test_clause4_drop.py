"""Clause 4's one-station-per-township rule is lifted only in the county that cannot hold it.

The solver is wrapped so that one county's model is infeasible while its clause-4 groups are
in it (as connected jurisdictions with a travel limit made it in four western counties of the
synthetic province); the plan must keep the rule everywhere else and list that county's
townships without a station as the model's exceptions, with the county named.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import optimizer.planning.plan as plan_mod
from optimizer import load_inputs, make_plan
from optimizer.errors import InfeasibleError
from optimizer.report.checks import township_station_check
from optimizer.rules.policy import Policy

POLICE = "police_station"


def test_one_countys_conflict_lifts_the_township_rule_there_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = load_inputs()
    data = Policy().to_dict()
    data["police"]["reduction"] = 0.30  # the count allows one station per township
    policy = Policy.from_dict(data)
    tw = inputs.townships
    county_of = dict(zip(tw["code"].astype(str), tw["county_code"].astype(str), strict=True))
    seen: dict[str, Any] = {}
    groups_per_call: list[set[str]] = []
    real_formulate, real_solve = plan_mod.formulate, plan_mod.solve

    def formulate(*args: Any, **kwargs: Any) -> Any:
        f = real_formulate(*args, **kwargs)
        if f.ctx.spec.type == POLICE:
            seen["f"] = f
        return f

    def solve(prob: Any, **kwargs: Any) -> Any:
        f = seen.get("f")
        own = {g.name for g in prob.groups if g.name.startswith("own_")}
        if f is None or not own:
            return real_solve(prob, **kwargs)
        groups_per_call.append(own)
        bad = seen.setdefault("county", county_of[sorted(own)[0].removeprefix("own_")])
        if any(county_of[n.removeprefix("own_")] == bad for n in own):
            err = InfeasibleError(["no plan in this county with one station per township"])
            err.client_blocks = [np.flatnonzero(f.ctx.t_county[f.clients] == bad)]
            raise err
        return real_solve(prob, **kwargs)

    real_decode = plan_mod.decode

    def decode(f: Any, res: Any, travel: Any) -> Any:
        tp = real_decode(f, res, travel)
        if f.ctx.spec.type == POLICE:
            seen["type_plan"] = tp
        return tp

    monkeypatch.setattr(plan_mod, "formulate", formulate)
    monkeypatch.setattr(plan_mod, "solve", solve)
    monkeypatch.setattr(plan_mod, "decode", decode)
    plan = make_plan(inputs, policy, types=[POLICE])

    bad = seen["county"]
    first, last = groups_per_call[0], groups_per_call[-1]
    in_bad = {n for n in first if county_of[n.removeprefix("own_")] == bad}
    assert in_bad and last == first - in_bad  # the other counties keep their groups
    check = next(c for c in plan.checks if c.clause == "4" and "乡镇" in c.rule)
    assert not check.violations
    for e in check.exceptions:
        if e["by"] == "model":
            assert county_of[e["id"]] == bad and bad in e["reason"]

    # A station closed in that county is the model's exception; elsewhere it is a violation.
    tp = seen["type_plan"]
    fac = plan.facilities[plan.facilities["type"] == POLICE].reset_index(drop=True)
    own = fac[fac["township_code"].map(lambda c: f"own_{c}" in first)]
    lone = own.groupby("township_code").filter(lambda g: len(g) == 1)
    here = lone[lone["township_code"].map(county_of) == bad].iloc[0]
    there = lone[lone["township_code"].map(county_of) != bad].iloc[0]
    closed = fac.copy()
    closed.loc[closed["id"].isin([here["id"], there["id"]]), "decision"] = "close"
    again = township_station_check(inputs.townships, closed, tp)
    model = [e for e in again.exceptions if e["by"] == "model"]
    assert [e["id"] for e in model] == [here["township_code"]]
    assert f"本县（{bad}）" in model[0]["reason"]
    assert [v["id"] for v in again.violations] == [there["township_code"]]
    assert again.status == "not_met"
    assert any(bad in n and "clause 4" in n for n in plan.notes)
