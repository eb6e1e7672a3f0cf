"""Where the bundled data lives, whether the package is installed or run from a checkout.

An installed package carries ``data/frame`` and ``data/sample`` as the subpackages
``optimizer.frame_data`` and ``optimizer.sample_data``. Run from a source checkout (for example
the test suite, whose working directory puts the checkout's ``optimizer/`` first on the path),
those subpackages do not exist and the folders are found beside the package instead.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["frame_dir", "sample_dir", "scenarios_dir"]


def _data_dir(subpackage: str, folder: str) -> Path:
    try:
        found = Path(str(importlib.resources.files(f"optimizer.{subpackage}")))
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parent.parent / "data" / folder
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"the bundled data folder '{folder}' is missing: reinstall the package (pip install .)"
    )


def frame_dir() -> Path:
    """Return the folder of the real public Sichuan frame (county polygons, code lists, census).

    Returns
    -------
    pathlib.Path
        A folder holding ``sichuan_counties.gpkg`` and the CSV tables.
    """
    return _data_dir("frame_data", "frame")


def sample_dir() -> Path:
    """Return the folder of the bundled SYNTHETIC sample.

    Returns
    -------
    pathlib.Path
        A data folder with ``townships.gpkg``, ``facilities.csv``, ``counties.csv``, ``roads.gpkg``.
    """
    return _data_dir("sample_data", "sample")


def scenarios_dir() -> Path:
    """Return the folder of the bundled scenario files (``baseline.yaml``, ``cut40.yaml`` ...).

    Returns
    -------
    pathlib.Path
        The repository's ``scenarios/`` folder, installed as ``optimizer.scenario_data``.
    """
    return _data_dir("scenario_data", "../scenarios").resolve()
