"""Read a sweep file: a base scenario, a grid of setting values and the regions to plan.

A sweep file is YAML (see ``docs/sweep.md``)::

    name: 派出所压减比例与范围（示例）
    base: baseline.yaml              # a scenario file, relative to this file (optional)
    types: [police_station]          # facility types (default: all present)
    grid:                            # any scenario key, dotted; every combination is run
      police.reduction: [0.35, 0.40, 0.45]
      police.scope: [province, county]
    regions: [all, {each: prefecture}, "513222"]
    run_time_limit: 600              # wall-clock seconds per run
    best: mean_distance              # how the best run of a region is chosen
    maps: best                       # which runs also get map.html: none, best, all or run ids

Every problem of the file (unknown keys with the closest valid name, values a scenario would
reject, malformed regions) is reported at once, before anything runs.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import PolicyError
from optimizer.rules import Policy, load_scenario
from optimizer.schema import FACILITY_TYPES

__all__ = [
    "BEST_CRITERIA",
    "SPEC_KEYS",
    "RegionRule",
    "Run",
    "SweepSpec",
    "load_sweep",
    "runs_of",
]

#: Keys a sweep file may hold.
SPEC_KEYS: tuple[str, ...] = (
    "name",
    "base",
    "settings",
    "types",
    "grid",
    "regions",
    "run_time_limit",
    "best",
    "maps",
)

#: How the best run of a region is chosen: among the runs with no ``not_met`` check (all
#: runs when none qualifies), the smallest value of this column; ties go to the deeper cut.
BEST_CRITERIA: dict[str, str] = {
    "mean_distance": "mean_distance_km",
    "max_distance": "max_distance_km",
    "mean_travel": "mean_travel_min",
    "objective": "objective",
}


#: Settings a grid may not hold, and why.
UNSWEPT: dict[str, str] = {
    "name": "each run is named by its settings",
    "police.tibetan_prefixes": "the data is read once for all runs; set it under 'settings'",
}


@dataclass(frozen=True)
class RegionRule:
    """One entry of ``regions``: ``all``, a prefecture or county code, or ``each: LEVEL``."""

    kind: str  # "all", "code" or "each"
    value: str = ""  # the code, or the level ("prefecture" / "county")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file.

    Attributes
    ----------
    name
        Name of the sweep (in the workbook and the charts).
    base
        The base scenario's settings as plain data (:meth:`Policy.to_dict`).
    grid
        Dotted setting -> the values to try, in the file's order.
    regions
        The region rules, expanded against the data by :func:`runs_of`.
    types
        Facility types to plan, or ``None`` for all present.
    run_time_limit
        Wall-clock seconds a run may take (also the run's solver time budget), or ``None``.
    best
        Key of :data:`BEST_CRITERIA`.
    maps
        ``"none"``, ``"best"``, ``"all"`` or a tuple of run ids.
    source
        The file read.
    """

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    regions: tuple[RegionRule, ...] = (RegionRule("all"),)
    types: tuple[str, ...] | None = None
    run_time_limit: float | None = None
    best: str = "mean_distance"
    maps: str | tuple[str, ...] = "none"
    source: str = ""
    policies: tuple[Policy, ...] = field(default=(), repr=False)
    settings: tuple[dict[str, Any], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Run:
    """One (scenario, region) pair of a sweep.

    Attributes
    ----------
    run_id
        Stable id: the region and a hash of every setting, so a rerun finds it again.
    region
        ``"all"`` or a prefecture (4 digits) or county (6 digits) code.
    settings
        The swept settings of this run (dotted key -> value).
    policy
        The run's full policy.
    """

    run_id: str
    region: str
    settings: dict[str, Any]
    policy: Policy


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return over


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``data`` with ``key`` (dotted) set; a mapping is merged, not replaced."""
    out = json.loads(json.dumps(data))
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = _merge(node.get(parts[-1]), value)
    return out


def _label(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "base"


def _read(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.is_file():
        raise PolicyError(f"sweep file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path.name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path.name}: a sweep file holds a mapping (name, base, grid, regions)")
    problems = []
    for key in data:
        if key not in SPEC_KEYS:
            close = difflib.get_close_matches(str(key), SPEC_KEYS, n=1, cutoff=0.5)
            hint = (
                f"; did you mean '{close[0]}'?"
                if close
                else f"; valid keys: {', '.join(SPEC_KEYS)}"
            )
            problems.append(f"unknown key '{key}'{hint}")
    return data, problems


def _base(data: dict[str, Any], folder: Path, problems: list[str]) -> dict[str, Any]:
    base: dict[str, Any] = Policy().to_dict()
    if data.get("base") is not None:
        try:
            base = load_scenario(folder / str(data["base"])).to_dict()
        except PolicyError as exc:
            problems += [f"base {data['base']}: {p}" for p in exc.problems]
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        problems.append("'settings' holds scenario settings as a mapping, e.g. {solver: {gap: 0}}")
        settings = {}
    for key, value in settings.items():
        base = _set_dotted(base, str(key), value)
    return base


def _grid(data: dict[str, Any], problems: list[str]) -> dict[str, list[Any]]:
    raw = data.get("grid") or {}
    if not isinstance(raw, dict):
        problems.append("'grid' maps dotted scenario keys to lists of values")
        return {}
    grid: dict[str, list[Any]] = {}
    for key, values in raw.items():
        if str(key) in UNSWEPT:
            problems.append(f"grid: '{key}' cannot be swept: {UNSWEPT[str(key)]}")
            continue
        vals = values if isinstance(values, list) else [values]
        if not vals:
            problems.append(f"grid: '{key}' has no values; give a list such as [0.35, 0.40]")
            continue
        grid[str(key)] = vals
    return grid


def _regions(data: dict[str, Any], problems: list[str]) -> tuple[RegionRule, ...]:
    raw = data.get("regions", ["all"])
    items = raw if isinstance(raw, list) else [raw]
    rules = []
    for item in items:
        if isinstance(item, dict):
            level = item.get("each")
            if set(item) != {"each"} or level not in ("prefecture", "county"):
                problems.append(f"regions: {item!r}: write 'each: prefecture' or 'each: county'")
                continue
            rules.append(RegionRule("each", str(level)))
        elif str(item) == "all":
            rules.append(RegionRule("all"))
        elif str(item).isdigit() and len(str(item)) in (4, 6):
            rules.append(RegionRule("code", str(item)))
        else:
            problems.append(
                f"regions: {item!r}: give 'all', a prefecture code (4 digits, e.g. '5118'), "
                "a county code (6 digits) or 'each: prefecture'"
            )
    if not rules and not problems:
        problems.append("regions: name at least one region, e.g. [all]")
    return tuple(rules)


def _options(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    types = data.get("types")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        bad = [t for t in types if t not in FACILITY_TYPES]
        if bad:
            problems.append(f"types: unknown {bad}; choose from {list(FACILITY_TYPES)}")
        out["types"] = tuple(types)
    limit = data.get("run_time_limit")
    if limit is not None:
        if not isinstance(limit, int | float) or isinstance(limit, bool) or limit <= 0:
            problems.append(f"run_time_limit = {limit!r}: give seconds, a positive number")
        else:
            out["run_time_limit"] = float(limit)
    best = data.get("best", "mean_distance")
    if best not in BEST_CRITERIA:
        problems.append(f"best = {best!r}: choose one of {', '.join(BEST_CRITERIA)}")
    out["best"] = best
    maps = data.get("maps", "none")
    if isinstance(maps, list):
        out["maps"] = tuple(str(m) for m in maps)
    elif maps in ("none", "best", "all"):
        out["maps"] = maps
    else:
        problems.append(f"maps = {maps!r}: give none, best, all or a list of run ids")
    return out


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; build every scenario of its grid.

    Parameters
    ----------
    path
        The sweep file (YAML).

    Returns
    -------
    SweepSpec
        With one :class:`~optimizer.rules.Policy` per grid combination in ``policies``.

    Raises
    ------
    PolicyError
        Once, listing every problem of the file and of every scenario the grid makes.
    """
    path = Path(path)
    data, problems = _read(path)
    base = _base(data, path.parent, problems)
    grid = _grid(data, problems)
    regions = _regions(data, problems)
    options = _options(data, problems)
    name = str(data.get("name") or path.stem)
    policies, settings = [], []
    seen: set[str] = set()
    for combo in itertools.product(*grid.values()):
        chosen = dict(zip(grid, combo, strict=True))
        d = dict(base)
        for key, value in chosen.items():
            d = _set_dotted(d, key, value)
        d["name"] = _label(chosen)
        try:
            policy = Policy.from_dict(d)
        except PolicyError as exc:
            for p in exc.problems:
                if p not in seen:
                    seen.add(p)
                    problems.append(f"grid {_label(chosen)}: {p}")
            continue
        if options.get("run_time_limit"):
            limit = min(policy.solver.time_limit, options["run_time_limit"])
            policy = Policy.from_dict(_set_dotted(policy.to_dict(), "solver.time_limit", limit))
        policies.append(policy)
        settings.append(chosen)
    if problems:
        raise PolicyError(problems, title=f"invalid sweep file {path.name}")
    return SweepSpec(
        name=name,
        base=base,
        grid=grid,
        regions=regions,
        source=str(path),
        policies=tuple(policies),
        settings=tuple(settings),
        **options,
    )


def _region_codes(
    rules: Sequence[RegionRule], counties: Sequence[str]
) -> tuple[list[str], list[str]]:
    regions: list[str] = []
    problems: list[str] = []
    prefectures = sorted({c[:4] for c in counties})
    for rule in rules:
        if rule.kind == "all":
            found = ["all"]
        elif rule.kind == "each":
            found = prefectures if rule.value == "prefecture" else sorted(counties)
        else:
            found = [rule.value] if any(c.startswith(rule.value) for c in counties) else []
            if not found:
                problems.append(
                    f"regions: no township of the data lies in {rule.value}; "
                    f"the data holds prefectures {', '.join(prefectures)}"
                )
        regions += [r for r in found if r not in regions]
    return regions, problems


def run_key(policy: Policy, region: str, types: Sequence[str] | None) -> str:
    """Return the stable id of a run: its region and a hash of all its settings.

    Parameters
    ----------
    policy
        The run's policy (its name is left out: the settings decide).
    region
        The region code or ``"all"``.
    types
        The facility types planned.

    Returns
    -------
    str
        For example ``"5118-3f09a1c2d4"``.
    """
    settings = policy.to_dict()
    settings.pop("name", None)
    blob = json.dumps([settings, region, list(types or [])], sort_keys=True, default=str)
    return f"{region}-{hashlib.sha1(blob.encode('utf-8')).hexdigest()[:10]}"


def runs_of(spec: SweepSpec, county_codes: Sequence[str]) -> list[Run]:
    """Expand the sweep into its runs against the counties of the data.

    Parameters
    ----------
    spec
        The sweep.
    county_codes
        The county codes (6 digits) the data holds.

    Returns
    -------
    list of Run
        Region by region, each region's scenarios in grid order.

    Raises
    ------
    PolicyError
        When a region code matches no township of the data (all such codes at once).
    """
    regions, problems = _region_codes(spec.regions, sorted(set(county_codes)))
    if problems:
        raise PolicyError(problems, title="invalid sweep regions")
    return [
        Run(run_key(pol, region, spec.types), region, dict(chosen), pol)
        for region in regions
        for pol, chosen in zip(spec.policies, spec.settings, strict=True)
    ]
