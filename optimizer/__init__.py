"""Plan rural police stations, judicial offices and people's courts after a township merger.

The public entry points are importable from here::

    from optimizer import Policy, load_inputs, make_plan, write_plan

    inputs = load_inputs()  # the bundled synthetic sample; or load_inputs("data/my_county")
    plan = make_plan(inputs, Policy.from_dict({"police": {"reduction": 0.4}}))
    write_plan(plan, "out/forty")

``sample_dir()`` and ``scenarios_dir()`` say where the bundled sample and scenario files are.

They are loaded on first use, so ``import optimizer.solver`` (the geography-free core) stays
light. ``docs/architecture.md`` maps the stages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from optimizer.errors import DataError, InfeasibleError, OptimizerError, PolicyError, SolverError

if TYPE_CHECKING:
    from optimizer.inputs import Inputs, load_inputs
    from optimizer.outputs import write_plan
    from optimizer.paths import sample_dir, scenarios_dir
    from optimizer.pipeline import make_plan
    from optimizer.report import Plan
    from optimizer.rules import Policy, load_scenario
    from optimizer.solver import LocationProblem, LocationResult, SolveStatus, p_median, solve

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {
    "Inputs": "optimizer.inputs",
    "load_inputs": "optimizer.inputs",
    "write_plan": "optimizer.outputs",
    "make_plan": "optimizer.pipeline",
    "sample_dir": "optimizer.paths",
    "scenarios_dir": "optimizer.paths",
    "Plan": "optimizer.report",
    "Policy": "optimizer.rules",
    "load_scenario": "optimizer.rules",
    "LocationProblem": "optimizer.solver",
    "LocationResult": "optimizer.solver",
    "p_median": "optimizer.solver",
    "solve": "optimizer.solver",
    "SolveStatus": "optimizer.solver",
}

__all__ = [
    "DataError",
    "InfeasibleError",
    "Inputs",
    "LocationProblem",
    "LocationResult",
    "OptimizerError",
    "Plan",
    "Policy",
    "PolicyError",
    "SolveStatus",
    "SolverError",
    "__version__",
    "load_inputs",
    "load_scenario",
    "make_plan",
    "p_median",
    "sample_dir",
    "scenarios_dir",
    "solve",
    "write_plan",
]


def __getattr__(name: str) -> Any:
    """Load a public entry point on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
