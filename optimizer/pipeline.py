"""The whole planning call: inputs and a policy in, a checked :class:`~optimizer.report.Plan` out.

It runs the stages in order: spatial (projection, adjacency, travel) and planning (one
location problem per facility type, solved and decoded) in :func:`optimizer.planning.plan_types`,
then the report (rule checks, metrics, staffing) in :func:`optimizer.report.build_plan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from optimizer.inputs import Inputs
from optimizer.planning import SolveMemo, plan_types
from optimizer.planning.budget import TimeBudget
from optimizer.progress import NO_PROGRESS, Progress
from optimizer.report import Plan, build_plan
from optimizer.report.grassroots import build_grassroots  # grassroots (issue 14)
from optimizer.report.metrics import TimeBudgetReport
from optimizer.rules import Policy
from optimizer.rules.overrides import apply_township_overrides
from optimizer.schema import FACILITY_LABELS_ZH
from optimizer.spatial import Geography

__all__ = ["make_plan"]


class _ReportedBudget(TimeBudget):
    """The run's time budget, which also announces each of its stages to a progress display."""

    def __init__(self, seconds: float, progress: Progress, labels: dict[str, str]) -> None:
        super().__init__(seconds)
        self._progress = progress
        self._labels = labels

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the block's seconds to ``name`` and show it as one stage."""
        with self._progress.stage(name, self._labels.get(name, name)), super().stage(name):
            yield


def _stage_labels(inputs: Inputs) -> dict[str, str]:
    n_towns = len(inputs.townships)
    labels = {
        "spatial": f"地理：投影、相邻关系与距离（{n_towns:,} 个乡镇）",
        "report": "规则检查、指标与人员配置",
    }
    if inputs.villages is not None:  # grassroots (issue 14)
        n_vill = len(inputs.villages.villages)
        labels["grassroots"] = f"网格、综治中心、雪亮工程与人民调解员（{n_vill:,} 个村（社区））"
    counts = inputs.facilities["type"].astype(str).value_counts()
    for t, zh in FACILITY_LABELS_ZH.items():
        labels[t] = f"求解 {zh}布局（现有 {int(counts.get(t, 0)):,} 个）"
    return labels


def make_plan(
    inputs: Inputs,
    policy: Policy | None = None,
    *,
    types: Sequence[str] | None = None,
    geography: Geography | None = None,
    progress: Progress = NO_PROGRESS,
    solves: SolveMemo | None = None,
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
    geography
        The inputs' geography (:func:`optimizer.spatial.project`, with the adjacency and road
        graph filled in or not), shared by runs on the same townships; default: computed here.
    progress
        Told of each stage (geography, each type's solve, the report); default: silent.
    solves
        Proven optima of earlier plans on the same townships, reused where a type's problem
        is exactly one of theirs, and extended (:func:`optimizer.planning.plan_types`).

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
        When a selected type is unknown, or a township override names a code or id the data
        does not have.
    DataError
        When a selected type has no facilities in the data.
    """
    policy = policy or Policy()
    budget = _ReportedBudget(policy.solver.time_limit, progress, _stage_labels(inputs))
    inputs = apply_township_overrides(inputs, policy)
    type_plans, notes, geography = plan_types(
        inputs, policy, types=types, budget=budget, geography=geography, solves=solves
    )
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
