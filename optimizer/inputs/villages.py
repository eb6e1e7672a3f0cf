"""Read the village layer (村 / 社区) and its companions: the pre-merger table, places, centres.

The village layer holds one post-merger village or community per record: polygons, points, or
a table with optional ``lon``/``lat``. Only ``code`` (the 12-digit 统计用区划代码), the township
code (derived from the code's first nine digits when absent) and ``households`` are required;
everything else is optional: ``name``, ``kind`` (村 / 社区; derived from the code: 001-199 are
居委会 / 社区, 200-599 村委会 / 村), ``residents``, ``villages_before``, ``groups`` (村民小组),
existing ``cameras`` (雪亮工程 points), the 调委会 roster (``mediators_fulltime``), the grid-worker
roster (``grid_workers_fulltime``, ``grid_workers_parttime``), existing ``grids`` and
``disputes`` a year. Companions, all optional:

- ``villages_before``: pre-merger villages (``code``, ``merged_into``, optional ``name``,
  ``kind``, ``households``), from which ``villages_before`` per village is counted;
- ``places``: important places (schools, markets, crossings) as points, for the 雪亮工程 cover;
- ``centres``: the 综治中心 list (``township_code`` of the township it stood in, pre- or
  post-merger, optional ``name``, ``staff``, ``screens`` (monitoring seats)).

Every problem is reported with file, row, code and column, as for the township layer.
``docs/inputs.md`` is the format reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.inputs import validate as v
from optimizer.inputs.canonical import column, to_4326
from optimizer.inputs.files import read_layer, read_table

__all__ = [
    "KIND_COMMUNITY",
    "KIND_VILLAGE",
    "LAYER_SUFFIXES",
    "VILLAGE_COLUMNS",
    "VILLAGE_NUMBERS",
    "VillageInputs",
    "read_villages",
]

KIND_VILLAGE = "村"
KIND_COMMUNITY = "社区"
LAYER_SUFFIXES: tuple[str, ...] = (".gpkg", ".shp", ".geojson", ".json")

VILLAGE_NUMBERS: tuple[str, ...] = (
    "residents",
    "villages_before",
    "groups",
    "cameras",
    "mediators_fulltime",
    "grid_workers_fulltime",
    "grid_workers_parttime",
    "grids",
    "disputes",
)
VILLAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "village_code",
        "村代码",
        "村级代码",
        "村社区代码",
        "统计用区划代码",
        "区划代码",
    ),
    "name": ("name", "village_name", "村名称", "村社区名称", "名称", "村名"),
    "township_code": ("township_code", "乡镇代码", "所属乡镇代码", "所属乡镇"),
    "kind": ("kind", "type", "类型", "村社类型", "城乡分类"),
    "households": ("households", "户数", "家庭户数"),
    "residents": ("residents", "population", "常住人口", "人口", "户籍人口"),
    "villages_before": ("villages_before", "原村数", "合并前村数", "调整前村数"),
    "groups": ("groups", "村民小组", "村民小组数"),
    "cameras": ("cameras", "camera_points", "现有点位", "雪亮工程点位", "监控点位"),
    "mediators_fulltime": ("mediators_fulltime", "专职调解员", "专职人民调解员"),
    "grid_workers_fulltime": ("grid_workers_fulltime", "专职网格员", "专职网格管理员"),
    "grid_workers_parttime": ("grid_workers_parttime", "兼职网格员", "兼职网格管理员"),
    "grids": ("grids", "现有网格数", "网格数"),
    "disputes": ("disputes", "矛盾纠纷", "纠纷数", "年纠纷数"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
}
BEFORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "village_code", "原村代码", "村代码", "统计用区划代码"),
    "name": ("name", "原村名称", "名称"),
    "merged_into": ("merged_into", "合并后村代码", "并入村代码", "现村代码"),
    "kind": ("kind", "类型"),
    "households": ("households", "户数"),
}
PLACE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "场所名称"),
    "kind": ("kind", "type", "类型", "场所类型"),
    "township_code": ("township_code", "乡镇代码"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
}
CENTRE_COLUMNS: dict[str, tuple[str, ...]] = {
    "township_code": ("township_code", "乡镇代码", "所在乡镇代码", "原乡镇代码"),
    "name": ("name", "名称", "综治中心名称"),
    "staff": ("staff", "人数", "工作人员"),
    "screens": ("screens", "坐席", "监控坐席"),
}
_KIND_WORDS = {
    "村": KIND_VILLAGE,
    "行政村": KIND_VILLAGE,
    "建制村": KIND_VILLAGE,
    "村委会": KIND_VILLAGE,
    "village": KIND_VILLAGE,
    "rural": KIND_VILLAGE,
    "农村": KIND_VILLAGE,
    "社区": KIND_COMMUNITY,
    "居委会": KIND_COMMUNITY,
    "社区居委会": KIND_COMMUNITY,
    "community": KIND_COMMUNITY,
    "urban": KIND_COMMUNITY,
    "城镇": KIND_COMMUNITY,
}


@dataclass
class VillageInputs:
    """The village layer and its companions, canonical.

    Attributes
    ----------
    villages
        One row per post-merger village: ``code`` (12 digits), ``name``, ``township_code``
        (9 digits), ``kind`` (村 / 社区), ``households`` and the :data:`VILLAGE_NUMBERS`
        (float, NaN when unknown), ``geometry`` (polygons or points in EPSG:4326, None when the
        file had none); sorted by code.
    before
        Pre-merger villages (``code``, ``name``, ``kind``, ``merged_into``, ``households``), or
        None.
    places
        Important places (``name``, ``kind``, ``township_code``, point geometry in EPSG:4326),
        or None.
    centres
        The 综治中心 list (``township_code``, ``name``, ``staff``, ``screens``), or None.
    """

    villages: gpd.GeoDataFrame
    before: pd.DataFrame | None = None
    places: gpd.GeoDataFrame | None = None
    centres: pd.DataFrame | None = None

    @property
    def has_polygons(self) -> bool:
        """Whether every village carries a polygon (grids can then be drawn and checked)."""
        geom = self.villages.geometry
        return bool(len(geom)) and bool(
            geom.notna().all() and geom.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        )


def _read_any(path: Path, notes: list[str]) -> tuple[pd.DataFrame | None, str | None, list[str]]:
    """Read a layer or a table; return it, the DBF encoding and any problem."""
    try:
        if path.suffix.lower() in LAYER_SUFFIXES:
            layer, layer_notes, enc = read_layer(path)
            notes.extend(layer_notes)
            return layer, enc, []
        table, table_notes = read_table(path)
        notes.extend(table_notes)
        return table, None, []
    except Exception as exc:  # any GDAL/IO failure becomes a problem to report
        return None, None, [f"{path.name}: cannot read ({exc})"]


def _points(
    table: pd.DataFrame, mapping: dict[str, str], rows: v.Rows, labels: pd.Series
) -> tuple[gpd.GeoSeries | None, list[str]]:
    """Build points from ``lon``/``lat`` columns when both are given (else None)."""
    if "lon" not in mapping or "lat" not in mapping:
        return None, []
    lon, p1 = v.check_numbers(
        column(table, mapping, "lon"), rows, "lon", required=True, labels=labels
    )
    lat, p2 = v.check_numbers(
        column(table, mapping, "lat"), rows, "lat", required=True, labels=labels
    )
    problems = p1 + p2
    off = [
        f"{rows.at(i)} ({labels.iloc[i]})"
        for i in range(len(lon))
        if np.isfinite(lon.iloc[i])
        and np.isfinite(lat.iloc[i])
        and not (97.0 <= lon.iloc[i] <= 109.0 and 26.0 <= lat.iloc[i] <= 35.0)
    ]
    if off:
        problems.append(
            f"{rows.file}: lon/lat outside Sichuan in {v.listing(off)}; give degrees (EPSG:4490)"
        )
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326"), problems


def _geometry(
    raw: pd.DataFrame,
    mapping: dict[str, str],
    rows: v.Rows,
    codes: pd.Series,
    crs: str | None,
    notes: list[str],
) -> tuple[gpd.GeoSeries | None, list[str]]:
    """Return the villages' geometry in EPSG:4326 (polygons, points) or None for a plain table."""
    if not isinstance(raw, gpd.GeoDataFrame):
        return _points(raw, mapping, rows, codes)
    layer, problems = to_4326(raw, rows.file, crs, notes)
    if layer is None:
        return None, problems
    geom = layer.geometry.reset_index(drop=True)
    kinds = set(geom.dropna().geom_type)
    if kinds <= {"Point"}:
        empty = [
            f"{rows.at(i)} ({codes.iloc[i]})"
            for i in range(len(geom))
            if geom.iloc[i] is None or geom.iloc[i].is_empty
        ]
        if empty:
            problems.append(f"{rows.file}: no point in {v.listing(empty)}; draw the village")
        return gpd.GeoSeries(geom, crs="EPSG:4326"), problems
    if kinds & {"Point", "MultiPoint"}:
        problems.append(
            f"{rows.file}: mixes points and polygons; give all villages as polygons or all as points"
        )
        return None, problems
    fixed, p, n = v.check_geometries(gpd.GeoSeries(geom, crs="EPSG:4326"), rows, codes)
    notes.extend(n)
    return fixed, problems + p


