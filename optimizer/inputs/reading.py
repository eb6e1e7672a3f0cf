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
import pandas as pd

from optimizer import schema
from optimizer.errors import DataError
from optimizer.inputs import validate as v
from optimizer.inputs.counties import COUNTY_NUMBERS, read_counties
from optimizer.inputs.facilities import read_facilities
from optimizer.inputs.files import detect_dbf_encoding, read_layer, read_table
from optimizer.inputs.roads import road_problems
from optimizer.inputs.townships import TOWNSHIP_OPTIONAL_NUMBERS, read_townships
from optimizer.inputs.villages import VillageInputs, read_villages  # villages (issue 14)
from optimizer.paths import sample_dir

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
    # villages (issue 14): the village layer and its optional companions
    "villages": (".gpkg", ".shp", ".geojson", ".json", ".csv", ".xlsx"),
    "villages_before": TABLE_SUFFIXES,
    "places": (".gpkg", ".shp", ".geojson", ".json", ".csv", ".xlsx"),
    "centres": TABLE_SUFFIXES,
}


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
    villages
        The village layer (村 / 社区) with its companions (see
        :func:`optimizer.inputs.villages.read_villages`); None when no village file was given.
    """

    townships: gpd.GeoDataFrame
    facilities: pd.DataFrame
    counties: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    roads: gpd.GeoDataFrame | None = None
    villages: VillageInputs | None = None  # villages (issue 14)

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
# entry point


def load_inputs(
    data: str | Path | None = None,
    *,
    townships: str | Path | None = None,
    facilities: str | Path | None = None,
    counties: str | Path | None = None,
    township_attributes: str | Path | None = None,
    roads: str | Path | None = None,
    villages: str | Path | None = None,
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
        ``docs/network.md``). Default, when no file is named either: the bundled
        **synthetic** sample (:func:`optimizer.paths.sample_dir`), as ``optimizer plan`` does.
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
        "villages": villages,
    }
    if data is None and not any(explicit.values()):
        data = sample_dir()
    crs_problems = v.check_crs_name(crs)
    if crs_problems:
        raise DataError(crs_problems)
    paths, problems = find_inputs(data, explicit)
    notes: list[str] = []
    sources = {role: str(p) for role, p in paths.items()}
    town_gdf, p = _load_townships(paths, crs, tuple(tibetan_prefixes), notes)
    problems += p
    fac, p = _load_facilities(paths, town_gdf, crs, site_tolerance_m, notes)
    problems += p
    county_df, p = _load_counties(paths, town_gdf, notes)
    problems += p
    road_gdf, p = _load_roads(paths, crs, notes)
    problems += p
    village_inputs, p = _load_villages(paths, town_gdf, crs, notes)  # villages (issue 14)
    problems += p

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
        villages=village_inputs,
    )


def _load_villages(
    paths: dict[str, Path], towns: gpd.GeoDataFrame | None, crs: str | None, notes: list[str]
) -> tuple[VillageInputs | None, list[str]]:
    """Read the village layer and its companions when a village file was found (issue 14).

    Parameters
    ----------
    paths
        Role -> path, from :func:`find_inputs`.
    towns
        The canonical townships, or None when they could not be read.
    crs
        The user's ``crs=``, or None.
    notes
        Receives the notes; also that companions without a village layer were not read.

    Returns
    -------
    villages : VillageInputs or None
        As :func:`~optimizer.inputs.villages.read_villages` returns them; None when absent.
    problems : list of str
        The villages' problems.
    """
    companions = [r for r in ("villages_before", "places", "centres") if r in paths]
    if "villages" not in paths:
        if companions:
            notes.append(f"{', '.join(companions)} given without a village layer; not read")
        return None, []
    if towns is None:
        return None, []
    return read_villages(
        paths["villages"],
        townships=towns,
        before=paths.get("villages_before"),
        places=paths.get("places"),
        centres=paths.get("centres"),
        crs=crs,
        notes=notes,
    )


def _load_townships(
    paths: dict[str, Path],
    crs: str | None,
    tibetan_prefixes: tuple[str, ...],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Read the townships (with their attribute sheet) when a township file was found.

    Parameters
    ----------
    paths
        Role -> path, from :func:`find_inputs`.
    crs
        The user's ``crs=``, or None.
    tibetan_prefixes
        County-code prefixes of the 涉藏地区.
    notes
        Receives the notes; also that an attribute sheet without townships was not read.

    Returns
    -------
    townships : geopandas.GeoDataFrame or None
        As :func:`~optimizer.inputs.townships.read_townships` returns them; None when absent.
    problems : list of str
        The townships' problems.
    """
    if "townships" in paths:
        return read_townships(
            paths["townships"],
            paths.get("township_attributes"),
            crs=crs,
            tibetan_prefixes=tibetan_prefixes,
            notes=notes,
        )
    if "township_attributes" in paths:
        notes.append("township attributes given without townships; not read")
    return None, []


