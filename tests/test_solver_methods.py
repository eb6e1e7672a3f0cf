"""Every method of the p-median core proves the enumerated optimum on tiny instances.

``method="tree"`` (Lagrangian branch-and-bound), ``"dense"`` (Lagrangian root, reduced-cost
fixing, then the dense radius MIP in HiGHS) and ``"mip"`` (the sparse radius MIP) must agree
with enumeration; the dense MIP must also widen its levels when its first round truncates a
client it needs, and ``"auto"`` must choose by the documented rule.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from optimizer.errors import PolicyError
from optimizer.solver import LocationProblem, p_median
from optimizer.solver.core import choose_method
from optimizer.solver.dense_radius import solve_dense_radius


def points(seed: int, n: int) -> np.ndarray:
    """Floor Euclidean distances between n random points (every point a client and a site)."""
    xy = np.random.default_rng(seed).uniform(0, 100, size=(n, 2))
    return np.floor(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]))


def brute(c: np.ndarray, p: int) -> float:
    return min(
        float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(c.shape[1]), p)
    )


@pytest.mark.parametrize("method", ["tree", "dense", "mip", "auto"])
@pytest.mark.parametrize("seed", range(4))
def test_each_method_proves_the_enumerated_optimum(method: str, seed: int) -> None:
    c = points(seed, 14)
    w = np.random.default_rng(seed).integers(1, 9, size=14).astype(float)
    p = 2 + seed
    best = brute(w[:, None] * c, p)
    r = p_median(c, p, w, gap=0.0, method=method)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert r.bound == pytest.approx(best)
    assert len(r.open_sites) == p


def test_dense_method_reports_its_formulation() -> None:
    """On an instance the root cannot close, the dense MIP finishes the proof."""
    c = np.random.default_rng(5).integers(1, 100, size=(40, 16)).astype(float)
    r = p_median(c, 4, gap=0.0, method="dense")
    assert r.objective == pytest.approx(brute(c, 4))
    assert r.status == "optimal"
    assert r.formulation in ("dense radius", "lagrangian")


def test_dense_mip_widens_truncated_levels() -> None:
    """A start that puts every client at its own site models one level each: the optimum needs
    farther levels, so the model is widened until no client is served beyond its last level."""
    c = points(11, 12)
    start = [0, 1]
    r = solve_dense_radius(c, 2, start, closed=np.zeros(0, dtype=np.int64), gap=0.0, margin=0)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(brute(c, 2))
    assert r.bound == pytest.approx(r.objective)
    assert r.rounds >= 2


def test_dense_mip_leaves_closed_sites_out() -> None:
    c = points(12, 10)
    closed = np.array([0, 1, 2, 3])
    r = solve_dense_radius(c, 3, [4, 5, 6], closed=closed, gap=0.0)
    best = min(
        float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(4, 10), 3)
    )
    assert not set(r.open_sites) & set(closed.tolist())
    assert r.objective == pytest.approx(best)


def test_dense_with_fixed_sites() -> None:
    c = points(13, 12)
    r = p_median(c, 3, gap=0.0, method="dense", fixed_open=[0], fixed_closed=[1, 2])
    best = min(
        float(c[:, list(s)].min(axis=1).sum())
        for s in itertools.combinations(range(12), 3)
        if 0 in s and not {1, 2} & set(s)
    )
    assert 0 in r.open_sites and not {1, 2} & set(r.open_sites)
    assert r.objective == pytest.approx(best)


def test_auto_rule_picks_by_size_and_p() -> None:
    def prob(n: int, p: int) -> LocationProblem:
        i, j = np.divmod(np.arange(n * n), n)
        return LocationProblem(n_clients=n, n_sites=n, client=i, site=j, cost=np.ones(n * n), p=p)

    assert choose_method(prob(1100, 200)) == "dense"
    assert choose_method(prob(1100, 20)) == "tree"
    assert choose_method(prob(900, 200)) == "tree"  # OR-Library size: the tree wins there


def test_unknown_method_is_refused() -> None:
    with pytest.raises(PolicyError, match="method"):
        p_median(points(1, 5), 2, method="simplex")


def test_dense_gives_up_at_the_deadline_with_a_plan() -> None:
    c = np.random.default_rng(2).integers(1, 100, size=(60, 30)).astype(float)
    r = solve_dense_radius(
        c, 5, [0, 1, 2, 3, 4], closed=np.zeros(0, dtype=np.int64), gap=0.0, deadline=0.0
    )
    assert r.status == "time_limit"
    assert r.open_sites == [0, 1, 2, 3, 4]
    assert math.isinf(r.bound) or r.bound <= r.objective


def nearest_lists(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(c, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(c, order, axis=1)


def test_nearest_k_certifies_the_enumerated_optimum() -> None:
    """Given enough nearest sites, the pruned pairs provably cannot matter."""
    from optimizer.solver.nearest import p_median_nearest

    c = points(21, 14)
    nb, cc = nearest_lists(c, 14)
    r = p_median_nearest(nb, cc, 5, gap=0.0)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(brute(c, 5))
    assert r.bound == pytest.approx(r.objective)


def test_nearest_k_widens_when_a_client_needs_a_farther_site() -> None:
    """With k = 1 every client would need its own site; the fallback widens k until the
    certificate holds, and the answer is the enumerated optimum."""
    from optimizer.solver.nearest import p_median_nearest

    c = points(22, 13)
    widened: list[int] = []

    def widen(k: int) -> tuple[np.ndarray, np.ndarray]:
        widened.append(k)
        return nearest_lists(c, min(k, 13))

    nb, cc = nearest_lists(c, 1)
    r = p_median_nearest(nb, cc, 2, widen=widen, gap=0.0)
    assert widened and widened[0] == 2
    assert r.status == "optimal"
    assert r.objective == pytest.approx(brute(c, 2))


def test_nearest_k_without_fallback_is_not_called_optimal() -> None:
    from optimizer.solver.nearest import p_median_nearest

    c = points(23, 12)
    nb, cc = nearest_lists(c, 3)
    best = brute(c, 2)
    try:
        r = p_median_nearest(nb, cc, 2, gap=0.0)
    except PolicyError:
        return  # no plan serves every client within three sites: refused, not faked
    assert r.status != "optimal" or r.objective == pytest.approx(best)
    assert r.bound <= best + 1e-9
