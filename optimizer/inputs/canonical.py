"""Steps the readers of the township, facility and county files share.

:func:`column` takes one matched column of a table (or an all-missing one), :func:`to_4326`
brings a layer to lon/lat after applying the user's ``crs=``.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v

__all__ = ["column", "to_4326"]


def column(table: pd.DataFrame, mapping: dict[str, str], name: str) -> pd.Series:
    """Return a matched column as objects, or an all-missing column when absent.

    Parameters
    ----------
    table
        The table as read.
    mapping
        Canonical name -> header of ``table`` (from :func:`~optimizer.inputs.validate.match_columns`).
    name
        The canonical column wanted.

    Returns
    -------
    pandas.Series
        Object values with a fresh 0..n-1 index.
    """
    if name in mapping:
        return table[mapping[name]].astype("object").reset_index(drop=True)
    return pd.Series([None] * len(table), dtype="object")


def to_4326(
    layer: gpd.GeoDataFrame, file: str, crs: str | None, notes: list[str]
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """Set the user's CRS if given, then convert to EPSG:4326; None when there is no CRS.

    Parameters
    ----------
    layer
        The layer as read.
    file
        File name used in messages.
    crs
        The user's ``crs=`` (overrides the file's), or None.
    notes
        Receives a note when ``crs`` replaces or supplies the file's CRS.

    Returns
    -------
    layer : geopandas.GeoDataFrame or None
        The layer in EPSG:4326; None when it has no usable CRS.
    problems : list of str
        Missing CRS or a failed conversion.
    """
    problems = v.check_crs(layer, file, override=crs)
    if problems:
        return None, problems
    if crs is not None:
        if layer.crs is not None and not layer.crs.equals(crs):
            notes.append(f"{file}: CRS {layer.crs.to_string()} replaced by crs={crs}")
        elif layer.crs is None:
            notes.append(f"{file}: no CRS in the file; using crs={crs}")
        layer = layer.set_crs(crs, allow_override=True)
    problems = v.check_crs_fit(layer, file, given=crs is not None)
    if problems:
        return None, problems
    source = layer.crs.to_string() if layer.crs is not None else "?"
    if layer.crs is not None and layer.crs.equals("EPSG:4326"):
        return layer, v.check_china(layer, file, source)
    try:
        converted = layer.to_crs(geo.GEOGRAPHIC_CRS)
    except Exception as exc:  # pyproj errors vary by version
        return None, [f"{file}: cannot convert CRS {layer.crs} to lon/lat ({exc})"]
    problems = v.check_china(converted, file, source)
    return (None, problems) if problems else (converted, [])
