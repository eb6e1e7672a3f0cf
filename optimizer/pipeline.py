"""The whole planning call: inputs and a policy in, a checked :class:`~optimizer.report.Plan` out.

It runs the stages in order: spatial (projection, adjacency, travel) and planning (one
location problem per facility type, solved and decoded) in :func:`optimizer.planning.plan_types`,
then the report (rule checks, metrics, staffing) in :func:`optimizer.report.build_plan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from optimizer.inputs import Inputs
from optimizer.planning import plan_types
from optimizer.planning.budget import TimeBudget
from optimizer.report import Plan, build_plan
from optimizer.report.grassroots import build_grassroots  # grassroots (issue 14)
from optimizer.report.metrics import TimeBudgetReport
from optimizer.rules import Policy

__all__ = ["make_plan"]


def make_plan(
    inputs: Inputs,
    policy: Policy | None = None,
    *,
    types: Sequence[str] | None = None,
) -> Plan:
    """Plan the facility types present in the data (or those selected).

    Parameters
    ----------
    inputs
        Validated inputs from :func:`optimizer.inputs.load_inputs`.
    policy
        Scenario settings; default: the work plan's values.
    types
        Facility types to plan; default: every type present in the data.

    Returns
    -------
    Plan
        Decisions, jurisdictions, metrics, rule checks and solver reports. The policy's
        ``solver.time_limit`` is one budget for the whole call: every facility type, every
        waive round and every cover problem draws on it; ``plan.solver.budget`` says how it
        was spent (seconds per stage, seconds in the solver core, whether the deadline passed).

    Raises
    ------
    InfeasibleError
        When the rules cannot hold together; the message names the townships and numbers.
    PolicyError
        When a selected type is unknown.
    DataError
        When a selected type has no facilities in the data.
    """
    policy = policy or Policy()
    budget = TimeBudget(policy.solver.time_limit)
    type_plans, notes, geography = plan_types(inputs, policy, types=types, budget=budget)
    with budget.stage("report"):
        plan = build_plan(
            inputs,
            policy,
            type_plans,
            notes=notes,
            graph=geography.graph,
            area_km2=geography.area_km2,
        )
    # grassroots (issue 14): grids, 综治中心, 雪亮工程 and mediators below the township
    with budget.stage("grassroots"):
        grassroots = build_grassroots(inputs, policy, budget)
    if grassroots is not None:
        plan = dataclasses.replace(
            plan,
            grassroots=grassroots,
            checks=[*plan.checks, *grassroots.checks],
            notes=[*plan.notes, *grassroots.notes],
        )
    report = TimeBudgetReport(
        limit_seconds=budget.seconds,
        seconds=round(budget.elapsed(), 3),
        solving_seconds=round(budget.solving_seconds, 3),
        deadline_reached=any(r.time_limit_reached for r in plan.solver.by_type.values()),
        stage_seconds=dict(budget.stage_seconds),
    )
    return dataclasses.replace(plan, solver=dataclasses.replace(plan.solver, budget=report))
