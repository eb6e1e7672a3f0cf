"""The planner's per-township overrides, checked against the data and applied.

A scenario may fix, for one township, the facility of a type that serves it
(``<type>.assign_townships``), its kind (``township_kinds``) and its clause-4 exemption
(``police.exempt_townships``). Each comes with the planner's justification, which the plan
quotes. This module checks every code and id against the data (one message listing every
problem) and applies the kind corrections to the townships.
"""

from __future__ import annotations

import dataclasses

from optimizer.errors import PolicyError
from optimizer.inputs import Inputs
from optimizer.rules.policy import Policy
from optimizer.schema import COURT, JUDICIAL, POLICE

__all__ = ["apply_township_overrides", "check_township_overrides"]

_SECTIONS = {POLICE: "police", JUDICIAL: "judicial", COURT: "court"}


def check_township_overrides(inputs: Inputs, policy: Policy) -> None:
    """Raise one :class:`PolicyError` naming every override the data cannot take.

    Parameters
    ----------
    inputs
        Validated inputs.
    policy
        The scenario.

    Raises
    ------
    PolicyError
        For a township code not in the townships file, a facility id not in the facilities
        file, of another type, or in another county than the township it is to serve.
    """
    tw = inputs.townships
    county = dict(zip(tw["code"].astype(str), tw["county_code"].astype(str), strict=True))
    fac = inputs.facilities.set_index(inputs.facilities["id"].astype(str))
    problems = []

    def unknown(where: str, codes: list[str]) -> None:
        bad = sorted(c for c in codes if c not in county)
        if bad:
            problems.append(
                f"{where}: township code(s) {', '.join(bad)} are not in the townships file; "
                "use the post-merger 9-digit codes"
            )

    unknown("police.exempt_townships", list(policy.police.exempt_townships))
    unknown("township_kinds", list(policy.township_kinds))
    for t, section in _SECTIONS.items():
        where = f"{section}.assign_townships"
        table = getattr(policy, section).assign_townships
        unknown(where, list(table))
        for code, entry in sorted(table.items()):
            fid = entry["facility"]
            if fid not in fac.index:
                problems.append(f"{where}.{code}: facility '{fid}' is not in the facilities file")
                continue
            row = fac.loc[fid]
            if str(row["type"]) != t:
                problems.append(f"{where}.{code}: '{fid}' is a {row['type']}, not a {t}")
            elif code in county and str(row["county_code"]) != county[code]:
                problems.append(
                    f"{where}.{code}: '{fid}' is in county {row['county_code']}, the township in "
                    f"{county[code]}; a township is served within its county"
                )
    if problems:
        raise PolicyError(problems, title="the scenario's township overrides do not fit the data")


def apply_township_overrides(inputs: Inputs, policy: Policy) -> Inputs:
    """Return ``inputs`` with the planner's township kinds applied and a note for each.

    Parameters
    ----------
    inputs
        Validated inputs (not modified).
    policy
        The scenario; ``township_kinds`` sets a township's kind.

    Returns
    -------
    Inputs
        A copy with the kinds changed and one note per change quoting its justification, or
        ``inputs`` itself when there is nothing to change.
    """
    check_township_overrides(inputs, policy)
    if not policy.township_kinds:
        return inputs
    tw = inputs.townships.copy()
    notes = list(inputs.notes)
    codes = tw["code"].astype(str)
    for code, entry in sorted(policy.township_kinds.items()):
        i = tw.index[codes == code][0]
        old, new = str(tw.at[i, "kind"]), entry["kind"]
        tw.at[i, "kind"] = new
        notes.append(
            f"township {code} {tw.at[i, 'name']!s}: 类型由规划人员从{old}改为{new}"
            f"（理由：{entry['reason']}）"
        )
    return dataclasses.replace(inputs, townships=tw, notes=notes)
