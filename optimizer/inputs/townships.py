"""Read the township layer and its optional attribute sheet into the canonical townships table.

:func:`read_townships` runs the steps in order: read the layer, match its headers, check codes
and values, join the attribute sheet, fill in what is missing (county code, kind, 涉藏地区 flag
derived from the codes), check the geometries and convert to EPSG:4326. ``docs/inputs.md`` is
the format reference.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer import schema
from optimizer.inputs import validate as v
from optimizer.inputs.canonical import column, to_4326
from optimizer.inputs.files import read_error_message, read_layer, read_table

__all__ = ["TOWNSHIP_OPTIONAL_NUMBERS", "TOWNSHIP_OUTPUT", "read_townships"]

TOWNSHIP_OPTIONAL_NUMBERS: tuple[str, ...] = ("cases", "villages_before", "households")
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


def read_townships(
    path: Path,
    attributes_path: Path | None,
    *,
    crs: str | None,
    tibetan_prefixes: tuple[str, ...],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Read, join, check and canonicalise the townships; None when unusable.

    Parameters
    ----------
    path
        The township layer.
    attributes_path
        The attribute sheet joined on ``code``, or None.
    crs
        The user's ``crs=``, or None.
    tibetan_prefixes
        County-code prefixes of the 涉藏地区, used where no ``tibetan_area`` is given.
    notes
        Receives the notes of every step.

    Returns
    -------
    townships : geopandas.GeoDataFrame or None
        The columns of :data:`TOWNSHIP_OUTPUT` in EPSG:4326, sorted by code; None when the
        layer cannot be read, has no code column or no usable CRS.
    problems : list of str
        Every problem found, in file order.
    """
    try:
        layer, layer_notes, dbf_encoding = read_layer(path)
    except Exception as exc:  # any GDAL/IO failure becomes a problem to report
        return None, [read_error_message(path, exc)]
    notes.extend(layer_notes)
    lrows = v.Rows(path.name, first=1, unit="feature")
    mapping, match_notes = v.match_columns(
        layer.columns.drop("geometry"), schema.TOWNSHIP_COLUMNS, dbf_encoding=dbf_encoding
    )
    notes.extend(f"{path.name}: {n}" for n in match_notes)
    if "code" not in mapping:
        return None, v.check_required(
            path.name, mapping, schema.TOWNSHIP_COLUMNS, ["code"], layer.columns
        )
    codes, table, problems = _coded_values(layer, mapping, lrows, notes)
    have = set(mapping)
    found_headers = [str(c) for c in layer.columns]
    files = path.name
    if attributes_path is not None:
        files = f"{path.name} + {attributes_path.name}"
        table, sheet_have, sheet_headers, p = _join_sheet(table, path.name, attributes_path, notes)
        problems += p
        have |= sheet_have
        found_headers += sheet_headers

    problems += _complete_columns(table, files, have, found_headers)
    county = _fill_county_codes(table, codes, files, notes)
    _fill_kinds(table, codes, files, have, notes)
    _fill_tibetan_flags(table, county, tibetan_prefixes)
    gdf, p = _township_layer(table, layer, lrows, codes, path.name, crs, notes)
    problems += p
    return gdf, problems


def _coded_values(
    table: pd.DataFrame, mapping: dict[str, str], rows: v.Rows, notes: list[str]
) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """Check the codes of one source (layer or sheet), then its other columns.

    Parameters
    ----------
    table
        The layer or sheet as read; ``mapping`` has a ``code`` entry.
    mapping
        Canonical name -> header of ``table``.
    rows
        Row numbering of the source, for messages.
    notes
        Receives the code normalisation notes.

    Returns
    -------
    codes : pandas.Series
        Normalised township codes (None where malformed).
    values : pandas.DataFrame
        As :func:`_township_values` returns it.
    problems : list of str
        Bad and repeated codes, then the problems of the other columns.
    """
    codes, problems, n = v.check_codes(table[mapping["code"]], rows, "code")
    notes.extend(n)
    problems += v.check_duplicates(codes, rows, "code")
    values, p, n = _township_values(table, mapping, codes, rows)
    problems += p
    notes.extend(n)
    return codes, values, problems


