"""The plan's rules below the township (clauses 13-18): grids, centres, cameras, mediators.

Scenario section ``grassroots`` (see ``docs/policy.md``). Every default is the plan's number
or, where the plan names none, the common practice the issue gives (rural grids about 300
households and at most 2,500 residents, urban grids 300-500 households).
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.errors import PolicyError

__all__ = ["GrassrootsPolicy"]


@dataclass(frozen=True)
class GrassrootsPolicy:
    """Grid sizes, grid workers, camera points and mediators (clauses 13, 15, 16, 17, 18).

    Parameters
    ----------
    enabled
        Plan grids, centres, cameras and mediators when a village layer is given.
    rural_households_min, rural_households_max
        Household bounds of a rural grid (村; clause 13 规模适度: about 300 households).
    rural_residents_max
        Residents a rural grid may hold at most (2,500).
    urban_households_min, urban_households_max
        Household bounds of an urban grid (社区; 300-500 households).
    grid_exact_blocks
        Most blocks of a piece whose grids are drawn exactly by enumeration, without a model
        (at most 16; the cheapest partition into connected grids within the bounds).
    grid_max_blocks
        Most blocks of one piece: a larger zone is cut into connected pieces of at most this
        many blocks in a fixed order (breadth-first from its westmost block), a deterministic
        size limit instead of a time limit, so that the grids do not depend on the machine's
        speed. Pieces larger than ``grid_exact_blocks`` go to the solver core's districting
        model (slower: raise both limits only for small areas).
    neighbours
        Candidate grid centres per block: its nearest blocks in the same township (the model
        may join a block only to one of them).
    workers_per_grid
        Grid workers per grid (clause 15: 一格一员或多员, at least 1).
    rural_fulltime
        Rural grids get full-time workers too (clause 15: 有条件的地方); otherwise part-time.
    camera_points_per_village
        Camera points planned per pre-merger village of a merged village (clause 17: 按照合并前
        原有村数量, 1).
    camera_radius_m
        Radius a camera point covers, for the important places (重要区域全覆盖).
    mediator_share_min
        Share of village committees with a full-time mediator (clause 18: 20 %).
    mediator_price_yuan
        Annual price of one full-time mediator bought as a service (政府购买服务), yuan.
    mediator_budget
        How many new full-time mediators the proposal may fund, or ``None``: as many as the
        one-per-village goal needs (the list is ranked, the 20 % line marked).
    score_disputes, score_residents, score_remoteness
        Weights of the mediator priority score (each term scaled to 0-1 within the county).
    """

    enabled: bool = True
    rural_households_min: float = 200.0
    rural_households_max: float = 400.0
    rural_residents_max: float = 2500.0
    urban_households_min: float = 300.0
    urban_households_max: float = 500.0
    grid_exact_blocks: int = 16
    grid_max_blocks: int = 16
    neighbours: int = 8
    workers_per_grid: int = 1
    rural_fulltime: bool = False
    camera_points_per_village: int = 1
    camera_radius_m: float = 300.0
    mediator_share_min: float = 0.20
    mediator_price_yuan: float = 60_000.0
    mediator_budget: int | None = None
    score_disputes: float = 0.5
    score_residents: float = 0.3
    score_remoteness: float = 0.2

    def __post_init__(self) -> None:
        problems = []
        for kind in ("rural", "urban"):
            lo = getattr(self, f"{kind}_households_min")
            hi = getattr(self, f"{kind}_households_max")
            if not 0 < lo <= hi:
                problems.append(
                    f"grassroots.{kind}_households_min ({lo:g}) must be positive and at most "
                    f"grassroots.{kind}_households_max ({hi:g})"
                )
        for name in ("rural_residents_max", "camera_radius_m"):
            if getattr(self, name) <= 0:
                problems.append(f"grassroots.{name} must be positive")
        if not 1 <= self.grid_exact_blocks <= 16:
            problems.append("grassroots.grid_exact_blocks must lie between 1 and 16")
        if self.grid_max_blocks < 2:
            problems.append("grassroots.grid_max_blocks must be at least 2")
        if self.neighbours < 1:
            problems.append("grassroots.neighbours must be at least 1")
        if self.workers_per_grid < 1:
            problems.append("grassroots.workers_per_grid must be at least 1 (一格一员)")
        if self.camera_points_per_village < 0:
            problems.append("grassroots.camera_points_per_village must not be negative")
        if not 0.0 <= self.mediator_share_min <= 1.0:
            problems.append("grassroots.mediator_share_min must lie between 0 and 1")
        if self.mediator_price_yuan < 0:
            problems.append("grassroots.mediator_price_yuan must not be negative")
        if self.mediator_budget is not None and self.mediator_budget < 0:
            problems.append("grassroots.mediator_budget must not be negative (or null)")
        weights = (self.score_disputes, self.score_residents, self.score_remoteness)
        if min(weights) < 0 or sum(weights) <= 0:
            problems.append("grassroots.score_* weights must be non-negative, not all zero")
        if problems:
            raise PolicyError(problems)

    def bounds(self, urban: bool) -> tuple[float, float]:
        """Return the household bounds of a grid of the given kind."""
        if urban:
            return self.urban_households_min, self.urban_households_max
        return self.rural_households_min, self.rural_households_max
