"""Property tests: random small instances give valid plans; random corruptions give messages.

1. Random counties of square townships in a row, random people, incidents, cases and facilities,
   a random reduction: :func:`optimizer.pipeline.make_plan` either returns a plan that the
   independent checker below accepts (read from plan.json only), or says the scenario is
   infeasible.
2. One random cell of each input table replaced by a hostile value (text, huge, non-finite,
   blank, formula-like, invisible characters): the command line ends with 0 or 2 and a message,
   never a traceback, and never writes beside the inputs.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from conftest import build_counties, build_facilities, build_townships, write_data_dir
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from optimizer.cli import main
from optimizer.errors import InfeasibleError
from optimizer.inputs import load_inputs
from optimizer.outputs.plan_json import plan_json_text
from optimizer.pipeline import make_plan
from optimizer.rules import Policy

BECOMES = {"police_station": "police_office", "judicial_office": "service_point", "court": "merged"}
COUNTIES = ["510122", "510124", "513222"]
SIDE = 0.05


@st.composite
def instances(draw: st.DrawFn) -> tuple[gpd.GeoDataFrame, pd.DataFrame, float]:
    n_counties = draw(st.integers(1, 2))
    counties = draw(st.permutations(COUNTIES))[:n_counties]
    towns, facs = [], []
    x = 104.0
    for county in counties:
        n = draw(st.integers(2, 5))
        for i in range(n):
            kind = "镇" if i < n // 2 + 1 else "乡"
            code = f"{county}{100 + i if kind == '镇' else 200 + i:03d}"
            towns.append(
                {
                    "code": code,
                    "name": f"测试{kind}{code[-3:]}",
                    "county_code": county,
                    "kind": kind,
                    "population": draw(st.integers(500, 60_000)),
                    "incidents": draw(st.integers(0, 400)),
                    "cases": draw(st.integers(0, 600)),
                    "geometry": box(x, 30.0, x + SIDE, 30.0 + SIDE),
                }
            )
            x += SIDE
        for ftype, prefix in (("police_station", "PS"), ("judicial_office", "JO"), ("court", "CT")):
            counts = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
            if sum(counts) == 0:
                counts[draw(st.integers(0, n - 1))] = 1
            for i, k in enumerate(counts):
                t = towns[len(towns) - n + i]
                for j in range(k):
                    facs.append(
                        {
                            "id": f"{prefix}{t['code']}{j}",
                            "type": ftype,
                            "name": f"{t['name']}{ftype}{j}",
                            "township_code": t["code"],
                            "lon": t["geometry"].centroid.x + 0.01 * j,
                            "lat": t["geometry"].centroid.y,
                            "staff": draw(st.integers(2, 20)),
                        }
                    )
    reduction = draw(st.sampled_from([0.0, 0.2, 0.35, 0.5]))
    gdf = gpd.GeoDataFrame(pd.DataFrame(towns), geometry="geometry", crs="EPSG:4490")
    return gdf, pd.DataFrame(facs), reduction


def check_plan(plan: dict[str, Any], reduction: float) -> None:
    """An independent check of a plan.json: every rule a reader can verify from the file."""
    towns = {t["code"]: t for t in plan["townships"]}
    for ftype in plan["facility_types"]:
        facs = {f["id"]: f for f in plan["facilities"] if f["type"] == ftype}
        kept = {i for i, f in facs.items() if f["decision"] == "keep"}
        served: dict[str, set[str]] = {i: set() for i in facs}
        for code, t in towns.items():
            sid = t["served_by"][ftype]
            assert sid in kept, (ftype, code, sid)
            assert facs[sid]["county_code"] == t["county_code"], (ftype, code)
            assert math.isfinite(t["distance_km"][ftype]) and t["distance_km"][ftype] >= 0
            served[sid].add(code)
        per_township = Counter(facs[i]["township_code"] for i in kept)
        assert max(per_township.values()) == 1, ftype
        for i, f in facs.items():
            if i in kept:
                assert set(f["serves"]) == served[i] and f["becomes"] is None, (ftype, i)
                assert f["township_code"] in served[i], (ftype, i)  # serves its own township
            else:
                assert f["serves"] == [] and f["becomes"] == BECOMES[ftype], (ftype, i)
        counties = {f["county_code"] for f in facs.values()}
        limit = max(math.floor((1 - reduction) * len(facs) + 1e-9), len(counties))
        if len(kept) > limit:  # the model lifted the cut (too few units to serve every township)
            cut = [
                c for c in plan["checks"] if c["facility_type"] == ftype and "fewer" in c["rule"]
            ]
            assert cut and all(c["status"] != "met" for c in cut), (ftype, len(kept), limit)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(instances())
def test_random_small_instances_give_plans_the_checker_accepts(
    instance: tuple[gpd.GeoDataFrame, pd.DataFrame, float],
) -> None:
    towns, facs, reduction = instance
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data_dir(Path(tmp) / "d", townships=towns, facilities=facs, counties=False)
        inputs = load_inputs(data)
    policy = Policy.from_dict(
        {
            "police": {"reduction": reduction},
            "judicial": {"reduction": reduction},
            "court": {"reduction": reduction},
            "solver": {"time_limit": 30},
        }
    )
    try:
        plan = make_plan(inputs, policy)
    except InfeasibleError as exc:
        assert exc.problems  # a message, with what to relax
        return
    check_plan(json.loads(plan_json_text(plan)), reduction)


HOSTILE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e300", "-1", "=1+1", "@x", "\u200b", "0x10"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)
TABLES = {
    "facilities.csv": build_facilities,
    "counties.csv": build_counties,
    "township_attributes.csv": lambda: pd.DataFrame(build_townships().drop(columns="geometry")),
}


@pytest.mark.parametrize("table", sorted(TABLES))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a plan run takes minutes
)
@given(data=st.data())
def test_a_random_corruption_is_a_message_not_a_traceback(table: str, data: st.DataObject) -> None:
    frame = TABLES[table]().astype(object)
    row = data.draw(st.integers(0, len(frame) - 1), label="row")
    col = data.draw(st.sampled_from(list(frame.columns)), label="column")
    frame.loc[row, col] = data.draw(HOSTILE, label="value")
    with tempfile.TemporaryDirectory() as tmp:
        d = write_data_dir(Path(tmp) / "d")
        frame.to_csv(d / table, index=False, encoding="utf-8")
        if table == "township_attributes.csv":
            towns = build_townships()
            keep = ["code", "geometry"]
            (d / "townships.gpkg").unlink()
            towns[keep].to_file(d / "townships.gpkg", driver="GPKG")
        before = sorted(p.name for p in d.iterdir())
        out = Path(tmp) / "out"
        try:
            code = main(["plan", "--data", str(d), "--out", str(out), "-q", "--time-limit", "20"])
        except SystemExit as exc:  # pragma: no cover - argparse only
            code = exc.code
        assert code in (0, 2)
        assert sorted(p.name for p in d.iterdir()) == before
        if code == 2:
            assert not out.exists()
