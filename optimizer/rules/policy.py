"""The work plan's thresholds as validated, frozen settings.

Every default is the plan's own number (clause in brackets). A :class:`Policy` is passed
explicitly to the planner, so two scenarios can sit side by side in one notebook; scenario
files (YAML) override any field, and unknown keys are rejected with the closest valid name.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints

import yaml

from optimizer.errors import PolicyError
from optimizer.rules.grassroots import GrassrootsPolicy  # grassroots (issue 14)
from optimizer.rules.staffing import StaffingPolicy
from optimizer.schema import KINDS, TIBETAN_AREA_PREFIXES

__all__ = [
    "CourtPolicy",
    "FacilityPolicy",
    "JudicialPolicy",
    "PolicePolicy",
    "Policy",
    "OutputSettings",
    "TravelSettings",
    "SolverSettings",
    "load_scenario",
]

Scope = Literal["province", "prefecture", "county"]
Weighting = Literal["population", "incidents"]


@dataclass(frozen=True)
class FacilityPolicy:
    """The rules every facility type shares: the cut, limits, pins and jurisdictions.

    Parameters
    ----------
    reduction
        Minimum share of today's facilities to cut at each scope; ``None``: no count limit.
    scope
        Where the cut is counted: the whole data set (``province``, the plan's level),
        each ``prefecture`` (code digits 1-4) or each ``county``.
    max_distance_km
        Longest allowed travel distance from a township's seat to its facility, or ``None``.
    max_travel_minutes
        Longest allowed travel time (by road when a road layer is given), or ``None``.
    circuity
        Road distance per straight-line distance, used until road networks are given.
    weight
        Objective weighting of the distance.
    pin_open, pin_closed
        Facility ids the planner keeps or closes regardless of the model.
    pin_reasons
        The planner's justification per pinned id (e.g. ``县委决定保留：边境治安``), shown as the
        reason of the decision and of any exception the pin causes.
    central_min_townships
        A kept facility serving at least this many townships is a central one.
    contiguity
        Each kept facility's jurisdiction (辖区) is connected in the township adjacency graph
        and contains the facility's own township.
    assign_townships
        The planner's per-township choice of the serving facility, township code:
        ``{facility: id, reason: justification}``; the facility is then kept (as if pinned
        open) and serves that township, and its decision reason quotes the justification.

    Notes
    -----
    Every subclass is validated by the same checks (:meth:`problems`) plus its own
    (:meth:`own_problems`), all reported together in one :class:`~optimizer.errors.PolicyError`.
    """

    #: Prefix of the settings in scenario files and messages (``police``, ``judicial``, ``court``).
    prefix: ClassVar[str] = "facility"
    #: Example cut shown when ``reduction`` is out of range.
    reduction_example: ClassVar[str] = "0.35"
    #: Order of the settings in plan.json (the order users have seen since schema version 1).
    field_order: ClassVar[tuple[str, ...]] = ()

    reduction: float | None = None
    scope: Scope = "province"
    max_distance_km: float | None = None
    max_travel_minutes: float | None = None
    circuity: float = 1.3
    weight: Literal["population", "incidents", "cases"] = "population"
    pin_open: tuple[str, ...] = ()
    pin_closed: tuple[str, ...] = ()
    central_min_townships: int = 2
    contiguity: bool = True
    pin_reasons: dict[str, str] = field(default_factory=dict)
    assign_townships: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = self.problems() + self.own_problems()
        if problems:
            raise PolicyError(problems)

    def problems(self) -> list[str]:
        """Return the problems of the shared settings: cut, distances, circuity, pins."""
        p = self.prefix
        problems = []
        if self.reduction is not None and not 0.0 <= self.reduction < 1.0:
            problems.append(
                f"{p}.reduction = {self.reduction}: give a share in [0, 1), e.g. {self.reduction_example}"
            )
        if self.max_travel_minutes is not None and self.max_travel_minutes <= 0:
            problems.append(
                f"{p}.max_travel_minutes = {self.max_travel_minutes}: must be positive or null"
            )
        if self.max_distance_km is not None and self.max_distance_km <= 0:
            problems.append(
                f"{p}.max_distance_km = {self.max_distance_km}: must be positive or null"
            )
        if not 1.0 <= self.circuity <= 5.0:
            problems.append(
                f"{p}.circuity = {self.circuity}: expected between 1.0 and 5.0 (typical 1.2-1.6)"
            )
        if self.central_min_townships < 2:
            problems.append(f"{p}.central_min_townships must be at least 2")
        both = set(self.pin_open) & set(self.pin_closed)
        if both:
            problems.append(f"{p}: ids pinned both open and closed: {', '.join(sorted(both))}")
        unpinned = sorted(set(self.pin_reasons) - set(self.pin_open) - set(self.pin_closed))
        if unpinned:
            problems.append(
                f"{p}.pin_reasons names ids that are not pinned: {', '.join(unpinned)}; "
                f"add them to {p}.pin_open or {p}.pin_closed"
            )
        problems += override_problems(f"{p}.assign_townships", self.assign_townships, "facility")
        closed = sorted(
            c for c, o in self.assign_townships.items() if o.get("facility") in self.pin_closed
        )
        if closed:
            problems.append(
                f"{p}.assign_townships: township(s) {', '.join(closed)} are assigned to a "
                f"facility in {p}.pin_closed; unpin it or assign another"
            )
        return problems

    def own_problems(self) -> list[str]:
        """Return the problems of the type's own settings (none here)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        """Return every setting as plain data (lists for tuples), in :attr:`field_order`."""
        every = tuple(f.name for f in fields(self))
        # the order given, then any setting it leaves out: plan.json never drops a setting
        names = tuple(self.field_order) + tuple(n for n in every if n not in self.field_order)
        return {
            n: list(v) if isinstance(v, tuple) else v for n in names for v in [getattr(self, n)]
        }


@dataclass(frozen=True)
class PolicePolicy(FacilityPolicy):
    """Rules for police stations (clauses 4-5).

    Parameters
    ----------
    reduction
        Minimum share of today's stations to cut at each scope (clause 4: 35 %).
    scope
        Where the cut is counted: the whole data set (``province``, the plan's level),
        each ``prefecture`` (code digits 1-4) or each ``county``.
    min_population, min_incidents
        A township with actual population below ``min_population`` *and* annual incidents below
        ``min_incidents`` keeps no station of its own (clause 4: 20,000 and 50).
    exempt_tibetan_area
        Townships in the 涉藏地区 are exempt from that screen (clause 4).
    exempt_townships
        The planner's per-township exemptions from that screen, code: justification (e.g.
        ``{"510122201": "县委决定：边境治安"}``); shown in the township's station reason.
    tibetan_prefixes
        County-code prefixes of the 涉藏地区 (5132 Aba, 5133 Garze, 513422 Muli).
    max_distance_km
        Longest allowed travel distance from a township's seat to its station, or ``None``.
    max_travel_minutes
        Longest allowed travel time (by road when a road layer is given), or ``None``; may
        replace or join ``max_distance_km``.
    circuity
        Road distance per straight-line distance, used until road networks are given.
    weight
        Objective weighting of the distance: ``population`` or ``incidents``.
    pin_open, pin_closed
        Station ids the planner keeps or closes regardless of the model.
    central_min_townships
        A kept station serving at least this many townships is a 中心派出所 (central station).
    contiguity
        Each kept station's jurisdiction (辖区) is connected in the township adjacency graph and
        contains the station's own township.
    """

    prefix: ClassVar[str] = "police"
    reduction_example: ClassVar[str] = "0.35"
    field_order: ClassVar[tuple[str, ...]] = (
        "reduction",
        "scope",
        "min_population",
        "min_incidents",
        "exempt_tibetan_area",
        "tibetan_prefixes",
        "max_distance_km",
        "max_travel_minutes",
        "circuity",
        "weight",
        "pin_open",
        "pin_closed",
        "central_min_townships",
        "contiguity",
        "pin_reasons",
        "exempt_townships",
        "assign_townships",
    )

    reduction: float = 0.35
    min_population: float = 20_000
    min_incidents: float = 50
    exempt_tibetan_area: bool = True
    exempt_townships: dict[str, str] = field(default_factory=dict)
    tibetan_prefixes: tuple[str, ...] = TIBETAN_AREA_PREFIXES
    weight: Weighting = "population"

    def own_problems(self) -> list[str]:
        """Return the problems of the clause-4 screen's thresholds."""
        if self.min_population < 0 or self.min_incidents < 0:
            return ["police.min_population and police.min_incidents must not be negative"]
        return []


@dataclass(frozen=True)
class JudicialPolicy(FacilityPolicy):
    """Rules for judicial offices (司法所, clauses 7-8).

    Parameters
    ----------
    reduction
        Minimum share of today's offices to cut at each scope (clause 7: 30 %).
    scope
        ``province``, ``prefecture`` or ``county``, as for police stations.
    min_density_per_km2
        Sparse, hollowed-out townships (农村空心化严重、人口稀少, clause 7) are where merging falls
        first: a township below this population density keeps no office of its own except
        where the rules force it (as for the police threshold). ``None`` (default) leaves the
        choice to the population-weighted objective alone, which already closes offices in
        sparse townships first because few people are affected.
    max_distance_km, circuity, weight, pin_open, pin_closed, central_min_townships
        As for police stations.
    contiguity
        Connected service areas (off by default: offices serve by 集中办公、分散服务).
    """

    prefix: ClassVar[str] = "judicial"
    reduction_example: ClassVar[str] = "0.30"
    field_order: ClassVar[tuple[str, ...]] = (
        "reduction",
        "scope",
        "min_density_per_km2",
        "max_distance_km",
        "max_travel_minutes",
        "circuity",
        "weight",
        "pin_open",
        "pin_closed",
        "central_min_townships",
        "contiguity",
        "pin_reasons",
        "assign_townships",
    )

    reduction: float = 0.30
    min_density_per_km2: float | None = None
    contiguity: bool = False

    def own_problems(self) -> list[str]:
        """Return the problems of the density screen."""
        if self.min_density_per_km2 is not None and self.min_density_per_km2 < 0:
            return ["judicial.min_density_per_km2 must not be negative"]
        return []


@dataclass(frozen=True)
class CourtPolicy(FacilityPolicy):
    """Rules for people's courts (人民法庭, clauses 10-12).

    Parameters
    ----------
    min_cases
        A kept court must reach this annual caseload (clause 11: 案源不足 courts merge). No
        national number exists (real courts take about 40 to 3,700 cases a year, 540 on
        average in one province), so this is the planner's choice; default 200.
    remote_km
        A court whose nearest other court is farther than this is too remote to merge and is
        exempt from ``min_cases`` (clause 10: 交通状况); measured to the nearest *adjacent*
        court, by road when a road layer is given (``remote_km`` driven at
        ``travel.fallback_kmh``). ``None``: no court is exempt for travel.
    seat_merge_km
        Optional: a court whose site lies within this many km (straight line × circuity) of its
        county seat (the county's 街道 or first township by code) merges into the county's basic
        court (基层法院), which then serves its townships directly. ``None`` (default): off.
    cases_per_10k
        When townships carry no ``cases``, caseload is estimated as this many cases a year per
        10,000 residents (default 65: about 540 cases per court of ~83,000 people).
    adjacent_only
        A closed court's townships go only to a court whose current jurisdiction touches its
        own (clause 11: 管辖区域相邻).
    reduction
        Optional minimum share of courts to cut; ``None`` (default): merges follow caseload.
    max_distance_km, circuity, pin_open, pin_closed, contiguity
        As for police stations.
    weight
        Objective weighting: ``population`` or ``cases``.
    """

    prefix: ClassVar[str] = "court"
    reduction_example: ClassVar[str] = "0.20, or null"
    field_order: ClassVar[tuple[str, ...]] = (
        "min_cases",
        "remote_km",
        "cases_per_10k",
        "adjacent_only",
        "seat_merge_km",
        "reduction",
        "scope",
        "max_distance_km",
        "max_travel_minutes",
        "circuity",
        "weight",
        "pin_open",
        "pin_closed",
        "central_min_townships",
        "contiguity",
        "pin_reasons",
        "assign_townships",
    )

    min_cases: float = 200.0
    remote_km: float | None = 60.0
    cases_per_10k: float = 65.0
    adjacent_only: bool = True
    seat_merge_km: float | None = None

    def own_problems(self) -> list[str]:
        """Return the problems of the caseload rules."""
        problems = []
        if self.min_cases < 0:
            problems.append("court.min_cases must not be negative")
        if self.remote_km is not None and self.remote_km <= 0:
            problems.append("court.remote_km must be positive or null")
        if self.cases_per_10k <= 0:
            problems.append("court.cases_per_10k must be positive")
        if self.seat_merge_km is not None and self.seat_merge_km <= 0:
            problems.append("court.seat_merge_km must be positive or null")
        return problems


@dataclass(frozen=True)
class TravelSettings:
    """How travel is measured (issue: 交通 in clause 10, "close to the people").

    Parameters
    ----------
    cost
        What the model minimises: ``distance`` (population-weighted km, the default) or
        ``time`` (population-weighted minutes, by road when a road layer is given).
    fallback_kmh
        Speed of the straight-line fallback (no roads, or a site far from any road).
    access_kmh
        Speed between a seat or site and the road network.
    worse_minutes
        The report counts townships whose travel time to their facility grows by more than
        this many minutes.
    """

    cost: Literal["distance", "time"] = "distance"
    fallback_kmh: float = 30.0
    access_kmh: float = 15.0
    worse_minutes: float = 15.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("fallback_kmh", "access_kmh"):
            if getattr(self, name) <= 0:
                problems.append(f"travel.{name} must be positive")
        if self.worse_minutes < 0:
            problems.append("travel.worse_minutes must not be negative")
        if problems:
            raise PolicyError(problems)


@dataclass(frozen=True)
class OutputSettings:
    """How the files meant for people are written.

    Parameters
    ----------
    csv_headers
        Header row of ``facilities.csv`` and ``townships.csv``: ``en`` (default: the stable
        English column names, as in plan.json, for scripts) or ``zh`` (the Chinese names the
        workbook uses, e.g. 编号, 方案, 乡镇代码). The cells are the same either way.
    """

    csv_headers: Literal["en", "zh"] = "en"


@dataclass(frozen=True)
class SolverSettings:
    """How the integer programs are solved.

    Parameters
    ----------
    solver
        ``highs`` (default) or ``cbc``.
    time_limit
        Seconds per facility type; at the limit the best plan found is returned with its gap.
    gap
        Relative optimality gap at which the solver stops (1e-4 = 0.01 %).
    threads
        Solver threads, or ``None`` for the solver's default.
    seed
        Random seed handed to the solver, for reproducible plans.
    """

    solver: Literal["highs", "cbc"] = "highs"
    time_limit: float = 300.0
    gap: float = 1e-4
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.time_limit <= 0:
            problems.append(f"solver.time_limit = {self.time_limit}: must be positive")
        if not 0.0 <= self.gap < 1.0:
            problems.append(f"solver.gap = {self.gap}: give a share in [0, 1), e.g. 0.0001")
        if self.threads is not None and self.threads < 1:
            problems.append("solver.threads must be at least 1")
        if problems:
            raise PolicyError(problems)


@dataclass(frozen=True)
class Policy:
    """All settings of one scenario.

    Parameters
    ----------
    name
        Scenario name shown in reports.
    police, judicial, court
        Rules per facility type.
    staffing
        Staffing minima and county shares (clauses 6, 8, 12); see :mod:`optimizer.report.staffing`.
    colocation_bonus_km
        Preference for keeping the office and the court in a township that keeps a police
        station (the 两所一庭 in one central town): each co-located kept unit counts as if the
        people it serves were on average this many km closer (0 = off).
    solver
        Solver settings.
    outputs
        How the CSVs meant for people are written (``csv_headers``).
    grassroots
        Grids, 综治中心, 雪亮工程 and mediators below the township (clauses 13-18); see
        :mod:`optimizer.rules.grassroots`.
    township_kinds
        The planner's correction of a township's kind (街道/镇/乡/其他), township code:
        ``{kind: 镇, reason: justification}``; it sets the staffing minima and the county seat,
        and the plan's notes quote the justification.
    """

    name: str = "baseline"
    police: PolicePolicy = field(default_factory=PolicePolicy)
    judicial: JudicialPolicy = field(default_factory=JudicialPolicy)
    court: CourtPolicy = field(default_factory=CourtPolicy)
    staffing: StaffingPolicy = field(default_factory=StaffingPolicy)
    colocation_bonus_km: float = 0.0
    travel: TravelSettings = field(default_factory=TravelSettings)
    solver: SolverSettings = field(default_factory=SolverSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    grassroots: GrassrootsPolicy = field(default_factory=GrassrootsPolicy)  # issue 14
    township_kinds: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.colocation_bonus_km < 0:
            problems.append("colocation_bonus_km must not be negative")
        problems += override_problems("township_kinds", self.township_kinds, "kind")
        bad = sorted(
            f"{c}: {o['kind']!r}"
            for c, o in self.township_kinds.items()
            if "kind" in o and o["kind"] not in KINDS
        )
        if bad:
            problems.append(
                f"township_kinds: unknown kind(s) {', '.join(bad)}; choose one of {', '.join(KINDS)}"
            )
        if problems:
            raise PolicyError(problems)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Policy:
        """Build a policy from nested mappings, rejecting unknown keys.

        Parameters
        ----------
        data
            For example ``{"police": {"reduction": 0.4}, "solver": {"time_limit": 60}}``.

        Returns
        -------
        Policy
            Defaults (the plan's values) for every key not given.

        Raises
        ------
        PolicyError
            Listing every unknown key (with the closest valid name) and every invalid value.
        """
        return _build(cls, dict(data or {}), prefix="")

    @classmethod
    def from_yaml(cls, path: str | Path) -> Policy:
        """Read a scenario file; see :func:`load_scenario`."""
        return load_scenario(path)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain data (lists for tuples), e.g. for ``plan.json``."""

        def plain(v: Any) -> Any:
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        out = plain(dataclasses.asdict(self))
        for key in ("police", "judicial", "court"):
            out[key] = getattr(self, key).to_dict()
        return out


def override_problems(where: str, overrides: Mapping[str, Any], key: str) -> list[str]:
    """Return the problems of a per-township override table ``{code: {key: ..., reason: ...}}``.

    Parameters
    ----------
    where
        The setting's name, for the messages.
    overrides
        The table.
    key
        The value each entry sets (``facility`` or ``kind``); ``reason`` is the justification.

    Returns
    -------
    list of str
        One line per problem: a code that is not 9 digits, a missing value or justification,
        an unknown entry key.
    """
    problems = []
    for code, entry in overrides.items():
        if not (len(str(code)) == 9 and str(code).isdigit()):
            problems.append(f"{where}: '{code}' is not a 9-digit township code")
        missing = [k for k in (key, "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            problems.append(
                f"{where}.{code}: give {' and '.join(missing)} "
                f"(e.g. {{{key}: ..., reason: 县委决定：边境治安}})"
            )
        extra = sorted(set(entry) - {key, "reason"})
        if extra:
            problems.append(
                f"{where}.{code}: unknown key(s) {', '.join(extra)}; use {key} and reason"
            )
    return problems


def _build(cls: type, data: dict[str, Any], *, prefix: str) -> Any:
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    problems: list[str] = []
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = (
                f"; did you mean '{prefix}{close[0]}'?"
                if close
                else f"; valid keys: {', '.join(names)}"
            )
            problems.append(f"unknown setting '{prefix}{key}'{hint}")
            continue
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                problems.append(f"'{prefix}{key}' must be a mapping of settings")
                continue
            try:
                kwargs[key] = _build(hint, dict(value), prefix=f"{prefix}{key}.")  # type: ignore[arg-type]
            except PolicyError as exc:
                problems.extend(exc.problems)
            continue
        try:
            kwargs[key] = _coerce(value, hint, f"{prefix}{key}")
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        # still run the range checks on the values that did convert, so that one message
        # lists every problem of the section
        try:
            cls(**kwargs)
        except PolicyError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
        except TypeError:  # pragma: no cover
            pass
        raise PolicyError(problems)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise PolicyError(str(exc)) from exc


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check and convert one scalar setting against its annotation."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is Literal:
        if value not in args:
            close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            extra = f"; did you mean '{close[0]}'?" if close else ""
            raise PolicyError(
                f"'{where}' = {value!r}: choose one of {', '.join(map(str, args))}{extra}"
            )
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise PolicyError(f"'{where}' must be a mapping of id: text")
        if get_origin(args[1]) is dict:
            bad = sorted(str(k) for k, v in value.items() if not isinstance(v, Mapping))
            if bad:
                raise PolicyError(
                    f"'{where}': the entries of {', '.join(bad)} must each be a mapping "
                    "such as {facility: PS-1, reason: 县委决定：边境治安}"
                )
            return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in value.items()}
        return {str(k): str(v) for k, v in value.items()}
    if origin in (tuple,):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise PolicyError(f"'{where}' must be a list")
        return tuple(str(v) for v in value)
    if args and type(None) in args:  # Optional[...]
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(value, inner, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise PolicyError(f"'{where}' = {value!r}: give true or false")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"'{where}' = {value!r}: give a number")
        if hint is int and float(value) != int(value):
            raise PolicyError(f"'{where}' = {value!r}: give a whole number")
        return hint(value)
    if hint is str:
        return str(value)
    return value


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise PolicyError(f"scenario files extend each other in a circle: {cycle}")
    if not path.is_file():
        raise PolicyError(f"scenario file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path.name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path.name}: a scenario file holds a mapping of settings")
    base = data.pop("base", None)
    if base is None:
        return data
    parent = _read_yaml((path.parent / str(base)).resolve(), (*chain, path))
    return _deep_merge(parent, data)


def load_scenario(path: str | Path) -> Policy:
    """Read a YAML scenario file into a :class:`Policy`.

    A scenario may extend another with ``base: other.yaml`` (a path relative to the file);
    its own settings override the base's. The name defaults to the file name.

    Parameters
    ----------
    path
        The scenario file.

    Returns
    -------
    Policy
        The validated settings.

    Raises
    ------
    PolicyError
        For a missing or malformed file, unknown keys or invalid values.

    Examples
    --------
    A file ``strict.yaml``::

        base: baseline.yaml
        name: 40 % cut
        police:
          reduction: 0.40
          max_distance_km: 30
    """
    p = Path(path).resolve()
    data = _read_yaml(p, ())
    data.setdefault("name", p.stem)
    return Policy.from_dict(data)
