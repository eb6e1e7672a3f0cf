"""Staffing of kept units: minima, county shares, shortfalls and new recruits (clauses 6, 8, 12).

A pure pandas/numpy module: it takes a plan's decisions (which facilities are kept, which
townships each serves) and proposes how many staff each kept unit should have.

Per facility type and county the proposal

1. moves the staff of every closed unit to the kept unit that absorbs its township (the unit in
   ``served_by__<type>`` of the closed unit's township); a closed police station keeps
   ``police_office_staff`` officers as its 警务室 (clause 5) and the rest move;
2. gives every kept unit its minimum (clause 6: a station in a 建制乡 ≥ 5 officers, in a 建制镇
   ≥ 10; clause 8: an office ≥ 1 judicial assistant + 1 staff; clause 12: a court ≥ 1 judge +
   1 clerk + 1 judicial police);
3. spreads the remaining staff over the kept units by workload (incidents for stations,
   population for offices, cases for courts) with largest-remainder rounding, so the numbers are
   integers and the county total is conserved;
4. when the county's staff cannot cover the minima, reports the exact shortfall and the new
   recruits it implies (60 % of new police recruits go to stations, so covering S officers needs
   S / 0.6 recruits), and the county shares (stations ≥ 40 % of the county's police, offices
   ≥ 50 % of the county's judicial establishment) with the staff missing to reach them.

See ``docs/staffing.md`` for the rules and the choices made where the work plan is silent.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DataError
from optimizer.report.checks import Check, make_check
from optimizer.rules.staffing import (
    CLAUSE,
    ROLE_MINIMA,
    SHARE_TOTAL,
    StaffingPolicy,
    Workload,
    minimum_staff,
)
from optimizer.schema import (
    FACILITY_LABELS_ZH,
    FACILITY_TYPES,
    JUDICIAL,
    KIND_OTHER,
    KIND_STREET,
    KIND_TOWN,
    KIND_TOWNSHIP,
    KINDS,
    POLICE,
    kind_from_code,
)

__all__ = ["StaffingResult", "max_staffable_units", "propose_staffing", "unit_minima"]

logger = logging.getLogger(__name__)

_UNIT_COLUMNS = [
    "id",
    "type",
    "county_code",
    "township_code",
    "kind",
    "decision",
    "current_staff",
    "minimum",
    "moved_in",
    "moved_to",
    "post",
    "base",
    "proposed",
    "rebalance",
    "deficit",
    "workload",
]
_COUNTY_COLUMNS = [
    "type",
    "county_code",
    "units_kept",
    "units_closed",
    "current",
    "posts",
    "unplaced",
    "available",
    "proposed",
    "minimum_needed",
    "transfer_down",
    "shortfall",
    "county_total",
    "share_current",
    "share",
    "share_target",
    "share_gap_staff",
    "recruits_needed",
    "recruits_to_units",
    "planned_recruits",
    "planned_recruits_to_units",
    "min_per_unit",
    "staffable_units",
]


@dataclass
class StaffingResult:
    """A staffing proposal with its county figures and rule checks.

    Attributes
    ----------
    policy
        The staffing rules used.
    units
        One row per facility (kept and closed): ``current_staff``, ``minimum`` (0 when closed),
        ``moved_in`` (staff arriving from closed units), ``moved_to`` (the absorbing unit of a
        closed one), ``post`` (officers left in a 警务室), ``base`` (staff after the closure
        moves), ``proposed``, ``rebalance`` (proposed − base), ``deficit`` (minimum − proposed,
        ≥ 0) and ``workload``.
    counties
        One row per facility type and county: ``current``, ``posts``, ``unplaced``,
        ``available`` (staff for the kept units), ``proposed``, ``minimum_needed``,
        ``shortfall``, ``county_total``, ``share_current``, ``share``, ``share_target``,
        ``share_gap_staff``, ``recruits_needed``, ``planned_recruits``,
        ``planned_recruits_to_units``, ``min_per_unit`` and ``staffable_units``.
    checks
        Rule checks for clauses 6, 8 and 12 (:class:`optimizer.report.checks.Check`).
    notes
        Facts about the inputs: missing staff counts, estimated cases, unplaced staff.
    """

    policy: StaffingPolicy
    units: pd.DataFrame
    counties: pd.DataFrame
    checks: list[Check]
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        kept = int((self.units["decision"] == "keep").sum()) if len(self.units) else 0
        short = int(self.counties["shortfall"].sum()) if len(self.counties) else 0
        failed = sum(not c.passed for c in self.checks)
        return (
            f"StaffingResult({kept} kept units, {len(self.counties)} county rows, "
            f"shortfall {short}, {len(self.checks)} checks, {failed} failed)"
        )

    @property
    def passed(self) -> bool:
        """True when every staffing check passed (shortfalls reported count as explained)."""
        return all(c.passed for c in self.checks)


def max_staffable_units(available_staff: float, minimum_per_unit: int) -> int:
    """Return how many units the available staff can man at the minimum.

    Parameters
    ----------
    available_staff
        Staff available for the kept units (negative counts as 0).
    minimum_per_unit
        Minimum staff per unit (> 0).

    Returns
    -------
    int
        ``floor(available_staff / minimum_per_unit)``.

    Raises
    ------
    ValueError
        When ``minimum_per_unit`` is not positive or ``available_staff`` is not a number.

    Examples
    --------
    >>> max_staffable_units(23, 5)
    4
    """
    if minimum_per_unit <= 0:
        raise ValueError(f"minimum_per_unit = {minimum_per_unit}: must be positive")
    if available_staff is None or not math.isfinite(available_staff):
        raise ValueError(f"available_staff = {available_staff!r}: give a finite number")
    return int(max(available_staff, 0) // minimum_per_unit)


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method).

    Ties in the remainders go to the earlier position, so the split is deterministic; all-zero
    weights split equally.
    """
    n = len(weights)
    if n == 0 or total <= 0:
        return np.zeros(n, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    if not np.isfinite(w).all() or w.sum() <= 0:
        w = np.ones(n)
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        order = np.lexsort((np.arange(n), -(quota - base)))
        base[order[:left]] += 1
    return base


def _kinds(townships: pd.DataFrame) -> pd.Series:
    """Return the kind of each township (column ``kind``, else from the code), by code."""
    codes = townships["code"].astype(str)
    if "kind" in townships.columns:
        kind = townships["kind"].astype(object).where(townships["kind"].notna(), None)
        derived = [
            k if k is not None else kind_from_code(c) for k, c in zip(kind, codes, strict=True)
        ]
    else:
        derived = [kind_from_code(c) for c in codes]
    return pd.Series(derived, index=codes.to_numpy(), dtype=object)


def unit_minima(
    facilities: pd.DataFrame, townships: pd.DataFrame, policy: StaffingPolicy
) -> pd.Series:
    """Return the minimum staff of each facility if kept, indexed by facility id.

    Useful to the location model: ``sum(minimum[i] * keep[i]) <= available staff`` per county.

    Parameters
    ----------
    facilities
        Facilities with ``id``, ``type`` and ``township_code``.
    townships
        Townships with ``code`` and optionally ``kind``.
    policy
        The staffing rules.

    Returns
    -------
    pandas.Series
        Integer minimum per facility id.
    """
    kinds = _kinds(townships)
    values = [
        minimum_staff(str(t), str(kinds.get(str(c), kind_from_code(str(c)))), policy)
        for t, c in zip(facilities["type"], facilities["township_code"], strict=True)
    ]
    return pd.Series(values, index=facilities["id"].astype(str).to_numpy(), dtype="int64")


def _validate(
    facilities: pd.DataFrame, townships: pd.DataFrame, counties: pd.DataFrame | None
) -> None:
    """Raise one DataError listing every problem of the inputs."""
    problems: list[str] = []
    need_f = {"id", "type", "township_code", "staff", "decision"}
    miss = sorted(need_f - set(facilities.columns))
    if miss:
        problems.append(f"facilities: missing column(s) {', '.join(miss)}")
    need_t = {"code", "population"}
    miss = sorted(need_t - set(townships.columns))
    if miss:
        problems.append(f"townships: missing column(s) {', '.join(miss)}")
    if counties is not None and "county_code" not in counties.columns:
        problems.append("counties: missing column county_code")
    if problems:
        raise DataError(problems)
    bad_type = sorted(set(facilities["type"].astype(str)) - set(FACILITY_TYPES))
    if bad_type:
        problems.append(
            f"facilities: unknown type(s) {', '.join(bad_type)}; expected {', '.join(FACILITY_TYPES)}"
        )
    bad_dec = facilities.loc[~facilities["decision"].isin(["keep", "close"]), "id"]
    if len(bad_dec):
        problems.append(
            f"facilities: decision must be keep or close; not so for {', '.join(map(str, bad_dec[:10]))}"
        )
    dup = facilities.loc[facilities["id"].astype(str).duplicated(), "id"]
    if len(dup):
        problems.append(f"facilities: duplicated id(s) {', '.join(map(str, dup[:10]))}")
    staff = pd.to_numeric(facilities["staff"], errors="coerce")
    neg = facilities.loc[staff < 0, "id"]
    if len(neg):
        problems.append(f"facilities: negative staff for {', '.join(map(str, neg[:10]))}")
    codes = set(townships["code"].astype(str))
    unknown = facilities.loc[~facilities["township_code"].astype(str).isin(codes), "id"]
    if len(unknown):
        problems.append(
            f"facilities: township_code not among the townships for {', '.join(map(str, unknown[:10]))}"
        )
    if "county_code" not in facilities.columns and "county_code" not in townships.columns:
        problems.append("county_code: give it in facilities or townships")
    if "kind" in townships.columns:
        bad_kind = sorted(set(townships["kind"].dropna().astype(str)) - set(KINDS))
        if bad_kind:
            problems.append(
                f"townships: unknown kind(s) {', '.join(bad_kind)}; expected {', '.join(KINDS)}"
            )
    for t in set(facilities["type"].astype(str)) & set(FACILITY_TYPES):
        kept = (facilities["type"] == t) & (facilities["decision"] == "keep")
        if kept.any() and f"served_by__{t}" not in townships.columns and "serves" not in facilities:
            problems.append(
                f"townships: missing column served_by__{t} (and facilities has no serves)"
            )
    if problems:
        raise DataError(problems)


def _township_workload(
    townships: pd.DataFrame, measure: Workload, policy: StaffingPolicy, notes: list[str]
) -> pd.Series:
    """Return each township's workload by code, estimating missing cases from population."""
    codes = townships["code"].astype(str).to_numpy()
    pop = pd.to_numeric(townships["population"], errors="coerce").fillna(0.0).to_numpy()
    if measure == "population":
        return pd.Series(pop, index=codes)
    if measure == "cases":
        est = pop * policy.cases_per_10k / 10_000
        if "cases" in townships.columns:
            raw = pd.to_numeric(townships["cases"], errors="coerce").to_numpy(dtype=float)
        else:
            raw = np.full(len(codes), np.nan)
        missing = np.isnan(raw)
        if missing.any():
            notes.append(
                f"cases missing for {int(missing.sum())} of {len(codes)} townships: estimated as "
                f"{policy.cases_per_10k:g} cases a year per 10,000 residents"
            )
        return pd.Series(np.where(missing, est, raw), index=codes)
    if "incidents" not in townships.columns:
        notes.append("townships have no incidents column: workload by population instead")
        return pd.Series(pop, index=codes)
    inc = pd.to_numeric(townships["incidents"], errors="coerce")
    if inc.isna().any():
        notes.append(f"incidents missing for {int(inc.isna().sum())} townships: counted as 0")
    return pd.Series(inc.fillna(0.0).to_numpy(), index=codes)


def _served_towns(f: pd.DataFrame, townships: pd.DataFrame, t: str) -> dict[str, list[str]]:
    """Return, per kept facility id, the township codes it serves."""
    kept = f[f["decision"] == "keep"]
    out: dict[str, list[str]] = {str(i): [] for i in kept["id"]}
    col = f"served_by__{t}"
    if col in townships.columns:
        for code, sid in zip(townships["code"].astype(str), townships[col], strict=True):
            if isinstance(sid, str) and sid in out:
                out[sid].append(code)
    if "serves" in kept.columns:
        for fid, serves in zip(kept["id"].astype(str), kept["serves"], strict=True):
            if not out[fid] and isinstance(serves, list | tuple | np.ndarray):
                out[fid] = [str(c) for c in serves]
    return out


#: The columns the county steps read from a unit's row (itertuples is slow on wide frames).
_ROW_COLUMNS = ["id", "township_code", "current_staff"]


def _absorber(
    code: str,
    fac_county: str,
    t: str,
    served_by: dict[str, Any],
    served: dict[str, list[str]],
    kept_county: dict[str, str],
) -> str | None:
    """Return the kept unit of the same county that serves township ``code``, or None.

    ``served_by`` is the townships' ``served_by__<t>`` by code (empty when not planned).
    """
    sid: Any = served_by.get(code)
    if not (isinstance(sid, str) and sid in kept_county):
        sid = next((k for k, towns in served.items() if code in towns), None)
    if sid is None or kept_county.get(sid) != fac_county:
        return None
    return str(sid)


def _fill_short(
    base: np.ndarray, minimum: np.ndarray, pool: int, workload: np.ndarray
) -> np.ndarray:
    """Staff that cannot cover the minima: nobody above minimum stays while others are short.

    Each unit keeps ``min(base, minimum)``; staff above the minimum and the pool fill the gaps of
    the busiest units first (workload, then position). No unit ends above its minimum.
    """
    prop = np.minimum(base, minimum)
    spare = int(pool + np.maximum(base - minimum, 0).sum())
    for i in np.lexsort((np.arange(len(base)), -workload)):
        give = min(spare, int(minimum[i] - prop[i]))
        prop[i] += give
        spare -= give
    return prop


def _int(x: Any) -> int:
    """Return a whole number from a table cell."""
    return int(x)


def _num(x: Any) -> float:
    """Return a float, NaN for None or non-numbers."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def propose_staffing(
    facilities: pd.DataFrame,
    townships: pd.DataFrame,
    counties: pd.DataFrame | None,
    policy: StaffingPolicy | None = None,
) -> StaffingResult:
    """Propose staff for every kept unit of a plan, with county shortfalls and shares.

    Parameters
    ----------
    facilities
        The plan's facilities: ``id``, ``type``, ``township_code``, ``county_code`` (else taken
        from the township), ``staff`` (NaN counts as 0, with a note), ``decision`` (keep /
        close) and optionally ``serves`` (township codes served when kept).
    townships
        ``code``, ``kind`` (else from the code), ``county_code``, ``population``,
        ``incidents``, ``cases`` (NaN: estimated) and ``served_by__<type>`` per type.
    counties
        ``county_code``, ``police_total``, ``judicial_establishment``, ``new_police_recruits``
        (NaN allowed), or ``None``: shares are then not computed and their checks list every
        county as lacking the total.
    policy
        The staffing rules (default :class:`StaffingPolicy`).

    Returns
    -------
    StaffingResult
        Units, county figures, rule checks (clauses 6, 8, 12) and notes.

    Raises
    ------
    DataError
        Listing every problem of the inputs (missing columns, unknown types, kinds or
        townships, bad decisions, negative staff).
    """
    policy = policy or StaffingPolicy()
    _validate(facilities, townships, counties)
    notes: list[str] = []
    tw = townships.copy()
    tw["code"] = tw["code"].astype(str)
    kinds = _kinds(tw)
    tw_by_code = tw.set_index("code", drop=False)
    f = _prepared_facilities(facilities, tw_by_code, notes)
    cty = _county_table(counties)

    unit_rows: list[dict[str, Any]] = []
    county_rows: list[dict[str, Any]] = []
    types = [t for t in FACILITY_TYPES if (f["type"] == t).any()]
    for t in types:
        ft = f[f["type"] == t]
        kept_mask = ft["decision"] == "keep"
        inputs = _TypeInputs(
            t=t,
            kinds={str(k): v for k, v in kinds.items()},
            tw_by_code=tw_by_code,
            town_load=_township_workload(tw, policy.workload_for(t), policy, notes),
            served=_served_towns(ft, tw, t),
            kept_county=dict(
                zip(ft.loc[kept_mask, "id"], ft.loc[kept_mask, "county_code"], strict=True)
            ),
            cty=cty,
            policy=policy,
            notes=notes,
        )
        for county, grp in ft.groupby("county_code", sort=True):
            county_rows.append(_county(inputs, str(county), grp, unit_rows))
    units = pd.DataFrame(unit_rows, columns=_UNIT_COLUMNS)
    county_df = pd.DataFrame(county_rows, columns=_COUNTY_COLUMNS)
    checks = _checks(units, county_df, policy, types)
    checks += _role_checks(f, units, types, notes)
    logger.info(
        "staffing: %d kept units in %d county rows, shortfall %d, %d checks",
        int((units["decision"] == "keep").sum()),
        len(county_df),
        int(county_df["shortfall"].sum()) if len(county_df) else 0,
        len(checks),
    )
    return StaffingResult(policy, units, county_df, checks, notes)


def _prepared_facilities(
    facilities: pd.DataFrame, tw_by_code: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """Return the facilities with text codes, a county code each and whole ``current_staff``.

    Parameters
    ----------
    facilities
        The validated facilities (``county_code`` may be missing or partly NaN).
    tw_by_code
        Townships indexed by text code, with ``county_code``.
    notes
        Notes to append to: staff missing (counted as 0) or not whole (rounded).

    Returns
    -------
    pandas.DataFrame
        A copy with ``id``, ``type``, ``township_code`` and ``county_code`` as text and an
        integer ``current_staff``.
    """
    f = facilities.copy()
    f["id"] = f["id"].astype(str)
    f["type"] = f["type"].astype(str)
    f["township_code"] = f["township_code"].astype(str)
    if "county_code" not in f.columns or f["county_code"].isna().any():
        from_town = f["township_code"].map(tw_by_code["county_code"].astype(str))
        f["county_code"] = f["county_code"].fillna(from_town) if "county_code" in f else from_town
    f["county_code"] = f["county_code"].astype(str)
    staff = pd.to_numeric(f["staff"], errors="coerce")
    if staff.isna().any():
        ids = f.loc[staff.isna(), "id"].tolist()
        notes.append(
            f"staff missing for {len(ids)} facilities, counted as 0: {', '.join(ids[:10])}"
            + (" …" if len(ids) > 10 else "")
        )
    frac = staff.notna() & (staff != staff.round())
    if frac.any():
        notes.append(f"staff not whole for {int(frac.sum())} facilities: rounded")
    f["current_staff"] = staff.fillna(0.0).round().astype("int64")
    return f


def _county_table(counties: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return the county figures indexed by text ``county_code`` (None stays None).

    Parameters
    ----------
    counties
        County figures with ``county_code``, or None.

    Returns
    -------
    pandas.DataFrame or None
        A copy indexed by county code.
    """
    if counties is None:
        return None
    cty = counties.copy()
    cty["county_code"] = cty["county_code"].astype(str)
    return cty.set_index("county_code")


