"""Public exception family.

Planners and notebooks catch these apart: bad input data is theirs to fix, a bad policy is a
scenario setting, an infeasible scenario needs a relaxed rule, and a solver failure is ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "DataError",
    "InfeasibleError",
    "OptimizerError",
    "OutputError",
    "PolicyError",
    "SolverError",
]


class OptimizerError(Exception):
    """Base class of every error this package raises on purpose."""


class _ProblemList(OptimizerError):
    """An error that carries every problem found, not just the first one."""

    title = "problems"

    def __init__(self, problems: Iterable[str] | str, *, title: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = [str(p) for p in problems]
        if title is not None:
            self.title = title
        super().__init__(self.format())

    def format(self) -> str:
        """Return one readable message listing every problem.

        Returns
        -------
        str
            A heading with the number of problems, then one numbered line per problem.
        """
        n = len(self.problems)
        if n == 1:
            return f"{self.title}: {self.problems[0]}"
        lines = [f"{self.title} ({n} problems):"]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, start=1)]
        return "\n".join(lines)


class DataError(_ProblemList):
    """Input data that cannot be used as it is: missing columns, bad codes, bad geometry."""

    title = "input data cannot be used"


class PolicyError(_ProblemList):
    """A policy or scenario setting that is invalid (unknown key, out-of-range value)."""

    title = "invalid policy"


class OutputError(_ProblemList):
    """The output folder cannot take the files: it is an input, the wrong kind, or not writable.

    Raised before the first byte is written when the destination is checked, and when the file
    system fails while writing (full disk, permissions); either way nothing was changed.
    """

    title = "the output cannot be written"


class InfeasibleError(_ProblemList):
    """The scenario's rules cannot all hold at once; the message says which and by how much.

    Attributes
    ----------
    client_blocks
        When independent parts of a problem were solved one by one, the client indices of each
        part that has no feasible plan (empty otherwise).
    """

    title = "the scenario is infeasible"

    def __init__(self, problems: Iterable[str] | str, *, title: str | None = None) -> None:
        super().__init__(problems, title=title)
        self.client_blocks: list[Any] = []


class SolverError(OptimizerError):
    """The solver failed or returned no usable solution."""
