"""Staffing proposal (clauses 6, 8, 12): minima, moves, workload spreading, shares, recruits.

Every expected number is either worked out by hand in the test or recomputed independently
from the inputs, never read back from the module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError, PolicyError
from optimizer.report.staffing import max_staffable_units, propose_staffing
from optimizer.rules.staffing import StaffingPolicy, minimum_staff
from optimizer.schema import kind_from_code

# ---------------------------------------------------------------------------------------------
# a hand example: two counties of police stations
# ---------------------------------------------------------------------------------------------
# County 510101 (enough staff):
#   townships 101 镇 (incidents 100), 102 镇 (50), 201 乡 (30), 202 乡 (20)
#   A in 101 keep 12, B in 102 keep 6, C in 201 close 7 (absorbed by A), D in 202 keep 3
#   C leaves 2 in its 警务室 and sends 5 to A: base A 17, B 6, D 3.
#   current 28, posts 2, available 26; minima A 10, B 10, D 5 = 25; 1 left to spread by
#   incidents A 130 (101 + 201), B 50, D 20 -> quotas .65, .25, .10 -> A gets it.
#   proposed A 11, B 10, D 5; share (26 + 2) / 100 = 28 % < 40 %: gap 40 - 28 = 12 officers.
# County 510102 (short):
#   townships 101 镇 (60), 201 乡 (40), 202 乡 (5), 203 乡 (10)
#   E in 101 keep 12, F in 201 keep 0, G in 202 close 1 (absorbed by F), H in 203 keep 0
#   G keeps its 1 officer as the 警务室 (post = min(1, 2)), moves 0.
#   current 13, posts 1, available 12; minima 10 + 5 + 5 = 20 -> shortfall 8;
#   recruits ceil(8 / 0.6) = 14; E keeps 10, its 2 spare go to the busier F (40 > 10).
#   share (12 + 1) / 60 = 21.7 %: gap ceil(24 - 13) = 11; plans 10 recruits -> 6 to stations.


def _towns(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """Townships from (code, population, incidents, cases)."""
    return pd.DataFrame(
        {
            "code": [r[0] for r in rows],
            "county_code": [r[0][:6] for r in rows],
            "kind": [kind_from_code(r[0]) for r in rows],
            "population": [r[1] for r in rows],
            "incidents": [r[2] for r in rows],
            "cases": [r[3] for r in rows],
        }
    )


def _facs(rows: list[tuple[str, str, str, float, str]]) -> pd.DataFrame:
    """Facilities from (id, type, township_code, staff, decision)."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "township_code": [r[2] for r in rows],
            "county_code": [r[2][:6] for r in rows],
            "staff": [r[3] for r in rows],
            "decision": [r[4] for r in rows],
        }
    )


def _serve(tw: pd.DataFrame, f: pd.DataFrame, t: str, served_by: dict[str, str]) -> None:
    """Set served_by__t on the townships and serves on the facilities (in place)."""
    tw[f"served_by__{t}"] = tw["code"].map(served_by)
    if "serves" not in f.columns:
        f["serves"] = [[] for _ in range(len(f))]
    for i in f.index[f["type"] == t]:
        fid = f.at[i, "id"]
        f.at[i, "serves"] = (
            sorted(c for c, s in served_by.items() if s == fid)
            if f.at[i, "decision"] == "keep"
            else []
        )


@pytest.fixture
def hand() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    tw = _towns(
        [
            ("510101101", 30000, 100, 300),
            ("510101102", 20000, 50, 200),
            ("510101201", 8000, 30, 60),
            ("510101202", 6000, 20, 40),
            ("510102101", 25000, 60, 250),
            ("510102201", 9000, 40, 70),
            ("510102202", 4000, 5, 20),
            ("510102203", 5000, 10, 30),
        ]
    )
    f = _facs(
        [
            ("A", "police_station", "510101101", 12, "keep"),
            ("B", "police_station", "510101102", 6, "keep"),
            ("C", "police_station", "510101201", 7, "close"),
            ("D", "police_station", "510101202", 3, "keep"),
            ("E", "police_station", "510102101", 12, "keep"),
            ("F", "police_station", "510102201", 0, "keep"),
            ("G", "police_station", "510102202", 1, "close"),
            ("H", "police_station", "510102203", 0, "keep"),
        ]
    )
    _serve(
        tw,
        f,
        "police_station",
        {
            "510101101": "A",
            "510101102": "B",
            "510101201": "A",
            "510101202": "D",
            "510102101": "E",
            "510102201": "F",
            "510102202": "F",
            "510102203": "H",
        },
    )
    counties = pd.DataFrame(
        {
            "county_code": ["510101", "510102"],
            "police_total": [100.0, 60.0],
            "judicial_establishment": [np.nan, np.nan],
            "new_police_recruits": [np.nan, 10.0],
        }
    )
    return f, tw, counties


