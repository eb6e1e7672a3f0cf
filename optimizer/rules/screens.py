"""The plan's screens and groupings as functions of a policy and the township table.

- :func:`scope_key`: the scope group (province, prefecture, county) a county belongs to;
- :func:`below_threshold`: the clause-4 screen (population and incidents);
- :func:`township_cases`: annual cases per township, estimated from population where missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.rules.policy import PolicePolicy

__all__ = ["below_threshold", "scope_key", "tibetan_disagreement", "township_cases"]


def scope_key(county_code: str, scope: str) -> str:
    """Return the scope group a county belongs to.

    Parameters
    ----------
    county_code
        6-digit county code.
    scope
        ``province``, ``prefecture`` or ``county``.

    Returns
    -------
    str
        ``"all"``, the 4-digit prefecture code, or the county code.
    """
    if scope == "province":
        return "all"
    if scope == "prefecture":
        return county_code[:4]
    return county_code


def below_threshold(townships: pd.DataFrame, police: PolicePolicy) -> pd.Series:
    """Return which townships the clause-4 screen says should keep no station of their own.

    Parameters
    ----------
    townships
        Canonical townships (``population``, ``incidents``, ``tibetan_area``).
    police
        The police policy with the thresholds.

    Returns
    -------
    pandas.Series of bool
        True where population < ``min_population`` and incidents < ``min_incidents``, outside
        the 涉藏地区 when those are exempt and outside the planner's ``exempt_townships``.
    """
    small = (townships["population"] < police.min_population) & (
        townships["incidents"] < police.min_incidents
    )
    if police.exempt_tibetan_area:
        small &= ~townships["tibetan_area"].astype(bool)
    if police.exempt_townships:
        small &= ~townships["code"].astype(str).isin(set(police.exempt_townships))
    return small


def tibetan_disagreement(townships: pd.DataFrame, police: PolicePolicy) -> str:
    """Return a note when the townships' ``tibetan_area`` flags disagree with the prefixes.

    The rule (one source): the data's ``tibetan_area`` column wins where the file gives it; the
    policy's ``tibetan_prefixes`` fill it where the file does not (at reading). Flags filled
    from the prefixes agree with them, so any disagreement is a value the data gives.

    Parameters
    ----------
    townships
        Canonical townships with ``county_code`` and ``tibetan_area``.
    police
        The police policy with ``tibetan_prefixes``.

    Returns
    -------
    str
        Empty when they agree; else the townships, and which source was used.
    """
    by_prefix = (
        townships["county_code"]
        .astype(str)
        .map(lambda c: any(c.startswith(p) for p in police.tibetan_prefixes))
    )
    flag = townships["tibetan_area"].astype(bool)
    diff = townships.loc[flag != by_prefix, "code"].astype(str).tolist()
    if not diff:
        return ""
    return (
        f"police: the tibetan_area column of {len(diff)} township(s) disagrees with "
        f"police.tibetan_prefixes {list(police.tibetan_prefixes)}; the data column wins: "
        + ", ".join(diff[:12])
        + (" ..." if len(diff) > 12 else "")
    )


def township_cases(townships: pd.DataFrame, cases_per_10k: float) -> tuple[np.ndarray, int]:
    """Return annual cases per township, estimating missing ones from population.

    Parameters
    ----------
    townships
        Canonical townships (``cases`` may be NaN).
    cases_per_10k
        Cases a year per 10,000 residents for the estimate.

    Returns
    -------
    cases : numpy.ndarray
        Cases per township.
    n_estimated : int
        How many townships were estimated.
    """
    cases = townships["cases"].to_numpy(dtype=float).copy()
    missing = ~np.isfinite(cases)
    cases[missing] = townships["population"].to_numpy(dtype=float)[missing] * cases_per_10k / 1e4
    return cases, int(missing.sum())
