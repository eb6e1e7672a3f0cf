"""The data a plan map draws: simplified township polygons, boundaries, names and facilities.

:func:`plan_map_data` turns a plan's township and facility tables into one JSON-ready object
that the map's own script (``optimizer/assets/plan_map.js``) draws on a canvas: the townships as
one GeoJSON layer (simplified as a coverage, so neighbours keep one shared border), county and
prefecture outlines dissolved from them, label points, fill colours per facility type for today's
layout and for the proposal, the facilities as columns, and the summary the panel shows. A
province of 3,101 townships and 10,000 facilities takes a few MB and well under a second to
build, where one folium element per facility took 36 MB and many seconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors

from optimizer.paths import frame_dir
from optimizer.schema import CLOSED_BECOMES_ZH, FACILITY_LABELS_ZH

__all__ = [
    "PALETTE",
    "TYPE_COLOURS",
    "TYPE_SHAPES",
    "UNSERVED_COLOUR",
    "facility_key",
    "is_missing",
    "jurisdiction_colours",
    "plan_map_data",
    "simplify_coverage",
    "touching_pairs",
]

logger = logging.getLogger(__name__)

#: Fill colours of jurisdictions (ColorBrewer Set3 without its grey), assigned by graph colouring.
PALETTE: tuple[str, ...] = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
)
#: Fill colour of a township that no facility of the layer's type serves.
UNSERVED_COLOUR = "#d9d9d9"
#: Symbol colour of each facility type.
TYPE_COLOURS: dict[str, str] = {
    "police_station": "#1f4e9c",
    "judicial_office": "#1b7a3a",
    "court": "#7b2d8e",
}
#: Symbol shape of each facility type (drawn by the map's script).
TYPE_SHAPES: dict[str, str] = {
    "police_station": "circle",
    "judicial_office": "square",
    "court": "diamond",
}
CLOSED_COLOUR = "#c0392b"

#: Tolerance (degrees, about 10 m) under which two townships count as touching.
_TOUCH_TOLERANCE_DEG = 1e-4
#: Simplification tolerance (degrees, about 50 m): invisible below zoom 12.
SIMPLIFY_DEG = 5e-4
#: Decimals of the coordinates written (1e-5 degrees, about 1 m).
_DECIMALS = 5

_BECOMES_TEXT = {
    "police_office": f"改设{CLOSED_BECOMES_ZH['police_office']}",
    "service_point": f"改设{CLOSED_BECOMES_ZH['service_point']}",
    "merged": "并入相邻法庭",
}


def is_missing(value: object) -> bool:
    """Return whether a cell is empty (None, NaN, NA)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def facility_key(value: object) -> str | None:
    """Return a facility id as a lookup key (``None`` when missing); ``7.0`` and ``7`` agree."""
    if is_missing(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _num(value: object, digits: int = 1) -> float | None:
    if is_missing(value):
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


# --------------------------------------------------------------------------------------------
# colours


def touching_pairs(geoms: Sequence[Any] | np.ndarray | gpd.GeoSeries) -> Iterator[tuple[int, int]]:
    """Yield positional index pairs ``(i, j)``, ``i < j``, of geometries that touch or overlap.

    Parameters
    ----------
    geoms
        Polygons (EPSG:4326); invalid ones are repaired for the test.

    Yields
    ------
    tuple of int
        Positions of two geometries closer than about 10 m.
    """
    arr = np.asarray(geoms.to_numpy() if isinstance(geoms, gpd.GeoSeries) else geoms)
    valid = shapely.is_valid(arr)
    if not valid.all():
        arr = np.where(valid, arr, shapely.make_valid(arr))
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="dwithin", distance=_TOUCH_TOLERANCE_DEG)
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            yield i, j


def _colour(
    keys: Sequence[str | None], pairs: Sequence[tuple[int, int]], palette: Sequence[str], what: str
) -> dict[str, str]:
    neighbours: dict[str, set[str]] = {k: set() for k in keys if k is not None}
    for i, j in pairs:
        a, b = keys[i], keys[j]
        if a is not None and b is not None and a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    order = sorted(neighbours, key=lambda k: (-len(neighbours[k]), k))
    colours: dict[str, str] = {}
    n_clash = 0
    for k in order:
        used = {colours[n] for n in neighbours[k] if n in colours}
        free = [c for c in palette if c not in used]
        if free:
            colours[k] = free[0]
        else:
            n_clash += 1
            colours[k] = palette[int(hashlib.sha1(k.encode()).hexdigest(), 16) % len(palette)]
    if n_clash:
        logger.debug(
            "%d jurisdictions of %s touch more than %d others: some neighbours share a colour",
            n_clash,
            what,
            len(palette) - 1,
        )
    return colours


