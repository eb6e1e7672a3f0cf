"""Properties of the synthetic sample built inside the real frame."""

from __future__ import annotations

import hashlib
from importlib.resources import as_file
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from optimizer.errors import DataError
from optimizer.paths import frame_dir
from optimizer.sample import build_sample, write_sample

FRAME = frame_dir()
REPO = Path(__file__).resolve().parents[1]
CODES = "5118,513422,510104"  # 雅安, 木里 (涉藏), 锦江 (all 街道)


@pytest.fixture(scope="module")
def sample():
    return build_sample(CODES, seed=2020)


def _real_2023() -> pd.DataFrame:
    with as_file(FRAME / "sichuan_townships_2023.csv") as p:
        t = pd.read_csv(p, dtype=str)
    return t[t["kind"] != "other"]


def _census() -> pd.Series:
    with as_file(FRAME / "sichuan_county_population_2020.csv") as p:
        pop = pd.read_csv(p, dtype={"区划代码": str})
    return pop.set_index("区划代码")["人口数_合计"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_different_seed_differs(tmp_path):
    a = write_sample(build_sample("5118", seed=7), tmp_path / "a")
    b = write_sample(build_sample("5118", seed=7), tmp_path / "b")
    write_sample(build_sample("5118", seed=8), tmp_path / "c")
    assert [p.name for p in a] == [p.name for p in b]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    da, dc = _digest(tmp_path / "a"), _digest(tmp_path / "c")
    assert da["townships.gpkg"] != dc["townships.gpkg"]
    assert da["facilities.csv"] != dc["facilities.csv"]
    ta = gpd.read_file(tmp_path / "a" / "townships.gpkg")
    tc = gpd.read_file(tmp_path / "c" / "townships.gpkg")
    assert list(ta["code"]) == list(tc["code"])  # same real frame
    assert not ta["population"].equals(tc["population"])


def test_county_independent_of_selection(sample):
    alone = build_sample("513422", seed=2020)
    mine = sample.townships[sample.townships["county_code"] == "513422"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(mine.drop(columns="geometry")),
        pd.DataFrame(alone.townships.drop(columns="geometry")),
    )


def test_townships_match_real_2023_list(sample):
    real = _real_2023()
    want = real[real["areaCode"].str.startswith(("5118", "513422", "510104"))]
    assert sorted(sample.townships["code"]) == sorted(want["code"])
    got = sample.townships.set_index("code")
    assert (got.loc[want["code"], "name"].to_numpy() == want["name"].to_numpy()).all()
    assert (got.loc[want["code"], "kind"].to_numpy() == want["kind"].to_numpy()).all()
    assert got["tibetan_area"].to_dict() == {
        c: cc == "513422" for c, cc in got["county_code"].items()
    }


def test_population_sums_to_census(sample):
    census = _census()
    sums = sample.townships.groupby("county_code")["population"].sum()
    for code, total in sums.items():
        assert total == census[code], code
    before = sample.townships_before.groupby("merged_into")["population"].sum()
    after = sample.townships.set_index("code")["population"]
    assert (before.reindex(after.index) == after).all()
    assert (sample.townships["population"] > 0).all()
    assert (sample.townships["households"] > 0).all()


def test_polygons_valid_inside_county_no_overlap(sample):
    t = sample.townships.to_crs(32648)
    assert t.is_valid.all() and (~t.is_empty).all()
    with as_file(FRAME / "sichuan_counties.gpkg") as p:
        counties = gpd.read_file(p).to_crs(32648)
    counties = counties.set_index(counties["district_adcode"].astype(str))
    for code, group in t.groupby("county_code"):
        county = counties.loc[code, "geometry"]
        union = shapely.union_all(group.geometry.values)
        assert union.difference(county).area < 1e-4 * county.area, code
        assert abs(union.area - county.area) < 1e-3 * county.area, code
    geoms = t.geometry.values
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    overlap = shapely.area(shapely.intersection(geoms[i[keep]], geoms[j[keep]]))
    # slivers along county borders, a few cm wide: Voronoi edges cut the border in UTM and the
    # cut points are snapped to a 1e-6 degree grid in CGCS2000
    assert overlap.max(initial=0.0) < 500.0
    assert overlap.sum() < 1e-6 * shapely.area(geoms).sum()
    assert (shapely.get_num_geometries(geoms) == 1).mean() > 0.98


def test_pre_merger_cells_nested(sample):
    before = sample.townships_before.to_crs(32648)
    after = sample.townships.to_crs(32648).set_index("code")
    assert before.is_valid.all()
    assert set(before["merged_into"]) == set(after.index)
    for code, cells in before.groupby("merged_into"):
        town = after.loc[code, "geometry"]
        union = shapely.union_all(cells.geometry.values)
        assert union.symmetric_difference(town).area < 1e-4 * town.area + 100.0, code
    assert len(before) >= len(after)


def test_facilities_inside_their_township(sample):
    f = sample.facilities
    assert f["id"].is_unique
    assert set(f["type"]) == {"police_station", "judicial_office", "court"}
    pts = gpd.GeoSeries(gpd.points_from_xy(f["lon"], f["lat"]), crs=4326).to_crs(32648)
    town = sample.townships.to_crs(32648).set_index("code").geometry
    polys = town.loc[f["township_code"]].values
    dist = shapely.distance(polys, pts.values)
    assert (dist < 1.0).all()
    assert f["name"].str.endswith(("派出所", "司法所", "人民法庭")).all()
    for kind, lo, hi in (("police_station", 4, 25), ("judicial_office", 1, 5), ("court", 3, 12)):
        staff = f.loc[f["type"] == kind, "staff"]
        assert staff.between(lo, hi).all()
    assert f["source"].str.startswith("synthetic").all()


def test_county_table(sample):
    c = sample.counties.set_index("county_code")
    f = sample.facilities
    station_staff = f[f["type"] == "police_station"].groupby("county_code")["staff"].sum()
    share = station_staff / c["police_total"]
    assert share.between(0.28, 0.47).all()
    assert (c["source"].str.contains("synthetic")).all()
    assert (c["new_police_recruits"] > 0).all()


def test_below_threshold_share_and_counts_prefecture():
    s = build_sample("5101,5107,5115,5134", seed=2020)  # 成都, 绵阳, 宜宾, 凉山
    t = s.townships[~s.townships["tibetan_area"]]
    below = ((t["population"] < 20_000) & (t["incidents"] < 50)).mean()
    assert 0.02 <= below <= 0.30
    stations = (s.facilities["type"] == "police_station").sum()
    assert len(s.townships) <= stations  # a 35 % cut keeps at most one station per township
    assert 1.3 * len(s.townships) <= stations <= 1.8 * len(s.townships)


def test_unknown_codes_listed():
    with pytest.raises(DataError) as err:
        build_sample("5118,999999,5199", seed=1)
    assert "999999" in str(err.value) and "5199" in str(err.value)


def test_old_and_dev_zone_codes_map():
    s = build_sample(["513425", "511071"], seed=1)
    assert s.county_codes == ("511002", "513402")


def test_bundled_sample_exists_small_and_synthetic():
    folder = REPO / "data" / "sample"
    names = {"townships.gpkg", "townships_before.gpkg", "facilities.csv", "counties.csv"}
    assert names <= {p.name for p in folder.iterdir()}
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size < 5 * 1024 * 1024
    assert "SYNTHETIC" in (folder / "README.md").read_text(encoding="utf-8")
    t = gpd.read_file(folder / "townships.gpkg", layer="townships")
    assert t.crs.to_epsg() == 4490
    assert t["tibetan_area"].any() and (~t["tibetan_area"]).any()
    fac = pd.read_csv(folder / "facilities.csv", dtype={"township_code": str}, encoding="utf-8-sig")
    assert fac["source"].str.contains("synthetic").all()
    assert set(fac["township_code"]) <= set(t["code"])
    assert np.isin(
        ["code", "name", "county_code", "kind", "population", "incidents"], t.columns
    ).all()


def test_whole_province_counts():
    s = build_sample("all", seed=2020)
    assert len(s.townships) == 3101
    assert len(s.townships_before) == 4601
    assert s.townships["kind"].value_counts().to_dict() == {"镇": 2016, "乡": 626, "街道": 459}
    assert int(s.townships["population"].sum()) == 83_674_866
    assert int(s.townships[s.townships["tibetan_area"]].shape[0]) == 490
    stations = int((s.facilities["type"] == "police_station").sum())
    assert 4400 <= stations <= 4800 and len(s.townships) <= 0.7 * stations