def _kinds(
    raw: pd.Series, codes: pd.Series, rows: v.Rows, notes: list[str]
) -> tuple[pd.Series, list[str]]:
    """Read 村 / 社区, deriving it from the code's last three digits where blank."""
    out: list[str | None] = []
    bad: list[str] = []
    derived = 0
    for pos, (value, code) in enumerate(zip(raw.tolist(), codes.tolist(), strict=True)):
        if not v.is_blank(value):
            kind = _KIND_WORDS.get(str(value).strip().lower())
            if kind is None:
                bad.append(f"{rows.at(pos)} '{value}'")
            out.append(kind)
        elif isinstance(code, str):
            derived += 1
            out.append(KIND_COMMUNITY if int(code[9:]) < 200 else KIND_VILLAGE)
        else:
            out.append(None)
    if derived:
        notes.append(
            f"{rows.file}: kind derived from the code for {derived} villages "
            "(001-199 社区, 200 and above 村)"
        )
    problems = []
    if bad:
        problems.append(
            f"{rows.file}: kind is not 村 or 社区 in {v.listing(bad)}; write 村 or 社区"
        )
    return pd.Series(out, dtype="object"), problems


def _village_table(
    raw: pd.DataFrame,
    path: Path,
    enc: str | None,
    known: set[str],
    crs: str | None,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Check and canonicalise the village layer itself."""
    rows = v.Rows(
        path.name,
        first=1 if isinstance(raw, gpd.GeoDataFrame) else 2,
        unit="feature" if isinstance(raw, gpd.GeoDataFrame) else "row",
    )
    headers = [c for c in raw.columns if c != "geometry"]
    mapping, n = v.match_columns(headers, VILLAGE_COLUMNS, dbf_encoding=enc)
    notes.extend(f"{path.name}: {x}" for x in n)
    problems = v.check_required(
        path.name, mapping, VILLAGE_COLUMNS, ["code", "households"], headers
    )
    if "code" not in mapping:
        return None, problems
    codes, p, n = v.check_codes(column(raw, mapping, "code"), rows, "code", digits=12)
    problems += p + v.check_duplicates(codes, rows, "code")
    notes.extend(n)
    town, p, n = v.check_codes(
        column(raw, mapping, "township_code"), rows, "township_code", allow_blank=True
    )
    problems += p
    blank = town.isna() & codes.notna()
    town[blank] = codes[blank].str[:9]
    if "township_code" not in mapping:
        notes.append(f"{path.name}: township_code taken from the first nine digits of each code")
    unknown = [
        f"{rows.at(i)} ({codes.iloc[i]}: {town.iloc[i]})"
        for i in range(len(town))
        if isinstance(town.iloc[i], str) and town.iloc[i] not in known
    ]
    if unknown:
        problems.append(
            f"{path.name}: township_code not in the townships layer for {v.listing(unknown)}; "
            "use the post-merger township codes"
        )
    table = pd.DataFrame({"code": codes, "township_code": town})
    names = column(raw, mapping, "name")
    table["name"] = [
        str(x).strip() if not v.is_blank(x) else str(c)
        for x, c in zip(names.tolist(), codes.tolist(), strict=True)
    ]
    table["kind"], p = _kinds(column(raw, mapping, "kind"), codes, rows, notes)
    problems += p
    if "households" in mapping:
        table["households"], p = v.check_numbers(
            column(raw, mapping, "households"), rows, "households", required=True, labels=codes
        )
        problems += p
    for name in VILLAGE_NUMBERS:
        table[name], p = v.check_numbers(
            column(raw, mapping, name), rows, name, required=False, labels=codes
        )
        problems += p
    geom, p = _geometry(raw, mapping, rows, codes, crs, notes)
    problems += p
    gdf = gpd.GeoDataFrame(
        table,
        geometry=geom if geom is not None else gpd.GeoSeries([None] * len(table), crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    return gdf, problems


def _before_table(
    path: Path, villages: gpd.GeoDataFrame, notes: list[str]
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read the pre-merger villages and count them into ``villages_before``."""
    raw, enc, problems = _read_any(path, notes)
    if raw is None:
        return None, problems
    rows = v.Rows(path.name)
    mapping, n = v.match_columns(
        [c for c in raw.columns if c != "geometry"], BEFORE_COLUMNS, dbf_encoding=enc
    )
    notes.extend(f"{path.name}: {x}" for x in n)
    problems += v.check_required(
        path.name, mapping, BEFORE_COLUMNS, ["code", "merged_into"], raw.columns
    )
    if "code" not in mapping or "merged_into" not in mapping:
        return None, problems
    codes, p, n = v.check_codes(column(raw, mapping, "code"), rows, "code", digits=12)
    problems += p + v.check_duplicates(codes, rows, "code")
    into, p, n2 = v.check_codes(
        column(raw, mapping, "merged_into"), rows, "merged_into", digits=12, allow_blank=True
    )
    problems += p
    notes.extend(n + n2)
    known = set(villages["code"].dropna())
    unknown = [
        f"{rows.at(i)} ({codes.iloc[i]} → {into.iloc[i]})"
        for i in range(len(into))
        if isinstance(into.iloc[i], str) and into.iloc[i] not in known
    ]
    if unknown:
        problems.append(
            f"{path.name}: merged_into not in the village layer for {v.listing(unknown)}; "
            "use the post-merger village codes"
        )
    kinds, p = _kinds(column(raw, mapping, "kind"), codes, rows, [])
    problems += p
    hh, p = v.check_numbers(
        column(raw, mapping, "households"), rows, "households", required=False, labels=codes
    )
    problems += p
    names = column(raw, mapping, "name")
    table = pd.DataFrame(
        {
            "code": codes,
            "name": names.astype("object"),
            "kind": kinds,
            "merged_into": into,
            "households": hh,
        }
    )
    return table, problems


def _small_table(
    path: Path, aliases: dict[str, tuple[str, ...]], required: list[str], notes: list[str]
) -> tuple[pd.DataFrame | None, dict[str, str], v.Rows, list[str]]:
    """Read a companion table and match its headers."""
    raw, enc, problems = _read_any(path, notes)
    rows = v.Rows(path.name, first=1 if isinstance(raw, gpd.GeoDataFrame) else 2)
    if raw is None:
        return None, {}, rows, problems
    headers = [c for c in raw.columns if c != "geometry"]
    mapping, n = v.match_columns(headers, aliases, dbf_encoding=enc)
    notes.extend(f"{path.name}: {x}" for x in n)
    problems += v.check_required(path.name, mapping, aliases, required, headers)
    return raw, mapping, rows, problems


def _places(
    path: Path, crs: str | None, notes: list[str]
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Read the important places (points)."""
    raw, mapping, rows, problems = _small_table(path, PLACE_COLUMNS, [], notes)
    if raw is None:
        return None, problems
    names = column(raw, mapping, "name").fillna("").astype(str)
    if isinstance(raw, gpd.GeoDataFrame):
        layer, p = to_4326(raw, path.name, crs, notes)
        problems += p
        if layer is None:
            return None, problems
        geom = layer.geometry.reset_index(drop=True)
        if not set(geom.dropna().geom_type) <= {"Point"}:
            problems.append(f"{path.name}: places must be points; give one point per place")
    else:
        geom, p = _points(raw, mapping, rows, names)
        problems += p
        if geom is None:
            problems.append(f"{path.name}: no lon/lat columns; give the places' lon and lat")
            return None, problems
    town, p, _ = v.check_codes(
        column(raw, mapping, "township_code"), rows, "township_code", allow_blank=True
    )
    problems += p
    kinds = column(raw, mapping, "kind").fillna("").astype(str)
    gdf = gpd.GeoDataFrame(
        {"name": names, "kind": kinds, "township_code": town}, geometry=geom, crs="EPSG:4326"
    )
    return gdf, problems


def _centres(path: Path, notes: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
    """Read the 综治中心 list."""
    raw, mapping, rows, problems = _small_table(path, CENTRE_COLUMNS, ["township_code"], notes)
    if raw is None or "township_code" not in mapping:
        return None, problems
    town, p, n = v.check_codes(column(raw, mapping, "township_code"), rows, "township_code")
    problems += p
    notes.extend(n)
    table = pd.DataFrame(
        {"township_code": town, "name": column(raw, mapping, "name").fillna("").astype(str)}
    )
    for name in ("staff", "screens"):
        table[name], p = v.check_numbers(
            column(raw, mapping, name), rows, name, required=False, labels=town
        )
        problems += p
    return table, problems


def read_villages(
    path: Path,
    *,
    townships: gpd.GeoDataFrame,
    before: Path | None = None,
    places: Path | None = None,
    centres: Path | None = None,
    crs: str | None = None,
    notes: list[str],
) -> tuple[VillageInputs | None, list[str]]:
    """Read, check and canonicalise the village layer and its companions.

    Parameters
    ----------
    path
        The village layer (GeoPackage, shapefile, GeoJSON) or table (CSV, Excel).
    townships
        The canonical townships (their codes are the valid ``township_code`` values).
    before, places, centres
        The optional companions (see the module docstring), or None.
    crs
        The user's ``crs=`` for layers that declare none.
    notes
        Receives the notes of every step.

    Returns
    -------
    villages : VillageInputs or None
        The canonical tables; None when the layer cannot be used.
    problems : list of str
        Every problem found, naming file, row, code and column.
    """
    raw, enc, problems = _read_any(path, notes)
    if raw is None:
        return None, problems
    table, p = _village_table(raw, path, enc, set(townships["code"]), crs, notes)
    problems += p
    if table is None:
        return None, problems
    out = VillageInputs(villages=table)
    if before is not None:
        out.before, p = _before_table(before, table, notes)
        problems += p
        if out.before is not None and not p:
            counted = out.before["merged_into"].value_counts()
            table["villages_before"] = table["code"].map(counted).fillna(0.0).astype(float)
            notes.append(f"{before.name}: villages_before counted from {len(out.before)} rows")
    if places is not None:
        out.places, p = _places(places, crs, notes)
        problems += p
    if centres is not None:
        out.centres, p = _centres(centres, notes)
        problems += p
    out.villages = table.sort_values("code", ignore_index=True)
    return out, problems
