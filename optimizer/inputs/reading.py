"""Read the planners' inputs into canonical tables.

Planners bring township polygons (GeoPackage, shapefile, often GBK-encoded, or GeoJSON), an
attribute sheet per township, a facility list and county totals, with Chinese or English headers
and codes that Excel may have turned into numbers. :func:`load_inputs` reads them all, maps the
headers onto the canonical names of :mod:`optimizer.schema`, normalises codes, repairs what can be
repaired (saying so in ``Inputs.notes``) and raises one :class:`~optimizer.errors.DataError`
listing every problem of every file. Input files are only ever read, never written.

See ``docs/inputs.md`` for the format reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer import schema
from optimizer.errors import DataError
from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v
from optimizer.inputs.files import detect_dbf_encoding, read_layer, read_table
from optimizer.inputs.roads import road_problems

__all__ = [
    "COUNTY_NUMBERS",
    "FACILITY_SUFFIXES",
    "TOWNSHIP_OPTIONAL_NUMBERS",
    "TOWNSHIP_SUFFIXES",
    "Inputs",
    "detect_dbf_encoding",
    "find_inputs",
    "load_inputs",
    "read_layer",
    "read_table",
]

logger = logging.getLogger(__name__)

TOWNSHIP_SUFFIXES: tuple[str, ...] = (".gpkg", ".shp", ".geojson", ".json")
FACILITY_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx", ".gpkg")
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx")
_SUFFIXES = {
    "townships": TOWNSHIP_SUFFIXES,
    "facilities": FACILITY_SUFFIXES,
    "counties": TABLE_SUFFIXES,
    "township_attributes": TABLE_SUFFIXES,
    "roads": (".gpkg", ".shp", ".geojson", ".json"),
}

TOWNSHIP_OPTIONAL_NUMBERS: tuple[str, ...] = ("cases", "villages_before", "households")
COUNTY_NUMBERS: tuple[str, ...] = ("police_total", "judicial_establishment", "new_police_recruits")
TOWNSHIP_OUTPUT: tuple[str, ...] = (
    "code",
    "name",
    "county_code",
    "kind",
    "population",
    "incidents",
    "tibetan_area",
    *TOWNSHIP_OPTIONAL_NUMBERS,
    "geometry",
)
FACILITY_OUTPUT: tuple[str, ...] = (
    "id",
    "type",
    "name",
    "township_code",
    "county_code",
    "lon",
    "lat",
    "staff",
    "site_from_seat",
)
COUNTY_OUTPUT: tuple[str, ...] = ("county_code", "name", *COUNTY_NUMBERS)

# Encodings a .cpg may name, as Python codec names.


@dataclass
class Inputs:
    """Canonical inputs of one planning run.

    Attributes
    ----------
    townships
        One row per post-merger township: ``code`` (9 digits), ``name``, ``county_code``
        (6 digits), ``kind`` (街道/镇/乡/其他), ``population``, ``incidents`` (float),
        ``tibetan_area`` (bool), ``cases``, ``villages_before``, ``households`` (float, NaN when
        unknown) and ``geometry`` (Polygon/MultiPolygon, EPSG:4326); sorted by code.
    facilities
        One row per existing facility: ``id``, ``type`` (one of
        :data:`optimizer.schema.FACILITY_TYPES`), ``name``, ``township_code``, ``county_code``,
        ``lon``, ``lat`` (degrees), ``staff`` (float, NaN when unknown) and ``site_from_seat``
        (True when lon/lat were missing and the township seat was used); sorted by type and id.
    counties
        ``county_code``, ``name``, ``police_total``, ``judicial_establishment``,
        ``new_police_recruits`` (float, NaN when unknown); None when no county file was given.
    notes
        Human-readable notes: encodings used, repairs, normalisations, assumptions.
    sources
        ``"townships"``, ``"facilities"``, ``"counties"``, ``"township_attributes"``,
        ``"roads"`` -> path read.
    roads
        Road lines (``class``, ``speed_kmh``, ``speed_from``, geometry in EPSG:4326, see
        :func:`optimizer.inputs.roads.read_roads`); None when no road layer was given.
    """

    townships: gpd.GeoDataFrame
    facilities: pd.DataFrame
    counties: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    roads: gpd.GeoDataFrame | None = None

    def __repr__(self) -> str:
        counties = "none" if self.counties is None else f"{len(self.counties)}"
        roads = "" if self.roads is None else f", {len(self.roads)} roads"
        return (
            f"Inputs({len(self.townships)} townships, {len(self.facilities)} facilities, "
            f"counties: {counties}{roads}, {len(self.notes)} notes)"
        )


# --------------------------------------------------------------------------------------------
# finding files


def find_inputs(
    data: str | Path | None, explicit: dict[str, str | Path | None]
) -> tuple[dict[str, Path], list[str]]:
    """Locate the input files in a data folder, explicit paths taking precedence.

    Parameters
    ----------
    data
        Folder holding ``townships.*``, ``facilities.*`` and optionally ``counties.*``,
        ``township_attributes.*`` and ``roads.*``; or None.
    explicit
        Role -> path given by the user (None when not given).

    Returns
    -------
    paths : dict
        Role -> path of the files found.
    problems : list of str
        Missing folder or files, ambiguous matches, unsupported formats.
    """
    problems: list[str] = []
    paths: dict[str, Path] = {}
    folder = Path(data) if data is not None else None
    if folder is not None and not folder.is_dir():
        problems.append(f"data folder {folder} does not exist or is not a folder")
        folder = None
    for role, suffixes in _SUFFIXES.items():
        given = explicit.get(role)
        if given is not None:
            path = Path(given)
            if not path.is_file():
                problems.append(f"{role} file {path} does not exist")
            elif path.suffix.lower() not in suffixes:
                problems.append(
                    f"{role} file {path.name}: unsupported format; use {', '.join(suffixes)}"
                )
            else:
                paths[role] = path
            continue
        if folder is None:
            continue
        found = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.stem.lower() == role and p.suffix.lower() in suffixes
        )
        if len(found) > 1:
            problems.append(
                f"{folder}: several {role} files ({', '.join(p.name for p in found)}); "
                "keep one or pass the path explicitly"
            )
        elif found:
            paths[role] = found[0]
    for role in ("townships", "facilities"):
        if role not in paths and not any(role in p for p in problems):
            where = f" in {folder}" if folder is not None else ""
            problems.append(
                f"no {role} file{where}; expected {role}"
                f"{{{','.join(_SUFFIXES[role])}}} or an explicit {role}= path"
            )
    return paths, problems


# --------------------------------------------------------------------------------------------
# readers


def _column(table: pd.DataFrame, mapping: dict[str, str], name: str) -> pd.Series:
    """Return a matched column as objects, or an all-missing column when absent."""
    if name in mapping:
        return table[mapping[name]].astype("object").reset_index(drop=True)
    return pd.Series([None] * len(table), dtype="object")


def _to_4326(
    layer: gpd.GeoDataFrame, file: str, crs: str | None, notes: list[str]
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Set the user's CRS if given, then convert to EPSG:4326; None when there is no CRS."""
    problems = v.check_crs(layer, file, override=crs)
    if problems:
        return None, problems
    if crs is not None:
        if layer.crs is not None and not layer.crs.equals(crs):
            notes.append(f"{file}: CRS {layer.crs.to_string()} replaced by crs={crs}")
        elif layer.crs is None:
            notes.append(f"{file}: no CRS in the file; using crs={crs}")
        layer = layer.set_crs(crs, allow_override=True)
    if layer.crs is not None and layer.crs.equals("EPSG:4326"):
        return layer, []
    try:
        return layer.to_crs(geo.GEOGRAPHIC_CRS), []
    except Exception as exc:  # pyproj errors vary by version
        return None, [f"{file}: cannot convert CRS {layer.crs} to lon/lat ({exc})"]