@dataclass(frozen=True)
class _TypeInputs:
    """What the county steps of one facility type share.

    Attributes
    ----------
    t
        The facility type.
    kinds
        Township kind by code.
    tw_by_code
        Townships indexed by code (for ``served_by__<type>``).
    town_load
        Township workload by code (incidents, population or cases).
    served
        Township codes served, per kept facility id.
    kept_county
        County code per kept facility id.
    cty
        County figures indexed by county code, or None.
    policy
        The staffing rules.
    notes
        Notes to append to.
    """

    t: str
    kinds: dict[str, Any]
    tw_by_code: pd.DataFrame
    town_load: pd.Series
    served: dict[str, list[str]]
    kept_county: dict[str, str]
    cty: pd.DataFrame | None
    policy: StaffingPolicy
    notes: list[str]

    @functools.cached_property
    def load_by_code(self) -> dict[Any, float]:
        """``town_load`` as a dict (one lookup per served township, not a pandas reindex)."""
        return {k: float(v) for k, v in self.town_load.items()}

    @functools.cached_property
    def served_by(self) -> dict[str, Any]:
        """The townships' ``served_by__<t>`` by code (empty when the type was not planned)."""
        col = f"served_by__{self.t}"
        if col not in self.tw_by_code.columns:
            return {}
        return dict(zip(self.tw_by_code.index, self.tw_by_code[col], strict=True))


