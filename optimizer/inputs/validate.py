"""Checks on the planners' input tables: headers, codes, numbers, geometry, CRS and sites.

Every function here is pure: it takes a table (or a column) and returns what it found as lists
of short problem strings (data that cannot be used as it is) and notes (things that were
repaired or assumed). Nothing raises; :func:`optimizer.inputs.reading.load_inputs` gathers the problems of
all files and raises one :class:`~optimizer.errors.DataError` at the end, so a planner sees every
problem of a 3,000-row sheet in one run.

Row numbers in messages are the ones the planner sees: spreadsheet rows (the header is row 1, so
the first record is row 2) for CSV/XLSX, and 1-based feature numbers for GIS layers.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from optimizer import schema
from optimizer.inputs import geometry as geo

__all__ = [
    "NUMBER_BOUNDS",
    "Rows",
    "check_codes",
    "check_coordinates",
    "check_china",
    "check_crs",
    "check_crs_fit",
    "check_crs_name",
    "check_duplicates",
    "check_facility_types",
    "check_geometries",
    "check_known_townships",
    "check_numbers",
    "check_required",
    "check_sites",
    "looks_like_degrees",
    "match_columns",
    "normalise_code",
    "normalise_header",
    "parse_flags",
    "parse_kinds",
]

logger = logging.getLogger(__name__)

#: Longest list of rows or values quoted in one message.
MAX_LISTED = 8

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是", "涉藏"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "否", "非涉藏"}
_KIND_ALIASES = {
    "街道": schema.KIND_STREET,
    "街道办事处": schema.KIND_STREET,
    "street": schema.KIND_STREET,
    "subdistrict": schema.KIND_STREET,
    "镇": schema.KIND_TOWN,
    "建制镇": schema.KIND_TOWN,
    "town": schema.KIND_TOWN,
    "乡": schema.KIND_TOWNSHIP,
    "建制乡": schema.KIND_TOWNSHIP,
    "民族乡": schema.KIND_TOWNSHIP,
    "township": schema.KIND_TOWNSHIP,
    "其他": schema.KIND_OTHER,
    "other": schema.KIND_OTHER,
}


@dataclass(frozen=True)
class Rows:
    """How to name the records of one input file in messages.

    Parameters
    ----------
    file
        The file name shown to the planner (``"townships.shp"``).
    first
        The number of the first record: 2 for a table with a header row, 1 for a GIS layer.
    unit
        The word for a record: ``"row"`` or ``"feature"``.
    """

    file: str
    first: int = 2
    unit: str = "row"

    def at(self, position: int) -> str:
        """Return the planner's number of the record at a 0-based position.

        Parameters
        ----------
        position
            Position of the record in the file as read (0 for the first record).

        Returns
        -------
        str
            For example ``"row 5"``.
        """
        return f"{self.unit} {position + self.first}"

    def many(self, positions: Iterable[int]) -> str:
        """Return a short plural listing such as ``"rows 3, 5, 9"``.

        Parameters
        ----------
        positions
            0-based positions of the records.

        Returns
        -------
        str
            The unit in the plural followed by the numbers, shortened after ``MAX_LISTED``.
        """
        numbers = [str(p + self.first) for p in positions]
        unit = self.unit if len(numbers) == 1 else f"{self.unit}s"
        return f"{unit} {listing(numbers)}"


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """Join items with commas, cutting the list after ``limit`` items."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def is_blank(value: Any) -> bool:
    """Return whether a cell is empty (None, NaN or only whitespace)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# headers


def normalise_header(header: str) -> str:
    """Return a header in the form used to compare it with the aliases.

    Parameters
    ----------
    header
        A column header as found in the file.

    Returns
    -------
    str
        Lower case, without spaces (including the full-width space), underscores or hyphens.
    """
    return re.sub(r"[\s_\-\u3000]+", "", str(header)).lower()


def _truncated(alias: str, encoding: str, size: int = 10) -> str:
    """Return an alias as a DBF field name would hold it (at most ``size`` bytes)."""
    try:
        raw = alias.encode(encoding)
    except (UnicodeError, LookupError):
        return alias
    return raw[:size].decode(encoding, errors="ignore")


def match_columns(
    columns: Iterable[str],
    aliases: Mapping[str, Sequence[str]],
    *,
    dbf_encoding: str | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Match a file's headers to canonical column names through their aliases.

    Parameters
    ----------
    columns
        Headers as found in the file.
    aliases
        Canonical name -> accepted aliases, as in :data:`optimizer.schema.TOWNSHIP_COLUMNS`.
    dbf_encoding
        For shapefiles: the DBF encoding. Field names there are cut at 10 bytes, so an alias
        cut the same way (``county_cod``, ``villages_b``) also matches.

    Returns
    -------
    mapping : dict
        Canonical name -> header found, for the canonical names that matched.
    notes : list of str
        One note per canonical name that more than one header could fill (the first alias in
        the list wins).
    """
    found = [str(c) for c in columns]
    by_norm: dict[str, list[str]] = {}
    for col in found:
        by_norm.setdefault(normalise_header(col), []).append(col)
    mapping: dict[str, str] = {}
    notes: list[str] = []
    used: set[str] = set()
    for canonical, names in aliases.items():
        candidates: list[str] = []
        for alias in names:
            keys = {normalise_header(alias)}
            if dbf_encoding is not None:
                keys.add(normalise_header(_truncated(alias, dbf_encoding)))
            for key in keys:
                for col in by_norm.get(key, []):
                    if col not in used and col not in candidates:
                        candidates.append(col)
        if not candidates:
            continue
        mapping[canonical] = candidates[0]
        used.add(candidates[0])
        if len(candidates) > 1:
            notes.append(
                f"column '{canonical}' taken from header '{candidates[0]}'; "
                f"also matching: {', '.join(repr(c) for c in candidates[1:])}"
            )
    return mapping, notes