def jurisdiction_colours(
    townships: gpd.GeoDataFrame, served_by: str, *, palette: Sequence[str] = PALETTE
) -> dict[str, str]:
    """Return a fill colour per serving facility so that touching jurisdictions differ.

    Jurisdictions are coloured greedily, most neighbours first (ties by facility id), each with
    the first palette colour that no touching jurisdiction has yet; the result depends only on
    the data, not on row order or on the run.

    Parameters
    ----------
    townships
        Township polygons with the column ``served_by``.
    served_by
        Column holding the id of the facility that serves each township.
    palette
        Colours to choose from; reused cyclically if a jurisdiction has more neighbours.

    Returns
    -------
    dict
        Facility id (as text) -> colour, for every facility that serves a township.
    """
    keys = [facility_key(v) for v in townships[served_by]]
    return _colour(keys, list(touching_pairs(townships.geometry)), palette, served_by)


# --------------------------------------------------------------------------------------------
# geometry


def simplify_coverage(geoms: np.ndarray, tolerance: float = SIMPLIFY_DEG) -> np.ndarray:
    """Simplify township polygons as one coverage: a border two townships share stays shared.

    Coordinates are first snapped to 1e-6 degrees (about 0.1 m) so that float noise does not
    split a shared edge; then GEOS's coverage simplifier (``shapely.coverage_simplify``) moves
    each shared edge once for both neighbours, so no gaps or overlaps appear between them.
    Where the input is not a clean coverage (neighbours' vertices do not match), those edges
    are simplified per polygon, as any simplifier would.

    Parameters
    ----------
    geoms
        Polygons or multipolygons (EPSG:4326).
    tolerance
        Largest distance (degrees) a simplified border may move.

    Returns
    -------
    numpy.ndarray
        Valid simplified geometries, in the same order.
    """
    snapped = shapely.set_precision(geoms, 1e-6)
    out = shapely.coverage_simplify(snapped, tolerance)
    bad = ~shapely.is_valid(out) | shapely.is_empty(out)
    if bad.any():
        out = np.where(bad, shapely.make_valid(snapped), out)
    return np.asarray(out)


def _polygon_coords(geoms: np.ndarray) -> list[list[list[list[float]]]]:
    """Return GeoJSON MultiPolygon coordinates per geometry, rounded to about 1 m."""
    polys = np.array(
        [
            g
            if g.geom_type == "MultiPolygon"
            else shapely.MultiPolygon(
                [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and not p.is_empty]
            )
            for g in geoms
        ],
        dtype=object,
    )
    _, coords, (ring_off, poly_off, geom_off) = shapely.to_ragged_array(polys)
    c = np.round(coords, _DECIMALS).tolist()
    ro, po, go = ring_off.tolist(), poly_off.tolist(), geom_off.tolist()
    rings = [c[ro[i] : ro[i + 1]] for i in range(len(ro) - 1)]
    parts = [rings[po[i] : po[i + 1]] for i in range(len(po) - 1)]
    return [parts[go[i] : go[i + 1]] for i in range(len(go) - 1)]


