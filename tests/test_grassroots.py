"""Clauses 16-18 and the grassroots outputs, recomputed from the input files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point, box

from optimizer.inputs.reading import load_inputs
from optimizer.inputs.villages import VillageInputs
from optimizer.outputs import write_plan
from optimizer.paths import sample_dir
from optimizer.pipeline import make_plan
from optimizer.planning.budget import TimeBudget
from optimizer.planning.cameras import plan_cameras
from optimizer.report.grassroots import grassroots_check
from optimizer.rules import Policy
from optimizer.rules.grassroots import GrassrootsPolicy
from optimizer.schema import COURT

SAMPLE = Path(str(sample_dir()))


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    inputs = load_inputs(SAMPLE)
    plan = make_plan(inputs, Policy(), types=[COURT])
    out = tmp_path_factory.mktemp("grassroots") / "out"
    write_plan(plan, out)
    return inputs, plan, out


def test_camera_points_equal_pre_merger_village_counts(planned):
    _, plan, _ = planned
    before = pd.read_csv(SAMPLE / "villages_before.csv", dtype=str)
    counted = before["merged_into"].value_counts()
    cams = plan.grassroots.cameras.villages.set_index("code")
    assert (cams["rule_points"] == counted.reindex(cams.index).fillna(0).clip(lower=1)).all()
    villages = gpd.read_file(SAMPLE / "villages.gpkg").set_index("code")
    gap = np.maximum(0, cams["planned"] - villages["cameras"][cams.index])
    assert cams["gap"].to_numpy() == pytest.approx(gap.to_numpy())
    check = next(c for c in plan.checks if c.clause == "17")
    assert check.actual["planned"] == len(before)


def test_mediator_coverage_recomputed_from_roster(planned):
    _, plan, _ = planned
    villages = gpd.read_file(SAMPLE / "villages.gpkg")
    villages["county"] = villages["township_code"].str[:6]
    share = (villages["mediators_fulltime"] >= 1).groupby(villages["county"]).mean()
    by = plan.grassroots.mediators_by_county.set_index("county_code")
    assert by["share_now"].to_numpy() == pytest.approx(share[by.index].round(4).to_numpy())
    check = next(c for c in plan.checks if c.clause == "18" and "20%" in c.rule)
    assert check.actual["now"] == pytest.approx(
        (villages["mediators_fulltime"] >= 1).mean(), abs=1e-4
    )
    med = plan.grassroots.mediators
    # the proposal goes to committees without a full-time mediator, best score first per county
    assert not (med["proposed"] & (med["mediators_fulltime"] >= 1)).any()
    for _, g in med[med["rank"] > 0].groupby("county_code"):
        assert g.sort_values("rank")["score"].is_monotonic_decreasing


def test_mediator_budget_limits_the_proposal_and_the_check_says_so():
    inputs = load_inputs(SAMPLE)
    from optimizer.report.grassroots import build_grassroots

    policy = Policy.from_dict({"grassroots": {"mediator_budget": 10, "mediator_price_yuan": 50000}})
    g = build_grassroots(inputs, policy, TimeBudget(120))
    assert g is not None
    assert int(g.mediators["proposed"].sum()) == 10
    assert g.mediators["cost_yuan"].sum() == 500_000
    # the ten go first to the committees a county needs for its 20 %
    needed = g.mediators["for_threshold"].sum()
    assert g.mediators.loc[g.mediators["proposed"], "for_threshold"].all() or needed < 10
    check = next(c for c in g.checks if c.clause == "18" and "20%" in c.rule)
    below = g.mediators_by_county["share_after"] < 0.2
    assert check.status == ("not_met" if below.any() else "met")


def test_centres_consolidate_merged_townships(planned):
    _, plan, _ = planned
    before = gpd.read_file(SAMPLE / "townships_before.gpkg")
    merged_away = before[before["code"] != before["merged_into"]]
    centres = plan.grassroots.centres.set_index("township_code")
    listed = {t: set(filter(None, m.split(";"))) for t, m in centres["merged_townships"].items()}
    towns = set(plan.townships["code"])
    for old, new in zip(merged_away["code"], merged_away["merged_into"], strict=True):
        if old not in towns:
            assert old in listed[new], (old, new)
    assert len(centres) == len(plan.townships)


def test_place_cover_fewest_points_and_uncovered_reason():
    t = "510122101"
    villages = gpd.GeoDataFrame(
        {
            "code": [f"{t}201"],
            "township_code": [t],
            "name": ["甲村"],
            "kind": ["村"],
            "households": [300.0],
            "villages_before": [2.0],
            "cameras": [1.0],
        },
        geometry=[box(104.0, 30.0, 104.02, 30.02)],
        crs="EPSG:4326",
    )
    # three places 100 m apart (one point covers them), one far corner, one outside the village
    places = gpd.GeoDataFrame(
        {
            "name": ["学校", "集市", "路口", "卫生院", "外地"],
            "kind": ["school", "market", "crossing", "clinic", "other"],
            "township_code": [t] * 5,
        },
        geometry=[
            Point(104.005, 30.005),
            Point(104.006, 30.005),
            Point(104.005, 30.006),
            Point(104.019, 30.019),
            Point(104.05, 30.05),
        ],
        crs="EPSG:4326",
    )
    plan = plan_cameras(
        VillageInputs(villages=villages, places=places),
        GrassrootsPolicy(camera_radius_m=200.0),
        budget=TimeBudget(30),
    )
    assert len(plan.points) == 2
    assert plan.villages["cover_points"].iloc[0] == 2
    assert plan.villages["planned"].iloc[0] == 2 and plan.villages["gap"].iloc[0] == 1
    assert list(plan.uncovered["name"]) == ["外地"]
    assert "不在任何村" in plan.uncovered["reason"].iloc[0]


def test_outputs_carry_the_grassroots_clauses(planned):
    _, plan, out = planned
    data = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    clauses = {c["clause"] for c in data["checks"] if c["facility_type"] == "grassroots"}
    assert clauses == {"13", "15", "16", "17", "18"}
    assert all(c["status"] in ("met", "exceptions", "not_met") for c in data["checks"])
    section = data["grassroots"]
    assert section["summary"]["grids"] == len(plan.grassroots.grids) == len(section["grids"])
    wb = openpyxl.load_workbook(out / "plan.xlsx", read_only=True)
    assert {"网格", "网格员", "综治中心", "雪亮工程", "人民调解员"} <= set(wb.sheetnames)
    page = (out / "map.html").read_text(encoding="utf-8")
    # the canvas map draws both layers from its data (one call, both layers with features)
    call = page.rsplit("optimizerGrassrootsLayers(", 1)[1].split(", ", 1)[1]
    data = json.loads(call[: call.index(");\n")])
    assert data["gridsName"] == "网格（多网合一）"
    assert len(data["grids"]["features"]) == len(plan.grassroots.grids)
    assert len(data["villages"]["features"]) == len(plan.grassroots.villages)


def test_check_helper_decides_status_from_breaches():
    ok = grassroots_check("13", "r", 1, 1)
    assert ok.status == "met" and ok.passed
    c = grassroots_check("13", "r", 1, 1, exceptions=[{"id": "x", "reason": "y"}])
    assert c.status == "exceptions" and c.passed and c.exceptions[0]["by"] == "model"
    bad = grassroots_check("13", "r", 1, 1, violations=[{"id": "x", "reason": "y"}])
    assert bad.status == "not_met" and not bad.passed
    # a rule that admits no exception: a listed breach is a violation
    strict = grassroots_check(
        "18", "r", 1, 1, exceptions=[{"id": "x", "reason": "y"}], principle=False
    )
    assert strict.status == "not_met" and strict.violations and not strict.exceptions
    # an exception without its reason is not admissible
    assert (
        grassroots_check("13", "r", 1, 1, exceptions=[{"id": "x", "reason": ""}]).status
        == "not_met"
    )
