"""Projection, seats, areas and adjacency of the townships, computed once per plan."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.inputs import Inputs
from optimizer.inputs import geometry as geo
from optimizer.spatial import network

__all__ = ["Geography", "project", "site_xy", "township_edges"]

logger = logging.getLogger(__name__)


@dataclass
class Geography:
    """Projected seats, areas and (lazily) the adjacency graph, shared by the facility types."""

    seats_xy: np.ndarray  # (n_townships, 2) metres
    area_km2: np.ndarray
    crs: str
    edges: np.ndarray | None = None  # within-county township index pairs
    graph: Any = None  # networkx adjacency graph, built on first use
    road: Any = None  # networkx road graph, built on first use
    travel_source: str = ""
    # travel minutes by (sites, pairs, speeds) key: computed once per region and reused by every
    # facility type and run that asks for the same pairs (a sweep shares this object per worker)
    travel_cache: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def project(inputs: Inputs) -> Geography:
    """Return the townships' seats and areas in a projected CRS (metres)."""
    crs = geo.projected_crs(inputs.townships)
    seats = geo.township_seats(inputs.townships).to_crs(crs)
    area = inputs.townships.geometry.to_crs(crs).area.to_numpy() / 1e6
    return Geography(
        np.column_stack([seats.x.to_numpy(), seats.y.to_numpy()]), area, crs.to_string()
    )


def township_edges(inputs: Inputs, g: Geography) -> np.ndarray:
    """Within-county adjacency as township index pairs (built once, on first use)."""
    if g.edges is None:
        graph = network.township_adjacency(inputs.townships)
        g.graph = graph
        index = {c: i for i, c in enumerate(inputs.townships["code"])}
        pairs = [
            (index[a], index[b])
            for a, b, d in graph.edges(data=True)
            if not d.get("cross_county", False)
        ]
        g.edges = np.asarray(sorted(pairs), dtype=np.int64).reshape(-1, 2)
        logger.info("township adjacency: %d within-county links", len(g.edges))
    return g.edges


def site_xy(facilities: pd.DataFrame, crs: str) -> np.ndarray:
    """Return the facilities' points as (n, 2) metres in ``crs``."""
    pts = geo.facility_points(facilities).to_crs(crs)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