def _township_values(
    table: pd.DataFrame,
    mapping: dict[str, str],
    codes: pd.Series,
    rows: v.Rows,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check and convert the township columns one source (layer or sheet) provides.

    Parameters
    ----------
    table
        The layer or sheet as read.
    mapping
        Canonical name -> header of ``table``.
    codes
        The checked codes of ``table``, used as labels in messages.
    rows
        Row numbering of the source, for messages.

    Returns
    -------
    values : pandas.DataFrame
        ``code`` and the canonical columns present in ``mapping``, positionally aligned with
        the source, so that messages carry the source's own row numbers.
    problems, notes : list of str
        What is wrong, and what was normalised.
    """
    problems: list[str] = []
    notes: list[str] = []
    out = pd.DataFrame({"code": codes})
    for name in mapping:
        if name == "code":
            continue
        raw = column(table, mapping, name)
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


def _join_sheet(
    table: pd.DataFrame, layer_name: str, path: Path, notes: list[str]
) -> tuple[pd.DataFrame, set[str], list[str], list[str]]:
    """Read the attribute sheet, check it like the layer and join it on ``code``.

    Parameters
    ----------
    table
        The layer's checked values.
    layer_name
        File name of the layer, for messages.
    path
        The attribute sheet.
    notes
        Receives the sheet's notes.

    Returns
    -------
    table : pandas.DataFrame
        ``table`` with the sheet's columns joined (unchanged when the sheet is unusable).
    have : set of str
        Canonical columns the sheet provides (empty when it has no code column).
    headers : list of str
        The sheet's headers as found (empty when it cannot be read).
    problems : list of str
        What is wrong with the sheet or the join.
    """
    try:
        attrs, attr_notes = read_table(path)
    except Exception as exc:  # any reader failure becomes a problem to report
        return table, set(), [], [read_error_message(path, exc)]
    notes.extend(attr_notes)
    arows = v.Rows(path.name, first=attrs.attrs.get("first_row", 2))
    amap, anotes = v.match_columns(attrs.columns, schema.TOWNSHIP_COLUMNS)
    notes.extend(f"{path.name}: {n}" for n in anotes)
    headers = [str(c) for c in attrs.columns]
    if "code" not in amap:
        problems = v.check_required(
            path.name, amap, schema.TOWNSHIP_COLUMNS, ["code"], attrs.columns
        )
        return table, set(), headers, problems
    _, sheet, problems = _coded_values(attrs, amap, arows, notes)
    table, p, n = _join_attributes(table, sheet, layer_name, path.name)
    problems += p
    notes.extend(n)
    return table, set(amap), headers, problems


def _join_attributes(
    table: pd.DataFrame, sheet: pd.DataFrame, layer_name: str, sheet_name: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Left-join checked sheet values on code; the sheet's values win over the layer's.

    Parameters
    ----------
    table, sheet
        Checked values of the layer and of the sheet (both with ``code``).
    layer_name, sheet_name
        File names, for messages.

    Returns
    -------
    table : pandas.DataFrame
        A copy of ``table`` with the sheet's columns.
    problems, notes : list of str
        Townships without a row; sheet rows without a polygon and overlapping columns.
    """
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


def _complete_columns(
    table: pd.DataFrame, files: str, have: set[str], found_headers: list[str]
) -> list[str]:
    """Check the required columns, then add every missing canonical column (in place).

    Parameters
    ----------
    table
        The joined values; changed in place.
    files
        The file name(s) read, for messages.
    have
        Canonical columns some source provides.
    found_headers
        Every header found, for the message.

    Returns
    -------
    list of str
        Required columns no source provides (``county_code`` may be derived).
    """
    required = [c for c in schema.TOWNSHIP_REQUIRED if c != "county_code"]
    problems = v.check_required(
        files, {c: c for c in have}, schema.TOWNSHIP_COLUMNS, required, found_headers
    )
    for name in schema.TOWNSHIP_COLUMNS:
        if name not in table.columns:
            table[name] = np.nan if name in ("population", "incidents") else None
    for name in TOWNSHIP_OPTIONAL_NUMBERS + ("population", "incidents"):
        table[name] = table[name].astype("float64")
    return problems


def _fill_county_codes(
    table: pd.DataFrame, codes: pd.Series, files: str, notes: list[str]
) -> pd.Series:
    """Take the county code from the column where given, else from the township code.

    Parameters
    ----------
    table
        The values; its ``county_code`` is replaced in place.
    codes
        The township codes.
    files
        The file name(s) read, for notes.
    notes
        Receives how many codes were derived and how many disagree with the township code.

    Returns
    -------
    pandas.Series
        The county codes now in ``table``.
    """
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
    return county


def _fill_kinds(
    table: pd.DataFrame, codes: pd.Series, files: str, have: set[str], notes: list[str]
) -> None:
    """Derive ``kind`` from code digits 7-9 where not given (in place).

    Parameters
    ----------
    table
        The values; its ``kind`` is replaced in place.
    codes
        The township codes.
    files
        The file name(s) read, for the note.
    have
        Canonical columns some source provides.
    notes
        Receives a note when no source gives ``kind``.
    """
    kind_given = table["kind"]
    table["kind"] = [
        k if isinstance(k, str) else (schema.kind_from_code(c) if isinstance(c, str) else None)
        for k, c in zip(kind_given.tolist(), codes.tolist(), strict=True)
    ]
    if "kind" not in have:
        notes.append(f"{files}: kind derived from code digits 7-9")


def _fill_tibetan_flags(
    table: pd.DataFrame, county: pd.Series, tibetan_prefixes: tuple[str, ...]
) -> None:
    """Derive ``tibetan_area`` from the county code where not given (in place).

    Parameters
    ----------
    table
        The values; its ``tibetan_area`` becomes bool.
    county
        The county codes.
    tibetan_prefixes
        County-code prefixes of the 涉藏地区.
    """
    table["tibetan_area"] = [
        bool(f)
        if isinstance(f, bool)
        else (isinstance(c, str) and schema.is_tibetan_area(c, tibetan_prefixes))
        for f, c in zip(table["tibetan_area"].tolist(), county.tolist(), strict=True)
    ]
    table["tibetan_area"] = table["tibetan_area"].astype(bool)


def _township_layer(
    table: pd.DataFrame,
    layer: gpd.GeoDataFrame,
    rows: v.Rows,
    codes: pd.Series,
    file: str,
    crs: str | None,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Check the geometries, attach them, convert to EPSG:4326 and put columns in order.

    Parameters
    ----------
    table
        The completed values, aligned with ``layer``.
    layer
        The township layer as read.
    rows
        Row numbering of the layer, for messages.
    codes
        The township codes, as labels in messages.
    file
        File name of the layer, for messages.
    crs
        The user's ``crs=``, or None.
    notes
        Receives geometry repairs and CRS notes.

    Returns
    -------
    townships : geopandas.GeoDataFrame or None
        The canonical townships sorted by code; None without a usable CRS.
    problems : list of str
        Geometry and CRS problems.
    """
    geometry, problems, n = v.check_geometries(layer.geometry, rows, labels=codes)
    notes.extend(n)
    gdf = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=layer.crs)
    gdf, p = to_4326(gdf, file, crs, notes)
    problems += p
    if gdf is None:
        return None, problems
    gdf = gdf[list(TOWNSHIP_OUTPUT)]
    for name in ("code", "name", "county_code", "kind"):
        gdf[name] = gdf[name].astype("object")
    gdf = gdf.sort_values("code", na_position="last").reset_index(drop=True)
    return gdf, problems
