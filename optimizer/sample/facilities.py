"""The current (pre-reform) facilities of one county: police stations, judicial offices, courts.

Facilities sit at the pre-merger (2018) township seats; ``docs/sample.md`` (step 9) gives the
rules and the staff formulas. All draws come from the county's random stream, township by
township (station, then office), then the courts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.sample.cells import random_point_in
from optimizer.sample.formats import FACILITY_FIELDS
from optimizer.sample.frame import WORK_CRS
from optimizer.schema import COURT, JUDICIAL, KIND_STREET, KIND_TOWN, KIND_TOWNSHIP, POLICE

__all__ = ["Seats", "place_facilities"]

#: Probability that a pre-merger unit has no police station / judicial office of its own.
_NO_STATION = {KIND_STREET: 0.08, KIND_TOWN: 0.005, KIND_TOWNSHIP: 0.03}
_NO_OFFICE = {KIND_STREET: 0.10, KIND_TOWN: 0.0, KIND_TOWNSHIP: 0.01}
#: Population above which a pre-merger unit has a second police station.
_SECOND_STATION_POP = {KIND_STREET: 90_000, KIND_TOWN: 80_000, KIND_TOWNSHIP: 10**9}

_NAME_SUFFIX = re.compile(r"(街道办事处|街道|[\u4e00-\u9fff]{1,3}族乡|镇|乡)$")


def _short_name(name: str) -> str:
    short = _NAME_SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


@dataclass
class Seats:
    """The pre-merger townships of one county, as the facilities are placed on them.

    Attributes
    ----------
    codes, names, kinds
        2018 code, name and kind of each pre-merger township.
    population
        Its synthetic population.
    township_codes
        Code of the 2023 township it merged into.
    lon, lat
        Its seat in degrees, rounded to 6 decimals.
    points
        Its Voronoi seed point (metric CRS), for the distances between courts.
    cells
        Its cell (metric CRS), for a second police station.
    """

    codes: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    population: np.ndarray
    township_codes: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    points: np.ndarray
    cells: np.ndarray


def _police_stations(
    rng: np.random.Generator, seats: Seats, i: int, base: dict[str, object]
) -> list[dict[str, object]]:
    """Draw the police station(s) of pre-merger township ``i``.

    Parameters
    ----------
    rng
        The county's random stream.
    seats
        The county's pre-merger townships.
    i
        Which one.
    base
        ``township_code``, ``county_code`` and ``source`` of its records.

    Returns
    -------
    list of dict
        No station, one at the seat, or (above ``_SECOND_STATION_POP``) a second one at a
        random point of the cell.
    """
    k = seats.kinds[i]
    if rng.random() < _NO_STATION[k]:
        return []
    pop = seats.population[i]
    short = _short_name(str(seats.names[i]))
    staff = {KIND_STREET: 6.0, KIND_TOWN: 4.0, KIND_TOWNSHIP: 3.0}[k] + pop / 5000.0
    staff = int(np.clip(round(staff * rng.lognormal(0, 0.2)), 4, 25))
    out: list[dict[str, object]] = [
        {
            **base,
            "id": f"PS-{seats.codes[i]}",
            "type": POLICE,
            "name": f"{short}派出所",
            "lon": seats.lon[i],
            "lat": seats.lat[i],
            "staff": staff,
        }
    ]
    if pop > _SECOND_STATION_POP[k]:
        p2 = random_point_in(rng, seats.cells[i])
        ll = gpd.GeoSeries([p2], crs=WORK_CRS).to_crs("EPSG:4326").iloc[0]
        out.append(
            {
                **base,
                "id": f"PS-{seats.codes[i]}-2",
                "type": POLICE,
                "name": f"{short}第二派出所",
                "lon": round(ll.x, 6),
                "lat": round(ll.y, 6),
                "staff": int(np.clip(round(staff * 0.8), 4, 25)),
            }
        )
    return out


def _judicial_office(
    rng: np.random.Generator, seats: Seats, i: int, base: dict[str, object]
) -> list[dict[str, object]]:
    """Draw the judicial office of pre-merger township ``i``.

    Parameters
    ----------
    rng
        The county's random stream.
    seats
        The county's pre-merger townships.
    i
        Which one.
    base
        ``township_code``, ``county_code`` and ``source`` of its record.

    Returns
    -------
    list of dict
        No office, or one at the seat with 1-5 staff.
    """
    if rng.random() < _NO_OFFICE[seats.kinds[i]]:
        return []
    staff = 1.0 + seats.population[i] / 15000.0
    staff = int(np.clip(round(staff * rng.lognormal(0, 0.3)), 1, 5))
    return [
        {
            **base,
            "id": f"JO-{seats.codes[i]}",
            "type": JUDICIAL,
            "name": f"{_short_name(str(seats.names[i]))}司法所",
            "lon": seats.lon[i],
            "lat": seats.lat[i],
            "staff": staff,
        }
    ]


def _court_sites(rng: np.random.Generator, seats: Seats) -> tuple[np.ndarray, list[int]]:
    """Choose the pre-merger townships that hold a people's court.

    Parameters
    ----------
    rng
        The county's random stream.
    seats
        The county's pre-merger townships.

    Returns
    -------
    rural : numpy.ndarray
        Indices of the rural (镇/乡) townships.
    picked : list of int
        The court sites among them (none with fewer than 3 rural townships): the most populous
        town first, then the farthest (weighted by √population) one after another.
    """
    rural_i = np.flatnonzero(seats.kinds != KIND_STREET)
    n_courts = 0
    if len(rural_i) >= 3:
        n_courts = max(1, round(len(rural_i) / rng.uniform(3.5, 5.5)))
    if not n_courts:
        return rural_i, []
    pts, pre_pop = seats.points, seats.population
    town_first = rural_i[
        np.argsort(-(pre_pop[rural_i] * (1 + (seats.kinds[rural_i] == KIND_TOWN))), kind="stable")
    ]
    picked = [int(town_first[0])]
    while len(picked) < n_courts:
        d = np.min(
            np.hypot(*(pts[rural_i][:, None, :] - pts[picked][None, :, :]).transpose(2, 0, 1)),
            axis=1,
        )
        score = d * np.sqrt(pre_pop[rural_i] + 1.0) * rng.uniform(0.8, 1.0, len(rural_i))
        score[np.isin(rural_i, picked)] = -1.0
        picked.append(int(rural_i[np.argmax(score)]))
    return rural_i, picked


def _courts(
    rng: np.random.Generator, seats: Seats, county_code: str, source: str
) -> list[dict[str, object]]:
    """Draw the people's courts of a county and their staff.

    Parameters
    ----------
    rng
        The county's random stream.
    seats
        The county's pre-merger townships.
    county_code, source
        Written on every record.

    Returns
    -------
    list of dict
        One record per court, in the order of the 2018 township index; staff 3-12 from the
        population of the rural townships nearest to it.
    """
    rural_i, picked = _court_sites(rng, seats)
    if not picked:
        return []
    pts, pre_pop = seats.points, seats.population
    served = rural_i[
        np.argmin(
            np.hypot(*(pts[rural_i][:, None, :] - pts[picked][None, :, :]).transpose(2, 0, 1)),
            axis=1,
        )
    ]
    out: list[dict[str, object]] = []
    for i in sorted(picked):
        spop = pre_pop[rural_i][served == i].sum()
        staff = int(np.clip(round((3 + spop / 30000.0) * rng.lognormal(0, 0.2)), 3, 12))
        out.append(
            {
                "township_code": seats.township_codes[i],
                "county_code": county_code,
                "source": source,
                "id": f"CT-{seats.codes[i]}",
                "type": COURT,
                "name": f"{_short_name(str(seats.names[i]))}人民法庭",
                "lon": seats.lon[i],
                "lat": seats.lat[i],
                "staff": staff,
            }
        )
    return out


def place_facilities(
    rng: np.random.Generator, seats: Seats, county_code: str, source: str
) -> pd.DataFrame:
    """Draw the current police stations, judicial offices and courts of one county.

    Parameters
    ----------
    rng
        The county's random stream, consumed township by township (station, office), then
        for the courts.
    seats
        The county's pre-merger townships.
    county_code
        The county's code.
    source
        The ``source`` label of the records.

    Returns
    -------
    pandas.DataFrame
        One row per facility with the columns ``FACILITY_FIELDS``.
    """
    fac: list[dict[str, object]] = []
    for i in range(len(seats.codes)):
        base = {
            "township_code": seats.township_codes[i],
            "county_code": county_code,
            "source": source,
        }
        fac += _police_stations(rng, seats, i, base)
        fac += _judicial_office(rng, seats, i, base)
    fac += _courts(rng, seats, county_code, source)
    return pd.DataFrame(fac, columns=list(FACILITY_FIELDS))