def _collection(geoms: np.ndarray, props: Sequence[dict[str, Any]]) -> dict[str, Any]:
    features = [
        {"type": "Feature", "properties": p, "geometry": {"type": "MultiPolygon", "coordinates": c}}
        for p, c in zip(props, _polygon_coords(geoms), strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def _label_point(geom: Any) -> list[float]:
    """Return ``[lat, lon]`` inside the largest part of ``geom``."""
    parts = shapely.get_parts(geom)
    big = parts[int(np.argmax(shapely.area(parts)))] if len(parts) else geom
    pt = shapely.point_on_surface(big)
    return [round(pt.y, 4), round(pt.x, 4)]


@lru_cache(maxsize=1)
def _frame_names() -> dict[str, str]:
    """Return county (6 digits) and prefecture (4 digits) names from the bundled real frame."""
    try:
        frame = pd.read_csv(
            frame_dir() / "sichuan_county_population_2020.csv", dtype=str, encoding="utf-8"
        )
    except (FileNotFoundError, OSError, ValueError):  # pragma: no cover - broken install
        return {}
    names = dict(zip(frame["区划代码"], frame["区县"], strict=True))
    names.update(zip(frame["区划代码"].str[:4], frame["市"], strict=True))
    return names


def _dissolve(geoms: np.ndarray) -> Any:
    """Return the union of polygons that form a coverage (fast), exact where it is not one."""
    try:
        merged = shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        return shapely.union_all(geoms, grid_size=1e-6)
    if shapely.is_valid(merged) and abs(shapely.area(merged) - shapely.area(geoms).sum()) <= (
        1e-6 * max(shapely.area(merged), 1e-12)
    ):
        return merged
    return shapely.union_all(geoms, grid_size=1e-6)


def _areas(
    simple: np.ndarray, county_codes: Sequence[str], names: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any], list[list[Any]], list[list[Any]]]:
    """Dissolve counties and prefectures from the simplified townships; return outlines, labels."""
    out = []
    parts, part_codes = simple, list(county_codes)
    for width in (6, 4):  # counties from townships, then prefectures from counties
        codes = np.array([c[:width] for c in part_codes], dtype=object)
        keys = sorted(set(codes.tolist()))
        geoms = np.array([_dissolve(parts[codes == k]) for k in keys], dtype=object)
        props = [{"c": k, "n": names.get(k, k)} for k in keys]
        labels = [[*_label_point(g), p["n"]] for g, p in zip(geoms, props, strict=True)]
        out.append((_collection(geoms, props), labels))
        parts, part_codes = geoms, keys
    (counties, county_labels), (prefectures, prefecture_labels) = out
    return counties, prefectures, county_labels, prefecture_labels


# --------------------------------------------------------------------------------------------
# the map's data


def _facility_columns(
    facilities: pd.DataFrame, geo: gpd.GeoDataFrame, facility_types: Sequence[str]
) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """Return the facilities as columns for the script, and each type's id -> position."""
    fac = facilities[facilities["type"].astype(str).isin(facility_types)].reset_index(drop=True)
    seats = shapely.point_on_surface(geo.geometry.to_numpy())
    seat_of = dict(zip(geo["code"].astype(str), seats, strict=True))
    lat, lon, keep = [], [], []
    lon_col = fac["lon"] if "lon" in fac.columns else pd.Series([None] * len(fac))
    lat_col = fac["lat"] if "lat" in fac.columns else pd.Series([None] * len(fac))
    code_col = fac["township_code"] if "township_code" in fac.columns else lon_col
    for x, y, code in zip(lon_col, lat_col, code_col, strict=True):
        if not is_missing(x) and not is_missing(y):
            lat.append(round(float(y), 5))
            lon.append(round(float(x), 5))
            keep.append(True)
            continue
        pt = seat_of.get(str(code))
        keep.append(pt is not None)
        lat.append(round(pt.y, 5) if pt is not None else 0.0)
        lon.append(round(pt.x, 5) if pt is not None else 0.0)
    if not all(keep):
        logger.warning(
            "%d facilities have no lon/lat and no known township: not drawn", keep.count(False)
        )
    closed = fac["decision"].astype(str).str.strip().str.lower().eq("close").to_numpy()
    central = (
        fac["central"].fillna(False).astype(bool).to_numpy() if "central" in fac else closed & False
    )
    state = np.where(closed, 0, np.where(central, 2, 1)).tolist()
    type_idx = [facility_types.index(str(t)) for t in fac["type"]]
    n_served = fac["n_served"].tolist() if "n_served" in fac else [None] * len(fac)
    served = [None if is_missing(v) else int(v) for v in n_served]  # type: ignore[arg-type]
    becomes = [
        None
        if is_missing(b)
        else _BECOMES_TEXT.get(str(b), f"改设{CLOSED_BECOMES_ZH.get(str(b), b)}")
        for b in fac.get("becomes", [None] * len(fac))
    ]
    reason = None
    if "reason" in fac.columns:
        reason = [None if is_missing(r) or not str(r).strip() else str(r) for r in fac["reason"]]
    order = []
    for t in range(len(facility_types)):
        idx = [i for i in range(len(fac)) if type_idx[i] == t and keep[i]]
        idx.sort(key=lambda i: (-state[i], -(served[i] or 0), i))
        order.append(idx)
    columns = {
        "lat": lat,
        "lon": lon,
        "type": type_idx,
        "state": state,
        "name": [str(n) for n in fac["name"]],
        "id": [str(facility_key(v)) for v in fac["id"]],
        "served": served,
        "becomes": becomes,
        "reason": reason,
        "order": order,
    }
    position = {
        t: {str(facility_key(v)): i for i, v in enumerate(fac["id"]) if type_idx[i] == k}
        for k, t in enumerate(facility_types)
    }
    return columns, position


def _numbers(values: pd.Series, digits: int) -> list[float | None]:
    """Return a numeric column rounded, with ``None`` for missing or non-finite values."""
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float).round(digits)
    return [None if not math.isfinite(v) else v for v in num.tolist()]


