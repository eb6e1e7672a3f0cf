"""The solver core: location problems in, location results out.

It knows no geography and no tables: clients, sites, allowed pairs with their costs, groups of
sites with count bounds, optional contiguity and loads (numpy, scipy, pulp and highspy only).

Modules: :mod:`~optimizer.solver.problem` (the problem, result and status types),
:mod:`~optimizer.solver.core` (:func:`solve`, :func:`p_median`, independent blocks),
:mod:`~optimizer.solver.budget` (the time budget of a call), :mod:`~optimizer.solver.radius`
(the radius MIP), :mod:`~optimizer.solver.assignment` (the assignment MIP with contiguity
cuts), :mod:`~optimizer.solver.tree`, :mod:`~optimizer.solver.lagrangian` and
:mod:`~optimizer.solver.dense` (the Lagrangian path of pure p-medians),
:mod:`~optimizer.solver.greedy` and :mod:`~optimizer.solver.swap` (starting plans),
:mod:`~optimizer.solver.highs` (HiGHS and CBC through pulp), :mod:`~optimizer.solver.blocks`
and :mod:`~optimizer.solver.cover` (:func:`min_cover`), :mod:`~optimizer.solver.districts`
(exact districting of small block graphs by enumeration, and a fixed-order cut of large ones).
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
