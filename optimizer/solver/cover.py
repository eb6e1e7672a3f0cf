"""Smallest set cover: the fewest exceptions a rule needs, decided before the main model runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pulp

from optimizer.errors import InfeasibleError
from optimizer.solver.budget import Budget
from optimizer.solver.highs import HiGHS

logger = logging.getLogger(__name__)

#: Seconds the exact cover gets when the caller sets no limit.
DEFAULT_SECONDS = 60.0


def min_cover(
    sets: Sequence[Sequence[int]], n_items: int, *, time_limit: float | None = None
) -> list[int]:
    """Return a smallest family of sets that covers every item (lowest indices on ties).

    Used to decide the fewest exceptions a rule needs, before the main model runs.

    Parameters
    ----------
    sets
        ``sets[k]`` lists the items that set ``k`` covers.
    n_items
        Items are ``0 .. n_items - 1``; every one must be covered by some set.
    time_limit
        Seconds for the whole call (default: 60 s for the solver). If the exact cover is not
        proven in time, a valid cover that may not be the smallest is returned (the better of
        the solver's and a greedy one) and a warning says so.

    Returns
    -------
    list of int
        Indices of the chosen sets, sorted.

    Raises
    ------
    InfeasibleError
        If some item lies in no set.
    """
    budget = Budget.of(DEFAULT_SECONDS if time_limit is None else time_limit)
    covering: list[list[int]] = [[] for _ in range(n_items)]
    for k, members in enumerate(sets):
        for item in members:
            covering[int(item)].append(k)
    lonely = [i for i, c in enumerate(covering) if not c]
    if lonely:
        raise InfeasibleError(f"items {lonely[:20]} lie in no set")
    if n_items == 0:
        return []
    model = pulp.LpProblem("cover", pulp.LpMinimize)
    x = [pulp.LpVariable(f"s{k}", cat=pulp.LpBinary) for k in range(len(sets))]
    # a tiny tie-break towards low indices keeps the answer deterministic
    model.setObjective(
        pulp.LpAffineExpression([(v, 1.0 + 1e-6 * k / max(1, len(x))) for k, v in enumerate(x)])
    )
    for i, ks in enumerate(covering):
        model.addConstraint(
            pulp.LpConstraint([(x[k], 1.0) for k in ks], pulp.LpConstraintGE, f"c{i}", 1)
        )
    engine = HiGHS(msg=False, timeLimit=budget.remaining(), deadline=budget.deadline)
    model.solve(engine)
    chosen = [k for k, v in enumerate(x) if (v.varValue or 0.0) > 0.5]
    if engine.model_status.lower() == "optimal":
        return chosen
    greedy = greedy_cover(covering, len(sets))
    if _covers(chosen, covering) and len(chosen) <= len(greedy):
        found = chosen
    else:
        found = greedy
    logger.warning(
        "smallest cover not proven within %g s: using %d of %d sets, which may not be the fewest",
        budget.seconds,
        len(found),
        len(sets),
    )
    return found


def greedy_cover(covering: list[list[int]], n_sets: int) -> list[int]:
    """Return a cover built greedily: the set covering most uncovered items first.

    Parameters
    ----------
    covering
        ``covering[i]`` lists the sets that cover item ``i`` (none empty).
    n_sets
        Number of sets.

    Returns
    -------
    list of int
        Sorted indices of the chosen sets (lowest index on ties).
    """
    members: list[set[int]] = [set() for _ in range(n_sets)]
    for i, ks in enumerate(covering):
        for k in ks:
            members[k].add(i)
    uncovered = set(range(len(covering)))
    chosen: list[int] = []
    while uncovered:
        k = max(range(n_sets), key=lambda s: (len(members[s] & uncovered), -s))
        chosen.append(k)
        uncovered -= members[k]
    return sorted(chosen)


def _covers(chosen: list[int], covering: list[list[int]]) -> bool:
    """Return whether the sets ``chosen`` cover every item."""
    picked = set(chosen)
    return all(picked.intersection(ks) for ks in covering)
