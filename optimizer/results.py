"""The Plan: decisions, jurisdictions, metrics, rule checks with reasons, and its exports.

Rule checks and metrics are computed here from the decisions alone (which facilities are kept,
which township each serves), not from the model, so they check the model rather than repeat it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.io import Inputs
from optimizer.locate import LocationResult
from optimizer.policy import Policy
from optimizer.schema import CLOSED_BECOMES, CLOSED_BECOMES_ZH, FACILITY_LABELS_ZH, POLICE

__all__ = ["Check", "Plan", "TypePlan", "build_plan", "jurisdictions"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_STATUS_ORDER = {"optimal": 0, "feasible": 1, "no_solution": 2, "infeasible": 3}


@dataclass
class TypePlan:
    """The solved plan of one facility type, before checks and metrics are derived."""

    type: str
    facilities: pd.DataFrame
    assignment: pd.DataFrame
    result: LocationResult
    weight: str
    scope: str
    reduction: float
    limits: dict[str, dict[str, Any]]
    max_distance_km: float | None
    circuity: float
    central_min_townships: int
    pinned_open: tuple[str, ...] = ()
    pinned_closed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """One rule of the work plan checked against the plan.

    Attributes
    ----------
    facility_type
        The facility type the rule is about.
    clause
        Clause number of the work plan (完善农村司法体系工作方案).
    rule
        The rule in words (Chinese, then English).
    target, actual
        What the rule asks and what the plan gives.
    passed
        True when the rule holds, counting the listed exceptions as explained.
    exceptions
        Each exception: ``id`` (facility, township or scope) and ``reason``.
    """

    facility_type: str
    clause: str
    rule: str
    target: Any
    actual: Any
    passed: bool
    exceptions: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain data for ``plan.json``."""
        return {
            "facility_type": self.facility_type,
            "clause": self.clause,
            "rule": self.rule,
            "target": self.target,
            "actual": self.actual,
            "passed": self.passed,
            "exceptions": list(self.exceptions),
        }


