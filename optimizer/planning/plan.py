"""Plan each facility type in turn: formulate, solve on the shared time budget, decode.

Each facility type becomes one problem for the geography-free solver core
(:mod:`optimizer.planning.formulate` says how the rules become its blocks). Types are planned in
the order police stations, judicial offices, courts; with a co-location bonus, an office or
court in a township that keeps a station is preferred. Every solve draws on one
:class:`~optimizer.planning.budget.TimeBudget`; each type gets a fair share of what is left
when it starts, so a slow first type cannot leave the later ones no time at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DataError, InfeasibleError, PolicyError, SolverError
from optimizer.inputs import Inputs
from optimizer.planning.budget import TimeBudget
from optimizer.planning.decode import TypePlan, decode
from optimizer.planning.formulate import Formulated, formulate
from optimizer.planning.spec import TypeRules, rules_for
from optimizer.rules.policy import Policy, SolverSettings
from optimizer.schema import COURT, FACILITY_LABELS_ZH, FACILITY_TYPES, JUDICIAL, POLICE
from optimizer.solver import LocationProblem, LocationResult, SolveStatus, solve
from optimizer.spatial import Geography, project

__all__ = ["SUPPORTED_TYPES", "SolveMemo", "plan_types"]

logger = logging.getLogger(__name__)

#: Proven optima of earlier runs, by a digest of the problem and its solver settings.
SolveMemo = dict[str, LocationResult]

#: Entries a :data:`SolveMemo` keeps (the oldest go first).
SOLVE_MEMO_SIZE = 16

#: Facility types the planner can plan.
SUPPORTED_TYPES: tuple[str, ...] = (POLICE, JUDICIAL, COURT)


def plan_types(
    inputs: Inputs,
    policy: Policy,
    *,
    types: Sequence[str] | None = None,
    budget: TimeBudget | None = None,
    geography: Geography | None = None,
    solves: SolveMemo | None = None,
) -> tuple[list[TypePlan], list[str], Geography]:
    """Solve the facility types present in the data (or those selected), one after another.

    Parameters
    ----------
    inputs
        Validated inputs from :func:`optimizer.inputs.load_inputs`.
    policy
        Scenario settings.
    types
        Facility types to plan; default: every type present in the data.
    budget
        The run's time budget; default: ``policy.solver.time_limit`` seconds from now.
    geography
        The townships' geography made by :func:`optimizer.spatial.project` from these same
        inputs (a sweep computes it once and shares it between runs); default: computed here.
    solves
        Proven optima of earlier runs on the same townships (a sweep keeps one per region in
        each worker): a type whose problem and solver settings are exactly those of an entry
        takes its result instead of solving again, and a new proven optimum is added. Default:
        every type is solved.

    Returns
    -------
    type_plans : list of TypePlan
        One decoded plan per facility type, in planning order.
    notes : list of str
        Notes of the inputs and of the run.
    geography : Geography
        The projection, areas and adjacency computed on the way, for the report.

    Raises
    ------
    InfeasibleError
        When the rules cannot hold together; the message names the townships and numbers.
    PolicyError
        When a selected type is unknown.
    DataError
        When a selected type has no facilities in the data.
    SolverError
        When a type gets no plan at all; when its share of the time budget ran out, the
        message says which type, how many seconds it had and what time limit to give.
    """
    budget = budget or TimeBudget(policy.solver.time_limit)
    chosen, notes = _chosen_types(inputs, types)
    with budget.stage("spatial"):
        g = project(inputs) if geography is None else geography
    tw = inputs.townships
    type_plans: list[TypePlan] = []
    station_towns: set[str] = set()
    sizes = [float((inputs.facilities["type"] == t).sum()) for t in chosen]
    for k, t in enumerate(chosen):
        logger.debug("planning %s (%s) ...", t, FACILITY_LABELS_ZH[t])
        with budget.stage(t):
            spec = rules_for(t, inputs, g, policy)
            if t != POLICE and policy.colocation_bonus_km > 0 and station_towns:
                host = tw["code"].isin(station_towns).to_numpy()
                spec.site_bonus = np.where(host, policy.colocation_bonus_km * spec.weights, 0.0)
            # the formulation (and the travel times and adjacency it builds once for every
            # type) draws on the whole budget; the share starts with the solve
            f = formulate(inputs, g, spec, policy.travel, budget)
            share = budget.fair_share(sizes[k], sizes[k + 1 :])
            logger.info("%s: solving in %.1f s of the %.1f s left", t, share, budget.left())
            with budget.allot(t, share):
                try:
                    res = _solve_waiving(f, policy.solver, budget, solves)
                except SolverError as exc:
                    raise _out_of_time(t, exc, budget) from exc
            tp = decode(f, res, policy.travel)
        notes += spec.notes
        if t == POLICE:
            kept = tp.facilities[tp.facilities["decision"] == "keep"]
            station_towns = set(kept["township_code"])
        type_plans.append(tp)
    return type_plans, notes, g


def _out_of_time(t: str, exc: SolverError, budget: TimeBudget) -> SolverError:
    """Return the error of a type that got no plan, in the planner's words."""
    label = f"{FACILITY_LABELS_ZH[t]} ({t})"
    if not budget.share_used_up(t):
        return SolverError(f"{label}: {exc}")
    share = budget.shares[t]
    earlier = budget.share_began.get(t, 0.0)
    used = (
        f"; reading, geography, formulation and the earlier types used {earlier:.1f} s before it"
        if earlier > 0
        else ""
    )
    return SolverError(
        f"{label}: no feasible plan was found in this type's share of the time budget, "
        f"{share:.1f} s of the run's {budget.seconds:g} s{used}. Raise --time-limit "
        f"(solver.time_limit) to {budget.suggested_limit(t)} or more, or plan fewer "
        f"townships or types at a time. (solver: {exc})"
    )


