"""Cut the inputs down to one region: a prefecture (4-digit code), a county (6 digits) or all."""

from __future__ import annotations

import dataclasses

from optimizer.inputs import Inputs

__all__ = ["region_inputs", "region_label"]

#: Degrees of road network kept around a region's townships (about 20 km), so that roads that
#: leave and re-enter the region still link its townships.
ROAD_MARGIN_DEG = 0.2


def region_inputs(inputs: Inputs, region: str) -> Inputs:
    """Return the townships, facilities, counties and roads of one region.

    Parameters
    ----------
    inputs
        The whole data set.
    region
        ``"all"`` or a code prefix of the counties to keep (``"5118"``, ``"513222"``).

    Returns
    -------
    Inputs
        A new object; ``inputs`` is not modified. Roads are clipped to the region's bounding
        box widened by :data:`ROAD_MARGIN_DEG`.
    """
    if region == "all":
        return inputs
    tw = inputs.townships[inputs.townships["county_code"].str.startswith(region)]
    fac = inputs.facilities[inputs.facilities["county_code"].str.startswith(region)]
    counties = inputs.counties
    if counties is not None:
        counties = counties[counties["county_code"].str.startswith(region)].reset_index(drop=True)
    roads = inputs.roads
    if roads is not None:
        x0, y0, x1, y1 = tw.total_bounds
        m = ROAD_MARGIN_DEG
        roads = roads.cx[x0 - m : x1 + m, y0 - m : y1 + m].reset_index(drop=True)
    return dataclasses.replace(
        inputs,
        townships=tw.reset_index(drop=True),
        facilities=fac.reset_index(drop=True),
        counties=counties,
        notes=[*inputs.notes, f"planned for region {region} only"],
        roads=roads,
    )


def region_label(region: str) -> str:
    """Return the region as planners read it: ``全部`` or the code.

    Parameters
    ----------
    region
        ``"all"`` or a code.

    Returns
    -------
    str
        The label.
    """
    return "全部" if region == "all" else region