def _county(
    inputs: _TypeInputs, county: str, grp: pd.DataFrame, unit_rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Propose the staffing of one facility type in one county.

    Parameters
    ----------
    inputs
        What the counties of the type share.
    county
        The county code.
    grp
        The type's facilities of the county.
    unit_rows
        Unit rows to append to: the kept units (by id), then the closed ones.

    Returns
    -------
    dict
        The county row (keys of ``_COUNTY_COLUMNS``).
    """
    t, policy = inputs.t, inputs.policy
    grp = grp.sort_values("id")
    kept = grp[grp["decision"] == "keep"]
    closed = grp[grp["decision"] == "close"]
    kept_ids = kept["id"].tolist()
    moved_in, pool, closed_rows = _closure_moves(inputs, county, closed, kept_ids)
    minimum = _kept_minima(inputs, kept)
    base = np.array(
        [int(s) + moved_in[i] for i, s in zip(kept_ids, kept["current_staff"], strict=True)],
        dtype=np.int64,
    )
    loads = inputs.load_by_code
    load = np.array(
        [
            float(np.nansum(np.array([loads.get(c, 0.0) for c in inputs.served.get(i, [])])))
            for i in kept_ids
        ]
    )
    posts = sum(p for _, p, _ in closed_rows)
    current = int(grp["current_staff"].sum())
    unplaced = pool if not kept_ids else 0
    if unplaced:
        inputs.notes.append(f"{t} county {county}: no unit kept; {unplaced} staff cannot be placed")
    available = current - posts - unplaced
    need = int(minimum.sum())
    transfer = _transfer(inputs, county, current, available + posts, need - available)
    proposed = _spread(available + transfer, base, minimum, pool + transfer, load)
    shortfall = max(need - available - transfer, 0)
    unit_rows += _kept_unit_rows(
        inputs, county, kept, minimum, moved_in, base, proposed, load
    ) + _closed_unit_rows(inputs, county, closed_rows)
    in_units = int(proposed.sum()) + posts  # 警务室 officers belong to the station network
    min_per_unit = int(minimum.min()) if len(minimum) else (minimum_staff(t, KIND_TOWNSHIP, policy))
    return {
        "type": t,
        "county_code": county,
        "units_kept": len(kept_ids),
        "units_closed": len(closed),
        "current": current,
        "posts": posts,
        "unplaced": unplaced,
        "available": available,
        "proposed": int(proposed.sum()),
        "minimum_needed": need,
        "transfer_down": transfer,
        "shortfall": shortfall,
        **_county_share(inputs, county, current, in_units),
        **_recruits(inputs, county, shortfall),
        "min_per_unit": min_per_unit,
        "staffable_units": max_staffable_units(available, min_per_unit),
    }


def _closure_moves(
    inputs: _TypeInputs, county: str, closed: pd.DataFrame, kept_ids: list[str]
) -> tuple[dict[Any, int], int, list[tuple[Any, int, str | None]]]:
    """Move the staff of each closed unit to the kept unit that absorbs its township.

    A closed police station keeps ``police_office_staff`` officers as its 警务室 (clause 5);
    staff of a closed unit that no kept unit of the county absorbs go to a county pool.

    Parameters
    ----------
    inputs
        What the counties of the type share (notes are appended for pooled staff).
    county
        The county code.
    closed
        The county's closed units, by id.
    kept_ids
        The county's kept unit ids.

    Returns
    -------
    moved_in : dict
        Staff arriving per kept unit id.
    pool : int
        Staff of closed units with no absorbing unit in the county.
    closed_rows : list
        Per closed unit: its row, the officers left in its 警务室 and the absorbing unit (or
        None).
    """
    t, policy = inputs.t, inputs.policy
    moved_in = dict.fromkeys(kept_ids, 0)
    pool = 0
    closed_rows = []
    for r in closed[_ROW_COLUMNS].itertuples(index=False):  # not all ~30: iloc per column
        post = min(_int(r.current_staff), policy.police_office_staff) if t == POLICE else 0
        moving = _int(r.current_staff) - post
        target = _absorber(
            str(r.township_code), county, t, inputs.served_by, inputs.served, inputs.kept_county
        )
        if target is None:
            pool += moving
            if moving:
                inputs.notes.append(
                    f"{t} {r.id} (county {county}): no kept unit of the county absorbs township "
                    f"{r.township_code}; its {moving} staff are spread over the county's kept units"
                )
        else:
            moved_in[target] += moving
        closed_rows.append((r, post, target))
    return moved_in, pool, closed_rows


def _kept_minima(inputs: _TypeInputs, kept: pd.DataFrame) -> np.ndarray:
    """Return the minimum staff of each kept unit (clauses 6, 8, 12), by the township's kind.

    Parameters
    ----------
    inputs
        What the counties of the type share (kinds and policy).
    kept
        The county's kept units with ``township_code``.

    Returns
    -------
    numpy.ndarray
        Integer minimum per kept unit, in the order of ``kept``.
    """
    return np.array(
        [
            minimum_staff(inputs.t, str(inputs.kinds[str(c)]), inputs.policy)
            for c in kept["township_code"]
        ],
        dtype=np.int64,
    )


def _spread(
    available: int, base: np.ndarray, minimum: np.ndarray, pool: int, load: np.ndarray
) -> np.ndarray:
    """Return the proposed staff of the kept units: minima first, the rest by workload.

    Parameters
    ----------
    available
        Staff for the county's kept units.
    base
        Staff of each kept unit after the closure moves.
    minimum
        Minimum staff of each kept unit.
    pool
        Staff of closed units no kept unit absorbs.
    load
        Workload of each kept unit.

    Returns
    -------
    numpy.ndarray
        When the staff cover the minima, each minimum plus a largest-remainder share of the
        rest by workload (the total is conserved); else the minima filled busiest first.
    """
    need = int(minimum.sum())
    if available >= need:
        return minimum + _largest_remainder(available - need, load)
    return _fill_short(base, minimum, pool, load)


def _kept_unit_rows(
    inputs: _TypeInputs,
    county: str,
    kept: pd.DataFrame,
    minimum: np.ndarray,
    moved_in: dict[Any, int],
    base: np.ndarray,
    proposed: np.ndarray,
    load: np.ndarray,
) -> list[dict[str, Any]]:
    """Return the unit rows of the county's kept units.

    Parameters
    ----------
    inputs
        What the counties of the type share.
    county
        The county code.
    kept
        The county's kept units, by id.
    minimum, base, proposed, load
        Per kept unit: minimum, staff after the closure moves, proposed staff and workload.
    moved_in
        Staff arriving per kept unit id.

    Returns
    -------
    list of dict
        One row per kept unit (keys of ``_UNIT_COLUMNS``).
    """
    return [
        {
            "id": r.id,
            "type": inputs.t,
            "county_code": county,
            "township_code": r.township_code,
            "kind": inputs.kinds[str(r.township_code)],
            "decision": "keep",
            "current_staff": _int(r.current_staff),
            "minimum": int(minimum[k]),
            "moved_in": moved_in[r.id],
            "moved_to": None,
            "post": 0,
            "base": int(base[k]),
            "proposed": int(proposed[k]),
            "rebalance": int(proposed[k] - base[k]),
            "deficit": int(max(minimum[k] - proposed[k], 0)),
            "workload": float(load[k]),
        }
        for k, r in enumerate(kept[_ROW_COLUMNS].itertuples(index=False))
    ]


def _closed_unit_rows(
    inputs: _TypeInputs, county: str, closed_rows: list[tuple[Any, int, str | None]]
) -> list[dict[str, Any]]:
    """Return the unit rows of the county's closed units.

    Parameters
    ----------
    inputs
        What the counties of the type share.
    county
        The county code.
    closed_rows
        Per closed unit: its row, its 警务室 officers and the absorbing unit (or None).

    Returns
    -------
    list of dict
        One row per closed unit (keys of ``_UNIT_COLUMNS``): minimum 0, proposed = post.
    """
    return [
        {
            "id": r.id,
            "type": inputs.t,
            "county_code": county,
            "township_code": r.township_code,
            "kind": inputs.kinds[str(r.township_code)],
            "decision": "close",
            "current_staff": _int(r.current_staff),
            "minimum": 0,
            "moved_in": 0,
            "moved_to": target,
            "post": post,
            "base": post,
            "proposed": post,
            "rebalance": 0,
            "deficit": 0,
            "workload": 0.0,
        }
        for r, post, target in closed_rows
    ]


def county_total(inputs: _TypeInputs, county: str) -> tuple[float, float]:
    """Return the county total the share is taken of (NaN when unknown) and the target share."""
    t, cty, policy = inputs.t, inputs.cty, inputs.policy
    total = (
        _num(cty.at[county, SHARE_TOTAL[t]])
        if (
            cty is not None
            and t in SHARE_TOTAL
            and county in cty.index
            and SHARE_TOTAL[t] in cty.columns
        )
        else float("nan")
    )
    target_share = {
        POLICE: policy.station_share_of_county_police,
        JUDICIAL: policy.office_share_of_establishment,
    }.get(t, float("nan"))
    return total, target_share


def _transfer(inputs: _TypeInputs, county: str, current: int, in_units: int, short: int) -> int:
    """Return the staff moved down (下沉) from the county organs to the kept units.

    As many as the larger of the minima's shortfall and the share target's gap need, at most
    ``transfer_share`` of the organs' staff (county total less the units' staff today); 0 when
    the county total is unknown.

    Parameters
    ----------
    inputs
        What the counties of the type share.
    county
        The county code.
    current
        The units' staff today.
    in_units
        The units' staff after the closures, 警务室 officers included.
    short
        Staff missing to cover the minima (may be negative: a surplus).
    """
    total, target = county_total(inputs, county)
    if not (math.isfinite(total) and total > 0):
        return 0
    gap = math.ceil(target * total - in_units - 1e-9) if math.isfinite(target) else 0
    organs = max(int(math.floor(total - current + 1e-9)), 0)
    cap = int(math.floor(organs * inputs.policy.transfer_share + 1e-9))
    return int(min(max(gap, short, 0), cap))


def _county_share(
    inputs: _TypeInputs, county: str, current: int, in_units: int
) -> dict[str, float]:
    """Return the county share figures: the units' staff against the county total.

    Parameters
    ----------
    inputs
        What the counties of the type share (county figures and policy).
    county
        The county code.
    current
        The units' staff before the plan.
    in_units
        The units' proposed staff, 警务室 officers included.

    Returns
    -------
    dict
        ``county_total``, ``share_current``, ``share``, ``share_target`` and
        ``share_gap_staff`` (staff missing to reach the target); NaN where the county has no
        total or the type no share rule.
    """
    total, target_share = county_total(inputs, county)
    ok_total = math.isfinite(total) and total > 0
    share_current = current / total if ok_total else float("nan")
    share = in_units / total if ok_total else float("nan")
    gap = max(math.ceil(target_share * total - in_units - 1e-9), 0) if ok_total else float("nan")
    return {
        "county_total": total,
        "share_current": share_current,
        "share": share,
        "share_target": target_share,
        "share_gap_staff": gap,
    }


def _recruits(inputs: _TypeInputs, county: str, shortfall: int) -> dict[str, float]:
    """Return the new staff a county's shortfall implies, and the county's planned recruits.

    Parameters
    ----------
    inputs
        What the counties of the type share (county figures and policy).
    county
        The county code.
    shortfall
        Staff missing to cover the minima.

    Returns
    -------
    dict
        ``recruits_needed`` (for police ``shortfall / recruits_to_stations_share`` rounded
        up, else the shortfall), ``planned_recruits`` and ``planned_recruits_to_units``
        (police only, NaN otherwise or when not given).
    """
    t, cty, policy = inputs.t, inputs.cty, inputs.policy
    to_units = shortfall
    if t == POLICE:
        recruits = math.ceil(shortfall / policy.recruits_to_stations_share - 1e-9)
        planned = (
            _num(cty.at[county, "new_police_recruits"])
            if cty is not None and county in cty.index and "new_police_recruits" in cty.columns
            else float("nan")
        )
        planned_to_units = (
            math.floor(planned * policy.recruits_to_stations_share + 1e-9)
            if math.isfinite(planned)
            else float("nan")
        )
    else:
        recruits = shortfall
        planned = planned_to_units = float("nan")
    return {
        "recruits_needed": recruits,
        "recruits_to_units": to_units,
        "planned_recruits": planned,
        "planned_recruits_to_units": planned_to_units,
    }


def _checks(
    units: pd.DataFrame, counties: pd.DataFrame, policy: StaffingPolicy, types: list[str]
) -> list[Check]:
    """Recompute the staffing rules from the proposal (units and county rows).

    Parameters
    ----------
    units
        The proposal's unit rows.
    counties
        The proposal's county rows.
    policy
        The staffing rules.
    types
        The facility types of the plan, in order.

    Returns
    -------
    list of Check
        Per type: the minima, the 警务室 officers (police, clause 5), the county share (police
        and judicial offices) and, when the policy limits units to the staffable, that limit.
    """
    checks: list[Check] = []
    for t in types:
        u = units[(units["type"] == t) & (units["decision"] == "keep")]
        c = counties[counties["type"] == t].set_index("county_code")
        checks.append(_minimum_check(t, u, c, policy))
        if t == POLICE and policy.police_office_staff > 0:
            closed = units[(units["type"] == t) & (units["decision"] == "close")]
            checks.append(_office_post_check(closed, policy))
        if t in SHARE_TOTAL:
            checks.append(_share_check(t, c, policy))
        if policy.limit_units_to_staffable:
            checks.append(_staffable_check(t, c))
    return checks


def _minimum_check(t: str, u: pd.DataFrame, c: pd.DataFrame, policy: StaffingPolicy) -> Check:
    """Check that every kept unit reaches its minimum after the proposal (确保: a hard rule).

    Parameters
    ----------
    t
        The facility type.
    u
        The type's kept unit rows.
    c
        The type's county rows indexed by county code.
    policy
        The staffing rules.

    Returns
    -------
    Check
        ``met`` when every kept unit has its minimum after the moves and the 下沉; else
        ``not_met`` with each county's shortfall and the recruits it needs.
    """
    below = u[u["proposed"] < u["minimum"]]
    missing = (below["minimum"] - below["proposed"]).groupby(below["county_code"]).sum()
    short = []
    for county, n_missing in missing.items():
        row: Any = c.loc[str(county)]
        ids = "、".join(below.loc[below["county_code"] == county, "id"])
        short.append(
            {
                "id": str(county),
                "shortfall": int(n_missing),
                "units_below": int((below["county_code"] == county).sum()),
                "recruits_needed": int(row["recruits_needed"]),
                "reason": f"下沉后仍缺{int(n_missing)}人（{ids}低于最低配备）；需"
                f"{_hire_text(t, row, policy)}",
            }
        )
    rule, target = _minimum_rule(t, policy)
    return make_check(
        t,
        CLAUSE[t],
        rule,
        target,
        f"{len(u) - len(below)} of {len(u)} kept {FACILITY_LABELS_ZH[t]} at the minimum",
        violations=short,
    )


def _role_checks(
    f: pd.DataFrame, units: pd.DataFrame, types: list[str], notes: list[str]
) -> list[Check]:
    """Check the minima per role where the facilities give staff by role (clauses 8, 12).

    A kept unit's roles are its own plus those of the closed units it absorbs (their staff
    move with their posts); the move-down and the rebalancing are head counts and name no role.
    Where a type's facilities give no role column, the minima are checked by head count only
    (:func:`_minimum_check`) and a note says so.

    Parameters
    ----------
    f
        The prepared facilities (role columns optional, NaN where not given).
    units
        The proposal's unit rows (``moved_to`` of the closed units).
    types
        The facility types of the plan.
    notes
        Receives the head-count-only and blank-role notes.

    Returns
    -------
    list of Check
        One check per type with roles given: ``met`` when every kept unit has each role, else
        ``not_met`` listing each unit with the roles it lacks (确保: no exceptions).
    """
    checks = []
    for t in types:
        roles = ROLE_MINIMA.get(t, {})
        cols = [c for c in roles if c in f.columns]
        ft = f[f["type"] == t].set_index("id")
        if not roles:
            continue
        if not cols or not ft[cols].notna().to_numpy().any():
            notes.append(
                f"{t}: the facilities give no staff by role ({', '.join(roles)}): clause "
                f"{CLAUSE[t]} minima checked by head count only"
            )
            continue
        blank = ft.index[ft[cols].isna().all(axis=1)].tolist()
        if blank:
            notes.append(
                f"{t}: no staff by role for {len(blank)} facilities, counted as 0: "
                + ", ".join(blank[:10])
                + (" …" if len(blank) > 10 else "")
            )
        counts = ft[cols].fillna(0).round().astype("int64")
        u = units[units["type"] == t]
        kept = u.loc[u["decision"] == "keep", "id"].tolist()
        closed = u[(u["decision"] == "close") & u["moved_to"].notna()]
        have = counts.reindex(kept).fillna(0)
        moved = counts.reindex(closed["id"]).groupby(closed["moved_to"].to_numpy()).sum()
        have = have.add(moved.reindex(kept).fillna(0), fill_value=0).astype("int64")
        short = []
        for uid, row in have.iterrows():
            lack = {c: roles[c][1] - int(row[c]) for c in cols if int(row[c]) < roles[c][1]}
            if lack:
                words = "、".join(f"{roles[c][0]}{n}名" for c, n in lack.items())
                held = "、".join(f"{roles[c][0]}{int(row[c])}" for c in cols)
                short.append(
                    {
                        "id": str(uid),
                        "missing": lack,
                        "reason": f"缺{words}（本{FACILITY_LABELS_ZH[t][-1]}及并入机构合计：{held}）；"
                        "需从县级机关下沉或增配该岗位人员",
                    }
                )
        names = "、".join(f"{n}名{roles[c][0]}" for c, (_, n) in roles.items())
        english = ", ".join(
            f"{n} {c.removesuffix('s').replace('_', ' ')}" for c, (_, n) in roles.items()
        )
        checks.append(
            make_check(
                t,
                CLAUSE[t],
                f"每个{FACILITY_LABELS_ZH[t]}至少配备{names}（按岗位核对）/ by role: each kept "
                f"{FACILITY_LABELS_ZH[t]} has at least {english}",
                {c: roles[c][1] for c in roles},
                f"{len(have) - len(short)} of {len(have)} kept {FACILITY_LABELS_ZH[t]} have every role",
                violations=short,
            )
        )
    return checks


def _office_post_check(closed: pd.DataFrame, policy: StaffingPolicy) -> Check:
    """Check clause 5: every 警务室 of a closed station has its officers (a check that can fail).

    Parameters
    ----------
    closed
        The closed stations' unit rows (``post``: officers left in the 警务室).
    policy
        The staffing rules (``police_office_staff``).

    Returns
    -------
    Check
        Each 警务室 with fewer than ``police_office_staff`` officers is a violation.
    """
    n = policy.police_office_staff
    low = closed[closed["post"] < n]
    return make_check(
        POLICE,
        "5",
        f"撤并派出所的乡镇设警务室并落实必要警力（每室不少于{n}人）/ every police office of a "
        f"closed station has at least {n} officers",
        n,
        f"{len(closed) - len(low)} of {len(closed)} 警务室",
        violations=[
            {
                "id": str(r.id),
                "post": _int(r.post),
                "reason": f"原派出所仅{_int(r.current_staff)}人，警务室{_int(r.post)}人，少于{n}人",
            }
            for r in low.itertuples()
        ],
    )


def _hire_text(t: str, row: Any, policy: StaffingPolicy) -> str:
    """Return, in words, the new staff a county row's shortfall needs.

    Parameters
    ----------
    t
        The facility type.
    row
        The county row (``recruits_needed``, ``planned_recruits``,
        ``planned_recruits_to_units``).
    policy
        The staffing rules.

    Returns
    -------
    str
        For police the recruits (and the county's plan when given), else the staff to add.
    """
    if t != POLICE:
        return f"新增{int(row['recruits_needed'])}人（增编或从县级机关下沉）"
    hire = (
        f"新录用民警至少{int(row['recruits_needed'])}人（其中{int(row['recruits_to_units'])}人"
        f"分配到派出所，按新录用民警{policy.recruits_to_stations_share:.0%}到派出所计）"
    )
    if math.isfinite(row["planned_recruits"]):
        hire += (
            f"；本县计划录用{row['planned_recruits']:g}人，"
            f"其中{row['planned_recruits_to_units']:g}人到派出所"
        )
    return hire


def _minimum_rule(t: str, policy: StaffingPolicy) -> tuple[str, Any]:
    """Return the minimum-staff rule of a type in words and its target.

    Parameters
    ----------
    t
        The facility type.
    policy
        The staffing rules.

    Returns
    -------
    rule : str
        The rule (Chinese, then English).
    target
        The minimum by township kind (police), else the minimum per unit.
    """
    if t == POLICE:
        rule = (
            f"建制乡、建制镇派出所民警分别不少于{policy.station_min_township}人、"
            f"{policy.station_min_town}人 / each kept station >= {policy.station_min_township} "
            f"officers in a 乡, {policy.station_min_town} in a 镇, "
            f"{policy.station_min_street} in a 街道"
        )
        target: Any = {
            KIND_TOWNSHIP: policy.station_min_township,
            KIND_TOWN: policy.station_min_town,
            KIND_STREET: policy.station_min_street,
            KIND_OTHER: policy.station_min_other,
        }
        return rule, target
    if t == JUDICIAL:
        rule = (
            f"每个司法所至少配备1名司法助理员、1名工作人员 / each kept office >= "
            f"{policy.office_min_staff} staff"
        )
        return rule, policy.office_min_staff
    rule = (
        f"每个人民法庭至少配备1名员额法官、1名书记员和1名司法警察 / each kept court >= "
        f"{policy.court_min_staff} staff"
    )
    return rule, policy.court_min_staff


def _share_check(t: str, c: pd.DataFrame, policy: StaffingPolicy) -> Check:
    """Check the county share after the proposal (保证/不低于: a hard rule).

    Parameters
    ----------
    t
        The facility type (police or judicial office).
    c
        The type's county rows indexed by county code.
    policy
        The staffing rules.

    Returns
    -------
    Check
        ``not_met`` when any county is below the target after the 下沉 (listed with its share,
        total and the staff still missing) or gives no county total (the share cannot be
        shown); the actual value is the smallest share computed.
    """
    share_target = (
        policy.station_share_of_county_police
        if t == POLICE
        else policy.office_share_of_establishment
    )
    short: list[dict[str, Any]] = []
    shares = []
    for county, row in c.iterrows():
        if not math.isfinite(row["share"]):
            short.append({"id": str(county), "reason": f"缺少县级{SHARE_TOTAL[t]}，无法核查占比"})
            continue
        shares.append(row["share"])
        if row["share"] + 1e-9 < share_target:
            short.append(
                {
                    "id": str(county),
                    "share": round(float(row["share"]), 6),
                    "county_total": float(row["county_total"]),
                    "share_gap_staff": int(row["share_gap_staff"]),
                    "reason": f"下沉{int(row['transfer_down'])}人后占比{row['share']:.1%}"
                    f"（总数{row['county_total']:g}），距{share_target:.0%}仍缺"
                    f"{int(row['share_gap_staff'])}人",
                }
            )
    who = (
        "公安派出所警力达到县级公安机关总警力"
        if t == POLICE
        else "司法所占编比例不低于县级司法行政机关政法专项编制的"
    )
    return make_check(
        t,
        CLAUSE[t],
        f"{who}{share_target:.0%}以上 / kept {t}s hold >= {share_target:.0%} of the county total",
        share_target,
        round(min(shares), 6) if shares else None,
        violations=short,
    )


def _staffable_check(t: str, c: pd.DataFrame) -> Check:
    """Check that no county keeps more units than its staff can man at the minimum.

    Parameters
    ----------
    t
        The facility type.
    c
        The type's county rows indexed by county code.

    Returns
    -------
    Check
        Each county keeping more units than ``staffable_units`` is a violation.
    """
    over = c[c["units_kept"] > c["staffable_units"]]
    return make_check(
        t,
        CLAUSE[t],
        f"保留的{FACILITY_LABELS_ZH[t]}不多于现有人员按最低配备可支撑的数量 / kept units <= units "
        "the county's staff can man at the minimum",
        "units_kept <= staffable_units",
        f"{len(c) - len(over)} of {len(c)} counties",
        violations=[
            {
                "id": str(k),
                "reason": f"保留{int(r['units_kept'])}个，现有人员仅够{int(r['staffable_units'])}个",
            }
            for k, r in over.iterrows()
        ],
    )
