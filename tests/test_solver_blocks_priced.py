"""A count bound shared by independent blocks, met by a price on the count (solver.priced)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.solver import LocationProblem, SiteGroup, SolveStatus, solve


def _blocks(seed: int, sizes: list[int], site_cost: float = 15.0) -> LocationProblem:
    """Blocks of clients = sites on a line each, no pair across blocks, one town group each."""
    rng = np.random.default_rng(seed)
    client, site, cost = [], [], []
    start = 0
    for n in sizes:
        xs = np.sort(rng.uniform(0, 10, n))
        for i, j in itertools.product(range(n), repeat=2):
            client.append(start + i)
            site.append(start + j)
            cost.append(round(abs(xs[i] - xs[j]) * 10, 0))
        start += n
    w = rng.integers(1, 9, start).astype(float)
    return LocationProblem(
        n_clients=start,
        n_sites=start,
        client=np.array(client),
        site=np.array(site),
        cost=np.array(cost, dtype=float),
        weights=w,
        # a site cost so that each block's own optimum opens several sites
        site_cost=np.full(start, site_cost),
        groups=[],
    )


def _brute(prob: LocationProblem, limit: int) -> float:
    """Return the best objective with at most ``limit`` sites open, by enumeration."""
    best = np.inf
    for k in range(1, limit + 1):
        for open_ in itertools.combinations(range(prob.n_sites), k):
            try:
                best = min(best, prob.objective_of(list(open_))[0])
            except Exception:  # a client left without an allowed open site
                continue
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binding_shared_count_is_met_by_a_price_and_proven(seed: int) -> None:
    base = _blocks(seed, [4, 4, 3])
    free = solve(base, gap=0.0)
    n_free = len(free.open_sites)
    limit = n_free - 2
    assert limit >= 3
    prob = LocationProblem(
        **{
            **base.__dict__,
            "groups": [SiteGroup("shared", np.arange(base.n_sites), 0, limit)],
        }
    )
    whole = solve(prob, gap=0.0, decompose=False)
    split = solve(prob, gap=0.0)
    assert "priced count" in split.formulation
    assert len(split.open_sites) <= limit
    assert split.objective == pytest.approx(prob.objective_of(split.open_sites.tolist())[0])
    # the bound is honest: never above the true optimum
    assert split.bound <= whole.objective + 1e-6
    assert whole.objective == pytest.approx(_brute(prob, limit))
    if split.status == SolveStatus.OPTIMAL:
        assert split.objective == pytest.approx(whole.objective)
    else:
        assert split.gap > 0
        assert split.objective >= whole.objective - 1e-6


def test_minimum_shared_count_is_met_by_a_bonus() -> None:
    base = _blocks(3, [5, 4, 4], site_cost=80.0)
    free = solve(base, gap=0.0)
    need = len(free.open_sites) + 2
    assert need <= base.n_sites
    prob = LocationProblem(
        **{**base.__dict__, "groups": [SiteGroup("shared", np.arange(base.n_sites), need)]}
    )
    whole = solve(prob, gap=0.0, decompose=False)
    split = solve(prob, gap=0.0)
    assert "priced count" in split.formulation
    assert len(split.open_sites) >= need
    assert split.bound <= whole.objective + 1e-6
    if split.status == SolveStatus.OPTIMAL:
        assert split.objective == pytest.approx(whole.objective)


def test_two_disjoint_shared_counts_are_priced_separately() -> None:
    base = _blocks(4, [4, 4, 4, 4])
    free = solve(base, gap=0.0)
    first, second = np.arange(8), np.arange(8, 16)
    n1 = int(np.isin(free.open_sites, first).sum())
    n2 = int(np.isin(free.open_sites, second).sum())
    prob = LocationProblem(
        **{
            **base.__dict__,
            "groups": [SiteGroup("a", first, 0, n1 - 1), SiteGroup("b", second, 0, n2 - 1)],
        }
    )
    whole = solve(prob, gap=0.0, decompose=False)
    split = solve(prob, gap=0.0)
    assert "priced count" in split.formulation
    assert int(np.isin(split.open_sites, first).sum()) <= n1 - 1
    assert int(np.isin(split.open_sites, second).sum()) <= n2 - 1
    assert split.bound <= whole.objective + 1e-6
    assert split.objective >= whole.objective - 1e-6


def test_overlapping_shared_counts_fall_back_to_the_whole_model() -> None:
    base = _blocks(5, [4, 4, 4])
    free = solve(base, gap=0.0)
    n_all = len(free.open_sites)
    prob = LocationProblem(
        **{
            **base.__dict__,
            "groups": [
                SiteGroup("all", np.arange(12), 0, n_all - 1),
                SiteGroup("two", np.arange(8), 0, n_all - 2),
            ],
        }
    )
    whole = solve(prob, gap=0.0, decompose=False)
    split = solve(prob, gap=0.0)
    assert "priced" not in split.formulation
    assert split.status == SolveStatus.OPTIMAL
    assert split.objective == pytest.approx(whole.objective)


def test_many_blocks_sharing_a_count_match_the_whole_model() -> None:
    base = _blocks(6, [5, 4, 6, 3, 5, 4], site_cost=10.0)
    free = solve(base, gap=0.0)
    for cut in (1, 3, 6):
        limit = len(free.open_sites) - cut
        prob = LocationProblem(
            **{**base.__dict__, "groups": [SiteGroup("s", np.arange(base.n_sites), 0, limit)]}
        )
        whole = solve(prob, gap=0.0, decompose=False)
        split = solve(prob, gap=0.0)
        assert "priced count" in split.formulation
        assert len(split.open_sites) <= limit
        assert split.bound <= whole.objective + 1e-6
        assert split.objective >= whole.objective - 1e-6
        if split.status == SolveStatus.OPTIMAL:
            assert split.objective == pytest.approx(whole.objective)
        else:
            assert split.gap == pytest.approx((split.objective - split.bound) / split.objective)
