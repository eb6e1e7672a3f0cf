"""``optimizer explain``: pin a closed facility open, re-solve, report the objective increase."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.errors import PolicyError
from optimizer.explain import explain_facility
from optimizer.inputs.reading import load_inputs
from optimizer.pipeline import make_plan
from optimizer.rules.policy import Policy

POLICE = "police_station"


def test_explain_a_closed_station(tiny_data: Path) -> None:
    inputs = load_inputs(tiny_data)
    policy = Policy.from_dict({"police": {"reduction": 0.6}})
    plan = make_plan(inputs, policy, types=[POLICE])
    f = plan.facilities
    closed = f[f["decision"] == "close"].set_index("id")["reason_code"].to_dict()
    assert "reduction" in closed.values(), closed
    for target, code in closed.items():
        if code not in ("reduction", "below_threshold"):
            continue
        ex = explain_facility(inputs, policy, str(target), plan=plan)
        assert ex.decision == "close"
        assert ex.objective == pytest.approx(plan.solver[POLICE].objective)
        assert ex.objective_pinned is not None and ex.increase is not None
        if code == "reduction":
            # the plan is optimal under the same rules: keeping one more can only cost
            assert ex.increase >= -1e-6 * max(1.0, ex.objective)
        assert (target, "close", "keep") in ex.changed
        assert "目标值" in ex.text() and str(target) in ex.text()


def test_explain_a_kept_station_costs_nothing(tiny_data: Path) -> None:
    inputs = load_inputs(tiny_data)
    plan = make_plan(inputs, Policy(), types=[POLICE])
    kept = str(plan.facilities.loc[plan.facilities["decision"] == "keep", "id"].iloc[0])
    ex = explain_facility(inputs, Policy(), kept, plan=plan)
    assert ex.increase == 0.0 and ex.changed == []


def test_explain_unknown_id(tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PolicyError, match="NOPE"):
        explain_facility(load_inputs(tiny_data), Policy(), "NOPE")
    assert main(["explain", "--data", str(tiny_data), "--facility", "NOPE", "-q"]) == 2
    assert "NOPE" in capsys.readouterr().err
