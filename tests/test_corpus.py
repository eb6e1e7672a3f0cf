"""A corpus of malformed inputs, made by code from the bundled sample.

Every case is one way a planner's files or command line can be wrong. Each must end with exit
code 2, a message that names the file (and the row, feature or column where there is one),
no traceback, nothing written, and the inputs byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import Workbook

from optimizer.cli import main
from optimizer.paths import sample_dir

SAMPLE = sample_dir()
Mutate = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutate
    expect: tuple[str, ...]  # every one of these must be in the message
    args: tuple[str, ...] = ()
    command: str = "plan"
    out: str = "out"  # relative to the case folder; "DATA" means the data folder itself
    extra: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# helpers that change one file of a copy of the sample


def _facilities(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "facilities.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _counties(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "counties.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _towns(d: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(d / "townships.gpkg")


def _save_towns(d: Path, t: gpd.GeoDataFrame) -> None:
    (d / "townships.gpkg").unlink()
    t.to_file(d / "townships.gpkg", driver="GPKG")


def fac_cell(row: int, col: str, value: str) -> Mutate:
    def f(d: Path) -> None:
        t = _facilities(d)
        t.loc[row, col] = value
        t.to_csv(d / "facilities.csv", index=False)

    return f


def county_cell(row: int, col: str, value: str) -> Mutate:
    def f(d: Path) -> None:
        t = _counties(d)
        t.loc[row, col] = value
        t.to_csv(d / "counties.csv", index=False)

    return f


def town_cell(row: int, col: str, value: object) -> Mutate:
    def f(d: Path) -> None:
        t = _towns(d)
        t[col] = t[col].astype(object)
        t.loc[row, col] = value
        _save_towns(d, t)

    return f


def drop_column(file: str, col: str) -> Mutate:
    def f(d: Path) -> None:
        if file == "townships.gpkg":
            _save_towns(d, _towns(d).drop(columns=col))
        else:
            t = pd.read_csv(d / file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            t.drop(columns=col).to_csv(d / file, index=False)

    return f


def empty(file: str) -> Mutate:
    return lambda d: (d / file).write_bytes(b"")


def noise(file: str, seed: int) -> Mutate:
    return lambda d: (d / file).write_bytes(random.Random(seed).randbytes(4000))


def truncated(file: str, fraction: float) -> Mutate:
    def f(d: Path) -> None:
        b = (d / file).read_bytes()
        (d / file).write_bytes(b[: int(len(b) * fraction)])

    return f


def dup_fac_id(d: Path) -> None:
    t = _facilities(d)
    t.loc[5, "id"] = t.loc[4, "id"]
    t.to_csv(d / "facilities.csv", index=False)


def dup_town_code(d: Path) -> None:
    t = _towns(d)
    t.loc[3, "code"] = t.loc[2, "code"]
    _save_towns(d, t)


def dup_county(d: Path) -> None:
    t = _counties(d)
    t.loc[1, "county_code"] = t.loc[0, "county_code"]
    t.to_csv(d / "counties.csv", index=False)


def zero_features(d: Path) -> None:
    _save_towns(d, _towns(d).iloc[:0])


def degrees_labelled_projected(d: Path) -> None:
    _save_towns(d, _towns(d).set_crs(4547, allow_override=True))


def as_shapefile(missing: str) -> Mutate:
    def f(d: Path) -> None:
        t = _towns(d)
        (d / "townships.gpkg").unlink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL: DBF field names cut to 10 bytes
            t.to_file(d / "townships.shp", encoding="utf-8")
        (d / f"townships{missing}").unlink()

    return f


def geojson_metres(d: Path) -> None:
    t = _towns(d).to_crs(32648)
    (d / "townships.gpkg").unlink()
    t.to_file(d / "townships.geojson", driver="GeoJSON")
    j = json.loads((d / "townships.geojson").read_text(encoding="utf-8"))
    j.pop("crs", None)
    (d / "townships.geojson").write_text(json.dumps(j), encoding="utf-8")


def facilities_xlsx(kind: str) -> Mutate:
    def f(d: Path) -> None:
        (d / "facilities.csv").unlink()
        path = d / "facilities.xlsx"
        if kind == "garbage":
            path.write_bytes(b"PK\x03\x04" + b"not really a workbook" * 20)
        elif kind == "xls":
            path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
        else:
            wb = Workbook()
            wb.save(path)

    return f


def facilities_bad_xlsx_row(d: Path) -> None:
    t = _facilities(d)
    (d / "facilities.csv").unlink()
    t.loc[7, "staff"] = "很多"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["设施名单（合成示例）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(t.columns))
    ws.append(list(t.columns))
    for r in t.itertuples(index=False):
        ws.append(list(r))
    wb.save(d / "facilities.xlsx")


def scenario(text: bytes, name: str = "s.yaml") -> Mutate:
    return lambda d: (d.parent / name).write_bytes(text)


def nothing(_: Path) -> None:
    pass


def out_file(d: Path) -> None:
    (d.parent / "out").write_text("a file")


def out_parent_file(d: Path) -> None:
    (d.parent / "f").write_text("a file")


def out_with_folder(name: str) -> Mutate:
    return lambda d: (d.parent / "out" / name).mkdir(parents=True)


FAC, TOWN, COUNTY = "facilities.csv", "townships.gpkg", "counties.csv"

CASES = [
    # whole files: empty, noise, cut off
    *[Case(f"empty-{f}", empty(f), (f, "empty")) for f in (FAC, TOWN, COUNTY, "roads.gpkg")],
    *[
        Case(f"noise-{f}-{s}", noise(f, s), (f,))
        for f in (FAC, TOWN, COUNTY, "roads.gpkg")
        for s in (1, 2)
    ],
    *[Case(f"cut-{f}", truncated(f, 0.4), (f,)) for f in (TOWN, "roads.gpkg")],
    Case("cut-facilities", truncated(FAC, 0.5), (FAC, "cut off")),
    Case("zero-features", zero_features, (TOWN, "no features")),
    Case("shapefile-without-dbf", as_shapefile(".dbf"), ("townships.dbf", "missing")),
    Case("shapefile-without-shx", as_shapefile(".shx"), ("townships.shx", "missing")),
    Case("shapefile-without-prj", as_shapefile(".prj"), ("townships.shp", "no CRS", "--crs")),
    Case("xlsx-garbage", facilities_xlsx("garbage"), ("facilities.xlsx",)),
    Case("xlsx-is-xls", facilities_xlsx("xls"), ("facilities.xlsx", ".xls")),
    Case("xlsx-empty-sheet", facilities_xlsx("blank"), ("facilities.xlsx", "missing column")),
    Case(
        "xlsx-title-row-bad-staff", facilities_bad_xlsx_row, ("facilities.xlsx", "staff", "row 10")
    ),
    # facilities: ids, types, codes, numbers, coordinates, columns
    Case("fac-blank-id", fac_cell(3, "id", ""), (FAC, "id", "row 5")),
    Case("fac-duplicate-id", dup_fac_id, (FAC, "appears 2 times", "rows 6, 7")),
    Case("fac-bad-type", fac_cell(2, "type", "fire_station"), (FAC, "type", "row 4")),
    Case("fac-blank-type", fac_cell(2, "type", ""), (FAC, "type", "row 4")),
    Case("fac-short-code", fac_cell(6, "township_code", "51180"), (FAC, "township_code", "row 8")),
    Case("fac-text-code", fac_cell(6, "township_code", "东城"), (FAC, "township_code", "row 8")),
    Case(
        "fac-unknown-township",
        fac_cell(6, "township_code", "511802999"),
        (FAC, "511802999", "row 8"),
    ),
    Case("fac-staff-negative", fac_cell(9, "staff", "-3"), (FAC, "staff", "row 11")),
    Case("fac-staff-text", fac_cell(9, "staff", "eight"), (FAC, "staff", "row 11")),
    Case(
        "fac-staff-huge",
        fac_cell(9, "staff", "1e18"),
        (FAC, "staff", "row 11", "implausibly large"),
    ),
    Case("fac-staff-inf", fac_cell(9, "staff", "inf"), (FAC, "staff", "row 11")),
    Case("fac-lon-range", fac_cell(12, "lon", "500"), (FAC, "row 14")),
    Case("fac-lat-text", fac_cell(12, "lat", "北纬30度"), (FAC, "lat", "row 14")),
    Case("fac-site-far", fac_cell(12, "lon", "90.5"), (FAC, "row 14", "outside")),
    *[
        Case(f"fac-no-{c}", drop_column(FAC, c), (FAC, f"missing column '{c}'"))
        for c in ("id", "type", "township_code")
    ],
    Case(
        "fac-semicolon-and-blank-id",
        lambda d: (fac_cell(3, "id", "")(d), _facilities(d).to_csv(d / FAC, sep=";", index=False)),
        (FAC, "id", "row 5"),
    ),
    # townships: codes, names, numbers, columns, CRS
    Case("town-blank-code", town_cell(2, "code", None), (TOWN, "code", "feature 3")),
    Case("town-duplicate-code", dup_town_code, (TOWN, "appears 2 times")),
    Case("town-bad-code", town_cell(2, "code", "5118020X1"), (TOWN, "code", "feature 3")),
    Case("town-blank-name", town_cell(4, "name", None), (TOWN, "name", "feature 5")),
    Case("town-pop-negative", town_cell(0, "population", -1.0), (TOWN, "population", "feature 1")),
    Case(
        "town-pop-huge",
        town_cell(0, "population", 1e300),
        (TOWN, "population", "feature 1", "implausibly large"),
    ),
    Case("town-pop-text", town_cell(0, "population", "很多"), (TOWN, "population", "feature 1")),
    Case("town-pop-blank", town_cell(0, "population", None), (TOWN, "population", "feature 1")),
    Case("town-incidents-huge", town_cell(1, "incidents", 1e300), (TOWN, "incidents", "feature 2")),
    Case("town-cases-huge", town_cell(1, "cases", 1e9), (TOWN, "cases", "feature 2")),
    Case(
        "town-households-negative",
        town_cell(1, "households", -5.0),
        (TOWN, "households", "feature 2"),
    ),
    Case("town-kind-unknown", town_cell(1, "kind", "村"), (TOWN, "feature 2")),
    *[
        Case(f"town-no-{c}", drop_column(TOWN, c), (TOWN, f"missing column '{c}'"))
        for c in ("code", "population", "incidents")
    ],
    Case(
        "town-degrees-as-projected",
        degrees_labelled_projected,
        (TOWN, "EPSG:4547", "degrees", "EPSG:4490"),
    ),
    Case("town-geojson-metres-no-crs", geojson_metres, ("townships.geojson", "metres", "crs")),
    # counties
    Case("county-blank-code", county_cell(0, "county_code", ""), (COUNTY, "county_code", "row 2")),
    Case("county-duplicate", dup_county, (COUNTY, "appears 2 times", "rows 2, 3")),
    Case(
        "county-police-huge",
        county_cell(2, "police_total", "9e12"),
        (COUNTY, "police_total", "row 4"),
    ),
    Case(
        "county-police-negative",
        county_cell(2, "police_total", "-1"),
        (COUNTY, "police_total", "row 4"),
    ),
    Case(
        "county-judicial-text",
        county_cell(2, "judicial_establishment", "n/a"),
        (COUNTY, "judicial_establishment", "row 4"),
    ),
    # command line
    Case("crs-unknown", nothing, ("--crs EPSG:99999",), args=("--crs", "EPSG:99999")),
    Case("crs-garbage", nothing, ("--crs not-a-crs",), args=("--crs", "not-a-crs")),
    *[
        Case(f"time-limit-{v}", nothing, ("--time-limit",), args=("--time-limit", v))
        for v in ("nan", "0", "-5", "inf")
    ],
    Case(
        "scenario-gbk",
        scenario("name: 测试\npolice:\n  reduction: 0.4\n".encode("gbk")),
        ("s.yaml", "UTF-8"),
        args=("--scenario", "SCEN"),
    ),
    Case(
        "scenario-bad-yaml",
        scenario(b"police: [reduction: 0.4\n"),
        ("s.yaml", "YAML"),
        args=("--scenario", "SCEN"),
    ),
    Case(
        "scenario-unknown-key",
        scenario(b"police:\n  reducton: 0.4\n"),
        ("reducton", "reduction"),
        args=("--scenario", "SCEN"),
    ),
    Case(
        "scenario-bad-value",
        scenario(b"police:\n  reduction: 1.7\n"),
        ("reduction",),
        args=("--scenario", "SCEN"),
    ),
    Case("scenario-missing", nothing, ("not found",), args=("--scenario", "SCEN")),
    Case("out-is-data", nothing, ("is the input",), out="DATA"),
    Case("out-holds-data", nothing, ("holds the input file",), out="."),
    Case("out-is-file", out_file, ("exists as a file",)),
    Case("out-parent-is-file", out_parent_file, ("is a file",), out="f/out"),
    Case("out-plan-json-folder", out_with_folder("plan.json"), ("plan.json", "is a folder")),
    Case("out-map-folder", out_with_folder("map.html"), ("map.html", "is a folder")),
    Case(
        "compare-workers-0", nothing, ("--workers 0",), command="compare", args=("--workers", "0")
    ),
]


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_corpus_is_large_and_distinct() -> None:
    names = [c.name for c in CASES]
    assert len(names) >= 60 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_malformed_input_is_named_and_nothing_is_written(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    case.mutate(data)
    for n in ("a", "b"):
        (tmp_path / f"{n}.yaml").write_text(f"name: {n}\n", encoding="utf-8")
    before = _digest(tmp_path)
    out = data if case.out == "DATA" else tmp_path / case.out
    args = [a.replace("SCEN", str(tmp_path / "s.yaml")) for a in case.args]
    if case.command == "compare":
        argv = ["compare", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    else:
        argv = ["plan"]
    argv += ["--data", str(data), "--out", str(out), *args]
    if case.command == "plan" and "--time-limit" not in args:
        argv += ["--time-limit", "30"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse ends bad command-line values with exit 2
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert _digest(tmp_path) == before  # inputs unchanged, nothing written
    assert not [p for p in tmp_path.rglob("*partial*")]
