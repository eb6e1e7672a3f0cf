"""The wall-clock budget of one solve: a deadline fixed at entry, shared by every step.

``solve(prob, time_limit=...)`` gives the whole call ``time_limit`` seconds. Each step (the
starting heuristic, the Lagrangian tree, every MIP round, every independent block) gets only
what is left of it, so the call ends close to its limit with the best plan found so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """A start time and an optional deadline, both ``time.monotonic()`` values.

    Attributes
    ----------
    start
        When the call began.
    deadline
        When it must end; ``None`` for no limit.
    seconds
        The budget's length as given (``None`` for no limit), for messages.
    """

    start: float
    deadline: float | None
    seconds: float | None = None

    @classmethod
    def of(cls, seconds: float | None) -> Budget:
        """Return a budget of ``seconds`` from now (``None``: unlimited).

        Parameters
        ----------
        seconds
            Length of the budget.

        Returns
        -------
        Budget
            The budget, started now.
        """
        now = time.monotonic()
        if seconds is None:
            return cls(now, None)
        return cls(now, now + max(0.0, float(seconds)), seconds)

    def elapsed(self) -> float:
        """Return the seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float | None:
        """Return the seconds left (never negative), or ``None`` without a limit."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        """Return whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def cap(self, seconds: float) -> float:
        """Return ``seconds``, or what remains of the budget if that is less."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)

    def share(self, weight: float, total: float) -> float | None:
        """Return a ``weight / total`` share of what remains (``None`` without a limit).

        Parameters
        ----------
        weight
            Size of the step that gets the share (for example its allowed pairs).
        total
            Size of this step and of every step still to come.

        Returns
        -------
        float or None
            Seconds for the step; time a step leaves unused goes to the steps after it.
        """
        left = self.remaining()
        if left is None:
            return None
        return left * min(1.0, weight / total) if total > 0 else left

    def fraction(self, part: float) -> float | None:
        """Return the moment ``part`` of the whole budget after its start (``None``: no limit)."""
        if self.deadline is None:
            return None
        return self.start + part * (self.deadline - self.start)