def test_hand_example_units(hand: Any) -> None:
    res = propose_staffing(*hand, StaffingPolicy(transfer_share=0.0))
    u = res.units.set_index("id")
    assert u.loc[["A", "B", "D", "E", "F", "H"], "proposed"].tolist() == [11, 10, 5, 10, 2, 0]
    assert u.loc[["A", "B", "D"], "minimum"].tolist() == [10, 10, 5]
    assert u.loc[["A", "B", "D"], "base"].tolist() == [17, 6, 3]
    assert u.loc[["A", "B", "D"], "rebalance"].tolist() == [-6, 4, 2]
    assert u.loc[["F", "H"], "deficit"].tolist() == [3, 5]
    assert u.loc["A", "workload"] == pytest.approx(130.0)
    # the closed stations: C leaves 2 in its 警务室 and sends 5 to A; G keeps its only officer
    assert (u.loc["C", "post"], u.loc["C", "moved_to"], u.loc["A", "moved_in"]) == (2, "A", 5)
    assert (u.loc["G", "post"], u.loc["G", "moved_to"], u.loc["F", "moved_in"]) == (1, "F", 0)


def test_hand_example_counties(hand: Any) -> None:
    res = propose_staffing(*hand, StaffingPolicy(transfer_share=0.0))
    c = res.counties.set_index("county_code")
    a, b = c.loc["510101"], c.loc["510102"]
    assert (a["current"], a["posts"], a["available"], a["minimum_needed"]) == (28, 2, 26, 25)
    assert (a["shortfall"], a["recruits_needed"]) == (0, 0)
    assert a["share"] == pytest.approx(0.28)
    assert a["share_gap_staff"] == 12
    assert (b["current"], b["available"], b["minimum_needed"], b["shortfall"]) == (13, 12, 20, 8)
    assert b["recruits_needed"] == 14
    assert b["share"] == pytest.approx(13 / 60)
    assert b["share_gap_staff"] == 11
    assert b["planned_recruits_to_units"] == 6
    assert math.isnan(a["planned_recruits_to_units"])
    # staffable units: floor(available / smallest minimum among the kept stations)
    assert (a["staffable_units"], b["staffable_units"]) == (26 // 5, 12 // 5)


def test_hand_example_checks(hand: Any) -> None:
    """Without 下沉 the minima and shares miss: both checks say not_met with the numbers."""
    res = propose_staffing(*hand, StaffingPolicy(limit_units_to_staffable=True, transfer_share=0.0))
    minimum = next(c for c in res.checks if "officers in a" in c.rule)
    assert minimum.clause == "6"
    assert minimum.status == "not_met" and not minimum.passed
    assert [e["id"] for e in minimum.violations] == ["510102"]
    v = minimum.violations[0]
    assert v["shortfall"] == 8 and v["recruits_needed"] == 14
    assert "缺8人" in v["reason"] and "F、H" in v["reason"] and "至少14人" in v["reason"]
    share = next(c for c in res.checks if "40%" in c.rule)
    assert share.status == "not_met"
    assert sorted(e["id"] for e in share.violations) == ["510101", "510102"]
    assert next(e for e in share.violations if e["id"] == "510101")["share_gap_staff"] == 12
    staffable = next(c for c in res.checks if "staffable" in str(c.target))
    # 510102 keeps 3 stations but 12 officers man only 2 at 5
    assert staffable.status == "not_met"
    assert [e["id"] for e in staffable.violations] == ["510102"]


def test_transfer_down_closes_the_gap(hand: Any) -> None:
    """With 下沉 the county organs fill the minima and the 40 % share: the checks are met."""
    res = propose_staffing(*hand, StaffingPolicy())
    c = res.counties.set_index("county_code")
    a, b = c.loc["510101"], c.loc["510102"]
    # 510101: 28 in units (2 in the 警务室) of 100; 40 needed -> 12 move down
    assert (a["transfer_down"], a["shortfall"], a["share_gap_staff"]) == (12, 0, 0)
    # 510102: 13 of 60; the share needs 24 - 13 = 11, the minima 20 - 12 = 8 -> 11 move down
    assert (b["transfer_down"], b["shortfall"], b["recruits_needed"]) == (11, 0, 0)
    assert a["share"] == pytest.approx(0.40) and b["share"] == pytest.approx(24 / 60)
    status = {c.clause: c.status for c in res.checks}
    assert status["6"] == "met", status
    # G had one officer: its 警务室 is below the 2 of clause 5, and the check says so
    post = next(c for c in res.checks if c.clause == "5")
    assert post.status == "not_met" and [v["id"] for v in post.violations] == ["G"]


def test_transfer_limit_leaves_a_shortfall_and_recruits(hand: Any) -> None:
    """A smaller transfer leaves S short: ceil(S / 0.6) recruits, S of them to stations."""
    res = propose_staffing(*hand, StaffingPolicy(transfer_share=0.05))
    b = res.counties.set_index("county_code").loc["510102"]
    # organs of 510102: 60 - 13 = 47; 5 % of them = 2 move down; 8 - 2 = 6 still short
    assert (b["transfer_down"], b["shortfall"]) == (2, 6)
    assert (b["recruits_needed"], b["recruits_to_units"]) == (10, 6)
    minimum = next(c for c in res.checks if "officers in a" in c.rule)
    assert minimum.status == "not_met" and minimum.violations[0]["shortfall"] == 6


def test_no_staffable_check_by_default(hand: Any) -> None:
    res = propose_staffing(*hand, StaffingPolicy())
    assert not any("staffable" in str(c.target) for c in res.checks)


# ---------------------------------------------------------------------------------------------
# properties on the tiny data set of conftest: one station, office and court per township
# ---------------------------------------------------------------------------------------------


def _tiny_plan(
    tiny_townships: Any, tiny_facilities: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first facility of each type in each township; absorb the rest there.

    Offices in the two 乡 of 510122 close into the office of 510122103. Courts: 510122001
    serves the 街道 and 镇 of 510122, 510122103 its 乡; the court in 513222100 serves all of
    513222, so the one in 513222202 closes into it.
    """
    tw = pd.DataFrame(tiny_townships.drop(columns="geometry"))
    tw["county_code"] = tw["code"].str[:6]
    tw["kind"] = tw["code"].map(kind_from_code)
    f = tiny_facilities.copy()
    f["county_code"] = f["township_code"].str[:6]
    f["decision"] = "close"
    f["serves"] = [[] for _ in range(len(f))]
    for t in ("police_station", "judicial_office"):
        first = f[f["type"] == t].groupby("township_code")["id"].first()
        f.loc[f["id"].isin(first), "decision"] = "keep"
        _serve(tw, f, t, first.to_dict())
    # judicial: also close the offices in the 乡 of 510122 (absorbed by 510122103)
    jo = f["type"] == "judicial_office"
    served = dict(zip(tw["code"], tw["served_by__judicial_office"], strict=True))
    for code in ("510122201", "510122202"):
        fid = served[code]
        f.loc[f["id"] == fid, "decision"] = "close"
        served[code] = served["510122103"]
    _serve(tw, f, "judicial_office", {c: s for c, s in served.items()})
    assert (f.loc[jo, "decision"] == "keep").sum() == 10
    courts = f[f["type"] == "court"].set_index("township_code")["id"]
    court_of = {}
    for code in tw["code"]:
        if code.startswith("510122"):
            court_of[code] = courts["510122103"] if code[6] == "2" else courts["510122001"]
        else:
            court_of[code] = courts["513222100"]
    f.loc[f["type"] == "court", "decision"] = "keep"
    f.loc[f["id"] == courts["513222202"], "decision"] = "close"
    _serve(tw, f, "court", court_of)
    return f, tw


@pytest.fixture
def tiny_plan(tiny_townships: Any, tiny_facilities: pd.DataFrame) -> Any:
    return _tiny_plan(tiny_townships, tiny_facilities)


def test_totals_conserved_and_minima_or_exact_shortfall(tiny_plan: Any, tiny_counties: Any) -> None:
    f, tw = tiny_plan
    pol = StaffingPolicy(transfer_share=0.0)
    res = propose_staffing(f, tw, tiny_counties, pol)
    u = res.units
    for (t, county), grp in f.groupby(["type", "county_code"]):
        current = int(grp["staff"].sum())
        kept = u[(u["type"] == t) & (u["county_code"] == county) & (u["decision"] == "keep")]
        closed = u[(u["type"] == t) & (u["county_code"] == county) & (u["decision"] == "close")]
        posts = int(closed["post"].sum())
        row = res.counties[(res.counties["type"] == t) & (res.counties["county_code"] == county)]
        assert len(row) == 1
        row = row.iloc[0]
        # minima recomputed from the township kind of each kept unit
        kinds = tw.set_index("code")["kind"]
        need = sum(
            minimum_staff(t, kinds[c], pol)
            for c in f.loc[
                (f["type"] == t) & (f["county_code"] == county) & (f["decision"] == "keep"),
                "township_code",
            ]
        )
        assert row["minimum_needed"] == need
        available = current - posts
        # conservation: every officer is in a kept unit or a 警务室
        assert int(kept["proposed"].sum()) + posts == current
        missing = int((kept["minimum"] - kept["proposed"]).clip(lower=0).sum())
        assert row["shortfall"] == max(need - available, 0) == missing
        if missing == 0:
            assert (kept["proposed"] >= kept["minimum"]).all()
        assert (kept["proposed"] >= 0).all()


def test_closed_staff_move_to_absorbing_unit(tiny_plan: Any, tiny_counties: Any) -> None:
    f, tw = tiny_plan
    pol = StaffingPolicy(police_office_staff=2)
    res = propose_staffing(f, tw, tiny_counties, pol)
    u = res.units.set_index("id")
    expected_in: dict[str, int] = {}
    for r in f[f["decision"] == "close"].itertuples():
        absorber = tw.set_index("code").at[r.township_code, f"served_by__{r.type}"]
        post = min(int(r.staff), 2) if r.type == "police_station" else 0
        assert u.loc[r.id, "moved_to"] == absorber
        assert u.loc[r.id, "post"] == post
        expected_in[absorber] = expected_in.get(absorber, 0) + int(r.staff) - post
    kept = u[u["decision"] == "keep"]
    got = {i: int(v) for i, v in kept["moved_in"].items() if v}
    assert got == {k: v for k, v in expected_in.items() if v}
    assert (kept["base"] == kept["current_staff"] + kept["moved_in"]).all()
    # the second stations in 510122001/101/103 (6 officers each) send 4 to the first one
    assert got[tw.set_index("code").at["510122001", "served_by__police_station"]] == 4


def test_workload_spreading_proportional_integer(tiny_plan: Any, tiny_counties: Any) -> None:
    f, tw = tiny_plan
    # 7 staff per office (minimum 2), so that the spreading has something to spread
    f = f.copy()
    f.loc[f["type"] == "judicial_office", "staff"] = 7
    res = propose_staffing(f, tw, tiny_counties, StaffingPolicy())
    u = res.units
    pop = tw.set_index("code")["population"]
    for _county, grp in u[(u["type"] == "judicial_office") & (u["decision"] == "keep")].groupby(
        "county_code"
    ):
        ids = grp["id"].tolist()
        load = np.array(
            [pop[tw.loc[tw["served_by__judicial_office"] == i, "code"]].sum() for i in ids],
            dtype=float,
        )
        np.testing.assert_allclose(grp["workload"].to_numpy(), load)
        extra_total = int(grp["proposed"].sum() - grp["minimum"].sum())
        assert extra_total > 0
        quota = extra_total * load / load.sum()
        extra = (grp["proposed"] - grp["minimum"]).to_numpy()
        assert (extra >= np.floor(quota)).all() and (extra <= np.ceil(quota)).all()
        assert grp["proposed"].dtype.kind == "i"
        # largest remainder: the units rounded up are those with the largest remainders
        up = extra > np.floor(quota)
        if up.any() and (~up).any():
            rem = quota - np.floor(quota)
            assert rem[up].min() >= rem[~up].max() - 1e-12


def test_largest_remainder_hand_numbers() -> None:
    # 3 offices, populations 50/30/20 thousand, 4 staff each (min 2): 12 staff, 6 above minima
    # quotas 3.0, 1.8, 1.2 -> 3, 2, 1 -> proposed 5, 4, 3
    tw = _towns(
        [
            ("510101101", 50000, 1, 1),
            ("510101102", 30000, 1, 1),
            ("510101201", 20000, 1, 1),
        ]
    )
    f = _facs(
        [
            ("J1", "judicial_office", "510101101", 4, "keep"),
            ("J2", "judicial_office", "510101102", 4, "keep"),
            ("J3", "judicial_office", "510101201", 4, "keep"),
        ]
    )
    _serve(tw, f, "judicial_office", {"510101101": "J1", "510101102": "J2", "510101201": "J3"})
    counties = pd.DataFrame({"county_code": ["510101"], "judicial_establishment": [30.0]})
    res = propose_staffing(f, tw, counties, StaffingPolicy(transfer_share=0.0))
    assert res.units.set_index("id").loc[["J1", "J2", "J3"], "proposed"].tolist() == [5, 4, 3]
    row = res.counties.iloc[0]
    # 12 of 30 = 40 % < 50 %: 3 more staff
    assert row["share"] == pytest.approx(0.4)
    assert row["share_target"] == pytest.approx(0.5)
    assert row["share_gap_staff"] == 3
    assert row["recruits_needed"] == 0
    share = next(c for c in res.checks if c.clause == "8" and "50%" in c.rule)
    assert share.status == "not_met" and share.violations[0]["share_gap_staff"] == 3


def test_court_cases_estimated_from_population() -> None:
    # court K1 serves two townships, one without cases: 40,000 residents * 65 / 10,000 = 260
    tw = _towns(
        [
            ("510101101", 10000, 1, 100),
            ("510101102", 40000, 1, np.nan),
            ("510101103", 30000, 1, 50),
        ]
    )
    f = _facs(
        [
            ("K1", "court", "510101101", 5, "keep"),
            ("K2", "court", "510101103", 5, "keep"),
        ]
    )
    _serve(tw, f, "court", {"510101101": "K1", "510101102": "K1", "510101103": "K2"})
    res = propose_staffing(f, tw, None, StaffingPolicy())
    u = res.units.set_index("id")
    assert u.loc["K1", "workload"] == pytest.approx(360.0)
    assert u.loc["K2", "workload"] == pytest.approx(50.0)
    # 10 staff, minima 3 + 3, 4 to spread: quotas 3.51, 0.49 -> 4, 0 -> 7, 3
    assert u.loc[["K1", "K2"], "proposed"].tolist() == [7, 3]
    assert any("estimated" in n for n in res.notes)
    assert math.isnan(res.counties.iloc[0]["share"])


def test_court_shortfall_recruits_equal_shortfall() -> None:
    tw = _towns([("510101101", 1, 1, 1), ("510101102", 1, 1, 1)])
    f = _facs(
        [
            ("K1", "court", "510101101", 2, "keep"),
            ("K2", "court", "510101102", 1, "keep"),
        ]
    )
    _serve(tw, f, "court", {"510101101": "K1", "510101102": "K2"})
    res = propose_staffing(f, tw, None, StaffingPolicy())
    row = res.counties.iloc[0]
    assert (row["shortfall"], row["recruits_needed"]) == (3, 3)
    check = next(c for c in res.checks if c.clause == "12")
    assert check.status == "not_met" and check.violations[0]["id"] == "510101"


def test_missing_staff_counted_as_zero_with_note(hand: Any) -> None:
    f, tw, counties = hand
    f = f.copy()
    f.loc[f["id"] == "B", "staff"] = np.nan
    res = propose_staffing(f, tw, counties, StaffingPolicy())
    assert res.counties.set_index("county_code").at["510101", "current"] == 22
    assert any("B" in n and "missing" in n for n in res.notes)


# ---------------------------------------------------------------------------------------------
# minima, recruits and helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ftype", "kind", "expected"),
    [
        ("police_station", "乡", 5),
        ("police_station", "镇", 10),
        ("police_station", "街道", 10),
        ("police_station", "其他", 5),
        ("judicial_office", "乡", 2),
        ("court", "镇", 3),
    ],
)
def test_minimum_by_kind(ftype: str, kind: str, expected: int) -> None:
    assert minimum_staff(ftype, kind, StaffingPolicy()) == expected


def test_minimum_follows_policy_and_rejects_unknown() -> None:
    pol = StaffingPolicy(station_min_street=8, station_min_township=6)
    assert minimum_staff("police_station", "街道", pol) == 8
    assert minimum_staff("police_station", "乡", pol) == 6
    with pytest.raises(ValueError, match="township kind"):
        minimum_staff("police_station", "村", pol)
    with pytest.raises(ValueError, match="facility type"):
        minimum_staff("prison", "乡", pol)


@pytest.mark.parametrize(
    ("shortfall", "share", "expected"), [(8, 0.6, 14), (6, 0.6, 10), (1, 0.5, 2)]
)
def test_recruits_formula(shortfall: int, share: float, expected: int) -> None:
    # three 乡 stations (minimum 5 each) staffed so that the county misses `shortfall` officers
    tw = _towns([("510101201", 1, 1, 1)] + [(f"510101{200 + i}", 1, 1, 1) for i in range(2, 4)])
    ids = ["S1", "S2", "S3"]
    staff = [max(5 - shortfall, 0), max(5 - max(shortfall - 5, 0), 0), 5 - max(shortfall - 10, 0)]
    f = _facs(
        [
            (i, "police_station", c, s, "keep")
            for i, c, s in zip(ids, tw["code"], staff, strict=True)
        ]
    )
    _serve(tw, f, "police_station", dict(zip(tw["code"], ids, strict=True)))
    res = propose_staffing(f, tw, None, StaffingPolicy(recruits_to_stations_share=share))
    row = res.counties.iloc[0]
    assert row["shortfall"] == shortfall
    assert row["recruits_needed"] == expected == math.ceil(shortfall / share)


def test_max_staffable_units() -> None:
    assert max_staffable_units(23, 5) == 4
    assert max_staffable_units(25, 5) == 5
    assert max_staffable_units(-3, 5) == 0
    with pytest.raises(ValueError):
        max_staffable_units(10, 0)
    with pytest.raises(ValueError):
        max_staffable_units(float("nan"), 5)


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------


def test_policy_lists_every_problem() -> None:
    with pytest.raises(PolicyError) as err:
        StaffingPolicy(
            station_min_township=0,
            station_share_of_county_police=1.5,
            recruits_to_stations_share=0.0,
            police_office_staff=-1,
            court_min_staff=2.5,  # type: ignore[arg-type]
            workload="villages",  # type: ignore[arg-type]
        )
    problems = err.value.problems
    assert len(problems) == 6
    for name in (
        "station_min_township",
        "station_share_of_county_police",
        "recruits_to_stations_share",
        "police_office_staff",
        "court_min_staff",
        "workload",
    ):
        assert any(name in p for p in problems), name


def test_policy_defaults_are_the_plan_numbers() -> None:
    pol = StaffingPolicy()
    assert (pol.station_min_township, pol.station_min_town) == (5, 10)
    assert pol.station_share_of_county_police == pytest.approx(0.40)
    assert pol.recruits_to_stations_share == pytest.approx(0.60)
    assert (pol.office_min_staff, pol.court_min_staff) == (2, 3)
    assert pol.office_share_of_establishment == pytest.approx(0.50)
    assert pol.workload_for("police_station") == "incidents"
    assert pol.workload_for("judicial_office") == "population"
    assert pol.workload_for("court") == "cases"
    assert StaffingPolicy(workload="population").workload_for("court") == "population"


def test_inputs_list_every_problem(hand: Any) -> None:
    f, tw, counties = hand
    f = f.copy()
    f.loc[0, "type"] = "prison"
    f.loc[1, "decision"] = "maybe"
    f.loc[2, "staff"] = -1
    f.loc[3, "township_code"] = "510101999"
    with pytest.raises(DataError) as err:
        propose_staffing(f, tw, counties, StaffingPolicy())
    text = str(err.value)
    assert len(err.value.problems) == 4
    assert "prison" in text and "B" in text and "C" in text and "D" in text