def check_required(
    file: str,
    mapping: Mapping[str, str],
    aliases: Mapping[str, Sequence[str]],
    required: Iterable[str],
    found: Iterable[str],
) -> list[str]:
    """Return one problem per required canonical column that no header matched.

    Parameters
    ----------
    file
        File name(s) to name in the message.
    mapping
        Result of :func:`match_columns`.
    aliases
        Canonical name -> accepted aliases.
    required
        Canonical names that must be present.
    found
        Headers found in the file(s), listed in the message.

    Returns
    -------
    list of str
        Problems naming the file, the column, the headers that would match and those found.
    """
    found_list = [str(c) for c in found if str(c) != "geometry"]
    problems = []
    for canonical in required:
        if canonical in mapping:
            continue
        problems.append(
            f"{file}: missing column '{canonical}' (accepted headers: "
            f"{', '.join(aliases[canonical])}; found: {', '.join(found_list) or 'none'}); "
            "add the column or rename its header"
        )
    return problems


# --------------------------------------------------------------------------------------------
# codes


def normalise_code(value: Any, digits: int) -> str | None:
    """Return an administrative code as a string of exactly ``digits`` digits, or None.

    Accepted forms: the code itself; a number Excel made of it (``510104017.0``,
    ``5.10104017E8``); the 12-digit statistical form ending in ``000`` (township) or
    ``000000`` (county); for counties also a 9-digit form ending in ``000``. Leading zeros are
    never added: Sichuan codes start with 51, so a short code is a wrong code.

    Parameters
    ----------
    value
        The cell as read (string, number or NaN).
    digits
        9 for township codes, 6 for county codes.

    Returns
    -------
    str or None
        The normalised code, or None when the value is not unambiguously such a code.
    """
    if is_blank(value):
        return None
    text = str(value).strip().replace("\u3000", "")
    if not text.isdigit():
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        if not number.is_finite() or number != number.to_integral_value() or number < 0:
            return None
        text = str(int(number))
    if len(text) == digits:
        return text
    if len(text) == 12 and text.endswith("0" * (12 - digits)):
        return text[:digits]
    if digits == 6 and len(text) == 9 and text.endswith("000"):
        return text[:6]
    return None


