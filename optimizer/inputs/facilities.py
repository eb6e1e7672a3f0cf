"""Read the facility list (CSV, Excel or a GeoPackage point layer) into the canonical table.

:func:`read_facilities` reads the file, matches its headers, checks ids, types, township codes,
staff and sites, then cross-checks against the townships (known township, site inside it) and
places sites without lon/lat at the township seat. ``docs/inputs.md`` is the format reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer import schema
from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v
from optimizer.inputs.canonical import column, to_4326
from optimizer.inputs.files import read_error_message, read_layer, read_table
from optimizer.schema import FACILITY_ROLE_COLUMNS

__all__ = ["FACILITY_OUTPUT", "read_facilities"]

FACILITY_OUTPUT: tuple[str, ...] = (
    "id",
    "type",
    "name",
    "township_code",
    "county_code",
    "lon",
    "lat",
    "staff",
    *FACILITY_ROLE_COLUMNS,
    "site_from_seat",
)


def read_facilities(
    path: Path,
    townships: gpd.GeoDataFrame | None,
    *,
    all_townships: bool,
    crs: str | None,
    site_tolerance_m: float,
    notes: list[str],
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read, check and canonicalise the facility list; None when unusable.

    Parameters
    ----------
    path
        The facility file (``.csv``, ``.xlsx`` or a ``.gpkg`` point layer).
    townships
        Canonical townships with one row per code, for the cross-checks; None to skip them.
    all_townships
        Whether every township code was valid, so that an unknown township is worth reporting.
    crs
        The user's ``crs=`` (for a point layer), or None.
    site_tolerance_m
        How far (metres) a site may lie outside its township polygon.
    notes
        Receives the notes of every step.

    Returns
    -------
    facilities : pandas.DataFrame or None
        The columns of :data:`FACILITY_OUTPUT`, sorted by type and id; None when the file
        cannot be read or lacks a required column.
    problems : list of str
        Every problem found.
    """
    from_layer = path.suffix.lower() == ".gpkg"
    layer: gpd.GeoDataFrame | None = None
    try:
        if from_layer:
            layer, layer_notes, _ = read_layer(path)
            notes.extend(layer_notes)
            table: pd.DataFrame = pd.DataFrame(layer.drop(columns="geometry"))
        else:
            table, table_notes = read_table(path)
            notes.extend(table_notes)
    except Exception as exc:  # any reader failure becomes a problem to report
        return None, [read_error_message(path, exc)]
    rows = (
        v.Rows(path.name, first=1, unit="feature")
        if from_layer
        else v.Rows(path.name, first=table.attrs.get("first_row", 2))
    )
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

    fac, out_of_range, problems = _facility_values(table, mapping, rows, layer, crs, notes)
    if townships is not None:
        problems += _match_townships(
            fac,
            townships,
            out_of_range,
            all_townships=all_townships,
            site_tolerance_m=site_tolerance_m,
            rows=rows,
            notes=notes,
        )
    fac["site_from_seat"] = fac["site_from_seat"].astype(bool)
    for name in ("id", "type", "name", "township_code", "county_code"):
        fac[name] = fac[name].astype("object")
    fac = fac[list(FACILITY_OUTPUT)]
    fac = fac.sort_values(["type", "id"], na_position="last").reset_index(drop=True)
    return fac, problems


