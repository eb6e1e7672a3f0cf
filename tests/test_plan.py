"""Police-station plans: model invariants on many random instances, hand-solved cases, exceptions."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import build_facilities, build_townships
from plan_checker import check_plan, geodesic_km, seats_of
from shapely.geometry import box

from optimizer.cli import bundled_sample
from optimizer.errors import InfeasibleError
from optimizer.inputs.reading import Inputs, load_inputs
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.pipeline import make_plan
from optimizer.rules.policy import Policy

POLICE = "police_station"
SIDE = 0.05
# 510122 and 510124 share prefecture 5101; 513222 is in the 涉藏地区 (5132)
COUNTIES = ("510122", "510124", "513222")


def run(inputs: Inputs, policy: Policy) -> dict[str, Any]:
    return plan_to_dict(make_plan(inputs, policy, types=[POLICE]))


def violations(plan: dict[str, Any], inputs: Inputs, policy: Policy) -> list[str]:
    tw = inputs.townships.merge(seats_of(inputs.townships), on="code")
    return check_plan(
        plan, tw, inputs.facilities, policy.to_dict()["police"], solver_gap=policy.solver.gap
    )


def random_data(rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """1-3 counties side by side, each a block of 2-6 square townships, random stations."""
    counties = list(COUNTIES[: int(rng.integers(1, 4))])
    rng.shuffle(counties)
    towns: list[dict[str, Any]] = []
    geoms = []
    stations: list[dict[str, Any]] = []
    x0 = 104.0
    for county in counties:
        cols, rows = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        if cols * rows == 1:
            cols = 2
        suffixes = ["001"] + [f"{100 + k}" for k in range(3)] + [f"{200 + k}" for k in range(3)]
        k = 0
        for c in range(cols):
            for r in range(rows):
                code = county + suffixes[k]
                k += 1
                small = rng.random() < 0.5
                pop = float(rng.integers(2_000, 19_999) if small else rng.integers(20_000, 60_000))
                inc = float(rng.integers(1, 49) if rng.random() < 0.8 else rng.integers(50, 300))
                towns.append(
                    {"code": code, "name": f"乡镇{code[-5:]}", "population": pop, "incidents": inc}
                )
                x, y = x0 + c * SIDE, 30.0 + r * SIDE
                geoms.append(box(x, y, x + SIDE, y + SIDE))
                n_st = int(rng.choice([0, 1, 1, 1, 2]))
                for s in range(n_st):
                    stations.append(
                        {
                            "id": f"PS-{code}-{s}",
                            "type": POLICE,
                            "name": f"派出所{code[-5:]}-{s}",
                            "township_code": code,
                            "lon": round(x + SIDE * float(rng.uniform(0.2, 0.8)), 6),
                            "lat": round(y + SIDE * float(rng.uniform(0.2, 0.8)), 6),
                            "staff": 8,
                        }
                    )
        if not any(s["township_code"].startswith(county) for s in stations):
            code = county + suffixes[0]
            stations.append(
                {
                    "id": f"PS-{code}-9",
                    "type": POLICE,
                    "name": f"派出所{code[-5:]}-9",
                    "township_code": code,
                    "lon": round(x0 + SIDE / 2, 6),
                    "lat": round(30.0 + SIDE / 2, 6),
                    "staff": 8,
                }
            )
        x0 += cols * SIDE
    gdf = gpd.GeoDataFrame(pd.DataFrame(towns), geometry=geoms, crs="EPSG:4490")
    return gdf, pd.DataFrame(stations)


def random_policy(rng: np.random.Generator, inputs: Inputs) -> Policy:
    police: dict[str, Any] = {
        "scope": str(rng.choice(["province", "prefecture", "county"])),
        "weight": str(rng.choice(["population", "incidents"])),
        "reduction": float(rng.choice([0.2, 0.35, 0.5])),
        "contiguity": bool(rng.random() < 0.7),
    }
    f = inputs.facilities
    ids = f["id"].tolist()
    if rng.random() < 0.4:
        police["pin_open"] = [str(rng.choice(ids))]
    if rng.random() < 0.4:
        cand = [
            i
            for i in ids
            if i not in police.get("pin_open", [])
            and (f["county_code"] == f.loc[f["id"] == i, "county_code"].iloc[0]).sum() > 1
        ]
        if cand:
            police["pin_closed"] = [str(rng.choice(cand))]
    if rng.random() < 0.3:
        # a limit every township can meet: 1.5 × the farthest nearest-station distance
        seats = seats_of(inputs.townships).merge(inputs.townships[["code", "county_code"]])
        far = 0.0
        for s in seats.itertuples():
            here = f[
                (f["county_code"] == s.county_code) & ~f["id"].isin(police.get("pin_closed", []))
            ]
            far = max(
                far,
                min(
                    1.3 * geodesic_km(s.seat_lon, s.seat_lat, x, y)
                    for x, y in zip(here.lon, here.lat, strict=True)
                ),
            )
        police["max_distance_km"] = round(1.5 * far + 1.0, 1)
    return Policy.from_dict({"name": "random", "police": police, "solver": {"time_limit": 30}})


N_RANDOM = 30


@pytest.fixture(scope="module")
def random_cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Inputs, Policy]]:
    from conftest import write_data_dir

    out = []
    for seed in range(N_RANDOM):
        rng = np.random.default_rng(1000 + seed)
        towns, facs = random_data(rng)
        folder = write_data_dir(
            tmp_path_factory.mktemp(f"r{seed}"), townships=towns, facilities=facs, counties=False
        )
        inputs = load_inputs(folder)
        out.append((inputs, random_policy(rng, inputs)))
    return out


@pytest.mark.parametrize("k", range(N_RANDOM))
def test_random_plans_satisfy_every_rule(random_cases: list[tuple[Inputs, Policy]], k: int) -> None:
    inputs, policy = random_cases[k]
    plan = run(inputs, policy)
    found = violations(plan, inputs, policy)
    assert not found, f"policy {policy.to_dict()['police']}: {found}"


def test_random_cases_cover_the_settings(random_cases: list[tuple[Inputs, Policy]]) -> None:
    """The random instances reach every scope, both weights, pins, distance limits, exceptions."""
    pols = [p.police for _, p in random_cases]
    assert {p.scope for p in pols} == {"province", "prefecture", "county"}
    assert {p.weight for p in pols} == {"population", "incidents"}
    assert sum(bool(p.pin_open) for p in pols) >= 5
    assert sum(bool(p.pin_closed) for p in pols) >= 5
    assert sum(p.max_distance_km is not None for p in pols) >= 5
    n_counties = [inp.townships["county_code"].nunique() for inp, _ in random_cases]
    assert {1, 2, 3} <= set(n_counties)
    screened_kept = 0
    lifted = 0
    for inputs, policy in random_cases[:12]:
        plan = run(inputs, policy)
        for c in plan["checks"]:
            if "no police_station of its own" in c["rule"]:
                screened_kept += len(c["exceptions"])
            if "fewer at scope" in c["rule"]:
                lifted += len(c["exceptions"])
    assert screened_kept >= 1
    assert lifted >= 1


# ------------------------------------------------------------------ the checker can fail


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from conftest import write_data_dir

    return load_inputs(write_data_dir(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def tiny_plan(tiny_inputs: Inputs) -> dict[str, Any]:
    return run(tiny_inputs, Policy())


def test_checker_accepts_the_tiny_plan(tiny_inputs: Inputs, tiny_plan: dict[str, Any]) -> None:
    assert violations(tiny_plan, tiny_inputs, Policy()) == []


@pytest.mark.parametrize(
    "damage, expect",
    [
        ("close_a_serving_station", "not kept"),
        ("wrong_distance", "distance"),
        ("wrong_objective", "objective"),
        ("central_flag", "central"),
        ("becomes", "police_office"),
    ],
)
def test_checker_finds_damage(
    tiny_inputs: Inputs, tiny_plan: dict[str, Any], damage: str, expect: str
) -> None:
    plan = copy.deepcopy(tiny_plan)
    ps = [f for f in plan["facilities"] if f["type"] == POLICE]
    kept = [f for f in ps if f["decision"] == "keep"]
    if damage == "close_a_serving_station":
        kept[0]["decision"] = "close"
    elif damage == "wrong_distance":
        plan["townships"][0]["distance_km"][POLICE] += 2.0
    elif damage == "wrong_objective":
        plan["metrics"][POLICE]["objective"] *= 1.01
    elif damage == "central_flag":
        kept[0]["central"] = not kept[0]["central"]
    else:
        next(f for f in ps if f["decision"] == "close")["becomes"] = None
    found = violations(plan, tiny_inputs, Policy())
    assert any(expect in v for v in found), found


# ------------------------------------------------------------------ hand-solved instance


def strip_data(make_data_dir: Callable[..., Path], pops: list[float]) -> Path:
    """1 × 4 strip of townships in county 510122, one station at each square's centre."""
    codes = ["510122001", "510122101", "510122102", "510122103"]
    geoms = [box(104.0 + k * SIDE, 30.0, 104.0 + (k + 1) * SIDE, 30.0 + SIDE) for k in range(4)]
    towns = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": ["甲街道", "乙镇", "丙镇", "丁镇"],
            "population": pops,
            "incidents": [100.0] * 4,
        },
        geometry=geoms,
        crs="EPSG:4490",
    )
    facs = pd.DataFrame(
        {
            "id": [f"PS{k}" for k in range(4)],
            "type": POLICE,
            "name": [f"{n}派出所" for n in towns["name"]],
            "township_code": codes,
            "lon": [104.0 + (k + 0.5) * SIDE for k in range(4)],
            "lat": 30.0 + SIDE / 2,
            "staff": 10,
        }
    )
    return make_data_dir("strip", townships=towns, facilities=facs, counties=False)