def _load_facilities(
    paths: dict[str, Path],
    town_gdf: gpd.GeoDataFrame | None,
    crs: str | None,
    site_tolerance_m: float,
    notes: list[str],
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read the facilities when a facility file was found, cross-checked with the townships.

    Parameters
    ----------
    paths
        Role -> path, from :func:`find_inputs`.
    town_gdf
        The townships read, or None.
    crs
        The user's ``crs=``, or None.
    site_tolerance_m
        How far (metres) a facility may lie outside its township polygon.
    notes
        Receives the notes.

    Returns
    -------
    facilities : pandas.DataFrame or None
        As :func:`~optimizer.inputs.facilities.read_facilities` returns them; None when absent.
    problems : list of str
        The facilities' problems.
    """
    if "facilities" not in paths:
        return None, []
    usable = None
    complete = False
    if town_gdf is not None:
        # cross-checks need one polygon per code; a bad code was reported already
        complete = bool(town_gdf["code"].notna().all())
        usable = town_gdf[town_gdf["code"].notna()].drop_duplicates("code")
    return read_facilities(
        paths["facilities"],
        usable,
        all_townships=complete,
        crs=crs,
        site_tolerance_m=site_tolerance_m,
        notes=notes,
    )


def _load_counties(
    paths: dict[str, Path], town_gdf: gpd.GeoDataFrame | None, notes: list[str]
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read the county table when one was found, and note counties it lacks.

    Parameters
    ----------
    paths
        Role -> path, from :func:`find_inputs`.
    town_gdf
        The townships read, or None.
    notes
        Receives the notes, and the counties of townships without a row.

    Returns
    -------
    counties : pandas.DataFrame or None
        As :func:`~optimizer.inputs.counties.read_counties` returns them; None when absent.
    problems : list of str
        The county table's problems.
    """
    if "counties" not in paths:
        return None, []
    county_df, problems = read_counties(paths["counties"], notes)
    if county_df is not None and town_gdf is not None:
        absent = sorted(set(town_gdf["county_code"].dropna()) - set(county_df["county_code"]))
        if absent:
            notes.append(
                f"{paths['counties'].name}: no row for county {v.listing(absent)}; "
                "county staffing shares there cannot be checked"
            )
    return county_df, problems


def _load_roads(
    paths: dict[str, Path], crs: str | None, notes: list[str]
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Read the road layer when one was found.

    Parameters
    ----------
    paths
        Role -> path, from :func:`find_inputs`.
    crs
        The user's ``crs=``, or None.
    notes
        Receives the road layer's notes.

    Returns
    -------
    roads : geopandas.GeoDataFrame or None
        As :func:`~optimizer.inputs.roads.read_roads` returns them; None when absent or unusable.
    problems : list of str
        The road layer's problems.
    """
    if "roads" not in paths:
        return None, []
    road_gdf, problems, road_notes = road_problems(paths["roads"], crs=crs)
    notes.extend(road_notes)
    return road_gdf, problems
