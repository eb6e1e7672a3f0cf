"""The solver core: location problems in, location results out.

It knows no geography and no tables: clients, sites, allowed pairs with their costs, groups of
sites with count bounds, optional contiguity and loads (numpy, scipy, pulp and highspy only).
"""

from optimizer.solver.locate import (
    LocationProblem,
    LocationResult,
    SiteGroup,
    min_cover,
    p_median,
    solve,
)

__all__ = ["LocationProblem", "LocationResult", "SiteGroup", "min_cover", "p_median", "solve"]