def test_strip_with_one_station_left_keeps_the_weighted_median(
    make_data_dir: Callable[..., Path],
) -> None:
    pops = [30_000.0, 20_000.0, 20_000.0, 50_000.0]
    inputs = load_inputs(strip_data(make_data_dir, pops))
    policy = Policy.from_dict({"police": {"reduction": 0.75}})  # floor(0.25 × 4) = 1 kept
    plan = run(inputs, policy)
    kept = [f["id"] for f in plan["facilities"] if f["decision"] == "keep"]
    # by hand, in steps of one square: PS0 210k, PS1 150k, PS2 130k, PS3 150k person-steps
    assert kept == ["PS2"]
    step = 1.3 * geodesic_km(104.025, 30.025, 104.075, 30.025)
    assert plan["metrics"][POLICE]["objective"] == pytest.approx(130_000 * step, rel=5e-3)
    assert plan["solver"]["by_type"][POLICE]["status"] == "optimal"
    ps2 = next(f for f in plan["facilities"] if f["id"] == "PS2")
    assert ps2["central"] is True
    assert ps2["serves"] == sorted(t["code"] for t in plan["townships"])
    assert violations(plan, inputs, policy) == []


def test_strip_with_two_stations_left(make_data_dir: Callable[..., Path]) -> None:
    pops = [30_000.0, 20_000.0, 20_000.0, 50_000.0]
    inputs = load_inputs(strip_data(make_data_dir, pops))
    policy = Policy.from_dict({"police": {"reduction": 0.5}})  # 2 kept
    plan = run(inputs, policy)
    kept = [f["id"] for f in plan["facilities"] if f["decision"] == "keep"]
    # pairs by hand (person-steps): {0,3} 40k, {0,2} 70k, {1,3} 50k, {0,1} 140k ...
    assert kept == ["PS0", "PS3"]
    step = 1.3 * geodesic_km(104.025, 30.025, 104.075, 30.025)
    assert plan["metrics"][POLICE]["objective"] == pytest.approx(40_000 * step, rel=5e-3)


