"""The whole planning call: inputs and a policy in, a checked :class:`~optimizer.report.Plan` out.

It runs the stages in order: spatial (projection, adjacency, travel) and planning (one
location problem per facility type, solved and decoded) in :func:`optimizer.planning.plan_types`,
then the report (rule checks, metrics, staffing) in :func:`optimizer.report.build_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence

from optimizer.inputs import Inputs
from optimizer.planning import plan_types
from optimizer.report import Plan, build_plan
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
        Decisions, jurisdictions, metrics, rule checks and solver reports.

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
    type_plans, notes, geography = plan_types(inputs, policy, types=types)
    return build_plan(
        inputs,
        policy,
        type_plans,
        notes=notes,
        graph=geography.graph,
        area_km2=geography.area_km2,
    )