def _facility_values(
    table: pd.DataFrame,
    mapping: dict[str, str],
    rows: v.Rows,
    layer: gpd.GeoDataFrame | None,
    crs: str | None,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Check ids, types, township codes, staff and sites, and build the facility frame.

    Parameters
    ----------
    table
        The facility table as read.
    mapping
        Canonical name -> header of ``table`` (without lon/lat for a point layer).
    rows
        Row numbering of the file, for messages.
    layer
        The point layer when the sites are geometries, else None (lon/lat columns).
    crs
        The user's ``crs=``, or None.
    notes
        Receives code normalisation and CRS notes.

    Returns
    -------
    facilities : pandas.DataFrame
        The canonical columns in file order; ``county_code`` None, ``site_from_seat`` False.
    out_of_range : pandas.Series
        True where lon/lat lie outside the valid range (those sites are dropped).
    problems : list of str
        Blank and repeated ids, bad types, codes, numbers and coordinates, in that order.
    """
    problems: list[str] = []
    ids = column(table, mapping, "id").map(lambda x: None if v.is_blank(x) else str(x).strip())
    blank_ids = [i for i, x in enumerate(ids.tolist()) if v.is_blank(x)]
    if blank_ids:
        problems.append(f"{rows.file}: id is blank in {rows.many(blank_ids)}; fill it in")
    problems += v.check_duplicates(ids, rows, "id")
    types, p = v.check_facility_types(column(table, mapping, "type"), rows)
    problems += p
    tcodes, p, n = v.check_codes(column(table, mapping, "township_code"), rows, "township_code")
    problems += p
    notes.extend(n)
    staff, p = v.check_numbers(
        column(table, mapping, "staff"), rows, "staff", required=False, labels=ids
    )
    problems += p
    roles, p = _role_counts(table, mapping, rows, ids, staff)
    problems += p

    if layer is not None:
        lon, lat, p = _layer_sites(layer, rows.file, crs, notes)
        problems += p
    else:
        lon, p = v.check_numbers(column(table, mapping, "lon"), rows, "lon", required=False)
        problems += p
        lat, p = v.check_numbers(column(table, mapping, "lat"), rows, "lat", required=False)
        problems += p
    out_of_range, p = v.check_coordinates(lon, lat, rows, ids)
    problems += p

    names = column(table, mapping, "name").map(lambda x: "" if v.is_blank(x) else str(x).strip())
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
            **roles,
            "site_from_seat": False,
        }
    )
    return fac, out_of_range, problems


def _role_counts(
    table: pd.DataFrame, mapping: dict[str, str], rows: v.Rows, ids: pd.Series, staff: pd.Series
) -> tuple[dict[str, pd.Series], list[str]]:
    """Read the optional staff-by-role columns: whole numbers >= 0, together at most ``staff``.

    Returns
    -------
    roles : dict
        Column -> floats (NaN where blank or unusable, and for a column the file lacks).
    problems : list of str
        Non-numeric, negative, implausibly large and fractional counts, and rows whose roles
        add up to more than their ``staff``.
    """
    roles: dict[str, pd.Series] = {}
    problems: list[str] = []
    for name in FACILITY_ROLE_COLUMNS:
        values, p = v.check_numbers(
            column(table, mapping, name), rows, name, required=False, labels=ids
        )
        problems += p
        frac = [i for i, x in enumerate(values.tolist()) if math.isfinite(x) and x != round(x)]
        if frac:
            problems.append(
                f"{rows.file}: {name} is not a whole number in {rows.many(frac)}; give a head count"
            )
        roles[name] = values
    total = pd.concat(roles.values(), axis=1).sum(axis=1, min_count=1)
    over = [i for i, (r, s) in enumerate(zip(total, staff, strict=True)) if r > s + 1e-9]
    if over:
        problems.append(
            f"{rows.file}: the role counts ({', '.join(FACILITY_ROLE_COLUMNS)}) add up to more "
            f"than staff in {rows.many(over)}; staff is the unit's whole head count"
        )
    return roles, problems


def _layer_sites(
    layer: gpd.GeoDataFrame, file: str, crs: str | None, notes: list[str]
) -> tuple[pd.Series, pd.Series, list[str]]:
    """Return lon/lat of a point layer in degrees (NaN for empty geometries).

    Parameters
    ----------
    layer
        The facility point layer as read.
    file
        File name, for messages.
    crs
        The user's ``crs=``, or None.
    notes
        Receives CRS notes.

    Returns
    -------
    lon, lat : pandas.Series
        Degrees; NaN without a point or without a usable CRS.
    problems : list of str
        CRS problems and non-point geometries.
    """
    nan = pd.Series(np.nan, index=range(len(layer)), dtype="float64")
    converted, problems = to_4326(layer, file, crs, notes)
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


def _match_townships(
    fac: pd.DataFrame,
    townships: gpd.GeoDataFrame,
    out_of_range: pd.Series,
    *,
    all_townships: bool,
    site_tolerance_m: float,
    rows: v.Rows,
    notes: list[str],
) -> list[str]:
    """Cross-check facilities against the townships and fill county codes and missing sites.

    Parameters
    ----------
    fac
        The facility frame; ``county_code``, ``lon``, ``lat`` and ``site_from_seat`` are
        filled in place.
    townships
        Canonical townships, one row per code.
    out_of_range
        True where a site was dropped as out of range (not placed at the seat).
    all_townships
        Whether every township code was valid, so that an unknown township is worth reporting.
    site_tolerance_m
        How far (metres) a site may lie outside its township polygon.
    rows
        Row numbering of the file, for messages.
    notes
        Receives a note listing the sites placed at the township seat.

    Returns
    -------
    list of str
        Unknown townships and sites outside their township.
    """
    problems: list[str] = []
    if all_townships:  # else "unknown township" may just echo a malformed township code
        problems += v.check_known_townships(
            fac["township_code"], townships["code"], rows, fac["id"]
        )
    county_of = dict(zip(townships["code"], townships["county_code"], strict=True))
    fac["county_code"] = fac["township_code"].map(county_of)
    problems += v.check_sites(fac, townships, tolerance_m=site_tolerance_m, rows=rows)
    no_site = (fac["lon"].isna() | fac["lat"].isna()) & ~out_of_range
    fillable = no_site & fac["township_code"].isin(townships["code"])
    if fillable.any():
        _place_at_seats(fac, townships, fillable, rows.file, notes)
    return problems


def _place_at_seats(
    fac: pd.DataFrame,
    townships: gpd.GeoDataFrame,
    fillable: pd.Series,
    file: str,
    notes: list[str],
) -> None:
    """Put the sites marked ``fillable`` at their township's seat (in place), and say so.

    Parameters
    ----------
    fac
        The facility frame; ``lon``, ``lat`` and ``site_from_seat`` change in place.
    townships
        Canonical townships, one row per code.
    fillable
        True for facilities without a site in a known township.
    file
        File name, for the note.
    notes
        Receives a note listing the facilities placed.
    """
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
            f"{file}: {len(idx)} site(s) without lon/lat placed at the township "
            f"seat ({v.listing([str(x) for x in fac.loc[idx, 'id']])})"
        )