# ------------------------------------------------------------------ exceptions and errors


def test_county_of_small_townships_keeps_exactly_one_station_with_a_reason(
    make_data_dir: Callable[..., Path],
) -> None:
    towns = build_townships()
    ordinary = towns["code"].str.startswith("510122")
    towns.loc[ordinary, "population"] = 15_000.0
    towns.loc[ordinary, "incidents"] = 30.0
    inputs = load_inputs(make_data_dir(townships=towns))
    policy = Policy()
    plan = run(inputs, policy)
    kept = [
        f
        for f in plan["facilities"]
        if f["type"] == POLICE and f["decision"] == "keep" and f["county_code"] == "510122"
    ]
    assert len(kept) == 1
    assert kept[0]["exception"]
    assert "低于撤并门槛" in kept[0]["exception"]
    assert kept[0]["reason_code"] == "screen_exception" and "万" in kept[0]["reason"]
    assert sorted(kept[0]["serves"]) == sorted(towns.loc[ordinary, "code"])
    check = next(c for c in plan["checks"] if "no police_station of its own" in c["rule"])
    assert check["passed"]
    assert [e["id"] for e in check["exceptions"]] == [kept[0]["id"]]
    assert check["exceptions"][0]["reason"]
    assert violations(plan, inputs, policy) == []


def test_tibetan_small_townships_keep_stations_without_exceptions(
    tiny_plan: dict[str, Any],
) -> None:
    """513222 is 涉藏: its small townships are not screened, so no exception is needed there."""
    check = next(c for c in tiny_plan["checks"] if "no police_station of its own" in c["rule"])
    county = {f["id"]: f["county_code"] for f in tiny_plan["facilities"]}
    assert not [e for e in check["exceptions"] if county[e["id"]] == "513222"]
    small_tibetan = [
        t for t in tiny_plan["townships"] if t["tibetan_area"] and t["population"] < 20_000
    ]
    assert small_tibetan and not any(t["below_threshold"] for t in small_tibetan)


def test_unreachable_township_is_infeasible_and_named(
    make_data_dir: Callable[..., Path],
) -> None:
    facs = build_facilities()
    facs = facs[~((facs["type"] == POLICE) & (facs["township_code"] == "510122202"))]
    inputs = load_inputs(make_data_dir(facilities=facs))
    policy = Policy.from_dict({"police": {"max_distance_km": 3}})
    with pytest.raises(InfeasibleError) as info:
        make_plan(inputs, policy, types=[POLICE])
    text = str(info.value)
    assert "510122202" in text
    assert "公兴乡" in text
    assert "3 km" in text


