"""The synthetic sample, built inside the real public Sichuan frame.

No open source publishes township boundaries, township population, incidents, case loads or
facility sites, so this package synthesises them (clearly labelled SYNTHETIC) inside the real
frame shipped in ``data/frame``: real county polygons, the real township codes, names and
kinds before (2018) and after (2023) the merger reform, and the real 2020 census population
per county. ``docs/sample.md`` describes the method and the calibration numbers.

Every county is built from its own random stream (seeded by ``seed`` and the county code), so a
county looks the same whichever other counties are selected with it. This module assembles the
counties (:mod:`optimizer.sample.county`) and the roads (:mod:`optimizer.sample.roads`) into a
:class:`Sample`; :mod:`optimizer.sample.files` writes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.sample.county import build_county
from optimizer.sample.formats import COUNTY_FIELDS, OUTPUT_CRS
from optimizer.sample.frame import load_frame, select_counties
from optimizer.sample.roads import build_roads
from optimizer.sample.villages import Villages, build_villages
from optimizer.schema import COURT, JUDICIAL, POLICE

__all__ = ["Sample", "build_sample"]

logger = logging.getLogger(__name__)


@dataclass
class Sample:
    """A synthetic planning input.

    Attributes
    ----------
    townships
        Post-merger (2023) townships: polygons in EPSG:4490 with the canonical columns.
    townships_before
        Pre-merger (2018) townships: polygons nested in ``townships``, with ``merged_into``.
    facilities
        Current (pre-reform) police stations, judicial offices and people's courts.
    counties
        County totals: population, police, judicial establishment, recruits.
    seed
        The seed the sample was built with.
    county_codes
        The counties it covers.
    request
        The ``counties`` argument as given (comma-separated), to rebuild the sample.
    roads
        SYNTHETIC road network (lines in EPSG:4490 with ``class``, ``speed_kmh``, ``source``),
        or None.
    villages
        SYNTHETIC villages (村 / 社区) after and before the village reform
        (:mod:`optimizer.sample.villages`), or None.
    """

    townships: gpd.GeoDataFrame
    townships_before: gpd.GeoDataFrame
    facilities: pd.DataFrame
    counties: pd.DataFrame
    seed: int = 2020
    county_codes: tuple[str, ...] = ()
    request: str = "all"
    roads: gpd.GeoDataFrame | None = None
    villages: Villages | None = None


def build_sample(counties: str | Sequence[str] = "all", *, seed: int = 2020) -> Sample:
    """Build a SYNTHETIC planning input inside the real Sichuan frame.

    Parameters
    ----------
    counties
        ``"all"``, or county codes / code prefixes: a comma-separated string such as
        ``"510104,5118"`` or a sequence of them. Old codes (510132, 510922, 513425) and the
        development zones (511071, 511771, 511971) are mapped to the county that holds them now.
    seed
        Seed of the random streams; the same seed gives the same sample.

    Returns
    -------
    Sample
        Post- and pre-merger township polygons (EPSG:4490), current facilities and county totals.

    Raises
    ------
    DataError
        If a code or prefix matches no Sichuan county (all unknown codes are listed).

    Examples
    --------
    >>> s = build_sample("5118", seed=2020)  # doctest: +SKIP
    >>> len(s.townships)  # doctest: +SKIP
    124
    """
    t0 = time.perf_counter()
    frame = load_frame()
    codes = select_counties(frame, counties)
    source = f"synthetic (optimizer sample, seed {seed})"
    logger.info("building synthetic sample for %d counties (seed %d)", len(codes), seed)
    parts = []
    for n, code in enumerate(codes, start=1):
        parts.append(build_county(frame, code, seed, source))
        if n % 20 == 0:
            logger.info("built %d of %d counties", n, len(codes))
    townships = gpd.GeoDataFrame(
        pd.concat([p.after for p in parts], ignore_index=True), crs=OUTPUT_CRS
    ).sort_values("code", ignore_index=True)
    before = gpd.GeoDataFrame(
        pd.concat([p.before for p in parts], ignore_index=True), crs=OUTPUT_CRS
    ).sort_values("code", ignore_index=True)
    type_order = {POLICE: 0, JUDICIAL: 1, COURT: 2}
    facilities = pd.concat([p.facilities for p in parts], ignore_index=True)
    facilities = facilities.sort_values(
        ["type", "id"],
        key=lambda s: s.map(type_order) if s.name == "type" else s,
        ignore_index=True,
    )
    facilities["staff"] = facilities["staff"].astype(np.int64)
    county_table = pd.DataFrame([p.row for p in parts], columns=list(COUNTY_FIELDS))
    roads = build_roads(frame, codes, parts, seed, source)
    villages = build_villages(townships, before, seed=seed, frame=frame)
    logger.info(
        "built %s townships (%s before), %s facilities, %s roads in %.1f s",
        f"{len(townships):,}",
        f"{len(before):,}",
        f"{len(facilities):,}",
        f"{len(roads):,}",
        time.perf_counter() - t0,
    )
    return Sample(
        townships=townships,
        townships_before=before,
        facilities=facilities,
        counties=county_table,
        seed=seed,
        county_codes=tuple(codes),
        request=counties if isinstance(counties, str) else ",".join(map(str, counties)),
        roads=roads,
        villages=villages,
    )