def _township_values(
    table: pd.DataFrame,
    mapping: dict[str, str],
    codes: pd.Series,
    rows: v.Rows,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check and convert the township columns one source (layer or sheet) provides.

    Returns a frame with ``code`` and the canonical columns present in ``mapping``, positionally
    aligned with the source, so that messages carry the source's own row numbers.
    """
    problems: list[str] = []
    notes: list[str] = []
    out = pd.DataFrame({"code": codes})
    for name in mapping:
        if name == "code":
            continue
        raw = _column(table, mapping, name)
        if name == "name":
            blank = [i for i, x in enumerate(raw.tolist()) if v.is_blank(x)]
            if blank:
                problems.append(f"{rows.file}: name is blank in {rows.many(blank)}; fill it in")
            out[name] = raw.map(lambda x: None if v.is_blank(x) else str(x).strip())
        elif name == "county_code":
            county, p, n = v.check_codes(raw, rows, name, digits=6, allow_blank=True)
            problems += p
            notes += n
            out[name] = county
        elif name == "kind":
            kinds, p, _ = v.parse_kinds(raw, pd.Series([None] * len(raw), dtype="object"), rows)
            problems += p
            out[name] = kinds
        elif name == "tibetan_area":
            out[name], p = v.parse_flags(raw, rows, name)
            problems += p
        else:
            required = name in ("population", "incidents")
            out[name], p = v.check_numbers(raw, rows, name, required=required, labels=codes)
            problems += p
    return out, problems, notes


def _read_townships(
    path: Path,
    attributes_path: Path | None,
    *,
    crs: str | None,
    tibetan_prefixes: tuple[str, ...],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Read, join, check and canonicalise the townships; None when unusable."""
    problems: list[str] = []
    try:
        layer, layer_notes, dbf_encoding = read_layer(path)
    except Exception as exc:  # any GDAL/IO failure becomes a problem to report
        return None, [f"{path.name}: cannot read ({exc})"]
    notes.extend(layer_notes)
    lrows = v.Rows(path.name, first=1, unit="feature")
    mapping, match_notes = v.match_columns(
        layer.columns.drop("geometry"), schema.TOWNSHIP_COLUMNS, dbf_encoding=dbf_encoding
    )
    notes.extend(f"{path.name}: {n}" for n in match_notes)
    if "code" not in mapping:
        problems += v.check_required(
            path.name, mapping, schema.TOWNSHIP_COLUMNS, ["code"], layer.columns
        )
        return None, problems
    codes, p, n = v.check_codes(layer[mapping["code"]], lrows, "code")
    problems += p
    notes.extend(n)
    problems += v.check_duplicates(codes, lrows, "code")
    table, p, n = _township_values(layer, mapping, codes, lrows)
    problems += p
    notes.extend(n)
    have = set(mapping)
    found_headers = [str(c) for c in layer.columns]
    files = path.name

    if attributes_path is not None:
        files = f"{path.name} + {attributes_path.name}"
        attrs: pd.DataFrame | None
        try:
            attrs, attr_notes = read_table(attributes_path)
        except Exception as exc:  # any reader failure becomes a problem to report
            problems.append(f"{attributes_path.name}: cannot read ({exc})")
            attrs = None
        if attrs is not None:
            notes.extend(attr_notes)
            arows = v.Rows(attributes_path.name)
            amap, anotes = v.match_columns(attrs.columns, schema.TOWNSHIP_COLUMNS)
            notes.extend(f"{attributes_path.name}: {n}" for n in anotes)
            found_headers += [str(c) for c in attrs.columns]
            if "code" not in amap:
                problems += v.check_required(
                    attributes_path.name, amap, schema.TOWNSHIP_COLUMNS, ["code"], attrs.columns
                )
            else:
                acodes, p, n = v.check_codes(attrs[amap["code"]], arows, "code")
                problems += p
                notes.extend(n)
                problems += v.check_duplicates(acodes, arows, "code")
                sheet, p, n = _township_values(attrs, amap, acodes, arows)
                problems += p
                notes.extend(n)
                table, p, n = _join_attributes(table, sheet, path.name, attributes_path.name)
                problems += p
                notes.extend(n)
                have |= set(amap)

    required = [c for c in schema.TOWNSHIP_REQUIRED if c != "county_code"]
    problems += v.check_required(
        files, {c: c for c in have}, schema.TOWNSHIP_COLUMNS, required, found_headers
    )
    for name in schema.TOWNSHIP_COLUMNS:
        if name not in table.columns:
            table[name] = np.nan if name in ("population", "incidents") else None
    for name in TOWNSHIP_OPTIONAL_NUMBERS + ("population", "incidents"):
        table[name] = table[name].astype("float64")

    # county code: from the column where given, else from the township code
    from_code = codes.where(codes.isna(), codes.str[:6])
    given = table["county_code"]
    county = given.where(given.notna(), from_code)
    n_derived = int((given.isna() & from_code.notna()).sum())
    if n_derived == len(table):
        notes.append(f"{files}: county_code derived from the first 6 digits of code")
    elif n_derived:
        notes.append(f"{files}: county_code of {n_derived} township(s) derived from code")
    mismatch = int((given.notna() & from_code.notna() & (given != from_code)).sum())
    if mismatch:
        notes.append(
            f"{files}: {mismatch} township(s) have a county_code different from code digits "
            "1-6 (kept as given)"
        )
    table["county_code"] = county

    kind_given = table["kind"]
    table["kind"] = [
        k if isinstance(k, str) else (schema.kind_from_code(c) if isinstance(c, str) else None)
        for k, c in zip(kind_given.tolist(), codes.tolist(), strict=True)
    ]
    if "kind" not in have:
        notes.append(f"{files}: kind derived from code digits 7-9")

    table["tibetan_area"] = [
        bool(f)
        if isinstance(f, bool)
        else (isinstance(c, str) and schema.is_tibetan_area(c, tibetan_prefixes))
        for f, c in zip(table["tibetan_area"].tolist(), county.tolist(), strict=True)
    ]
    table["tibetan_area"] = table["tibetan_area"].astype(bool)

    geometry, p, n = v.check_geometries(layer.geometry, lrows, labels=codes)
    problems += p
    notes.extend(n)
    gdf = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=layer.crs)
    gdf, p = _to_4326(gdf, path.name, crs, notes)
    problems += p
    if gdf is None:
        return None, problems

    gdf = gdf[list(TOWNSHIP_OUTPUT)]
    for name in ("code", "name", "county_code", "kind"):
        gdf[name] = gdf[name].astype("object")
    gdf = gdf.sort_values("code", na_position="last").reset_index(drop=True)
    return gdf, problems


