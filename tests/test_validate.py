"""Checks: every kind of problem is reported with rows, values and a fix, all in one DataError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon

from optimizer import schema
from optimizer.errors import DataError
from optimizer.inputs import validate as v
from optimizer.inputs.reading import load_inputs


def problems_of(folder: Path, **kwargs: object) -> list[str]:
    """Return the problems load_inputs raises for a folder (fails if it loads)."""
    with pytest.raises(DataError) as err:
        load_inputs(folder, **kwargs)  # type: ignore[arg-type]
    return err.value.problems


def only(problems: list[str], needle: str) -> str:
    """Return the single problem containing ``needle``."""
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, problems
    return hits[0]


# ------------------------------------------------------------------ pure functions


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        ("510122001", 9, "510122001"),
        (" 510122001 ", 9, "510122001"),
        (510122001, 9, "510122001"),
        (510122001.0, 9, "510122001"),
        ("510122001.0", 9, "510122001"),
        ("5.10122001E8", 9, "510122001"),
        ("510122001000", 9, "510122001"),
        ("510122001123", 9, None),  # a village code, not a township
        ("51012200", 9, None),
        ("5101220011", 9, None),
        ("510122001.5", 9, None),
        ("abc", 9, None),
        ("", 9, None),
        (np.nan, 9, None),
        ("510122", 6, "510122"),
        (510122.0, 6, "510122"),
        ("510122000000", 6, "510122"),
        ("510122000", 6, "510122"),
        ("510122001", 6, None),
    ],
)
def test_normalise_code(value: object, digits: int, expected: str | None) -> None:
    assert v.normalise_code(value, digits) == expected


def test_match_columns_ignores_case_spaces_underscores() -> None:
    mapping, notes = v.match_columns(
        ["Township-Code", " NAME ", "Pop", "警情 数", "County_Cod"],
        schema.TOWNSHIP_COLUMNS,
        dbf_encoding="UTF-8",
    )
    assert mapping == {
        "code": "Township-Code",
        "name": " NAME ",
        "population": "Pop",
        "incidents": "警情 数",
        "county_code": "County_Cod",
    }
    assert notes == []


def test_match_columns_notes_ambiguity() -> None:
    mapping, notes = v.match_columns(["常住人口", "人口"], schema.TOWNSHIP_COLUMNS)
    assert mapping["population"] == "常住人口"
    assert len(notes) == 1 and "'人口'" in notes[0]


def test_check_numbers_thousands_separator() -> None:
    values, problems = v.check_numbers(
        pd.Series(["12,345", "7"]), v.Rows("a.csv"), "population", required=True
    )
    assert values.tolist() == [12345.0, 7.0]
    assert problems == []


def test_looks_like_degrees() -> None:
    assert v.looks_like_degrees((104.0, 30.0, 104.3, 30.1))
    assert not v.looks_like_degrees((400000.0, 3300000.0, 430000.0, 3330000.0))


# ------------------------------------------------------------------ one test per message kind


def test_missing_required_column(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir(townships=tiny_townships.drop(columns=["incidents"]))
    msg = only(problems_of(folder), "missing column 'incidents'")
    assert msg.startswith("townships.gpkg:")
    assert "警情数" in msg  # an alias that would have matched
    assert "found: code, name, population" in msg


def test_missing_required_facility_column(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    folder = make_data_dir(facilities=tiny_facilities.drop(columns=["type"]))
    msg = only(problems_of(folder), "missing column 'type'")
    assert "facilities.csv" in msg and "机构类型" in msg


def test_duplicate_codes(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    towns = tiny_townships.copy()
    towns.loc[3, "code"] = towns.loc[1, "code"]  # features 2 and 4
    msg = only(problems_of(make_data_dir(townships=towns)), "appears 2 times")
    assert "code 510122101" in msg and "features 2, 4" in msg


def test_malformed_codes(make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame) -> None:
    fac = tiny_facilities.copy()
    fac.loc[0, "township_code"] = "5101220"
    fac.loc[5, "township_code"] = "510122001123"
    msg = only(problems_of(make_data_dir(facilities=fac)), "not a 9-digit code")
    assert "facilities.csv" in msg and "township_code" in msg
    assert "row 2 '5101220'" in msg and "row 7 '510122001123'" in msg


def test_blank_code(make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame) -> None:
    towns = tiny_townships.copy()
    towns.loc[4, "code"] = None
    msg = only(problems_of(make_data_dir(townships=towns)), "code is blank")
    assert "feature 5" in msg


def test_facility_in_unknown_township(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[2, "township_code"] = "510122299"
    msg = only(problems_of(make_data_dir(facilities=fac)), "not in the townships layer")
    assert "row 4 (PS03: 510122299)" in msg


def test_duplicate_facility_ids(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[20, "id"] = "PS01"
    msg = only(problems_of(make_data_dir(facilities=fac)), "id PS01 appears 2 times")
    assert "rows 2, 22" in msg


def test_unknown_facility_type(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[1, "type"] = "警务室"
    msg = only(problems_of(make_data_dir(facilities=fac)), "unknown facility type")
    assert "row 3 '警务室'" in msg
    assert "police_station" in msg and "派出所" in msg and "人民法庭" in msg


@pytest.mark.parametrize(
    ("value", "needle", "detail"),
    [
        (-5, "population is negative", "feature 3 (510122102) -5"),
        (None, "population is missing", "feature 3 (510122102)"),
        ("many", "population is not a number", "feature 3 (510122102) 'many'"),
    ],
)
def test_bad_population(
    value: object,
    needle: str,
    detail: str,
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
) -> None:
    towns = tiny_townships.copy()
    towns["population"] = towns["population"].astype(object)
    towns.loc[2, "population"] = value
    msg = only(problems_of(make_data_dir(townships=towns)), needle)
    assert detail in msg and msg.startswith("townships.gpkg:")


def test_bad_incidents_in_attribute_sheet(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    folder = make_data_dir(townships=tiny_townships[["code", "name", "geometry"]])
    sheet = pd.DataFrame(tiny_townships.drop(columns="geometry")).astype({"incidents": object})
    sheet.loc[6, "incidents"] = "n/a"
    sheet = sheet.drop(index=11)  # 513222203 has no attributes
    sheet.to_csv(folder / "township_attributes.csv", index=False)
    problems = problems_of(folder)
    msg = only(problems, "incidents is not a number")
    assert "township_attributes.csv: " in msg and "row 8 (513222100) 'n/a'" in msg
    msg = only(problems, "no row for township")
    assert "513222203" in msg


def test_empty_geometry(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    towns = tiny_townships.copy()
    towns.loc[5, "geometry"] = None
    msg = only(problems_of(make_data_dir(townships=towns)), "empty geometry")
    assert "feature 6 (510122202)" in msg


def test_invalid_geometry_is_repaired(
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
    tiny_facilities: pd.DataFrame,
) -> None:
    towns = tiny_townships.copy()
    minx, miny, maxx, maxy = towns.geometry[0].bounds
    bowtie = Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    towns.loc[0, "geometry"] = bowtie
    assert not bowtie.is_valid
    # the bowtie covers only two triangles: drop 510122001's sites so none falls outside
    fac = tiny_facilities[tiny_facilities["township_code"] != "510122001"]
    inputs = load_inputs(make_data_dir(townships=towns, facilities=fac))
    geom = inputs.townships.geometry[0]
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    assert geom.area == pytest.approx((maxx - minx) * (maxy - miny) / 2, rel=1e-6)
    assert any("repaired 1 invalid geometry" in n and "510122001" in n for n in inputs.notes)


def test_unrepairable_geometry(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    towns = tiny_townships.copy()
    towns.loc[7, "geometry"] = Polygon([(104.2, 30.0), (104.22, 30.02), (104.24, 30.04)])
    msg = only(problems_of(make_data_dir(townships=towns)), "cannot be repaired")
    assert "feature 8 (513222101)" in msg


def test_site_far_outside_township(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[0, "lon"] = fac.loc[0, "lon"] + 0.2  # about 19 km east
    problems = problems_of(make_data_dir(facilities=fac))
    msg = only(problems, "outside its township")
    assert "facility PS01" in msg and "510122001" in msg and "km" in msg
    # within the tolerance it passes
    load_inputs(make_data_dir("b", facilities=fac), site_tolerance_m=30000)


def test_lonlat_out_of_range(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    fac = tiny_facilities.copy()
    fac.loc[3, ["lon", "lat"]] = [400000.0, 3300000.0]
    msg = only(problems_of(make_data_dir(facilities=fac)), "out of range")
    assert "row 5 (PS04" in msg


def test_bad_kind_and_flag(
    make_data_dir: Callable[..., Path], tiny_townships: gpd.GeoDataFrame
) -> None:
    towns = tiny_townships.copy()
    towns["kind"] = ""
    towns.loc[0, "kind"] = "村"
    towns["tibetan_area"] = ""
    towns.loc[1, "tibetan_area"] = "maybe"
    problems = problems_of(make_data_dir(townships=towns))
    assert "feature 1 '村'" in only(problems, "kind must be one of")
    assert "feature 2 'maybe'" in only(problems, "tibetan_area must be")


def test_two_township_files(tiny_data: Path, tiny_townships: gpd.GeoDataFrame) -> None:
    tiny_townships.to_file(tiny_data / "townships.geojson")
    msg = only(problems_of(tiny_data), "several townships files")
    assert "townships.geojson" in msg and "townships.gpkg" in msg


def test_missing_files(tmp_path: Path) -> None:
    problems = problems_of(tmp_path)
    assert any("no townships file" in p for p in problems)
    assert any("no facilities file" in p for p in problems)
    assert "does not exist" in only(problems_of(tmp_path / "nope"), "data folder")


def test_county_file_problems(
    make_data_dir: Callable[..., Path], tiny_counties: pd.DataFrame
) -> None:
    cty = tiny_counties.copy()
    cty.loc[1, "county_code"] = "51322"
    cty.loc[0, "police_total"] = -3
    problems = problems_of(make_data_dir(counties=cty))
    assert "row 3 '51322'" in only(problems, "not a 6-digit code")
    assert "row 2 (510122) -3" in only(problems, "police_total is negative")


# ------------------------------------------------------------------ everything at once


def test_all_problems_in_one_error(
    make_data_dir: Callable[..., Path],
    tiny_townships: gpd.GeoDataFrame,
    tiny_facilities: pd.DataFrame,
) -> None:
    towns = tiny_townships.copy()
    towns["population"] = towns["population"].astype(object)
    towns.loc[3, "code"] = towns.loc[1, "code"]
    towns.loc[2, "population"] = -1
    towns.loc[4, "population"] = "x"
    towns.loc[5, "geometry"] = None
    fac = tiny_facilities.copy()
    fac.loc[0, "township_code"] = "123"
    fac.loc[1, "type"] = "警务室"
    fac.loc[2, "id"] = "PS01"
    fac.loc[3, ["lon", "lat"]] = [500.0, 95.0]
    fac = fac.drop(columns="name")
    folder = make_data_dir(townships=towns, facilities=fac)
    with pytest.raises(DataError) as err:
        load_inputs(folder)
    problems = err.value.problems
    for needle in (
        "code 510122101 appears 2 times",
        "population is negative",
        "population is not a number",
        "empty geometry",
        "missing column 'name'",
    ):
        only(problems, needle)
    assert str(err.value).startswith("input data cannot be used (")
    assert f"({len(problems)} problems)" in str(err.value)

    # with the facility file's columns complete, its row-level problems come out together
    fac["name"] = "x"
    make_data_dir(townships=towns, facilities=fac)
    problems = problems_of(folder)
    for needle in (
        "appears 2 times",
        "not a 9-digit code",
        "unknown facility type",
        "id PS01 appears 2 times",
        "out of range",
        "population is negative",
        "empty geometry",
    ):
        assert any(needle in p for p in problems), (needle, problems)


def test_staff_by_role_must_be_whole_non_negative_and_within_staff(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    facs = tiny_facilities
    court = facs.index[facs["type"] == "court"]
    facs["员额法官"] = None
    facs["书记员"] = None
    facs["司法警察"] = None
    facs.loc[court, ["员额法官", "书记员", "司法警察"]] = 1
    facs.loc[court[0], "员额法官"] = -1
    facs.loc[court[1], "书记员"] = 1.5
    facs.loc[court[2], "司法警察"] = 9  # staff 5: 1 + 1 + 9 > 5
    problems = problems_of(make_data_dir(facilities=facs))
    assert "judges is negative" in only(problems, "judges is negative")
    assert "give a head count" in only(problems, "clerks is not a whole number")
    assert "add up to more than staff" in only(problems, "add up to more than staff")


def test_staff_by_role_read_from_chinese_headers(
    make_data_dir: Callable[..., Path], tiny_facilities: pd.DataFrame
) -> None:
    facs = tiny_facilities
    facs["司法助理员"] = (facs["type"] == "judicial_office").astype(int)
    f = load_inputs(make_data_dir(facilities=facs)).facilities
    offices = f[f["type"] == "judicial_office"]
    assert (offices["judicial_assistants"] == 1).all()
    assert f["judges"].isna().all()