def _chosen_types(inputs: Inputs, types: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Return the facility types to plan, in planning order, and the notes of the choice."""
    present = [t for t in FACILITY_TYPES if (inputs.facilities["type"] == t).any()]
    if types is None:
        chosen = [t for t in present if t in SUPPORTED_TYPES]
    else:
        unknown = [t for t in types if t not in FACILITY_TYPES]
        if unknown:
            raise PolicyError(
                f"unknown facility type(s) {unknown}; choose from {list(FACILITY_TYPES)}"
            )
        missing = [t for t in types if t not in present]
        if missing:
            raise DataError(f"the facilities file has no rows of type {missing}")
        chosen = [t for t in FACILITY_TYPES if t in types]
    if not chosen:
        raise DataError(
            f"no facilities of a plannable type ({', '.join(SUPPORTED_TYPES)}) in the data"
        )
    notes = list(inputs.notes)
    skipped = [t for t in present if t not in chosen]
    if skipped:
        notes.append(f"not planned in this run: {', '.join(skipped)}")
    return chosen, notes


def _solve_waiving(
    f: Formulated, settings: SolverSettings, budget: TimeBudget, solves: SolveMemo | None = None
) -> LocationResult:
    """Solve on the shared time budget; where infeasible with the caseload floor, waive it.

    "In principle" (原则上): where a court's minimum caseload cannot hold together with the
    other rules in a county, the floor is waived for that county and the plan says so. Every
    round draws on the same time budget. With ``solves``, a problem solved before (same
    arrays, same solver settings) takes its proven optimum; only a first-round proven optimum
    (nothing waived, no time limit reached) is kept for later runs, because it depends on
    nothing but the problem and the settings.
    """
    key = _memo_key(f.problem, settings) if solves is not None else ""
    if solves is not None and key in solves:
        logger.info("%s: proven optimal before (same problem); reused", f.ctx.spec.type)
        return dataclasses.replace(solves[key])
    ctx, spec = f.ctx, f.ctx.spec
    prob = f.problem
    waived: set[str] = set()
    while True:
        try:
            with budget.solving():
                res = solve(
                    prob,
                    solver=settings.solver,
                    time_limit=budget.remaining(),
                    gap=settings.gap,
                    threads=settings.threads,
                    seed=settings.seed,
                )
            break
        except InfeasibleError as exc:
            counties = {
                str(ctx.t_county[f.clients[i]])
                for blk in exc.client_blocks
                for i in np.asarray(blk).tolist()
            }
            if f.own_groups and _drop_own_groups(f, counties):
                prob = dataclasses.replace(prob, groups=f.problem.groups)
                continue
            if f.site_min is None or not counties or counties <= waived:
                raise InfeasibleError(
                    [f"{spec.type} ({ctx.label}): {p}" for p in exc.problems]
                    + _blocks_named(
                        exc.client_blocks or [np.arange(len(f.clients))], f.clients, ctx.tw
                    )
                    + _infeasibility_hints(spec)
                ) from exc
            _waive_floor(f, sorted(counties - waived))
            waived |= counties
            prob = dataclasses.replace(prob, site_min_load=f.site_min)
    if solves is not None and prob is f.problem and not waived and _reusable(res):
        solves[key] = res
        while len(solves) > SOLVE_MEMO_SIZE:
            solves.pop(next(iter(solves)))  # the oldest first
    if waived:
        spec.notes.append(
            f"{spec.type}: minimum caseload waived in {len(waived)} count(y/ies) where it cannot hold with the "
            "other court rules: " + ", ".join(sorted(waived))
        )
    return res


def _memo_key(prob: LocationProblem, settings: SolverSettings) -> str:
    """Return a digest of a problem's arrays and the settings that decide its solve."""
    raw = pickle.dumps(
        (prob, settings.solver, settings.gap, settings.threads, settings.seed), protocol=5
    )
    return hashlib.sha256(raw).hexdigest()


def _reusable(res: LocationResult) -> bool:
    """Return whether a result is a proven optimum reached within its time."""
    return res.status == SolveStatus.OPTIMAL and not res.time_limit_reached


def _drop_own_groups(f: Formulated, counties: set[str]) -> bool:
    """Drop clause 4's one-station-per-township groups where they made the problem infeasible.

    The township rule is 原则上: where it cannot hold with connected jurisdictions and the
    limits, the model chooses and every township left without a station is reported. Only the
    groups of the infeasible ``counties`` go (all of them when the solver names none), so that
    one county's conflict does not lift the rule elsewhere; each dropped county is recorded in
    its scope's limits (``own_dropped_counties``) for the clause-4 check.

    Returns
    -------
    bool
        Whether any group was dropped (False: the conflict lies elsewhere).
    """
    county_of = dict(zip(f.ctx.tw["code"].astype(str), f.ctx.t_county.astype(str), strict=True))
    own = set(f.own_groups)
    drop = {
        name for name in own if not counties or county_of.get(name.removeprefix("own_")) in counties
    }
    if not drop:
        return False
    hit = sorted({county_of.get(n.removeprefix("own_"), "") for n in drop} - {""})
    f.problem = dataclasses.replace(
        f.problem, groups=[g for g in f.problem.groups if g.name not in drop]
    )
    for lim in f.limits.values():
        if lim.get("own_forced"):
            lim["own_dropped_counties"] = sorted({*lim.get("own_dropped_counties", []), *hit})
    f.ctx.spec.notes.append(
        f"{f.ctx.spec.type}: one station per township above the threshold (clause 4) cannot "
        f"hold with connected jurisdictions and the limits in county(ies) {', '.join(hit)}; "
        "the model chooses there, and the townships left without one are listed"
    )
    f.own_groups = sorted(own - drop)
    logger.warning(
        "%s: clause-4 township groups dropped in %s (infeasible with them)",
        f.ctx.spec.type,
        ", ".join(hit),
    )
    return True


def _waive_floor(f: Formulated, counties: list[str]) -> None:
    """Waive the minimum caseload for every court of ``counties``, saying why."""
    spec = f.ctx.spec
    assert f.site_min is not None
    for county in counties:
        for j in np.flatnonzero(f.ctx.s_county == county).tolist():
            f.site_min[j] = np.nan
            f.remote.setdefault(
                j,
                f"{spec.min_load:g}件下限在本县（{county}）与相邻合并、辖区连片一并无法满足，"
                "整县放宽（非本庭自身理由）",
            )
        logger.warning(
            "%s: minimum caseload waived in county %s (infeasible with it)", spec.type, county
        )


def _blocks_named(blocks: list[Any], clients: np.ndarray, tw: pd.DataFrame) -> list[str]:
    """Name the townships of each independent part (county) that has no feasible plan."""
    out = []
    for blk in blocks:
        idx = clients[np.asarray(blk, dtype=np.int64)]
        if len(idx) == 0:
            continue
        codes = [f"{tw.at[int(i), 'code']!s} {tw.at[int(i), 'name']!s}" for i in idx[:15]]
        county = str(tw.at[int(idx[0]), "county_code"])
        more = f" and {len(idx) - 15} more" if len(idx) > 15 else ""
        out.append(f"county {county}: townships involved: {', '.join(codes)}{more}")
    return out


def _infeasibility_hints(spec: TypeRules) -> list[str]:
    hints = []
    if spec.contiguity:
        hints.append(
            "connected jurisdictions are required (contiguity): a pinned-closed facility or a "
            "distance limit may cut a county in two; try contiguity: false to see whether it is the cause"
        )
    if spec.min_load is not None:
        hints.append(
            f"every kept court must reach {spec.min_load:g} cases a year: lower court.min_cases"
        )
    if spec.reduction is not None:
        hints.append("the count limit may be too tight: lower the reduction or change the scope")
    return hints
