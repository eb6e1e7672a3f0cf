"""Turn a policy, the inputs and their geography into one location problem per facility type."""

from optimizer.planning.plan import SUPPORTED_TYPES, SolveMemo, plan_types

__all__ = ["SUPPORTED_TYPES", "SolveMemo", "plan_types"]
