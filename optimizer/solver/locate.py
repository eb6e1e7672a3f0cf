"""Former home of the solver core, kept only so that old imports keep working.

Import from :mod:`optimizer.solver` instead; this module can go once
``optimizer/planning/plan.py`` and ``tests/test_contiguity.py`` do.
"""

from optimizer.solver.core import p_median, solve
from optimizer.solver.cover import min_cover
from optimizer.solver.problem import LocationProblem, LocationResult, SiteGroup, SolveStatus

__all__ = [
    "LocationProblem",
    "LocationResult",
    "SiteGroup",
    "SolveStatus",
    "min_cover",
    "p_median",
    "solve",
]