def check_codes(
    values: pd.Series,
    rows: Rows,
    column: str,
    *,
    digits: int = 9,
    allow_blank: bool = False,
) -> tuple[pd.Series, list[str], list[str]]:
    """Normalise a column of codes and report those that cannot be read.

    Parameters
    ----------
    values
        The column as read, positionally indexed like the file.
    rows
        How to name the file's records.
    column
        Canonical column name, for messages.
    digits
        9 for township codes, 6 for county codes.
    allow_blank
        Whether blank cells are accepted (left missing) rather than reported.

    Returns
    -------
    codes : pandas.Series
        Normalised codes (str), missing where the value was blank or malformed.
    problems : list of str
        At most two problems: blank codes, and malformed codes with their values.
    notes : list of str
        A note when codes had to be normalised (numbers from Excel, 12-digit forms).
    """
    out: list[str | None] = []
    blank: list[int] = []
    bad: list[tuple[int, str]] = []
    changed = 0
    for pos, value in enumerate(values.tolist()):
        if is_blank(value):
            blank.append(pos)
            out.append(None)
            continue
        code = normalise_code(value, digits)
        if code is None:
            bad.append((pos, str(value).strip()))
        elif code != str(value).strip():
            changed += 1
        out.append(code)
    problems = []
    if blank and not allow_blank:
        problems.append(f"{rows.file}: {column} is blank in {rows.many(blank)}; fill it in")
    if bad:
        listed = listing([f"{rows.at(p)} '{v}'" for p, v in bad])
        problems.append(
            f"{rows.file}: {column} is not a {digits}-digit code in {listed}; "
            f"write codes as text with {digits} digits"
        )
    notes = []
    if changed:
        notes.append(
            f"{rows.file}: {changed} {column} value(s) normalised to {digits} digits "
            "(numbers from Excel or 12-digit statistical codes)"
        )
    series = pd.Series(out, index=values.index, dtype="object")
    return series, problems, notes


def check_duplicates(values: pd.Series, rows: Rows, column: str) -> list[str]:
    """Return one problem per value that occurs on more than one record.

    Parameters
    ----------
    values
        Normalised values, positionally indexed like the file; missing values are ignored.
    rows
        How to name the file's records.
    column
        Canonical column name, for messages.

    Returns
    -------
    list of str
        Problems naming the value and its rows.
    """
    problems = []
    present = values.reset_index(drop=True)
    present = present[present.notna()]
    dup = present[present.duplicated(keep=False)]
    for value, group in dup.groupby(dup, sort=True):
        problems.append(
            f"{rows.file}: {column} {value} appears {len(group)} times "
            f"({rows.many(group.index.tolist())}); keep one row per {column}"
        )
    return problems


# --------------------------------------------------------------------------------------------
# numbers and flags


NUMBER_BOUNDS: dict[str, float] = {
    "population": 2_000_000,
    "incidents": 200_000,
    "cases": 100_000,
    "villages_before": 1_000,
    "households": 1_000_000,
    "staff": 1_000,
    "judicial_assistants": 1_000,
    "judges": 1_000,
    "clerks": 1_000,
    "judicial_police": 1_000,
    "police_total": 100_000,
    "judicial_establishment": 10_000,
    "new_police_recruits": 100_000,
    "speed_kmh": 200,
}
"""The largest plausible value of each number (per township, facility, county or road; a year
for counts). Larger values are refused as typing or unit errors (docs/inputs.md, "Bounds")."""


def _to_number(value: Any) -> float | None:
    """Return a cell as a float, NaN when blank, or None when it is not a number."""
    if is_blank(value):
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip().replace(",", "").replace("，", "").replace(" ", "")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def check_numbers(
    values: pd.Series,
    rows: Rows,
    column: str,
    *,
    required: bool,
    labels: pd.Series | None = None,
) -> tuple[pd.Series, list[str]]:
    """Convert a column to floats and report missing, non-numeric and negative values.

    Thousands separators are accepted (``"12,345"``).

    Parameters
    ----------
    values
        The column as read, positionally indexed like the file.
    rows
        How to name the file's records.
    column
        Canonical column name, for messages.
    required
        Whether a blank cell is a problem (population, incidents) or just unknown (NaN).
    labels
        Codes or ids shown next to the row numbers, aligned with ``values``.

    Returns
    -------
    numbers : pandas.Series
        Float values, NaN where blank or unusable.
    problems : list of str
        At most four problems: missing, non-numeric, negative and implausibly large values
        (above :data:`NUMBER_BOUNDS`).
    """
    label_list = labels.tolist() if labels is not None else [None] * len(values)
    out: list[float] = []
    missing: list[str] = []
    text: list[str] = []
    negative: list[str] = []
    large: list[str] = []
    bound = NUMBER_BOUNDS.get(column, math.inf)
    for pos, (value, label) in enumerate(zip(values.tolist(), label_list, strict=True)):
        tag = rows.at(pos) + (f" ({label})" if not is_blank(label) else "")
        number = _to_number(value)
        if number is None:
            text.append(f"{tag} '{value}'")
            out.append(math.nan)
        elif math.isnan(number):
            if required:
                missing.append(tag)
            out.append(math.nan)
        elif number < 0:
            negative.append(f"{tag} {number:g}")
            out.append(math.nan)
        elif number > bound:
            large.append(f"{tag} {number:g}")
            out.append(math.nan)
        else:
            out.append(number)
    problems = []
    if missing:
        problems.append(f"{rows.file}: {column} is missing in {listing(missing)}; fill it in")
    if text:
        problems.append(
            f"{rows.file}: {column} is not a number in {listing(text)}; write plain numbers"
        )
    if negative:
        problems.append(
            f"{rows.file}: {column} is negative in {listing(negative)}; correct the value"
        )
    if large:
        problems.append(
            f"{rows.file}: {column} is implausibly large in {listing(large)} (at most {bound:,.0f}, "
            "see docs/inputs.md); check the value and its unit"
        )
    return pd.Series(out, index=values.index, dtype="float64"), problems