@dataclass
class Plan:
    """A proposed layout of facilities with everything needed to judge it.

    Attributes
    ----------
    policy
        The scenario settings used.
    townships
        One row per township (EPSG:4326) with ``served_by__<type>``, ``distance_km__<type>``,
        ``distance_before_km__<type>`` and ``below_threshold``.
    facilities
        One row per current facility with ``decision`` (keep / close), ``becomes``, ``central``,
        ``serves`` (township codes), ``n_served``, ``exception`` and ``pinned``.
    checks
        Rule checks with clause numbers and exceptions.
    metrics
        Per facility type: before/after counts, reduction, distances, load, by county.
    solver
        Per facility type: status, objective, bound, gap, seconds and model size.
    notes
        Warnings and facts about the inputs and the run.
    synthetic
        True when the inputs are the synthetic sample.
    """

    policy: Policy
    townships: gpd.GeoDataFrame
    facilities: pd.DataFrame
    checks: list[Check]
    metrics: dict[str, Any]
    solver: dict[str, dict[str, Any]]
    notes: list[str]
    synthetic: bool
    sources: dict[str, str]
    types: tuple[str, ...]

    def __repr__(self) -> str:
        parts = []
        for t in self.types:
            m = self.metrics[t]
            parts.append(
                f"{t}: {m['before']['count']} -> {m['after']['count']} "
                f"({m['reduction']:.1%} fewer, {self.solver[t]['status']})"
            )
        failed = sum(not c.passed for c in self.checks)
        return f"Plan({'; '.join(parts)}; {len(self.checks)} checks, {failed} failed)"

    @property
    def passed(self) -> bool:
        """True when every rule check passed (exceptions explained)."""
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as the documented ``plan.json`` structure (see docs/outputs.md)."""
        fac_records = []
        for r in self.facilities.itertuples(index=False):
            fac_records.append(
                {
                    "id": r.id,
                    "type": r.type,
                    "name": r.name,
                    "township_code": r.township_code,
                    "county_code": r.county_code,
                    "lon": _num(r.lon),
                    "lat": _num(r.lat),
                    "staff": _num(r.staff),
                    "decision": r.decision,
                    "becomes": _text(r.becomes),
                    "central": bool(r.central),
                    "serves": [str(c) for c in r.serves],  # type: ignore[union-attr]
                    "exception": _text(r.exception),
                    "pinned": _text(r.pinned),
                }
            )
        town_records = []
        tw = self.townships
        for i in range(len(tw)):
            row = tw.iloc[i]
            town_records.append(
                {
                    "code": row["code"],
                    "name": row["name"],
                    "county_code": row["county_code"],
                    "kind": row["kind"],
                    "population": _num(row["population"]),
                    "incidents": _num(row["incidents"]),
                    "tibetan_area": bool(row["tibetan_area"]),
                    "below_threshold": bool(row["below_threshold"]),
                    "served_by": {t: row[f"served_by__{t}"] for t in self.types},
                    "distance_km": {t: _num(row[f"distance_km__{t}"]) for t in self.types},
                    "distance_before_km": {
                        t: _num(row[f"distance_before_km__{t}"]) for t in self.types
                    },
                }
            )
        statuses = [self.solver[t]["status"] for t in self.types]
        solver_total = {
            "status": max(statuses, key=lambda s: _STATUS_ORDER.get(s, 9)),
            "objective": sum(self.solver[t]["objective"] for t in self.types),
            "bound": sum(self.solver[t]["bound"] for t in self.types),
            "gap": max(self.solver[t]["gap"] for t in self.types),
            "seconds": round(sum(self.solver[t]["seconds"] for t in self.types), 3),
            "by_type": self.solver,
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "synthetic": self.synthetic,
            "scenario": self.policy.name,
            "policy": self.policy.to_dict(),
            "inputs": self.sources,
            "notes": self.notes,
            "facility_types": list(self.types),
            "facilities": fac_records,
            "townships": town_records,
            "metrics": self.metrics,
            "checks": [c.to_dict() for c in self.checks],
            "solver": solver_total,
        }

    def write(self, out_dir: str | Path, *, map_tiles: str | None = None) -> list[Path]:
        """Write every output file into ``out_dir``, all or nothing.

        Files are first written to a temporary folder beside ``out_dir`` and moved in only
        when all succeeded, so a failure leaves no half-written plan.

        Parameters
        ----------
        out_dir
            Output folder (created if needed).
        map_tiles
            Optional tile URL template of an office tile server for the map.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        out = Path(out_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".plan-", dir=out.parent))
        try:
            names = self._write_all(tmp, map_tiles=map_tiles)
            out.mkdir(parents=True, exist_ok=True)
            written = []
            for name in names:
                os.replace(tmp / name, out / name)
                written.append(out / name)
            return written
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _write_all(self, d: Path, *, map_tiles: str | None) -> list[str]:
        from optimizer import exports, maps

        names = []
        (d / "plan.json").write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=1, allow_nan=False) + "\n",
            encoding="utf-8",
        )
        names.append("plan.json")
        names += exports.write_tables(self, d)
        names += exports.write_jurisdictions(self, d)
        label = "、".join(FACILITY_LABELS_ZH[t] for t in self.types)
        title = f"{label}布局方案：{self.policy.name}"
        m = maps.plan_map(
            self.townships,
            self.facilities,
            title=title,
            facility_types=list(self.types),
            tiles=map_tiles,
            synthetic=self.synthetic,
        )
        maps.save_map(m, d / "map.html")
        names.append("map.html")
        return names


def _text(v: Any) -> str | None:
    """JSON-safe text: None for missing or empty values."""
    return v if isinstance(v, str) and v else None


