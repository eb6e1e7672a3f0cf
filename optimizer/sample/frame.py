"""The real public frame the sample is built in: county polygons, township lists, census.

The frame ships in ``data/frame`` (installed as ``optimizer.frame_data``). This module reads it
into the metric working CRS, maps renamed county codes and development zones onto the counties
that hold them now, and resolves the ``counties`` argument of ``build_sample``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import as_file

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.errors import DataError
from optimizer.paths import frame_dir
from optimizer.schema import KIND_STREET, KIND_TOWN, KIND_TOWNSHIP

__all__ = [
    "COUNTY_CODE_CHANGES",
    "DEV_ZONE_PARENTS",
    "WORK_CRS",
    "Frame",
    "load_frame",
    "select_counties",
]

#: County codes that changed between the 2018 list (and the census table) and the polygons.
COUNTY_CODE_CHANGES: dict[str, str] = {"510132": "510118", "510922": "510981", "513425": "513402"}
#: Development zones without a polygon of their own, folded into the district holding their
#: townships in the 2023 list (内江经开区 -> 市中区, 达州经开区 -> 达川区, 巴中经开区 -> 巴州区).
DEV_ZONE_PARENTS: dict[str, str] = {"511071": "511002", "511771": "511703", "511971": "511902"}

#: Metric CRS the geometry is built in (UTM 48N; scale error < 0.5 % across Sichuan).
WORK_CRS = "EPSG:32648"


@dataclass
class Frame:
    """The real frame, read once per build.

    Attributes
    ----------
    counties
        County polygons in :data:`WORK_CRS`, indexed by county code, with ``district_name``,
        ``city_name`` and the seat's ``lon``/``lat``.
    before
        Pre-merger (2018) townships of kind 街道/镇/乡: ``code``, ``name``, ``kind``,
        ``county_code`` (current code) and ``county_code_orig`` (the code in the list).
    after
        Post-merger (2023) townships, same columns.
    population
        Census totals indexed by county code: ``population``, ``households``, ``urban``,
        ``rural`` and ``household_size``.
    """

    counties: gpd.GeoDataFrame  # metric CRS, index = county code
    before: pd.DataFrame
    after: pd.DataFrame
    population: pd.DataFrame  # index = county code


def load_frame() -> Frame:
    """Read the real frame shipped with the package.

    Returns
    -------
    Frame
        County polygons (in :data:`WORK_CRS`), the 2018 and 2023 township lists without units
        of kind ``other``, and the census table, all on the current county codes.
    """
    root = frame_dir()
    with as_file(root / "sichuan_counties.gpkg") as path:
        counties = gpd.read_file(path, engine="pyogrio")
    counties["county_code"] = counties["district_adcode"].astype(str)
    counties = counties.set_index("county_code").sort_index().to_crs(WORK_CRS)

    def read_csv(name: str) -> pd.DataFrame:
        with (root / name).open("rb") as fh:
            return pd.read_csv(fh, dtype=str, encoding="utf-8")

    def fix_county(code: str) -> str:
        code = COUNTY_CODE_CHANGES.get(code, code)
        return DEV_ZONE_PARENTS.get(code, code)

    lists = []
    for name in ("sichuan_townships_2018.csv", "sichuan_townships_2023.csv"):
        t = read_csv(name)
        t = t[t["kind"].isin([KIND_STREET, KIND_TOWN, KIND_TOWNSHIP])].copy()
        t["county_code_orig"] = t["areaCode"]
        t["county_code"] = t["areaCode"].map(fix_county)
        lists.append(t[["code", "name", "kind", "county_code", "county_code_orig"]])
    before, after = lists

    pop = read_csv("sichuan_county_population_2020.csv")
    pop["county_code"] = pop["区划代码"].map(fix_county)
    for col in ("人口数_合计", "家庭户数", "城镇人口", "乡村人口"):
        pop[col] = pop[col].astype(np.int64)
    agg = pop.groupby("county_code")[["人口数_合计", "家庭户数", "城镇人口", "乡村人口"]].sum()
    agg.columns = pd.Index(["population", "households", "urban", "rural"])
    agg["household_size"] = agg["population"] / agg["households"]
    return Frame(counties=counties, before=before, after=after, population=agg)


def select_counties(frame: Frame, counties: str | Sequence[str]) -> list[str]:
    """Resolve the ``counties`` argument of ``build_sample`` to county codes.

    Parameters
    ----------
    frame
        The frame from :func:`load_frame`.
    counties
        ``"all"``, or county codes / prefixes as a comma- or space-separated string or a
        sequence; old codes and development zones are mapped to their current county.

    Returns
    -------
    list of str
        The matching county codes, sorted.

    Raises
    ------
    DataError
        If nothing is given, or if a code or prefix matches no county (all are listed).
    """
    known = list(frame.counties.index)
    if isinstance(counties, str):
        if counties.strip().lower() == "all":
            return known
        tokens = [t.strip() for t in re.split(r"[,\s]+", counties) if t.strip()]
    else:
        tokens = [str(t).strip() for t in counties if str(t).strip()]
    if not tokens:
        raise DataError("no county code given; pass 'all' or codes/prefixes such as '5118,5132'")
    chosen: set[str] = set()
    unknown: list[str] = []
    for tok in tokens:
        tok = COUNTY_CODE_CHANGES.get(tok, DEV_ZONE_PARENTS.get(tok, tok))
        hit = [c for c in known if tok.isdigit() and c.startswith(tok)]
        if not hit:
            unknown.append(tok)
        chosen.update(hit)
    if unknown:
        raise DataError(
            [f"unknown county code or prefix {t!r} (not a Sichuan county)" for t in unknown]
            + ["use 6-digit GB/T 2260 codes or prefixes such as '5132', or 'all'"]
        )
    return sorted(chosen)