def parse_flags(values: pd.Series, rows: Rows, column: str) -> tuple[pd.Series, list[str]]:
    """Read a yes/no column (1/0, true/false, yes/no, 是/否).

    Parameters
    ----------
    values
        The column as read, positionally indexed like the file.
    rows
        How to name the file's records.
    column
        Canonical column name, for messages.

    Returns
    -------
    flags : pandas.Series
        Object series of True, False or None (blank: let the caller derive it).
    problems : list of str
        A problem listing the values that are not yes/no.
    """
    out: list[bool | None] = []
    bad: list[str] = []
    for pos, value in enumerate(values.tolist()):
        if is_blank(value):
            out.append(None)
            continue
        key = str(value).strip().lower()
        if key in _TRUE:
            out.append(True)
        elif key in _FALSE:
            out.append(False)
        else:
            bad.append(f"{rows.at(pos)} '{value}'")
            out.append(None)
    problems = []
    if bad:
        problems.append(
            f"{rows.file}: {column} must be 1/0, true/false or 是/否, not {listing(bad)}"
        )
    return pd.Series(out, index=values.index, dtype="object"), problems


def parse_kinds(
    values: pd.Series, codes: pd.Series, rows: Rows
) -> tuple[pd.Series, list[str], list[str]]:
    """Read the township kind column, deriving blanks from the code.

    Parameters
    ----------
    values
        The ``kind`` column as read (街道/镇/乡/其他, or English), or all blank.
    codes
        Normalised 9-digit codes aligned with ``values`` (missing where malformed).
    rows
        How to name the file's records.

    Returns
    -------
    kinds : pandas.Series
        One of :data:`optimizer.schema.KINDS` per township (None when neither is usable).
    problems : list of str
        A problem listing unknown kinds.
    notes : list of str
        A note when kinds were derived from codes.
    """
    out: list[str | None] = []
    bad: list[str] = []
    derived = 0
    for pos, (value, code) in enumerate(zip(values.tolist(), codes.tolist(), strict=True)):
        if is_blank(value):
            if isinstance(code, str):
                out.append(schema.kind_from_code(code))
                derived += 1
            else:
                out.append(None)
            continue
        kind = _KIND_ALIASES.get(str(value).strip().lower())
        if kind is None:
            bad.append(f"{rows.at(pos)} '{value}'")
        out.append(kind)
    problems = []
    if bad:
        problems.append(
            f"{rows.file}: kind must be one of {', '.join(schema.KINDS)}, not {listing(bad)}"
        )
    notes = []
    if derived and derived < len(values):
        notes.append(f"{rows.file}: kind of {derived} township(s) derived from code digits 7-9")
    return pd.Series(out, index=values.index, dtype="object"), problems, notes


# --------------------------------------------------------------------------------------------
# geometry and CRS


