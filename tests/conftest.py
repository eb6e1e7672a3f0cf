"""Shared fixtures: a tiny but valid planning data set, and a factory for variants of it.

``tiny_data`` is a data folder that :func:`optimizer.inputs.reading.load_inputs` reads without problems:

- 2 counties × 6 square townships (0.05° ≈ 5 km side) near 104.0-104.3 E, 30.0-30.1 N, stored
  as ``townships.gpkg`` in EPSG:4490 with Chinese names and English canonical headers.
  County 510122 (ordinary): codes 510122001 (街道), 510122101-103 (镇), 510122201-202 (乡).
  County 513222 (涉藏地区, prefix 5132): 513222100-101 (镇), 513222200-203 (乡).
  The two counties share an edge (x = 104.15), so adjacency crosses a county border there.
- Populations 3,000-45,000 and incidents 5-300: 510122102, 510122201 and 510122202 and most of
  513222 are below 20,000 people and 50 incidents (the plan's no-station screen; 513222 is
  exempt as 涉藏). ``cases``, ``villages_before`` and ``households`` are filled.
- ``facilities.csv``: 16 police stations (one per township, a second one in 510122001,
  510122101, 510122103 and 513222100), 12 judicial offices (one per township) and 4 courts
  (in 510122001, 510122103, 513222100, 513222202), all with lon/lat inside their township and
  ``staff``.
- ``counties.csv``: police_total, judicial_establishment, new_police_recruits per county.

Use the ``make_data_dir`` factory to write variants, e.g.
``make_data_dir(townships=gdf, townships_format="shp", facilities_format="xlsx")``; the
``tiny_townships`` / ``tiny_facilities`` / ``tiny_counties`` fixtures give fresh copies of the
frames to modify.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

SIDE = 0.05
X0, Y0 = 104.0, 30.0

# code, name, population, incidents, cases, villages_before, households
_TOWNSHIPS = [
    ("510122001", "东升街道", 45000, 300, 900, 0, 15000),
    ("510122101", "九江镇", 30000, 120, 400, 18, 10000),
    ("510122102", "黄水镇", 18000, 40, 150, 12, 6000),
    ("510122103", "永安镇", 25000, 45, 260, 15, 8200),
    ("510122201", "彭镇乡", 12000, 30, 90, 9, 4000),
    ("510122202", "公兴乡", 8000, 20, 60, 7, 2600),
    ("513222100", "杂谷脑镇", 21000, 60, 200, 14, 6500),
    ("513222101", "米亚罗镇", 15000, 35, 80, 10, 4800),
    ("513222200", "古尔沟乡", 9000, 12, 40, 8, 2900),
    ("513222201", "薛城乡", 5000, 8, 25, 6, 1600),
    ("513222202", "通化乡", 4000, 6, 20, 5, 1300),
    ("513222203", "甘堡乡", 3000, 5, 10, 4, 1000),
]
_EXTRA_STATIONS = ("510122001", "510122101", "510122103", "513222100")
_COURT_TOWNSHIPS = ("510122001", "510122103", "513222100", "513222202")


def _square(i: int) -> Any:
    """Township i: county 0 fills x 104.00-104.15, county 1 x 104.15-104.30; 3 × 2 each."""
    county, k = divmod(i, 6)
    col, row = k % 3, k // 3
    x = X0 + county * 3 * SIDE + col * SIDE
    y = Y0 + row * SIDE
    return box(x, y, x + SIDE, y + SIDE)


def build_townships() -> gpd.GeoDataFrame:
    """Return the tiny townships with canonical headers, in EPSG:4490."""
    rows = [
        {
            "code": code,
            "name": name,
            "population": float(pop),
            "incidents": float(inc),
            "cases": float(cases),
            "villages_before": float(vil),
            "households": float(hh),
        }
        for code, name, pop, inc, cases, vil, hh in _TOWNSHIPS
    ]
    geoms = [_square(i) for i in range(len(_TOWNSHIPS))]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs="EPSG:4490")


def build_facilities() -> pd.DataFrame:
    """Return the tiny facility list with canonical headers (lon/lat inside the townships)."""
    rows: list[dict[str, Any]] = []
    centres = {code: _square(i).centroid for i, (code, *_) in enumerate(_TOWNSHIPS)}

    def add(prefix: str, ftype: str, code: str, label: str, staff: int, dx: float) -> None:
        n = sum(r["type"] == ftype for r in rows) + 1
        c: Point = centres[code]
        rows.append(
            {
                "id": f"{prefix}{n:02d}",
                "type": ftype,
                "name": label,
                "township_code": code,
                "lon": round(c.x + dx, 6),
                "lat": round(c.y + dx / 2, 6),
                "staff": staff,
            }
        )

    names = {code: name for code, name, *_ in _TOWNSHIPS}
    for code, _, pop, *_ in _TOWNSHIPS:
        add("PS", "police_station", code, f"{names[code]}派出所", 12 if pop > 20000 else 4, 0.0)
    for code in _EXTRA_STATIONS:
        add("PS", "police_station", code, f"{names[code]}第二派出所", 6, 0.01)
    for code, *_ in _TOWNSHIPS:
        add("JO", "judicial_office", code, f"{names[code]}司法所", 2, -0.005)
    for code in _COURT_TOWNSHIPS:
        add("CT", "court", code, f"{names[code]}人民法庭", 5, 0.005)
    return pd.DataFrame(rows)


def build_counties() -> pd.DataFrame:
    """Return the tiny county totals with canonical headers."""
    return pd.DataFrame(
        {
            "county_code": ["510122", "513222"],
            "name": ["双流区", "理县"],
            "police_total": [300.0, 120.0],
            "judicial_establishment": [40.0, 18.0],
            "new_police_recruits": [20.0, 8.0],
        }
    )


def write_table(table: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> Path:
    """Write a table as CSV (given encoding) or XLSX according to the suffix."""
    if path.suffix == ".xlsx":
        table.to_excel(path, index=False)
    else:
        table.to_csv(path, index=False, encoding=encoding)
    return path


def write_data_dir(
    folder: Path,
    *,
    townships: gpd.GeoDataFrame | None = None,
    facilities: pd.DataFrame | None = None,
    counties: pd.DataFrame | None | bool = None,
    townships_format: str = "gpkg",
    facilities_format: str = "csv",
    counties_format: str = "csv",
) -> Path:
    """Write a data folder; frames default to the tiny set, ``counties=False`` omits the file."""
    folder.mkdir(parents=True, exist_ok=True)
    towns = build_townships() if townships is None else townships
    if townships_format == "shp":
        # DBF field names hold 10 characters; GDAL would cut the name the same way
        towns = towns.rename(columns={c: c[:10] for c in towns.columns if len(c) > 10})
    towns.to_file(folder / f"townships.{townships_format}")
    facs = build_facilities() if facilities is None else facilities
    if facilities_format == "gpkg":
        pts = gpd.GeoDataFrame(
            facs.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(facs["lon"], facs["lat"]),
            crs="EPSG:4490",
        )
        pts.to_file(folder / "facilities.gpkg")
    else:
        write_table(facs, folder / f"facilities.{facilities_format}")
    if counties is not False:
        cty = build_counties() if counties is None or counties is True else counties
        assert isinstance(cty, pd.DataFrame)
        write_table(cty, folder / f"counties.{counties_format}")
    return folder


@pytest.fixture
def make_data_dir(tmp_path: Path) -> Callable[..., Path]:
    """Return a factory ``make(name="data", **overrides) -> Path`` (see :func:`write_data_dir`)."""

    def make(name: str = "data", **overrides: Any) -> Path:
        return write_data_dir(tmp_path / name, **overrides)

    return make


@pytest.fixture
def tiny_data(make_data_dir: Callable[..., Path]) -> Path:
    """Return a valid data folder: 2 counties × 6 townships, facilities and counties."""
    return make_data_dir("tiny")


@pytest.fixture
def tiny_townships() -> gpd.GeoDataFrame:
    """Return a fresh copy of the tiny townships (canonical headers, EPSG:4490)."""
    return build_townships()


@pytest.fixture
def tiny_facilities() -> pd.DataFrame:
    """Return a fresh copy of the tiny facility list (canonical headers)."""
    return build_facilities()


@pytest.fixture
def tiny_counties() -> pd.DataFrame:
    """Return a fresh copy of the tiny county totals (canonical headers)."""
    return build_counties()


@pytest.fixture(autouse=True)
def _package_log_propagates() -> Iterator[None]:
    """Undo the command line's logging set-up after each test, so ``caplog`` sees the log.

    ``optimizer.cli.main`` routes the package's log to its own handler and stops propagation;
    without this, a test that reads ``caplog`` would pass or fail by the order tests ran in.
    """
    yield
    log = logging.getLogger("optimizer")
    log.handlers[:] = []
    log.propagate = True
    log.setLevel(logging.NOTSET)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let the loopback tests reach 127.0.0.1, and nothing else.

    Those are the notebook tests (their Jupyter kernel) and the tests marked ``loopback`` (a
    Dask scheduler and its workers on this machine). Every other test runs with Python sockets
    refused (``--disable-socket`` in pyproject.toml); the browser tests need no exception:
    chromium runs as a subprocess on a local file.
    """
    for item in items:
        if item.path.name == "test_notebooks.py" or item.get_closest_marker("loopback"):
            item.add_marker(pytest.mark.enable_socket)
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1", "::1"]))