def _join_attributes(
    table: pd.DataFrame, sheet: pd.DataFrame, layer_name: str, sheet_name: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Left-join checked sheet values on code; the sheet's values win over the layer's."""
    problems: list[str] = []
    notes: list[str] = []
    sheet = sheet[sheet["code"].notna()].drop_duplicates("code")
    extra = sorted(set(sheet["code"]) - set(table["code"].dropna()))
    if extra:
        notes.append(
            f"{sheet_name}: {len(extra)} code(s) have no polygon in {layer_name} and were "
            f"ignored ({v.listing(extra)})"
        )
    known = set(sheet["code"])
    lacking = [c for c in table["code"].dropna() if c not in known]
    if lacking:
        problems.append(
            f"{sheet_name}: no row for township(s) {v.listing(lacking)} of {layer_name}; "
            "add their attributes"
        )
    overlap = [c for c in sheet.columns if c != "code" and c in table.columns]
    if overlap:
        notes.append(
            f"{sheet_name}: {', '.join(overlap)} taken from the sheet (also in {layer_name})"
        )
    lookup = sheet.set_index("code")
    table = table.copy()
    for name in sheet.columns:
        if name == "code":
            continue
        from_sheet = table["code"].map(lookup[name])
        if name in table.columns:
            table[name] = from_sheet.where(table["code"].isin(known), table[name])
        else:
            table[name] = from_sheet
    return table, problems, notes


def _read_facilities(
    path: Path,
    townships: gpd.GeoDataFrame | None,
    *,
    all_townships: bool,
    crs: str | None,
    site_tolerance_m: float,
    notes: list[str],
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read, check and canonicalise the facility list; None when unusable."""
    problems: list[str] = []
    from_layer = path.suffix.lower() == ".gpkg"
    try:
        if from_layer:
            layer, layer_notes, _ = read_layer(path)
            notes.extend(layer_notes)
            table: pd.DataFrame = pd.DataFrame(layer.drop(columns="geometry"))
        else:
            table, table_notes = read_table(path)
            notes.extend(table_notes)
    except Exception as exc:  # any reader failure becomes a problem to report
        return None, [f"{path.name}: cannot read ({exc})"]
    rows = v.Rows(path.name, first=1, unit="feature") if from_layer else v.Rows(path.name)
    mapping, match_notes = v.match_columns(table.columns, schema.FACILITY_COLUMNS)
    notes.extend(f"{path.name}: {n}" for n in match_notes)
    if from_layer:
        mapping.pop("lon", None)
        mapping.pop("lat", None)
    missing = v.check_required(
        path.name, mapping, schema.FACILITY_COLUMNS, schema.FACILITY_REQUIRED, table.columns
    )
    if missing:
        return None, missing

    ids = _column(table, mapping, "id").map(lambda x: None if v.is_blank(x) else str(x).strip())
    blank_ids = [i for i, x in enumerate(ids.tolist()) if x is None]
    if blank_ids:
        problems.append(f"{path.name}: id is blank in {rows.many(blank_ids)}; fill it in")
    problems += v.check_duplicates(ids, rows, "id")
    types, p = v.check_facility_types(_column(table, mapping, "type"), rows)
    problems += p
    tcodes, p, n = v.check_codes(_column(table, mapping, "township_code"), rows, "township_code")
    problems += p
    notes.extend(n)
    staff, p = v.check_numbers(
        _column(table, mapping, "staff"), rows, "staff", required=False, labels=ids
    )
    problems += p

    if from_layer:
        lon, lat, p = _layer_sites(layer, path.name, crs, notes)
        problems += p
    else:
        lon, p = v.check_numbers(_column(table, mapping, "lon"), rows, "lon", required=False)
        problems += p
        lat, p = v.check_numbers(_column(table, mapping, "lat"), rows, "lat", required=False)
        problems += p
    out_of_range, p = v.check_coordinates(lon, lat, rows, ids)
    problems += p

    names = _column(table, mapping, "name").map(lambda x: "" if v.is_blank(x) else str(x).strip())
    fac = pd.DataFrame(
        {
            "id": ids,
            "type": types,
            "name": names,
            "township_code": tcodes,
            "county_code": None,
            "lon": lon.where(~out_of_range),
            "lat": lat.where(~out_of_range),
            "staff": staff,
            "site_from_seat": False,
        }
    )
    if townships is not None:
        if all_townships:  # else "unknown township" may just echo a malformed township code
            problems += v.check_known_townships(tcodes, townships["code"], rows, ids)
        county_of = dict(zip(townships["code"], townships["county_code"], strict=True))
        fac["county_code"] = fac["township_code"].map(county_of)
        problems += v.check_sites(fac, townships, tolerance_m=site_tolerance_m, rows=rows)
        no_site = (fac["lon"].isna() | fac["lat"].isna()) & ~out_of_range
        fillable = no_site & fac["township_code"].isin(townships["code"])
        if fillable.any():
            usable = townships[~townships.geometry.is_empty & townships.geometry.notna()]
            seats = geo.township_seats(usable)
            seat_of = pd.Series(seats.to_numpy(), index=usable["code"].to_numpy())
            pts = fac.loc[fillable, "township_code"].map(seat_of)
            has = pts.notna()
            idx = pts.index[has]
            fac.loc[idx, "lon"] = [pt.x for pt in pts[has]]
            fac.loc[idx, "lat"] = [pt.y for pt in pts[has]]
            fac.loc[idx, "site_from_seat"] = True
            if len(idx):
                notes.append(
                    f"{path.name}: {len(idx)} site(s) without lon/lat placed at the township "
                    f"seat ({v.listing([str(x) for x in fac.loc[idx, 'id']])})"
                )
    fac["site_from_seat"] = fac["site_from_seat"].astype(bool)
    for name in ("id", "type", "name", "township_code", "county_code"):
        fac[name] = fac[name].astype("object")
    fac = fac[list(FACILITY_OUTPUT)]
    fac = fac.sort_values(["type", "id"], na_position="last").reset_index(drop=True)
    return fac, problems


def _layer_sites(
    layer: gpd.GeoDataFrame, file: str, crs: str | None, notes: list[str]
) -> tuple[pd.Series, pd.Series, list[str]]:
    """Return lon/lat of a point layer in degrees (NaN for empty geometries)."""
    nan = pd.Series(np.nan, index=range(len(layer)), dtype="float64")
    converted, problems = _to_4326(layer, file, crs, notes)
    if converted is None:
        return nan, nan.copy(), problems
    geom = converted.geometry
    is_point = geom.notna() & ~geom.is_empty & (geom.geom_type == "Point")
    other = geom.notna() & ~geom.is_empty & ~is_point
    if other.any():
        problems.append(
            f"{file}: facility geometry must be points, not "
            f"{', '.join(sorted(set(geom[other].geom_type)))}"
        )
    lon = pd.Series(np.where(is_point, geom.x.where(is_point), np.nan), dtype="float64")
    lat = pd.Series(np.where(is_point, geom.y.where(is_point), np.nan), dtype="float64")
    return lon, lat, problems


def _read_counties(path: Path, notes: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
    """Read, check and canonicalise the county table; None when unusable."""
    try:
        table, table_notes = read_table(path)
    except Exception as exc:  # any reader failure becomes a problem to report
        return None, [f"{path.name}: cannot read ({exc})"]
    notes.extend(table_notes)
    rows = v.Rows(path.name)
    mapping, match_notes = v.match_columns(table.columns, schema.COUNTY_COLUMNS)
    notes.extend(f"{path.name}: {n}" for n in match_notes)
    problems = v.check_required(
        path.name, mapping, schema.COUNTY_COLUMNS, schema.COUNTY_REQUIRED, table.columns
    )
    if problems:
        return None, problems
    codes, p, n = v.check_codes(table[mapping["county_code"]], rows, "county_code", digits=6)
    problems += p
    notes.extend(n)
    problems += v.check_duplicates(codes, rows, "county_code")
    out = pd.DataFrame({"county_code": codes})
    out["name"] = _column(table, mapping, "name").map(
        lambda x: None if v.is_blank(x) else str(x).strip()
    )
    for name in COUNTY_NUMBERS:
        out[name], p = v.check_numbers(
            _column(table, mapping, name), rows, name, required=False, labels=codes
        )
        problems += p
    out = out[list(COUNTY_OUTPUT)].sort_values("county_code").reset_index(drop=True)
    return out, problems


# --------------------------------------------------------------------------------------------
# entry point


def load_inputs(
    data: str | Path | None = None,
    *,
    townships: str | Path | None = None,
    facilities: str | Path | None = None,
    counties: str | Path | None = None,
    township_attributes: str | Path | None = None,
    roads: str | Path | None = None,
    crs: str | None = None,
    tibetan_prefixes: tuple[str, ...] = schema.TIBETAN_AREA_PREFIXES,
    site_tolerance_m: float = 2000.0,
) -> Inputs:
    """Read and check every input file, and return the canonical tables.

    Parameters
    ----------
    data
        A folder holding ``townships.{gpkg,shp,geojson,json}``,
        ``facilities.{csv,xlsx,gpkg}`` and optionally ``counties.{csv,xlsx}`` and
        ``township_attributes.{csv,xlsx}`` (joined to the townships on ``code``) and
        ``roads.{gpkg,shp,geojson,json}`` (road lines with a class or speed, see
        ``docs/network.md``).
    townships, facilities, counties, township_attributes, roads
        Explicit paths; each overrides the file of the same role in ``data``.
    crs
        CRS of spatial files that declare none, or to override a wrong one
        (for example ``"EPSG:4490"``).
    tibetan_prefixes
        County-code prefixes of the 涉藏地区, used when townships carry no ``tibetan_area``.
    site_tolerance_m
        How far (metres) a facility may lie outside its township polygon.

    Returns
    -------
    Inputs
        Canonical townships, facilities and counties, with notes and the paths read.

    Raises
    ------
    DataError
        Once, listing every problem found in every file.

    Examples
    --------
    >>> inputs = load_inputs("data/my_county")  # doctest: +SKIP
    >>> inputs.townships[["code", "name", "population"]].head()  # doctest: +SKIP
    """
    explicit: dict[str, str | Path | None] = {
        "townships": townships,
        "facilities": facilities,
        "counties": counties,
        "township_attributes": township_attributes,
        "roads": roads,
    }
    paths, problems = find_inputs(data, explicit)
    notes: list[str] = []
    sources = {role: str(p) for role, p in paths.items()}

    town_gdf: gpd.GeoDataFrame | None = None
    if "townships" in paths:
        town_gdf, p = _read_townships(
            paths["townships"],
            paths.get("township_attributes"),
            crs=crs,
            tibetan_prefixes=tuple(tibetan_prefixes),
            notes=notes,
        )
        problems += p
    elif "township_attributes" in paths:
        notes.append("township attributes given without townships; not read")

    fac: pd.DataFrame | None = None
    if "facilities" in paths:
        usable = None
        complete = False
        if town_gdf is not None:
            # cross-checks need one polygon per code; a bad code was reported already
            complete = bool(town_gdf["code"].notna().all())
            usable = town_gdf[town_gdf["code"].notna()].drop_duplicates("code")
        fac, p = _read_facilities(
            paths["facilities"],
            usable,
            all_townships=complete,
            crs=crs,
            site_tolerance_m=site_tolerance_m,
            notes=notes,
        )
        problems += p

    county_df: pd.DataFrame | None = None
    if "counties" in paths:
        county_df, p = _read_counties(paths["counties"], notes)
        problems += p
        if county_df is not None and town_gdf is not None:
            absent = sorted(set(town_gdf["county_code"].dropna()) - set(county_df["county_code"]))
            if absent:
                notes.append(
                    f"{paths['counties'].name}: no row for county {v.listing(absent)}; "
                    "county staffing shares there cannot be checked"
                )

    road_gdf: gpd.GeoDataFrame | None = None
    if "roads" in paths:
        road_gdf, p, road_notes = road_problems(paths["roads"], crs=crs)
        problems += p
        notes.extend(road_notes)

    for note in notes:
        logger.info(note)
    if problems or town_gdf is None or fac is None:
        if not problems:  # defensive: a reader returned nothing without saying why
            problems.append("inputs could not be read")
        raise DataError(problems)
    logger.info(
        f"loaded {len(town_gdf):,} townships, {len(fac):,} facilities"
        + (f", {len(county_df):,} counties" if county_df is not None else "")
        + (f", {len(road_gdf):,} roads" if road_gdf is not None else "")
    )
    return Inputs(
        townships=town_gdf,
        facilities=fac,
        counties=county_df,
        notes=notes,
        sources=sources,
        roads=road_gdf,
    )
