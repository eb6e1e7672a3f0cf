"""Read a road layer and give every road a speed (the optional input of travel times).

Headers are matched through :data:`ROAD_COLUMNS`; a road without a speed gets the speed of its
class from :data:`DEFAULT_SPEEDS_KMH`. ``docs/network.md`` explains the defaults.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.errors import DataError
from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v
from optimizer.inputs.files import read_error_message, read_layer

__all__ = ["DEFAULT_SPEEDS_KMH", "ROAD_COLUMNS", "read_roads", "road_problems"]

logger = logging.getLogger(__name__)

#: Default speed (km/h) per road class, used where a road has a class but no speed. Keys are
#: compared lower-case without spaces, underscores or hyphens. Chinese administrative classes
#: (行政等级: 国道 G, 省道 S, 县道 X, 乡道 Y, 村道 C, 专用公路 Z), technical grades (技术等级,
#: JTG B01: 高速 / 一级 / 二级 / 三级 / 四级 / 等外) and OpenStreetMap ``highway`` values. The
#: figures are typical rural running speeds in Sichuan, below the design speeds; pass
#: ``speeds=`` to :func:`read_roads` to change them.
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    # administrative class
    "高速": 90.0,
    "高速公路": 90.0,
    "国道": 60.0,
    "省道": 50.0,
    "县道": 40.0,
    "乡道": 30.0,
    "村道": 20.0,
    "专用公路": 30.0,
    "城市道路": 30.0,
    "g": 60.0,
    "s": 50.0,
    "x": 40.0,
    "y": 30.0,
    "c": 20.0,
    "z": 30.0,
    # technical grade
    "一级公路": 70.0,
    "二级公路": 55.0,
    "三级公路": 40.0,
    "四级公路": 25.0,
    "等外公路": 15.0,
    "机耕道": 15.0,
    # OpenStreetMap highway=*
    "motorway": 90.0,
    "motorwaylink": 50.0,
    "trunk": 60.0,
    "trunklink": 40.0,
    "primary": 50.0,
    "primarylink": 35.0,
    "secondary": 40.0,
    "secondarylink": 30.0,
    "tertiary": 30.0,
    "tertiarylink": 25.0,
    "unclassified": 25.0,
    "residential": 20.0,
    "livingstreet": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 15.0,
}

#: Canonical road column -> accepted headers (matched like the other inputs' headers).
ROAD_COLUMNS: dict[str, tuple[str, ...]] = {
    "class": (
        "class",
        "road_class",
        "fclass",
        "highway",
        "道路等级",
        "公路等级",
        "行政等级",
        "技术等级",
        "等级",
        "类型",
        "type",
    ),
    "speed_kmh": ("speed_kmh", "speed", "maxspeed", "速度", "设计速度", "时速", "限速"),
}

_LINE_TYPES = ("LineString", "MultiLineString")


# --------------------------------------------------------------------------------------------
# roads


def road_problems(
    path: str | Path,
    *,
    crs: str | None = None,
    speeds: Mapping[str, float] | None = None,
) -> tuple[gpd.GeoDataFrame | None, list[str], list[str]]:
    """Read and check a road layer; return (roads or None, problems, notes).

    Parameters
    ----------
    path
        The road layer.
    crs
        CRS of a layer that declares none, or to override a wrong one.
    speeds
        Class -> km/h, added to (and overriding) :data:`DEFAULT_SPEEDS_KMH`.

    Returns
    -------
    roads : geopandas.GeoDataFrame or None
        As :func:`read_roads` returns them; None when there is any problem.
    problems : list of str
        Unreadable file, CRS, columns, geometries, then speeds, in that order.
    notes : list of str
        Encoding, header and speed notes.
    """
    path = Path(path)
    notes: list[str] = []
    try:
        layer, layer_notes, dbf_encoding = read_layer(path)
    except Exception as exc:  # any reader failure becomes a problem to report
        return None, [read_error_message(path, exc)], notes
    notes.extend(layer_notes)
    file = path.name
    rows = v.Rows(file, first=1, unit="feature")
    problems = v.check_crs(layer, file, override=crs)
    table = pd.DataFrame(layer.drop(columns=layer.geometry.name))
    mapping, match_notes = v.match_columns(table.columns, ROAD_COLUMNS, dbf_encoding=dbf_encoding)
    notes.extend(f"{file}: {n}" for n in match_notes)
    if not mapping:
        problems.append(
            f"{file}: no road class or speed column; add 'class' ({', '.join(ROAD_COLUMNS['class'][:5])}, ...) "
            f"or 'speed_kmh' (km/h); found {', '.join(map(str, table.columns)) or 'no columns'}"
        )
    problems += _geometry_problems(layer.geometry, rows)
    classes = _road_classes(table, mapping)
    speed, p = _given_speeds(table, mapping, rows)
    problems += p
    from_class = _class_speeds(classes, speeds)
    if mapping:
        problems += _missing_speed_problems(classes, speed, from_class, rows)
    if problems:
        return None, problems, notes
    return _canonical_roads(layer, classes, speed, from_class, file, crs, notes), problems, notes


def _geometry_problems(geom: gpd.GeoSeries, rows: v.Rows) -> list[str]:
    """Report empty geometries and geometries that are not lines.

    Parameters
    ----------
    geom
        The layer's geometries.
    rows
        Row numbering of the layer, for messages.

    Returns
    -------
    list of str
        Empty features, then non-line features.
    """
    problems: list[str] = []
    empty = geom.isna() | geom.is_empty
    if empty.any():
        problems.append(
            f"{rows.file}: empty geometry in {rows.many(np.flatnonzero(empty.to_numpy()))}; "
            "delete these features"
        )
    types = geom.geom_type
    wrong = ~empty & ~types.isin(_LINE_TYPES)
    if wrong.any():
        found = ", ".join(sorted(set(types[wrong].astype(str))))
        problems.append(
            f"{rows.file}: roads must be lines (LineString/MultiLineString), not {found}, in "
            f"{rows.many(np.flatnonzero(wrong.to_numpy()))}"
        )
    return problems


def _road_classes(table: pd.DataFrame, mapping: dict[str, str]) -> pd.Series:
    """Return each road's class as a stripped string, None where blank or absent.

    Parameters
    ----------
    table
        The layer's attributes.
    mapping
        Canonical name -> header of ``table``.

    Returns
    -------
    pandas.Series
        Object values with a fresh 0..n-1 index.
    """
    if "class" in mapping:
        classes = table[mapping["class"]].map(lambda x: None if v.is_blank(x) else str(x).strip())
    else:
        classes = pd.Series([None] * len(table), dtype="object")
    return classes.reset_index(drop=True)


def _given_speeds(
    table: pd.DataFrame, mapping: dict[str, str], rows: v.Rows
) -> tuple[pd.Series, list[str]]:
    """Return each road's given speed (NaN where absent or 0) and the problems of the column.

    Parameters
    ----------
    table
        The layer's attributes.
    mapping
        Canonical name -> header of ``table``.
    rows
        Row numbering of the layer, for messages.

    Returns
    -------
    speed : pandas.Series
        km/h as float, NaN where not given.
    problems : list of str
        Values that are not numbers, then speeds of 0.
    """
    if "speed_kmh" not in mapping:
        return pd.Series(np.nan, index=range(len(table)), dtype="float64"), []
    raw = table[mapping["speed_kmh"]].reset_index(drop=True)
    # OSM writes "60 mph" or "60;80"; keep it simple: the leading number, else a problem
    raw = raw.map(lambda x: x.split(";")[0].strip() if isinstance(x, str) else x)
    speed, problems = v.check_numbers(raw, rows, "speed_kmh", required=False)
    zero = [i for i, s in enumerate(speed.tolist()) if s == 0.0]
    if zero:
        problems.append(f"{rows.file}: speed_kmh is 0 in {rows.many(zero)}; give a speed above 0")
        speed[speed == 0.0] = math.nan
    return speed, problems


def _class_speeds(classes: pd.Series, speeds: Mapping[str, float] | None) -> pd.Series:
    """Return the speed of each road's class (NaN for an unknown or blank class).

    Parameters
    ----------
    classes
        Road classes, None where blank.
    speeds
        Class -> km/h, added to (and overriding) :data:`DEFAULT_SPEEDS_KMH`.

    Returns
    -------
    pandas.Series
        km/h as float.
    """
    table_speeds = {v.normalise_header(k): float(s) for k, s in DEFAULT_SPEEDS_KMH.items()}
    if speeds is not None:
        table_speeds.update({v.normalise_header(k): float(s) for k, s in speeds.items()})
    return classes.map(
        lambda c: table_speeds.get(v.normalise_header(c)) if c is not None else None
    ).astype("float64")


def _missing_speed_problems(
    classes: pd.Series, speed: pd.Series, from_class: pd.Series, rows: v.Rows
) -> list[str]:
    """Report roads with neither a speed nor a known class.

    Parameters
    ----------
    classes
        Road classes, None where blank.
    speed
        Given speeds, NaN where absent.
    from_class
        Speeds of the classes, NaN where unknown.
    rows
        Row numbering of the layer, for messages.

    Returns
    -------
    list of str
        Unknown classes without a speed, then roads with neither.
    """
    problems: list[str] = []
    no_speed = speed.isna() & from_class.isna()
    unknown = no_speed & classes.notna()
    blank = no_speed & classes.isna()
    if unknown.any():
        values = sorted(set(classes[unknown].astype(str)))
        problems.append(
            f"{rows.file}: unknown road class {v.listing([repr(x) for x in values])} and no "
            f"speed_kmh in {rows.many(np.flatnonzero(unknown.to_numpy()))}; give speed_kmh "
            "or a known class (docs/network.md lists them, speeds= adds classes)"
        )
    if blank.any():
        problems.append(
            f"{rows.file}: neither class nor speed_kmh in "
            f"{rows.many(np.flatnonzero(blank.to_numpy()))}; fill one in"
        )
    return problems


def _canonical_roads(
    layer: gpd.GeoDataFrame,
    classes: pd.Series,
    speed: pd.Series,
    from_class: pd.Series,
    file: str,
    crs: str | None,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """Build the canonical road table: class, speed (given, else the class's), EPSG:4326.

    Parameters
    ----------
    layer
        The road layer as read (checked: lines, a CRS or ``crs``).
    classes
        Road classes, None where blank.
    speed
        Given speeds, NaN where absent.
    from_class
        Speeds of the classes.
    file
        File name, for notes.
    crs
        The user's ``crs=``, or None.
    notes
        Receives how many speeds came from the class and a replaced CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_roads` returns it.
    """
    need = speed.isna()
    if need.any():
        notes.append(f"{file}: speed of {int(need.sum()):,} road(s) taken from their class")
    out = gpd.GeoDataFrame(
        {
            "class": classes.astype("object"),
            "speed_kmh": speed.where(~need, from_class).astype("float64"),
            "speed_from": np.where(need.to_numpy(), "class", "given"),
        },
        geometry=layer.geometry.reset_index(drop=True).to_numpy(),
        crs=layer.crs,
    )
    if crs is not None:
        if layer.crs is not None and not layer.crs.equals(crs):
            notes.append(f"{file}: CRS {layer.crs.to_string()} replaced by crs={crs}")
        out = out.set_crs(crs, allow_override=True)
    return out.to_crs(geo.GEOGRAPHIC_CRS)


def read_roads(
    path: str | Path,
    *,
    crs: str | None = None,
    speeds: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read a road layer (GeoPackage, shapefile, GeoJSON) and give every road a speed.

    Shapefile DBFs are decoded as :func:`optimizer.read_layer` does (``.cpg``, else UTF-8 or
    GBK detected). Headers are matched through :data:`ROAD_COLUMNS` (``class``, ``道路等级``,
    ``fclass``, ``speed_kmh``, ``设计速度``, ...). A road without a speed gets the speed of its
    class from :data:`DEFAULT_SPEEDS_KMH`.

    Parameters
    ----------
    path
        The road layer: LineString / MultiLineString features.
    crs
        CRS of a layer that declares none, or to override a wrong one (``"EPSG:4490"``).
    speeds
        Class -> km/h, added to (and overriding) :data:`DEFAULT_SPEEDS_KMH`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``class`` (str or None), ``speed_kmh`` (float), ``speed_from`` (``"given"`` or
        ``"class"``) and ``geometry`` in EPSG:4326, in file order.

    Raises
    ------
    DataError
        Once, listing every problem: unreadable file, no CRS, no class or speed column,
        non-line or empty geometry, unknown class without speed, bad speed values.

    Examples
    --------
    >>> roads = read_roads("data/my_county/roads.shp", crs="EPSG:4490")  # doctest: +SKIP
    >>> roads["speed_kmh"].describe()  # doctest: +SKIP
    """
    roads, problems, notes = road_problems(path, crs=crs, speeds=speeds)
    for note in notes:
        logger.info(note)
    if problems or roads is None:
        raise DataError(problems or [f"{Path(path).name}: cannot be read"])
    logger.info(f"read {len(roads):,} roads from {Path(path).name}")
    return roads
