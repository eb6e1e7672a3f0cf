"""One time budget per run: a slow first facility type still leaves every later type a share.

The clock is faked, so nothing here depends on how loaded the machine is.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

import optimizer.planning.budget as budget_mod
import optimizer.planning.plan as plan_mod
from optimizer.cli import bundled_sample
from optimizer.errors import SolverError
from optimizer.inputs.reading import Inputs, load_inputs
from optimizer.planning.budget import TimeBudget
from optimizer.rules.policy import Policy
from optimizer.schema import COURT, JUDICIAL, POLICE


class Clock:
    """A fake ``time`` module whose ``monotonic`` only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(budget_mod, "time", c)
    return c


@lru_cache(maxsize=1)
def _sample() -> Inputs:
    return load_inputs(bundled_sample())


def _fake_plan(t: str) -> Any:
    cols = {"decision": pd.Series(dtype=str), "township_code": pd.Series(dtype=str)}
    return SimpleNamespace(type=t, facilities=pd.DataFrame(cols))


def _fake_types(monkeypatch: pytest.MonkeyPatch, solve: Any) -> None:
    """Replace the formulation, the solve and the decoding by fakes; ``solve(t, budget)``."""

    def formulate(inputs: Any, g: Any, spec: Any, travel: Any, budget: TimeBudget) -> Any:
        return SimpleNamespace(type=spec.type)

    monkeypatch.setattr(plan_mod, "formulate", formulate)
    monkeypatch.setattr(plan_mod, "_solve_waiving", lambda f, s, b, memo=None: solve(f.type, b) or f.type)
    monkeypatch.setattr(plan_mod, "decode", lambda f, res, travel: _fake_plan(f.type))


def test_a_first_type_that_overruns_leaves_the_later_types_their_share(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, float] = {}

    def slow_police(t: str, budget: TimeBudget) -> None:
        seen[t] = budget.remaining()
        if t == POLICE:
            clock.now += 10_000  # the police solve overruns the whole run's budget
        else:
            clock.now += budget.remaining()  # each later type uses all it is given

    _fake_types(monkeypatch, slow_police)
    budget = TimeBudget(60.0)
    plan_mod.plan_types(_sample(), Policy(), budget=budget)
    # police got its share only, not the whole minute: the later types' reserves stay
    assert seen[POLICE] < 45
    # the overrun ate the rest of the minute, yet the later types are not given nothing
    assert seen[JUDICIAL] >= budget.floor and seen[COURT] >= budget.floor
    assert list(budget.shares) == [POLICE, JUDICIAL, COURT]


def test_a_type_that_leaves_time_unused_passes_it_on(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, float] = {}

    def quick(t: str, budget: TimeBudget) -> None:
        seen[t] = budget.remaining()
        clock.now += 1.0

    _fake_types(monkeypatch, quick)
    plan_mod.plan_types(_sample(), Policy(), budget=TimeBudget(90.0))
    # each type is held to its share of what is left, and the last one gets all that is left
    assert seen[POLICE] < seen[JUDICIAL] + seen[COURT]
    assert seen[COURT] == pytest.approx(90.0 - 2.0)


def test_the_shared_geography_built_by_the_first_type_is_not_charged_to_its_share(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, float] = {}

    def uses_all(t: str, budget: TimeBudget) -> None:
        seen[t] = budget.remaining()
        clock.now += budget.remaining()

    # the first formulation spends 30 of 60 s (travel times, adjacency), the others nothing
    first = {"done": False}

    def formulate(inputs: Any, g: Any, spec: Any, travel: Any, budget: TimeBudget) -> Any:
        if not first["done"]:
            clock.now += 30.0
            first["done"] = True
        return SimpleNamespace(type=spec.type)

    _fake_types(monkeypatch, uses_all)
    monkeypatch.setattr(plan_mod, "formulate", formulate)
    budget = TimeBudget(60.0)
    plan_mod.plan_types(_sample(), Policy(), budget=budget)
    # police's share is taken of the 30 s left after the formulation, and police gets it all
    assert seen[POLICE] == pytest.approx(budget.shares[POLICE], abs=1e-3)
    assert budget.share_began[POLICE] >= 30.0
    assert seen[POLICE] > budget.floor and seen[JUDICIAL] > budget.floor


def test_fair_share_gives_every_remaining_type_part_of_what_is_left(clock: Clock) -> None:
    b = TimeBudget(100.0)
    first = b.fair_share(4500, [4500, 1000])
    # reserves: offices half of (1/6 + 45 %/2), courts half of (1/6 + 10 %/2): about 30 s of 100
    assert 65 < first < 75
    # with nothing used, the next type is sure of its reserve and more
    assert b.fair_share(4500, [1000]) > 100 - first
    clock.now += 99.5
    # half a second left: the floor still lets a solver return a feasible plan
    assert b.fair_share(1000, []) == b.floor
    clock.now -= 99.5
    assert b.fair_share(1000, []) == pytest.approx(100.0)


def test_a_later_types_reserve_survives_the_formulations_before_it(clock: Clock) -> None:
    b = TimeBudget(100.0)
    police = b.fair_share(4500, [4500, 1000])
    reserve = 100.0 - police
    clock.now += police  # police uses its share
    clock.now += 0.5 * reserve * 0.3  # the office formulation eats into the reserves
    offices = b.fair_share(4500, [1000])
    # the courts' reserve, promised in seconds, is still whole: half of (1/6 + 10 %/2) of 100
    assert b.left() - offices == pytest.approx(0.5 * (0.5 / 3 + 0.5 * 1000 / 10000) * 100)


def test_a_type_without_a_plan_in_its_share_says_so_in_planner_words(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def courts_time_out(t: str, budget: TimeBudget) -> None:
        clock.now += budget.remaining()
        if t == COURT:
            raise SolverError("highs found no feasible plan within 0.0 s; raise the time limit")

    _fake_types(monkeypatch, courts_time_out)
    budget = TimeBudget(60.0)
    with pytest.raises(SolverError) as err:
        plan_mod.plan_types(_sample(), Policy(), budget=budget)
    msg = str(err.value)
    share = budget.shares[COURT]
    assert msg.startswith("人民法庭 (court): no feasible plan was found in this type's share")
    assert f"{share:.1f} s of the run's 60 s" in msg
    suggested = budget.suggested_limit(COURT)
    assert f"Raise --time-limit (solver.time_limit) to {suggested}" in msg
    assert suggested > 60 and suggested % 10 == 0


def test_a_solver_failure_that_is_not_the_deadline_names_the_type(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(t: str, budget: TimeBudget) -> None:
        raise SolverError("HiGHS returned an error status")

    _fake_types(monkeypatch, fails)
    with pytest.raises(SolverError, match=r"^派出所 \(police_station\): HiGHS returned"):
        plan_mod.plan_types(_sample(), Policy(), budget=TimeBudget(60.0))
