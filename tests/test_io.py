"""Readers: every input format comes back as the same canonical tables."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from shapely.geometry import Point

from optimizer import schema
from optimizer.errors import DataError
from optimizer.inputs.reading import Inputs, detect_dbf_encoding, load_inputs

TOWNSHIP_COLUMNS = [
    "code",
    "name",
    "county_code",
    "kind",
    "population",
    "incidents",
    "tibetan_area",
    "cases",
    "villages_before",
    "households",
    "geometry",
]
FACILITY_COLUMNS = [
    "id",
    "type",
    "name",
    "township_code",
    "county_code",
    "lon",
    "lat",
    "staff",
    "judicial_assistants",
    "judges",
    "clerks",
    "judicial_police",
    "site_from_seat",
]
GBK_HEADERS = {
    "code": "乡镇代码",
    "name": "乡镇名称",
    "population": "常住人口",
    "incidents": "警情数",
}


def assert_canonical(inputs: Inputs, reference: gpd.GeoDataFrame) -> None:
    """Check the canonical shape and that values match the tiny reference townships."""
    t = inputs.townships
    assert list(t.columns) == TOWNSHIP_COLUMNS
    assert isinstance(t.index, pd.RangeIndex)
    assert t.crs is not None and t.crs.to_epsg() == 4326
    assert t["code"].is_monotonic_increasing
    assert all(isinstance(c, str) and len(c) == 9 and c.isdigit() for c in t["code"])
    assert (t["county_code"] == t["code"].str[:6]).all()
    ref = reference.sort_values("code").reset_index(drop=True)
    assert t["code"].tolist() == ref["code"].tolist()
    assert t["name"].tolist() == ref["name"].tolist()
    np.testing.assert_allclose(t["population"], ref["population"])
    np.testing.assert_allclose(t["incidents"], ref["incidents"])
    assert t["tibetan_area"].dtype == bool
    assert t["tibetan_area"].tolist() == [c.startswith("5132") for c in t["code"]]
    assert t["kind"].tolist() == [schema.kind_from_code(c) for c in t["code"]]
    assert set(t.geom_type) <= {"Polygon", "MultiPolygon"}
    # geometry survives the CRS round trip: areas agree with the reference within 0.1 %
    proj = ref.to_crs(32648)
    np.testing.assert_allclose(t.to_crs(32648).area, proj.area, rtol=1e-3)


def assert_facilities(inputs: Inputs) -> None:
    """Check the canonical facility table and that every site lies in its township."""
    f = inputs.facilities
    assert list(f.columns) == FACILITY_COLUMNS
    assert isinstance(f.index, pd.RangeIndex)
    assert set(f["type"]) <= set(schema.FACILITY_TYPES)
    assert f[["type", "id"]].apply(tuple, axis=1).is_monotonic_increasing
    assert f["id"].is_unique
    assert (f["county_code"] == f["township_code"].str[:6]).all()
    assert f["lon"].notna().all() and f["lat"].notna().all()
    polys = inputs.townships.set_index("code").geometry
    for row in f.itertuples():
        assert polys[row.township_code].buffer(1e-9).contains(Point(row.lon, row.lat))


def test_tiny_data_loads(tiny_data: Path, tiny_townships: gpd.GeoDataFrame) -> None:
    inputs = load_inputs(tiny_data)
    assert_canonical(inputs, tiny_townships)
    assert_facilities(inputs)
    counts = inputs.facilities["type"].value_counts()
    assert counts["police_station"] == 16
    assert counts["judicial_office"] == 12
    assert counts["court"] == 4
    assert not inputs.facilities["site_from_seat"].any()
    assert inputs.counties is not None
    assert list(inputs.counties.columns) == [
        "county_code",
        "name",
        "police_total",
        "judicial_establishment",
        "new_police_recruits",
    ]
    assert set(inputs.sources) == {"townships", "facilities", "counties"}
    assert inputs.sources["townships"].endswith("townships.gpkg")
    assert any("county_code derived" in n for n in inputs.notes)
    # the plan's screen has something to do in the tiny data
    small = (inputs.townships["population"] < 20000) & (inputs.townships["incidents"] < 50)
    assert small[~inputs.townships["tibetan_area"]].any()


def test_input_files_unchanged(
    tiny_data: Path, make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    shp = make_data_dir("shp", townships=tiny_townships, townships_format="shp")
    files = [p for d in (tiny_data, shp) for p in sorted(d.iterdir())]

    def digest() -> dict[Path, str]:
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    before = digest()
    load_inputs(tiny_data)
    load_inputs(shp)
    assert digest() == before
    assert sorted(p for d in (tiny_data, shp) for p in d.iterdir()) == sorted(files)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp"])
def test_township_formats(
    fmt: str, make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir(townships=tiny_townships, townships_format=fmt)
    inputs = load_inputs(folder)
    assert_canonical(inputs, tiny_townships)
    # the shapefile holds it as "villages_b" (10-character DBF field names)
    assert inputs.townships["villages_before"].notna().all()
    if fmt == "shp":
        assert "townships.shp: DBF encoding UTF-8 (from .cpg)" in inputs.notes


def _write_gbk_shapefile(path: Path, gdf: gpd.GeoDataFrame, *, keep_cpg: bool) -> None:
    """Write a GBK shapefile with Chinese headers, as Chinese GIS departments deliver it."""
    gdf = gdf.rename(columns=GBK_HEADERS).drop(columns=["villages_before"])
    gdf.to_file(path, encoding="GBK")
    cpg = path.with_suffix(".cpg")
    if not keep_cpg:
        cpg.unlink()
        dbf = path.with_suffix(".dbf")
        raw = bytearray(dbf.read_bytes())
        raw[29] = 0  # no language driver id either: nothing but the bytes tells the encoding
        dbf.write_bytes(bytes(raw))


@pytest.mark.parametrize("keep_cpg", [False, True])
def test_gbk_shapefile(
    keep_cpg: bool, make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir()
    (folder / "townships.gpkg").unlink()
    _write_gbk_shapefile(folder / "townships.shp", tiny_townships, keep_cpg=keep_cpg)
    inputs = load_inputs(folder)
    assert_canonical(inputs, tiny_townships)
    assert "东升街道" in inputs.townships["name"].tolist()
    how = "from .cpg" if keep_cpg else "detected, no .cpg"
    assert f"townships.shp: DBF encoding GBK ({how})" in inputs.notes
    assert detect_dbf_encoding(folder / "townships.shp") == ("GBK", how)


def test_utf8_shapefile_without_cpg(tmp_path: Path, tiny_townships: gpd.GeoDataFrame) -> None:
    path = tmp_path / "t.shp"
    tiny_townships.drop(columns=["villages_before"]).to_file(path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    assert detect_dbf_encoding(path) == ("UTF-8", "detected, no .cpg")


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_attributes_joined_by_code(
    suffix: str, make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    geometry_only = tiny_townships[["code", "name", "geometry"]]
    folder = make_data_dir(townships=geometry_only)
    sheet = pd.DataFrame(tiny_townships.drop(columns=["geometry", "name"]))
    sheet = sheet.iloc[::-1]  # order must not matter
    # Chinese headers, codes in the 12-digit statistical form
    sheet = sheet.rename(
        columns={
            "code": "统计用区划代码",
            "population": "常住人口",
            "incidents": "警情数",
            "cases": "收案数",
        }
    )
    sheet["统计用区划代码"] = sheet["统计用区划代码"] + "000"
    path = folder / f"township_attributes.{suffix}"
    if suffix == "csv":
        sheet.to_csv(path, index=False, encoding="gbk")
    else:
        sheet.to_excel(path, index=False)
    inputs = load_inputs(folder)
    assert_canonical(inputs, tiny_townships)
    np.testing.assert_allclose(
        inputs.townships["cases"], tiny_townships.sort_values("code")["cases"]
    )
    assert inputs.sources["township_attributes"] == str(path)
    assert any("normalised to 9 digits" in n for n in inputs.notes)
    if suffix == "csv":
        assert "township_attributes.csv: read as GBK" in inputs.notes


def test_xlsx_codes_as_numbers(
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
    tiny_facilities: pd.DataFrame,
) -> None:
    """An XLSX whose code cells are numbers (what Excel does to codes), some as floats."""
    folder = make_data_dir(
        townships=tiny_townships[["code", "name", "geometry"]],
        facilities=tiny_facilities,
        facilities_format="xlsx",
    )
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["乡镇代码", "常住人口", "警情数"])
    for i, row in enumerate(tiny_townships.itertuples()):
        code: float | int = int(row.code) if i % 2 else float(row.code)
        ws.append([code, row.population, row.incidents])
    wb.save(folder / "township_attributes.xlsx")
    # facilities.xlsx: township codes as numbers too
    fac = tiny_facilities.copy()
    wb2 = Workbook()
    ws2 = wb2.active
    assert ws2 is not None
    ws2.append(list(fac.columns))
    for rec in fac.itertuples(index=False):
        values = list(rec)
        values[3] = float(values[3])
        ws2.append(values)
    wb2.save(folder / "facilities.xlsx")
    inputs = load_inputs(folder)
    assert_canonical(inputs, tiny_townships)
    assert_facilities(inputs)


def test_chinese_headers_and_aliases(
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
    tiny_facilities: pd.DataFrame,
) -> None:
    towns = tiny_townships.rename(
        columns={
            "code": "乡镇代码",
            "name": "乡镇名称",
            "population": "实有人口",
            "incidents": "年警情",
            "households": "户数",
        }
    )
    towns["涉藏地区"] = ["是" if c.startswith("5132") else "否" for c in tiny_townships["code"]]
    fac = tiny_facilities.rename(
        columns={
            "id": "机构编号",
            "type": "机构类型",
            "name": "机构名称",
            "township_code": "所在乡镇代码",
            "lon": "经度",
            "lat": "纬度",
            "staff": "在编人数",
        }
    )
    fac["机构类型"] = fac["机构类型"].map(
        {schema.POLICE: "派出所", schema.JUDICIAL: "司法所", schema.COURT: "人民法庭"}
    )
    cty = pd.DataFrame(
        {"区县代码": ["510122", "513222"], "区县名称": ["双流区", "理县"], "总警力": ["300", "120"]}
    )
    folder = make_data_dir(townships=towns, facilities=fac, counties=cty, counties_format="xlsx")
    inputs = load_inputs(folder)
    assert_canonical(inputs, tiny_townships)
    assert_facilities(inputs)
    assert inputs.counties is not None
    assert inputs.counties["police_total"].tolist() == [300.0, 120.0]
    assert inputs.counties["judicial_establishment"].isna().all()


def test_tibetan_flag_column_overrides_prefixes(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    towns = tiny_townships.copy()
    towns["tibetan_area"] = ["1" if c == "510122202" else "" for c in towns["code"]]
    inputs = load_inputs(make_data_dir(townships=towns))
    flags = inputs.townships.set_index("code")["tibetan_area"]
    assert flags["510122202"] and flags["513222100"] and not flags["510122001"]
    inputs = load_inputs(make_data_dir("b"), tibetan_prefixes=("510122",))
    assert inputs.townships.set_index("code")["tibetan_area"]["510122001"]


def test_twelve_digit_codes(
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
    tiny_facilities: pd.DataFrame,
) -> None:
    towns = tiny_townships.copy()
    towns["code"] = towns["code"] + "000"
    fac = tiny_facilities.copy()
    fac["township_code"] = fac["township_code"] + "000"
    inputs = load_inputs(make_data_dir(townships=towns, facilities=fac))
    assert_canonical(inputs, tiny_townships)
    assert_facilities(inputs)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg"])
def test_facility_formats(fmt: str, make_data_dir: Callable[..., Path]) -> None:
    inputs = load_inputs(make_data_dir(facilities_format=fmt))
    assert_facilities(inputs)
    assert len(inputs.facilities) == 32
    assert inputs.facilities["staff"].notna().all()


def test_facilities_without_sites_get_seats(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[fac["id"] == "PS01", ["lon", "lat"]] = np.nan
    inputs = load_inputs(make_data_dir(facilities=fac))
    f = inputs.facilities.set_index("id")
    assert f.loc["PS01", "site_from_seat"]
    assert f["site_from_seat"].sum() == 1
    assert any("placed at the township seat" in n and "PS01" in n for n in inputs.notes)
    assert_facilities(inputs)

    no_columns = tiny_facilities.drop(columns=["lon", "lat", "staff"])
    inputs = load_inputs(make_data_dir("b", facilities=no_columns))
    assert inputs.facilities["site_from_seat"].all()
    assert inputs.facilities["staff"].isna().all()
    assert_facilities(inputs)


def test_explicit_paths_override_folder(
    tiny_data: Path, make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    other = make_data_dir("other", facilities=tiny_facilities.iloc[:5], counties=False)
    inputs = load_inputs(tiny_data, facilities=other / "facilities.csv")
    assert len(inputs.facilities) == 5
    assert inputs.sources["facilities"] == str(other / "facilities.csv")
    only_paths = load_inputs(
        townships=other / "townships.gpkg", facilities=other / "facilities.csv"
    )
    assert only_paths.counties is None


def test_projected_crs_input(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    projected = tiny_townships.to_crs("EPSG:4547")  # CGCS2000 / 3-degree GK CM 114E
    inputs = load_inputs(make_data_dir(townships=projected))
    assert_canonical(inputs, tiny_townships)


def test_missing_crs_and_override(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir(townships=tiny_townships, townships_format="shp")
    (folder / "townships.prj").unlink()
    with pytest.raises(DataError) as err:
        load_inputs(folder)
    assert "townships.shp: no CRS" in str(err.value)
    assert "look like lon/lat; pass --crs EPSG:4490" in str(err.value)
    inputs = load_inputs(folder, crs="EPSG:4490")
    assert_canonical(inputs, tiny_townships)
    assert any("using crs=EPSG:4490" in n for n in inputs.notes)


def test_missing_crs_projected_hint(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir(townships=tiny_townships.to_crs("EPSG:4547"), townships_format="shp")
    (folder / "townships.prj").unlink()
    with pytest.raises(DataError, match="look projected"):
        load_inputs(folder)
    assert_canonical(load_inputs(folder, crs="EPSG:4547"), tiny_townships)


def test_reading_keeps_its_public_names():
    """load_inputs orchestrates the per-file readers; the old import paths keep working."""
    import optimizer.inputs as inputs_pkg
    from optimizer.inputs import reading
    from optimizer.inputs.counties import COUNTY_OUTPUT
    from optimizer.inputs.facilities import FACILITY_OUTPUT
    from optimizer.inputs.townships import TOWNSHIP_OUTPUT

    for name in reading.__all__:
        assert hasattr(reading, name), name
    for name in inputs_pkg.__all__:
        assert hasattr(inputs_pkg, name), name
    assert list(TOWNSHIP_OUTPUT) == TOWNSHIP_COLUMNS
    assert list(FACILITY_OUTPUT) == FACILITY_COLUMNS
    assert COUNTY_OUTPUT[:2] == ("county_code", "name")
