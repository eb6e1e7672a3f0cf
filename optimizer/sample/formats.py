"""Coordinate system, coordinate grid and columns of the sample's tables and files."""

from __future__ import annotations

__all__ = [
    "BEFORE_FIELDS",
    "COUNTY_FIELDS",
    "FACILITY_FIELDS",
    "GRID_DEG",
    "OUTPUT_CRS",
    "ROAD_FIELDS",
    "TOWNSHIP_FIELDS",
]

#: CRS of the written files: CGCS2000, as planners have their data.
OUTPUT_CRS = "EPSG:4490"
#: Coordinates are snapped to this grid (degrees, about 0.1 m) so that files are reproducible.
GRID_DEG = 1e-6

TOWNSHIP_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "county_code",
    "kind",
    "population",
    "incidents",
    "tibetan_area",
    "cases",
    "villages_before",
    "households",
)
BEFORE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "county_code",
    "county_code_2018",
    "kind",
    "merged_into",
    "population",
    "villages",
)
FACILITY_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "name",
    "township_code",
    "county_code",
    "lon",
    "lat",
    "staff",
    "source",
)
ROAD_FIELDS: tuple[str, ...] = ("class", "speed_kmh", "source")
COUNTY_FIELDS: tuple[str, ...] = (
    "county_code",
    "name",
    "city_name",
    "population",
    "households",
    "tibetan_area",
    "townships_before",
    "townships",
    "police_total",
    "judicial_establishment",
    "new_police_recruits",
    "source",
)