def looks_like_degrees(bounds: Sequence[float]) -> bool:
    """Return whether bounds (minx, miny, maxx, maxy) fit longitude/latitude in degrees.

    Parameters
    ----------
    bounds
        Total bounds of a layer.

    Returns
    -------
    bool
        True when x lies in [-180, 180] and y in [-90, 90].
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (minx, miny, maxx, maxy)):
        return False
    return -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
"""Longitude/latitude box of China (with its seas); townships outside it mean a wrong CRS."""


def check_crs_name(crs: str | None) -> list[str]:
    """Report a ``--crs`` / ``crs=`` value that PROJ does not know.

    Parameters
    ----------
    crs
        The user's CRS, or None.

    Returns
    -------
    list of str
        Empty when ``crs`` is None or a known CRS; else one problem with examples.
    """
    if crs is None:
        return []
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError):
        return [
            f"--crs {crs}: not a coordinate reference system PROJ knows; give an EPSG code, "
            "for example --crs EPSG:4490 (CGCS2000 lon/lat) or --crs EPSG:4547 "
            "(CGCS2000 3-degree zone, 114°E, metres)"
        ]
    return []


def check_crs_fit(gdf: gpd.GeoDataFrame, file: str, *, given: bool) -> list[str]:
    """Report coordinates that cannot be in the layer's CRS (degrees in metres or the reverse).

    Parameters
    ----------
    gdf
        The layer with the CRS it will be read in (its own, or the user's).
    file
        File name for the message.
    given
        Whether the CRS came from ``--crs`` (the fix named differs).

    Returns
    -------
    list of str
        Empty when the coordinates fit the CRS, else one problem naming the likely fix.
    """
    if gdf.crs is None or len(gdf) == 0 or gdf.geometry.is_empty.all():
        return []
    bounds = [float(b) for b in gdf.total_bounds]
    shown = ", ".join(f"{b:,.2f}" for b in bounds)
    name = gdf.crs.to_string()
    where = f"--crs {name}" if given else f"the CRS in the file ({name})"
    if gdf.crs.is_geographic and not looks_like_degrees(bounds):
        extra = (
            " A GeoJSON without a 'crs' member is read as WGS84 lon/lat: export it as lon/lat "
            "(EPSG:4326), or as a GeoPackage that keeps its CRS."
            if file.lower().endswith((".geojson", ".json"))
            else ""
        )
        return [
            f"{file}: {where} is lon/lat in degrees, but the coordinates ({shown}) are far "
            f"outside ±180/±90: they look like metres of a projected CRS; give the right one "
            f"with --crs (for example EPSG:4547).{extra}"
        ]
    if gdf.crs.is_projected and looks_like_degrees(bounds):
        return [
            f"{file}: {where} is projected (metres), but every coordinate ({shown}) lies within "
            "±180/±90: they look like lon/lat degrees; the CRS label is wrong: pass "
            "--crs EPSG:4490 (CGCS2000) or fix the .prj (define, do not reproject)"
        ]
    return []


def check_china(gdf: gpd.GeoDataFrame, file: str, source_crs: str) -> list[str]:
    """Report a layer that, converted to lon/lat, does not lie in China (a wrong CRS).

    Parameters
    ----------
    gdf
        The layer in EPSG:4326.
    file
        File name for the message.
    source_crs
        The CRS it was converted from, for the message.

    Returns
    -------
    list of str
        Empty when the layer's bounds lie inside :data:`CHINA_BOUNDS`.
    """
    if len(gdf) == 0 or gdf.geometry.is_empty.all():
        return []
    minx, miny, maxx, maxy = (float(b) for b in gdf.total_bounds)
    x0, y0, x1, y1 = CHINA_BOUNDS
    if all(math.isfinite(b) for b in (minx, miny, maxx, maxy)) and (
        x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1
    ):
        return []
    return [
        f"{file}: read in {source_crs}, the layer lies at lon {minx:.2f}..{maxx:.2f}, "
        f"lat {miny:.2f}..{maxy:.2f}, outside China: the CRS is probably wrong; give the "
        "right one with --crs (for example EPSG:4490 for lon/lat, EPSG:4547 for metres)"
    ]


def check_crs(gdf: gpd.GeoDataFrame, file: str, *, override: str | None) -> list[str]:
    """Report a layer without a CRS when the user gave none.

    Parameters
    ----------
    gdf
        The layer as read.
    file
        File name for the message.
    override
        The CRS the user passed (``crs=`` / ``--crs``), if any.

    Returns
    -------
    list of str
        Empty when the layer has a CRS or the user passed one; otherwise one problem that says
        whether the coordinates look like lon/lat.
    """
    if gdf.crs is not None or override is not None:
        return []
    if len(gdf) and not gdf.geometry.is_empty.all():
        if looks_like_degrees(gdf.total_bounds):
            hint = "coordinates look like lon/lat; pass --crs EPSG:4490 (crs='EPSG:4490')"
        else:
            hint = (
                "coordinates look projected (metres); pass the layer's CRS with --crs, "
                "for example --crs EPSG:4547"
            )
    else:
        hint = "pass its CRS with --crs"
    return [f"{file}: no CRS (missing .prj or CRS definition); {hint}"]


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """Return the polygonal part of a geometry (possibly a collection), or None."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        polys = []
        for part in parts:
            polys.extend(shapely.get_parts(part))
        polys = [p for p in polys if not p.is_empty and p.area > 0]
        if not polys:
            return None
        return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
    return None


def check_geometries(
    geometry: gpd.GeoSeries, rows: Rows, labels: pd.Series | None = None
) -> tuple[gpd.GeoSeries, list[str], list[str]]:
    """Check township polygons; repair invalid ones with ``make_valid``.

    Parameters
    ----------
    geometry
        The layer's geometry column, positionally indexed like the file.
    rows
        How to name the file's features.
    labels
        Township codes aligned with ``geometry``, shown next to the feature numbers.

    Returns
    -------
    geometry : geopandas.GeoSeries
        Repaired geometries (only their polygonal parts), same index and CRS.
    problems : list of str
        Empty, non-polygonal or unrepairable geometries.
    notes : list of str
        A note listing the geometries that were repaired.
    """
    label_list = labels.tolist() if labels is not None else [None] * len(geometry)
    out: list[BaseGeometry | None] = []
    empty: list[str] = []
    wrong: list[str] = []
    broken: list[str] = []
    repaired: list[str] = []
    for pos, (geom, label) in enumerate(zip(geometry.tolist(), label_list, strict=True)):
        tag = rows.at(pos) + (f" ({label})" if isinstance(label, str) else "")
        if geom is None or geom.is_empty:
            empty.append(tag)
            out.append(geom)
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            wrong.append(f"{tag} {geom.geom_type}")
            out.append(geom)
            continue
        if geom.is_valid:
            out.append(geom)
            continue
        fixed = _polygonal_part(shapely.make_valid(geom))
        if fixed is None or fixed.is_empty:
            broken.append(tag)
            out.append(geom)
        else:
            repaired.append(tag)
            out.append(fixed)
    problems = []
    if empty:
        problems.append(
            f"{rows.file}: empty geometry in {listing(empty)}; draw the township polygon"
        )
    if wrong:
        problems.append(
            f"{rows.file}: geometry is not a polygon in {listing(wrong)}; "
            "township boundaries must be polygons"
        )
    if broken:
        problems.append(
            f"{rows.file}: invalid geometry that cannot be repaired into a polygon in "
            f"{listing(broken)}; redraw it"
        )
    notes = []
    if repaired:
        notes.append(
            f"{rows.file}: repaired {len(repaired)} invalid geometr"
            f"{'y' if len(repaired) == 1 else 'ies'} with make_valid ({listing(repaired)})"
        )
    series = gpd.GeoSeries(out, index=geometry.index, crs=geometry.crs)
    return series, problems, notes


# --------------------------------------------------------------------------------------------
# facilities


def check_facility_types(values: pd.Series, rows: Rows) -> tuple[pd.Series, list[str]]:
    """Map facility types (English or Chinese) to :data:`optimizer.schema.FACILITY_TYPES`.

    Parameters
    ----------
    values
        The ``type`` column as read.
    rows
        How to name the file's records.

    Returns
    -------
    types : pandas.Series
        Canonical types, None where unknown.
    problems : list of str
        A problem listing unknown types and the accepted values.
    """
    lookup = {normalise_header(k): v for k, v in schema.FACILITY_TYPE_ALIASES.items()}
    out: list[str | None] = []
    bad: list[str] = []
    for pos, value in enumerate(values.tolist()):
        kind = None if is_blank(value) else lookup.get(normalise_header(value))
        if kind is None:
            bad.append(f"{rows.at(pos)} '{'' if is_blank(value) else value}'")
        out.append(kind)
    problems = []
    if bad:
        problems.append(
            f"{rows.file}: unknown facility type in {listing(bad)}; use one of "
            f"{', '.join(schema.FACILITY_TYPE_ALIASES)}"
        )
    return pd.Series(out, index=values.index, dtype="object"), problems


def check_known_townships(
    township_codes: pd.Series, known: Iterable[str], rows: Rows, ids: pd.Series
) -> list[str]:
    """Report facilities whose township code is not among the townships.

    Parameters
    ----------
    township_codes
        Normalised township codes of the facilities (missing where malformed: skipped).
    known
        Codes of the townships layer.
    rows
        How to name the facilities file's records.
    ids
        Facility ids aligned with ``township_codes``.

    Returns
    -------
    list of str
        One problem listing the facilities in unknown townships.
    """
    known_set = set(known)
    bad = [
        f"{rows.at(pos)} ({fid}: {code})"
        for pos, (code, fid) in enumerate(zip(township_codes.tolist(), ids.tolist(), strict=True))
        if isinstance(code, str) and code not in known_set
    ]
    if not bad:
        return []
    return [
        f"{rows.file}: township_code not in the townships layer for {listing(bad)}; "
        "use the post-merger township codes"
    ]


def check_coordinates(
    lon: pd.Series, lat: pd.Series, rows: Rows, ids: pd.Series
) -> tuple[pd.Series, list[str]]:
    """Report sites whose lon/lat lie outside [-180, 180] × [-90, 90].

    Parameters
    ----------
    lon, lat
        Float degrees (NaN where blank).
    rows
        How to name the facilities file's records.
    ids
        Facility ids aligned with the coordinates.

    Returns
    -------
    bad : pandas.Series
        Boolean mask of the sites out of range.
    problems : list of str
        One problem listing them.
    """
    bad_mask = ((lon.abs() > 180) | (lat.abs() > 90)).fillna(False).astype(bool)
    problems = []
    if bad_mask.any():
        positions = np.flatnonzero(bad_mask.to_numpy())
        listed = [
            f"{rows.at(int(p))} ({ids.iloc[p]}: {lon.iloc[p]:g}, {lat.iloc[p]:g})"
            for p in positions
        ]
        problems.append(
            f"{rows.file}: lon/lat out of range in {listing(listed)}; give degrees "
            "(lon about 97-110, lat about 26-35 in Sichuan), not projected metres"
        )
    return bad_mask, problems


def check_sites(
    facilities: pd.DataFrame,
    townships: gpd.GeoDataFrame,
    *,
    tolerance_m: float,
    rows: Rows,
) -> list[str]:
    """Report facility sites farther than ``tolerance_m`` from their township polygon.

    Distances are measured in metres in :func:`optimizer.inputs.geometry.projected_crs`.

    Parameters
    ----------
    facilities
        Positionally indexed like the file, with ``id``, ``township_code``, ``lon``, ``lat``
        (degrees); rows with a missing site or township are skipped.
    townships
        Canonical townships (``code``, ``geometry``) in EPSG:4326.
    tolerance_m
        Largest accepted distance outside the polygon, in metres.
    rows
        How to name the facilities file's records.

    Returns
    -------
    list of str
        One problem per facility too far away, naming id, township and distance.
    """
    geoms = townships.set_index("code").geometry
    ok = (
        facilities["lon"].notna()
        & facilities["lat"].notna()
        & facilities["township_code"].isin(geoms.index)
    )
    subset = facilities[ok]
    if subset.empty:
        return []
    valid = townships[~townships.geometry.is_empty & townships.geometry.notna()]
    if valid.empty:
        return []
    crs = geo.projected_crs(valid)
    points = geo.facility_points(subset).to_crs(crs)
    polys = gpd.GeoSeries(
        geoms.loc[subset["township_code"]].to_numpy(), index=subset.index, crs=townships.crs
    ).to_crs(crs)
    distance = points.distance(polys)
    problems = []
    for idx in distance.index[distance > tolerance_m]:
        row = subset.loc[idx]
        problems.append(
            f"{rows.file}: {rows.at(int(idx))} facility {row['id']} lies "
            f"{distance[idx] / 1000:.1f} km outside its township {row['township_code']} "
            f"(tolerance {tolerance_m:g} m); check lon/lat (swapped, GCJ-02) or township_code"
        )
    return problems