def _num(v: Any) -> float | None:
    """JSON-safe number: None for NaN, rounded to 6 decimals for stable files."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return round(f, 6)


# ------------------------------------------------------------------ derive checks and metrics


def build_plan(
    inputs: Inputs, policy: Policy, type_plans: list[TypePlan], *, notes: list[str]
) -> Plan:
    """Assemble a :class:`Plan` from solved facility types: decisions, checks and metrics.

    Parameters
    ----------
    inputs
        The inputs the plan was made from.
    policy
        The scenario settings.
    type_plans
        One solved plan per facility type.
    notes
        Notes to carry into the plan.

    Returns
    -------
    Plan
        The assembled plan.
    """
    tw = inputs.townships.copy()
    facs = []
    checks: list[Check] = []
    metrics: dict[str, Any] = {}
    solver: dict[str, dict[str, Any]] = {}
    for tp in type_plans:
        a = tp.assignment.set_index("code").reindex(tw["code"])
        tw[f"served_by__{tp.type}"] = a["served_by"].to_numpy()
        tw[f"distance_km__{tp.type}"] = a["distance_km"].to_numpy(dtype=float)
        tw[f"before_by__{tp.type}"] = a["before_by"].to_numpy()
        tw[f"distance_before_km__{tp.type}"] = a["distance_before_km"].to_numpy(dtype=float)
        if tp.type == POLICE:
            tw["below_threshold"] = a["below_threshold"].to_numpy(dtype=bool)
        f = tp.facilities.copy()
        serves = tw.groupby(f"served_by__{tp.type}")["code"].apply(lambda s: sorted(s))
        f["serves"] = [
            serves.get(i, []) if d == "keep" else []
            for i, d in zip(f["id"], f["decision"], strict=True)
        ]
        f["n_served"] = f["serves"].map(len)
        f["central"] = (f["decision"] == "keep") & (f["n_served"] >= tp.central_min_townships)
        facs.append(f)
        checks += police_checks(tw, f, tp) if tp.type == POLICE else []
        metrics[tp.type] = type_metrics(tw, f, tp)
        r = tp.result
        solver[tp.type] = {
            "status": r.status,
            "objective": _num(r.objective),
            "bound": _num(r.bound),
            "gap": _num(r.gap),
            "seconds": round(r.seconds, 3),
            "solver": r.solver,
            "formulation": r.formulation,
            "variables": r.n_variables,
            "constraints": r.n_constraints,
            "nonzeros": r.n_nonzeros,
            "rounds": r.rounds,
            "objective_unit": f"{tp.weight}-weighted km",
        }
    if "below_threshold" not in tw:
        tw["below_threshold"] = False
    facilities = pd.concat(facs, ignore_index=True)
    cols = [c for c in facilities.columns if c != "site_from_seat"]
    synthetic = _is_synthetic(inputs)
    return Plan(
        policy=policy,
        townships=gpd.GeoDataFrame(tw, geometry="geometry", crs=inputs.townships.crs),
        facilities=facilities[cols],
        checks=checks,
        metrics=metrics,
        solver=solver,
        notes=notes,
        synthetic=synthetic,
        sources=dict(inputs.sources),
        types=tuple(tp.type for tp in type_plans),
    )


def _is_synthetic(inputs: Inputs) -> bool:
    """Tell whether the inputs come from the sample builder (its README says SYNTHETIC)."""
    for path in inputs.sources.values():
        readme = Path(path).parent / "README.md"
        if readme.is_file() and "SYNTHETIC" in readme.read_text(encoding="utf-8", errors="ignore"):
            return True
    return False


def _weights(tw: pd.DataFrame, weight: str) -> np.ndarray:
    return tw["population" if weight == "population" else "incidents"].to_numpy(dtype=float)


def police_checks(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> list[Check]:
    """Check clauses 4-5 from the decisions alone.

    Parameters
    ----------
    tw
        Townships with ``served_by__police_station`` and ``below_threshold``.
    f
        Police stations with ``decision``, ``becomes``, ``exception`` and ``pinned``.
    tp
        The type plan (for the policy numbers: scope, reduction, limits, distance limit).

    Returns
    -------
    list of Check
    """
    t = POLICE
    checks: list[Check] = []
    kept = f[f["decision"] == "keep"]
    kept_county = dict(zip(kept["id"], kept["county_code"], strict=True))
    served = tw[f"served_by__{t}"]
    ok = [kept_county.get(s) == c for s, c in zip(served, tw["county_code"], strict=True)]
    bad = tw.loc[~np.asarray(ok), "code"].tolist()
    checks.append(
        Check(
            t,
            "4",
            "每个乡镇（街道）由本县一个保留的派出所管辖 / every township served by one kept station in its county",
            len(tw),
            int(np.sum(ok)),
            not bad,
            [{"id": c, "reason": "not served by a kept station of its county"} for c in bad],
        )
    )
    per_town = kept.groupby("township_code").size()
    worst = int(per_town.max()) if len(per_town) else 0
    checks.append(
        Check(
            t,
            "4",
            "每个乡镇至多设一个派出所 / at most one kept station per township",
            "<= 1",
            worst,
            worst <= 1,
            [
                {"id": str(c), "reason": f"{n} stations kept"}
                for c, n in per_town[per_town > 1].items()
            ],
        )
    )
    # reduction at the chosen scope
    from optimizer.plan import scope_key

    scope = tp.scope
    groups = f.assign(g=f["county_code"].map(lambda c: scope_key(str(c), scope)))
    reductions = {}
    excs = []
    passed = True
    for key, grp in groups.groupby("g"):
        before, after = len(grp), int((grp["decision"] == "keep").sum())
        red = 1.0 - after / before if before else 0.0
        reductions[key] = red
        if red + 1e-9 < tp.reduction:
            reason = tp.limits.get(str(key), {}).get("reason", "")
            if reason:
                excs.append(
                    {"id": str(key), "reason": f"{after} of {before} kept ({red:.1%}): {reason}"}
                )
            else:
                passed = False
                excs.append(
                    {"id": str(key), "reason": f"{after} of {before} kept ({red:.1%}); no reason"}
                )
    scope_zh = {
        "province": "全省（全部数据）",
        "prefecture": "各市（州）",
        "county": "各县（市、区）",
    }[scope]
    checks.append(
        Check(
            t,
            "4",
            f"派出所数量减少35%以上（{scope_zh}）/ at least {tp.reduction:.0%} fewer stations at scope {scope}",
            round(tp.reduction, 6),
            round(min(reductions.values()), 6),
            passed,
            excs,
        )
    )
    # threshold screen
    small_towns = set(tw.loc[tw["below_threshold"], "code"])
    breaking = kept[kept["township_code"].isin(small_towns)]
    exc = [
        {"id": str(r.id), "reason": str(r.exception)} for r in breaking.itertuples() if r.exception
    ]
    unexplained = [str(r.id) for r in breaking.itertuples() if not r.exception]
    checks.append(
        Check(
            t,
            "4",
            "涉藏地区外实有人口<2万且年警情<50的乡镇原则上不设派出所 / no station in a township below "
            "20,000 people and 50 incidents outside the Tibetan areas",
            0,
            len(breaking),
            not unexplained,
            exc + [{"id": i, "reason": "kept without a reason"} for i in unexplained],
        )
    )
    closed = f[f["decision"] == "close"]
    offices = int((closed["becomes"] == CLOSED_BECOMES[t]).sum())
    checks.append(
        Check(
            t,
            "5",
            "撤并的派出所改设警务室 / every closed station becomes a police office (警务室)",
            len(closed),
            offices,
            offices == len(closed),
        )
    )
    if tp.max_distance_km is not None:
        d = tw[f"distance_km__{t}"]
        far = tw.loc[d > tp.max_distance_km + 1e-9, "code"].tolist()
        checks.append(
            Check(
                t,
                "4",
                f"乡镇驻地到派出所不超过{tp.max_distance_km:g}公里 / travel distance within the limit",
                tp.max_distance_km,
                round(float(d.max()), 3),
                not far,
                [{"id": c, "reason": "beyond the distance limit"} for c in far],
            )
        )
    if tp.pinned_open or tp.pinned_closed:
        dec = dict(zip(f["id"], f["decision"], strict=True))
        broken = [i for i in tp.pinned_open if dec.get(i) != "keep"] + [
            i for i in tp.pinned_closed if dec.get(i) != "close"
        ]
        checks.append(
            Check(
                t,
                "III",
                "规划人员指定保留或撤并的派出所 / stations pinned by the planner",
                len(tp.pinned_open) + len(tp.pinned_closed),
                len(tp.pinned_open) + len(tp.pinned_closed) - len(broken),
                not broken,
                [{"id": i, "reason": "pin not respected"} for i in broken],
            )
        )
    return checks


def type_metrics(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> dict[str, Any]:
    """Before/after metrics of one facility type, in total and by county.

    Parameters
    ----------
    tw
        Townships with the type's ``served_by``/``distance`` columns.
    f
        The type's facilities with decisions.
    tp
        The type plan.

    Returns
    -------
    dict
        ``before`` / ``after`` (count, mean and max weighted distance, population and incidents
        per facility), ``reduction``, ``central``, ``closed_becomes`` and ``by_county``.
    """
    t = tp.type
    w = _weights(tw, tp.weight)
    d_after = tw[f"distance_km__{t}"].to_numpy(dtype=float)
    d_before = tw[f"distance_before_km__{t}"].to_numpy(dtype=float)
    pop = float(tw["population"].sum())
    inc = float(tw["incidents"].sum())

    def side(count: int, d: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
        wsum = float(weights.sum())
        return {
            "count": count,
            "mean_distance_km": _num(
                float((weights * d).sum() / wsum) if wsum > 0 else float(d.mean())
            ),
            "max_distance_km": _num(float(d.max()) if len(d) else 0.0),
            "population_per_facility": _num(pop / count if count else None),
            "incidents_per_facility": _num(inc / count if count else None),
        }

    n_before = len(f)
    n_after = int((f["decision"] == "keep").sum())
    by_county = []
    for county, idx in tw.groupby("county_code").groups.items():
        rows = tw.loc[idx]
        fc = f[f["county_code"] == county]
        wc = _weights(rows, tp.weight)
        b, a = len(fc), int((fc["decision"] == "keep").sum())
        dc = rows[f"distance_km__{t}"].to_numpy(dtype=float)
        dbc = rows[f"distance_before_km__{t}"].to_numpy(dtype=float)
        ws = float(wc.sum())
        by_county.append(
            {
                "county_code": county,
                "townships": len(rows),
                "population": _num(rows["population"].sum()),
                "before": b,
                "after": a,
                "reduction": _num(1 - a / b if b else 0.0),
                "mean_distance_before_km": _num((wc * dbc).sum() / ws if ws > 0 else dbc.mean()),
                "mean_distance_after_km": _num((wc * dc).sum() / ws if ws > 0 else dc.mean()),
                "max_distance_after_km": _num(dc.max()),
                "population_per_facility_after": _num(rows["population"].sum() / a if a else None),
            }
        )
    becomes = CLOSED_BECOMES[t]
    return {
        "weight": tp.weight,
        "before": side(n_before, d_before, w),
        "after": side(n_after, d_after, w),
        "reduction": _num(1 - n_after / n_before if n_before else 0.0),
        "central": int(f["central"].sum()),
        "closed_becomes": {becomes: int((f["becomes"] == becomes).sum())},
        "closed_becomes_zh": CLOSED_BECOMES_ZH[becomes],
        "objective": _num(float((w * d_after).sum())),
        "by_county": by_county,
    }


def jurisdictions(plan: Plan, facility_type: str) -> gpd.GeoDataFrame:
    """Dissolve townships into one service area (辖区) per kept facility.

    Parameters
    ----------
    plan
        A plan.
    facility_type
        Which facility type.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per kept facility: ``facility_id``, ``name``, ``township_code``,
        ``n_townships``, ``population``, ``incidents``, ``central`` and the dissolved polygon.
    """
    col = f"served_by__{facility_type}"
    parts = plan.townships[[col, "population", "incidents", "geometry"]].rename(
        columns={col: "facility_id"}
    )
    out = parts.dissolve(by="facility_id", aggfunc={"population": "sum", "incidents": "sum"})
    out["n_townships"] = parts.groupby("facility_id").size()
    out = out.reset_index()
    f = plan.facilities[plan.facilities["type"] == facility_type].set_index("id")
    out["name"] = out["facility_id"].map(f["name"])
    out["township_code"] = out["facility_id"].map(f["township_code"])
    out["central"] = out["facility_id"].map(f["central"]).astype(bool)
    cols = [
        "facility_id",
        "name",
        "township_code",
        "n_townships",
        "population",
        "incidents",
        "central",
        "geometry",
    ]
    return out[cols].sort_values("facility_id").reset_index(drop=True)
