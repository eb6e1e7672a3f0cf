"""Decoded plans: the solver's open sites and assignment turned back into facilities and townships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.solver import LocationResult

__all__ = ["TypePlan"]


@dataclass
class TypePlan:
    """The solved plan of one facility type, before checks and metrics are derived."""

    type: str
    facilities: pd.DataFrame
    assignment: pd.DataFrame
    result: LocationResult
    weight: str
    scope: str
    reduction: float | None
    limits: dict[str, dict[str, Any]]
    max_distance_km: float | None
    circuity: float
    central_min_townships: int
    pinned_open: tuple[str, ...] = ()
    pinned_closed: tuple[str, ...] = ()
    screen_rule: str = ""
    contiguity: bool = False
    min_load: float | None = None
    adjacent_only: bool = False
    court_neighbours: dict[str, list[str]] = field(default_factory=dict)
    weights: np.ndarray | None = None
    site_bonus: np.ndarray | None = None
    cost_basis: str = "distance"
    travel_source: str = ""
    max_minutes: float | None = None
    worse_minutes: float = 15.0
