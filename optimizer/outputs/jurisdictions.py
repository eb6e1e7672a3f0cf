"""Service areas (辖区): the townships each kept facility serves, dissolved into one polygon."""

from __future__ import annotations

import geopandas as gpd

from optimizer.report.plan import Plan

__all__ = ["jurisdictions"]


def jurisdictions(plan: Plan, facility_type: str) -> gpd.GeoDataFrame:
    """Dissolve townships into one service area (辖区) per kept facility.

    Parameters
    ----------
    plan
        A plan.
    facility_type
        Which facility type.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per kept facility: ``facility_id``, ``name``, ``township_code``,
        ``n_townships``, ``population``, ``incidents``, ``central`` and the dissolved polygon.
    """
    col = f"served_by__{facility_type}"
    parts = plan.townships[[col, "population", "incidents", "geometry"]].rename(
        columns={col: "facility_id"}
    )
    out = parts.dissolve(by="facility_id", aggfunc={"population": "sum", "incidents": "sum"})
    out["n_townships"] = parts.groupby("facility_id").size()
    out = out.reset_index()
    f = plan.facilities[plan.facilities["type"] == facility_type].set_index("id")
    out["name"] = out["facility_id"].map(f["name"])
    out["township_code"] = out["facility_id"].map(f["township_code"])
    out["central"] = out["facility_id"].map(f["central"]).astype(bool)
    cols = [
        "facility_id",
        "name",
        "township_code",
        "n_townships",
        "population",
        "incidents",
        "central",
        "geometry",
    ]
    return out[cols].sort_values("facility_id").reset_index(drop=True)
