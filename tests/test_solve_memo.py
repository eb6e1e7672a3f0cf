"""Proven optima reused between runs on the same townships (a sweep's judicial offices and
courts do not change when only police settings are swept)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from optimizer.inputs import load_inputs
from optimizer.outputs.plan_json import plan_json_text
from optimizer.paths import sample_dir
from optimizer.pipeline import make_plan
from optimizer.rules import Policy
from optimizer.schema import COURT, JUDICIAL, POLICE
from optimizer.sweep.regions import region_inputs

TIMING_KEYS = {"seconds", "timing", "stage_seconds", "time_budget"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@pytest.fixture(scope="module")
def county():
    return region_inputs(load_inputs(sample_dir()), "511826")


def test_reused_optima_give_the_same_plans_as_solving_again(county):
    policies = [
        Policy(),
        dataclasses.replace(Policy(), police=dataclasses.replace(Policy().police, reduction=0.7)),
    ]
    memo: dict = {}
    with_memo = [make_plan(county, p, solves=memo) for p in policies]
    # police differs between the two runs, judicial offices and courts do not: three types
    # proven in the first run, one more police problem in the second
    assert len(memo) == 4
    alone = [make_plan(county, p) for p in policies]
    for a, b in zip(with_memo, alone, strict=True):
        assert _strip(json.loads(plan_json_text(a))) == _strip(json.loads(plan_json_text(b)))
    kept = [p.metrics[POLICE].after.count for p in with_memo]
    assert kept[0] > kept[1]  # the police plans do differ
    for t in (JUDICIAL, COURT):
        assert with_memo[0].metrics[t].after.count == with_memo[1].metrics[t].after.count


def test_a_changed_problem_is_solved_not_reused(county):
    memo: dict = {}
    make_plan(county, Policy(), types=[JUDICIAL], solves=memo)
    assert len(memo) == 1
    stricter = dataclasses.replace(
        Policy(), judicial=dataclasses.replace(Policy().judicial, reduction=0.5)
    )
    plan = make_plan(county, stricter, types=[JUDICIAL], solves=memo)
    assert len(memo) == 2
    fresh = make_plan(county, stricter, types=[JUDICIAL])
    assert plan.metrics[JUDICIAL].after.count == fresh.metrics[JUDICIAL].after.count
