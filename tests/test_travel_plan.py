"""Travel times in plans (issue 4 items 3-4): a hand-made road layer, hand-computed paths,
the travel-time limit and the travel report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from conftest import write_data_dir
from multi_checker import POLICE, TYPES, seats_xy, sites_xy, utm_epsg
from shapely.geometry import LineString

from optimizer.errors import InfeasibleError
from optimizer.inputs.reading import Inputs, load_inputs
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.pipeline import make_plan
from optimizer.rules.policy import Policy

COUNTY = "510122"
SEAT_KMH, SITE_KMH = 60.0, 30.0


def hand_roads(inputs: Inputs) -> tuple[gpd.GeoDataFrame, nx.Graph]:
    """Roads of county 510122 only: seat to seat between rook neighbours at 60 km/h, seat to
    every facility site of the township at 30 km/h. Returns the layer and the same network
    as a graph built here (node = rounded coordinates, weight = minutes)."""
    lon0 = float(inputs.townships.total_bounds[[0, 2]].mean())
    seats = seats_xy(inputs.townships)
    sites = sites_xy(inputs.facilities, lon0)
    codes = [c for c in inputs.townships["code"] if c.startswith(COUNTY)]
    geoms = inputs.townships.set_index("code").geometry
    segs: list[tuple[tuple[float, float], tuple[float, float], float, str]] = []
    for a in codes:
        for b in codes:
            if a < b and geoms[a].intersection(geoms[b]).length > 0:
                segs.append((seats[a], seats[b], SEAT_KMH, "国道"))
    for fid, code in zip(inputs.facilities["id"], inputs.facilities["township_code"], strict=True):
        if code.startswith(COUNTY) and math.dist(seats[code], sites[fid]) > 1.0:
            segs.append((seats[code], sites[fid], SITE_KMH, "乡道"))
    layer = gpd.GeoDataFrame(
        {"class": [s[3] for s in segs], "speed_kmh": [s[2] for s in segs]},
        geometry=[LineString([a, b]) for a, b, *_ in segs],
        crs=f"EPSG:{utm_epsg(lon0)}",
    )
    g = nx.Graph()
    for a, b, kmh, _ in segs:
        g.add_edge(
            (round(a[0]), round(a[1])),
            (round(b[0]), round(b[1])),
            minutes=math.dist(a, b) / 1000 / kmh * 60,
        )
    return layer, g


@pytest.fixture(scope="module")
def road_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inputs, nx.Graph, Path]:
    folder = write_data_dir(tmp_path_factory.mktemp("roads") / "data")
    layer, g = hand_roads(load_inputs(folder))
    layer.to_file(folder / "roads.gpkg")
    inputs = load_inputs(folder)
    assert inputs.roads is not None
    return inputs, g, folder


@pytest.fixture(scope="module")
def road_plan(road_case: tuple[Inputs, nx.Graph, Path]) -> dict[str, Any]:
    return plan_to_dict(make_plan(road_case[0], Policy()))


def hand_minutes(inputs: Inputs, g: nx.Graph, code: str, fid: str) -> float:
    lon0 = float(inputs.townships.total_bounds[[0, 2]].mean())
    s = seats_xy(inputs.townships)[code]
    f = sites_xy(inputs.facilities, lon0)[fid]
    a, b = (round(s[0]), round(s[1])), (round(f[0]), round(f[1]))
    if a == b:
        return 0.0
    return float(nx.shortest_path_length(g, a, b, weight="minutes"))


def test_minutes_per_type_and_by_hand(
    road_case: tuple[Inputs, nx.Graph, Path], road_plan: dict[str, Any]
) -> None:
    inputs, g, _ = road_case
    for t in road_plan["townships"]:
        for ft in TYPES:
            assert t["minutes"][ft] is not None and t["minutes"][ft] >= 0
            assert t["minutes_before"][ft] is not None and t["minutes_before"][ft] >= 0
            assert t["by_road"][ft] == t["code"].startswith(COUNTY), (t["code"], ft)
    checked = 0
    for t in road_plan["townships"]:
        if not t["code"].startswith(COUNTY):
            continue
        for ft in TYPES:
            want = hand_minutes(inputs, g, t["code"], t["served_by"][ft])
            assert t["minutes"][ft] == pytest.approx(want, abs=0.05), (t["code"], ft)
            checked += 1
    # at least one township is served across another one (a path of several roads)
    far = [
        t
        for t in road_plan["townships"]
        if t["code"].startswith(COUNTY) and t["minutes"][POLICE] > 4.0
    ]
    assert far and checked == 18


def test_travel_report(road_plan: dict[str, Any]) -> None:
    for ft in TYPES:
        travel = road_plan["metrics"][ft]["travel"]
        assert "road network" in travel["source"]
        worst = [w["minutes"] for w in travel["worst_served"]]
        assert worst == sorted(worst, reverse=True) and worst
        assert worst[0] == pytest.approx(
            max(t["minutes"][ft] for t in road_plan["townships"]), abs=1e-6
        )
        limit = travel["worse_minutes"]
        assert limit == road_plan["policy"]["travel"]["worse_minutes"]
        grew = sum(
            (t["minutes"][ft] or 0) - (t["minutes_before"][ft] or 0) > limit
            for t in road_plan["townships"]
        )
        assert travel["townships_worse"] == grew
        share = np.mean([t["by_road"][ft] for t in road_plan["townships"]])
        assert travel["by_road_share"] == pytest.approx(share)


def test_without_roads_the_source_says_straight_line(tiny_data: Path) -> None:
    d = plan_to_dict(make_plan(load_inputs(tiny_data), Policy(), types=[POLICE]))
    travel = d["metrics"][POLICE]["travel"]
    assert "straight line" in travel["source"] and "road network" not in travel["source"]
    assert not any(t["by_road"][POLICE] for t in d["townships"])
    assert any("straight line" in n for n in d["notes"])


def test_travel_worse_threshold_recount(tiny_data: Path) -> None:
    d = plan_to_dict(
        make_plan(
            load_inputs(tiny_data),
            Policy.from_dict({"travel": {"worse_minutes": 1}}),
            types=[POLICE],
        )
    )
    travel = d["metrics"][POLICE]["travel"]
    grew = sum(t["minutes"][POLICE] - t["minutes_before"][POLICE] > 1.0 for t in d["townships"])
    assert travel["townships_worse"] == grew


def test_max_travel_minutes_is_respected(road_case: tuple[Inputs, nx.Graph, Path]) -> None:
    inputs, g, _ = road_case
    limit = 6.0
    d = plan_to_dict(
        make_plan(
            inputs, Policy.from_dict({"police": {"max_travel_minutes": limit}}), types=[POLICE]
        )
    )
    for t in d["townships"]:
        assert t["minutes"][POLICE] <= limit + 1e-6, t["code"]
    check = next(
        c for c in d["checks"] if c["facility_type"] == POLICE and "travel time" in c["rule"]
    )
    assert check["passed"] and check["target"] == limit


def test_station_beyond_the_travel_limit_is_infeasible(
    road_case: tuple[Inputs, nx.Graph, Path],
) -> None:
    inputs, g, _ = road_case
    # 公兴乡 (510122202) has one station of its own; every other is over 5 minutes by road
    own = inputs.facilities[
        (inputs.facilities["type"] == POLICE) & (inputs.facilities["township_code"] == "510122202")
    ]["id"].tolist()
    assert len(own) == 1
    others = inputs.facilities[
        (inputs.facilities["type"] == POLICE)
        & inputs.facilities["township_code"].str.startswith(COUNTY)
        & (inputs.facilities["township_code"] != "510122202")
    ]["id"]
    assert min(hand_minutes(inputs, g, "510122202", f) for f in others) > 4.0
    policy = Policy.from_dict({"police": {"max_travel_minutes": 4, "pin_closed": own}})
    with pytest.raises(InfeasibleError) as err:
        make_plan(inputs, policy, types=[POLICE])
    msg = str(err.value)
    assert "510122202" in msg and "beyond the 4 minute limit" in msg, msg
    assert "pinned closed" in msg and "raise police.max_travel_minutes to" in msg