def test_pins_both_ways(tiny_inputs: Inputs, tiny_plan: dict[str, Any]) -> None:
    ps = [f for f in tiny_plan["facilities"] if f["type"] == POLICE]
    kept = sorted(f["id"] for f in ps if f["decision"] == "keep")
    # a station the model closes, in a below-threshold township, and one it keeps
    small = {t["code"] for t in tiny_plan["townships"] if t["below_threshold"]}
    to_open = next(f["id"] for f in ps if f["decision"] == "close" and f["township_code"] in small)
    to_close = kept[0]
    policy = Policy.from_dict({"police": {"pin_open": [to_open], "pin_closed": [to_close]}})
    plan = run(tiny_inputs, policy)
    dec = {f["id"]: f for f in plan["facilities"] if f["type"] == POLICE}
    assert dec[to_open]["decision"] == "keep"
    assert dec[to_open]["pinned"] == "open"
    assert dec[to_open]["exception"] == "规划人员指定保留"
    assert dec[to_open]["exception_by"] == "planner"
    assert dec[to_close]["decision"] == "close"
    assert dec[to_close]["pinned"] == "closed"
    assert dec[to_close]["becomes"] == "police_office"
    pins = next(c for c in plan["checks"] if "pins set by the planner" in c["rule"])
    assert pins["passed"] and pins["actual"] == 2
    assert violations(plan, tiny_inputs, policy) == []
    # closing a kept station is a pure restriction: the optimum cannot improve
    only_closed = Policy.from_dict({"police": {"pin_closed": [to_close]}})
    worse = run(tiny_inputs, only_closed)
    assert violations(worse, tiny_inputs, only_closed) == []
    assert worse["metrics"][POLICE]["objective"] >= tiny_plan["metrics"][POLICE]["objective"] * (
        1 - 1e-9
    )


def test_county_scope_with_a_single_station_lifts_the_limit(
    make_data_dir: Callable[..., Path],
) -> None:
    facs = build_facilities()
    lone = facs[(facs["type"] == POLICE) & facs["township_code"].str.startswith("513222")]
    keep_id = lone["id"].iloc[0]
    facs = facs[~facs["id"].isin(lone["id"]) | (facs["id"] == keep_id)]
    inputs = load_inputs(make_data_dir(facilities=facs))
    policy = Policy.from_dict({"police": {"scope": "county"}})
    plan = run(inputs, policy)
    dec = {f["id"]: f["decision"] for f in plan["facilities"] if f["type"] == POLICE}
    assert dec[keep_id] == "keep"
    check = next(c for c in plan["checks"] if "fewer at scope county" in c["rule"])
    assert check["passed"] and check["principle"]
    listed = {e["id"]: e["reason"] for e in check["exceptions"]}
    assert set(listed) == {"513222"}
    assert "现有1个，保留1个" in listed["513222"]
    assert "至少需要1个" in listed["513222"]
    assert check["status"] == "exceptions" and check["exceptions"][0]["by"] == "model"
    assert violations(plan, inputs, policy) == []


def _without_seconds(d: dict[str, Any]) -> dict[str, Any]:
    d = copy.deepcopy(d)
    d["solver"].pop("seconds")
    d["solver"].pop("time_budget")  # wall-clock seconds per stage
    for v in d["solver"]["by_type"].values():
        v.pop("seconds")
    return d


def test_two_runs_give_the_same_plan(tiny_inputs: Inputs) -> None:
    a = plan_to_dict(make_plan(tiny_inputs, Policy()))
    b = plan_to_dict(make_plan(tiny_inputs, Policy()))
    assert a["solver"]["seconds"] >= 0
    assert _without_seconds(a) == _without_seconds(b)


@pytest.fixture(scope="module")
def sample_inputs() -> Inputs:
    return load_inputs(bundled_sample())


def test_bundled_sample_police_plan(sample_inputs: Inputs) -> None:
    policy = Policy()
    plan = run(sample_inputs, policy)
    m = plan["metrics"][POLICE]
    assert m["reduction"] >= 0.35 - 1e-9
    assert m["after"]["count"] <= math.floor(0.65 * m["before"]["count"])
    assert all(c["passed"] for c in plan["checks"])
    assert plan["synthetic"] is True
    assert plan["solver"]["by_type"][POLICE]["status"] == "optimal"
    assert violations(plan, sample_inputs, policy) == []


def test_bundled_sample_full_plan_passes(sample_inputs: Inputs) -> None:
    plan = make_plan(sample_inputs, Policy())
    assert plan.passed
    d = plan_to_dict(plan)
    assert d["metrics"][POLICE]["reduction"] >= 0.35 - 1e-9
    assert set(d["facility_types"]) == {"police_station", "judicial_office", "court"}
