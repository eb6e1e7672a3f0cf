"""The Plan: decisions with rule checks, metrics and the staffing proposal derived from them."""

from optimizer.report.checks import Check
from optimizer.report.plan import Plan, build_plan

__all__ = ["Check", "Plan", "build_plan"]