def _township_props(
    geo: gpd.GeoDataFrame,
    facility_types: Sequence[str],
    position: Mapping[str, Mapping[str, int]],
    pairs: Sequence[tuple[int, int]],
    county_index: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Return each township's properties: ids, figures, and per type who serves it and colours."""
    n = len(geo)
    per_type: dict[str, list[list[Any]]] = {
        k: [] for k in ("s", "b", "fp", "ft", "d", "db", "m", "mb")
    }
    for t in facility_types:
        pos = position[t]
        for col, out_s, out_f in (
            (f"served_by__{t}", "s", "fp"),
            (f"before_by__{t}", "b", "ft"),
        ):
            keys = [facility_key(v) for v in geo[col]] if col in geo.columns else [None] * n
            colours = _colour(keys, pairs, range(len(PALETTE)), col)  # type: ignore[arg-type]
            per_type[out_s].append([pos.get(k, -1) if k is not None else -1 for k in keys])
            per_type[out_f].append([colours.get(k, -1) if k is not None else -1 for k in keys])
        for col, out in (
            (f"distance_km__{t}", "d"),
            (f"distance_before_km__{t}", "db"),
            (f"minutes__{t}", "m"),
            (f"minutes_before__{t}", "mb"),
        ):
            per_type[out].append(_numbers(geo[col], 1) if col in geo.columns else [None] * n)
    counties = geo["county_code"].astype(str).tolist() if "county_code" in geo else [""] * n
    cases = _numbers(geo["cases"], 0) if "cases" in geo.columns else None
    props = []
    pops, incs = _numbers(geo["population"], 0), _numbers(geo["incidents"], 0)
    for i, (code, name) in enumerate(zip(geo["code"].astype(str), geo["name"], strict=True)):
        p: dict[str, Any] = {
            "c": code,
            "n": str(name),
            "k": county_index[counties[i]],
            "p": pops[i],
            "i": incs[i],
        }
        if cases is not None:
            p["cs"] = cases[i]
        for key, rows in per_type.items():
            p[key] = [row[i] for row in rows]
        props.append(p)
    return props


def plan_map_data(
    geo: gpd.GeoDataFrame,
    facilities: pd.DataFrame,
    facility_types: Sequence[str],
    *,
    checks: Mapping[str, int] | None = None,
    area_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return everything the map's script draws, as one JSON-ready object.

    Parameters
    ----------
    geo
        Township polygons in EPSG:4326, valid and not empty, with the plan's columns
        (``code``, ``name``, ``county_code``, ``population``, ``incidents``, ``served_by__T``,
        ``before_by__T``, distances and minutes per type ``T``).
    facilities
        The plan's facility table; a ``reason`` column, when present, is shown in the tooltips.
    facility_types
        Types drawn, in the panel's order; the first is shown first.
    checks
        The rule checks' outcome counts (``Plan.outcome_counts()``) for the summary panel.
    area_names
        County (6-digit) and prefecture (4-digit) code -> name; default: the bundled frame's
        Sichuan names; a code without a name is shown as the code.

    Returns
    -------
    dict
        ``townships`` (GeoJSON), ``counties``, ``prefectures`` (GeoJSON outlines), ``labels``,
        ``facilities`` (columns), ``types``, ``summary`` and the colours.
    """
    names = dict(_frame_names()) if area_names is None else dict(area_names)
    county_codes = (
        geo["county_code"].astype(str).tolist() if "county_code" in geo else [""] * len(geo)
    )
    county_keys = sorted(set(county_codes))
    county_index = {k: i for i, k in enumerate(county_keys)}
    simple = simplify_coverage(geo.geometry.to_numpy())
    pairs = list(touching_pairs(simple))
    columns, position = _facility_columns(facilities, geo, facility_types)
    props = _township_props(geo, facility_types, position, pairs, county_index)
    counties, prefectures, county_labels, prefecture_labels = _areas(simple, county_codes, names)
    seats = shapely.point_on_surface(simple)
    township_labels = [
        [round(y, 4), round(x, 4), str(n)]
        for x, y, n in zip(
            shapely.get_x(seats).tolist(), shapely.get_y(seats).tolist(), geo["name"], strict=True
        )
    ]
    summary_types = []
    for k in range(len(facility_types)):
        states = [s for s, t in zip(columns["state"], columns["type"], strict=True) if t == k]
        summary_types.append([len(states), sum(s > 0 for s in states), states.count(0)])
    types = [
        {
            "key": t,
            "label": FACILITY_LABELS_ZH.get(t, t),
            "colour": TYPE_COLOURS.get(t, "#444444"),
            "shape": TYPE_SHAPES.get(t, "circle"),
        }
        for t in facility_types
    ]
    return {
        "types": types,
        "palette": list(PALETTE),
        "unserved": UNSERVED_COLOUR,
        "closedColour": CLOSED_COLOUR,
        "opacity": 0.75,
        "countyNames": [names.get(k, k) for k in county_keys],
        "townships": _collection(simple, props),
        "counties": counties,
        "prefectures": prefectures,
        "labels": {
            "prefecture": prefecture_labels,
            "county": county_labels,
            "township": township_labels,
        },
        "facilities": columns,
        "summary": {"checks": dict(checks) if checks is not None else None, "types": summary_types},
    }
