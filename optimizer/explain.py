"""What keeping a closed facility would cost: pin it open, re-solve, compare the objectives.

``optimizer explain --facility ID`` plans the facility's type twice on the same inputs and
scenario: as the scenario says, and with the facility pinned open. The increase of the objective
(weighted km, or minutes with ``travel.cost: time``) is what the proposal saves by closing it;
the facilities whose decision changes show what the model gives up in exchange (to stay within
the cut, another unit closes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from optimizer.errors import InfeasibleError, PolicyError
from optimizer.inputs import Inputs
from optimizer.pipeline import make_plan
from optimizer.report import Plan
from optimizer.rules.policy import Policy
from optimizer.schema import COURT, FACILITY_LABELS_ZH, JUDICIAL, POLICE

__all__ = ["Explanation", "explain_facility"]

_SECTION = {POLICE: "police", JUDICIAL: "judicial", COURT: "court"}


@dataclass(frozen=True)
class Explanation:
    """The cost of keeping one facility open.

    Attributes
    ----------
    facility_id, facility_type, name
        The facility.
    decision
        Its decision in the scenario's plan (``keep`` or ``close``).
    reason_code, reason
        Why, as the plan says.
    objective, objective_pinned
        The type's objective as planned and with the facility pinned open (None when pinning
        it open makes the rules infeasible).
    unit
        What the objective measures.
    changed
        ``(id, decision as planned, decision when pinned)`` of every facility of the type whose
        decision changes.
    infeasible
        The problems when pinning it open makes the rules infeasible, else empty.
    """

    facility_id: str
    facility_type: str
    name: str
    decision: str
    reason_code: str
    reason: str
    objective: float
    objective_pinned: float | None
    unit: str
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    infeasible: list[str] = field(default_factory=list)

    @property
    def increase(self) -> float | None:
        """Objective increase when pinned open (None when infeasible)."""
        if self.objective_pinned is None:
            return None
        return self.objective_pinned - self.objective

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as plain data."""
        return {**dataclasses.asdict(self), "increase": self.increase}

    def text(self) -> str:
        """Return the explanation in Chinese, with the numbers."""
        label = FACILITY_LABELS_ZH[self.facility_type]
        verdict = "保留" if self.decision == "keep" else "撤并"
        head = f"{label} {self.facility_id} {self.name}：方案{verdict}。{self.reason}"
        if self.decision == "keep":
            return head + "\n已在方案中保留，无需计算保留的代价。"
        if self.infeasible:
            return head + "\n指定保留后规则无法同时满足：" + "；".join(self.infeasible)
        inc = self.increase or 0.0
        rel = inc / self.objective if self.objective else 0.0
        lines = [
            head,
            f"目标值（{self.unit}）：方案 {self.objective:,.1f}，指定保留后 "
            f"{self.objective_pinned:,.1f}，{'增加' if inc >= 0 else '减少'} {abs(inc):,.1f}"
            f"（{abs(rel):.2%}）。",
        ]
        if inc < 0:
            lines.append(
                "指定保留后目标值反而减少：撤并它是规则（如撤并门槛）的要求，而非距离最优的选择。"
            )
        if self.changed:
            lines.append(
                "指定保留后决定改变的机构："
                + "；".join(
                    f"{i} {'保留' if a == 'keep' else '撤并'}→{'保留' if b == 'keep' else '撤并'}"
                    for i, a, b in self.changed
                )
            )
        return "\n".join(lines)


def _types_for(t: str, policy: Policy) -> list[str]:
    """Return the types to plan so that type ``t``'s objective is the one of the full plan."""
    if t != POLICE and policy.colocation_bonus_km > 0:
        return [POLICE, t]
    return [t]


def _pinned(policy: Policy, t: str, facility_id: str) -> Policy:
    """Return the policy with ``facility_id`` pinned open (and no longer pinned closed)."""
    sec = getattr(policy, _SECTION[t])
    new = dataclasses.replace(
        sec,
        pin_open=tuple(sorted({*sec.pin_open, facility_id})),
        pin_closed=tuple(p for p in sec.pin_closed if p != facility_id),
        pin_reasons={k: v for k, v in sec.pin_reasons.items() if k != facility_id},
    )
    return dataclasses.replace(policy, **{_SECTION[t]: new})


def explain_facility(
    inputs: Inputs, policy: Policy, facility_id: str, *, plan: Plan | None = None
) -> Explanation:
    """Return what keeping ``facility_id`` open would cost under ``policy``.

    Parameters
    ----------
    inputs
        The validated inputs.
    policy
        The scenario.
    facility_id
        A facility id of the data.
    plan
        The scenario's plan of the facility's type, when already made (else planned here).

    Returns
    -------
    Explanation
        The decision, its reason, both objectives and the decisions that change.

    Raises
    ------
    PolicyError
        When the id is not a facility of the data.
    """
    fac = inputs.facilities
    row = fac[fac["id"].astype(str) == facility_id]
    if row.empty:
        raise PolicyError(f"facility '{facility_id}' is not in the data (column id)")
    t = str(row["type"].iloc[0])
    if t not in _SECTION:
        raise PolicyError(f"facility '{facility_id}' is of type {t}, which is not planned")
    types = _types_for(t, policy)
    base = plan or make_plan(inputs, policy, types=types)
    f = base.facilities.set_index("id")
    decision = str(f.at[facility_id, "decision"])
    common: dict[str, Any] = {
        "facility_id": facility_id,
        "facility_type": t,
        "name": str(f.at[facility_id, "name"]),
        "decision": decision,
        "reason_code": str(f.at[facility_id, "reason_code"]),
        "reason": str(f.at[facility_id, "reason"]),
        "objective": float(base.solver[t].objective or 0.0),
        "unit": base.solver[t].objective_unit,
    }
    if decision == "keep":
        return Explanation(**common, objective_pinned=common["objective"])
    try:
        pinned = make_plan(inputs, _pinned(policy, t, facility_id), types=types)
    except InfeasibleError as exc:
        return Explanation(**common, objective_pinned=None, infeasible=list(exc.problems))
    g = pinned.facilities.set_index("id")
    ft = f[f["type"] == t]
    changed = [
        (str(i), str(d), str(g.at[i, "decision"]))
        for i, d in ft["decision"].items()
        if g.at[i, "decision"] != d
    ]
    return Explanation(
        **common, objective_pinned=float(pinned.solver[t].objective or 0.0), changed=changed
    )
