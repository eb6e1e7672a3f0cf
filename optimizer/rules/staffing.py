"""Staffing rules of the work plan (clauses 5, 6, 8, 12): minima per unit and county shares.

The proposal that applies them to a plan lives in :mod:`optimizer.report.staffing`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from optimizer.errors import PolicyError
from optimizer.schema import (
    COURT,
    FACILITY_TYPES,
    JUDICIAL,
    KIND_OTHER,
    KIND_STREET,
    KIND_TOWN,
    KIND_TOWNSHIP,
    KINDS,
    POLICE,
)

__all__ = [
    "CLAUSE",
    "DEFAULT_WORKLOAD",
    "ROLE_MINIMA",
    "SHARE_TOTAL",
    "StaffingPolicy",
    "Workload",
    "minimum_staff",
]

Workload = Literal["population", "incidents", "cases"]

#: Workload measure per facility type when the policy does not set one.
DEFAULT_WORKLOAD: dict[str, Workload] = {
    POLICE: "incidents",
    JUDICIAL: "population",
    COURT: "cases",
}
#: Clause of the staffing rules per facility type.
CLAUSE = {POLICE: "6", JUDICIAL: "8", COURT: "12"}
#: County total the share is taken of, per facility type (courts have no share rule).
SHARE_TOTAL = {POLICE: "police_total", JUDICIAL: "judicial_establishment"}
#: The roles the minima name, per facility type: facility column -> (Chinese name, minimum).
#: Clause 8: 1 司法助理员 per office (the second person may hold any post, so the office's
#: total stays ``office_min_staff``); clause 12: 1 员额法官 + 1 书记员 + 1 司法警察 per court
#: (法官助理 only 有条件的, no minimum). Clause 6 counts 民警 only: stations have no roles.
ROLE_MINIMA: dict[str, dict[str, tuple[str, int]]] = {
    JUDICIAL: {"judicial_assistants": ("司法助理员", 1)},
    COURT: {"judges": ("员额法官", 1), "clerks": ("书记员", 1), "judicial_police": ("司法警察", 1)},
}


@dataclass(frozen=True)
class StaffingPolicy:
    """Staffing rules of the work plan (clauses 5, 6, 8, 12) and the choices where it is silent.

    Parameters
    ----------
    station_min_township
        Officers per kept station in a 建制乡 (clause 6: 5).
    station_min_town
        Officers per kept station in a 建制镇 (clause 6: 10).
    station_min_street
        Officers per kept station in a 街道. The plan gives no number; default 10, as for a
        镇: a 街道 is urban and at least as busy as a town.
    station_min_other
        Officers per kept station in another unit (farms, development zones: codes 400-599).
        The plan gives no number; default 5, as for a 乡.
    station_share_of_county_police
        Stations hold at least this share of the county's police (clause 6: 40 %).
    recruits_to_stations_share
        Share of new police recruits posted to stations (clause 6: 60 %); covering a shortfall
        of S officers needs S / share recruits.
    police_office_staff
        Officers a closed station leaves in its township's 警务室 (clause 5 asks for 必要的警力,
        no number): default 2, so the office can be staffed day and night in turns (白天见警、
        夜晚亮灯). At most the closed station's own staff stay; 0 moves everyone.
    office_min_staff
        Staff per kept judicial office (clause 8: 1 judicial assistant + 1 staff = 2).
    office_share_of_establishment
        Offices hold at least this share of the county's judicial establishment (clause 8: 50 %).
    court_min_staff
        Staff per kept court (clause 12: 1 judge + 1 clerk + 1 judicial police = 3).
    cases_per_10k
        When a township's ``cases`` is missing, court workload is estimated as this many cases a
        year per 10,000 residents (default 65, as ``court.cases_per_10k``: about 540 cases per
        court of ~83,000 people).
    workload
        Workload measure for every type, or ``None`` (default) for the per-type default:
        incidents for stations, population for offices, cases for courts.
    transfer_share
        Share of the county organs' staff (the county total less the units' staff) that the
        proposal may move down (下沉) to stations and offices to reach the minima and the share
        target (clauses 6, 8: 力量下沉); default 1.0 (as many as needed). Lower it to see the
        shortfall a smaller transfer leaves.
    limit_units_to_staffable
        Also check that no county keeps more units than its staff can man at the minimum
        (``staffable_units``). This is a check on the plan, listing every county over; the
        location model does not impose it.
    """

    station_min_township: int = 5
    station_min_town: int = 10
    station_min_street: int = 10
    station_min_other: int = 5
    station_share_of_county_police: float = 0.40
    recruits_to_stations_share: float = 0.60
    police_office_staff: int = 2
    office_min_staff: int = 2
    office_share_of_establishment: float = 0.50
    court_min_staff: int = 3
    cases_per_10k: float = 65.0
    workload: Workload | None = None
    limit_units_to_staffable: bool = False
    transfer_share: float = 1.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        minima = (
            "station_min_township",
            "station_min_town",
            "station_min_street",
            "station_min_other",
            "office_min_staff",
            "court_min_staff",
        )
        for name in minima:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"staffing.{name} = {value!r}: give a whole number of staff >= 1")
        value = self.police_office_staff
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                f"staffing.police_office_staff = {value!r}: give a whole number >= 0 (0: no post)"
            )
        shares = (
            "station_share_of_county_police",
            "recruits_to_stations_share",
            "office_share_of_establishment",
        )
        for name in shares:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                problems.append(f"staffing.{name} = {value!r}: give a share in (0, 1], e.g. 0.4")
        v = self.transfer_share
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            problems.append(f"staffing.transfer_share = {v!r}: give a share in [0, 1], e.g. 1.0")
        c = self.cases_per_10k
        if isinstance(c, bool) or not isinstance(c, int | float) or not c > 0:
            problems.append(f"staffing.cases_per_10k = {c!r}: must be positive (default 65)")
        if self.workload is not None and self.workload not in ("population", "incidents", "cases"):
            problems.append(
                f"staffing.workload = {self.workload!r}: give population, incidents, cases or null"
            )
        if not isinstance(self.limit_units_to_staffable, bool):
            problems.append(
                f"staffing.limit_units_to_staffable = {self.limit_units_to_staffable!r}: give true or false"
            )
        if problems:
            raise PolicyError(problems)

    def workload_for(self, facility_type: str) -> Workload:
        """Return the workload measure used for a facility type.

        Parameters
        ----------
        facility_type
            ``police_station``, ``judicial_office`` or ``court``.

        Returns
        -------
        str
            ``population``, ``incidents`` or ``cases``.
        """
        return self.workload or DEFAULT_WORKLOAD[facility_type]

    def to_dict(self) -> dict[str, Any]:
        """Return every setting as plain data (for ``plan.json``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def minimum_staff(facility_type: str, township_kind: str, policy: StaffingPolicy) -> int:
    """Return the minimum staff of one kept unit.

    Parameters
    ----------
    facility_type
        ``police_station``, ``judicial_office`` or ``court``.
    township_kind
        Kind of the township the unit sits in: 街道, 镇, 乡 or 其他 (only stations depend on it).
    policy
        The staffing rules.

    Returns
    -------
    int
        Officers for a station by township kind (clause 6), 2 for an office (clause 8), 3 for a
        court (clause 12), with the policy's numbers.

    Raises
    ------
    ValueError
        For an unknown facility type or township kind.

    Examples
    --------
    >>> minimum_staff("police_station", "乡", StaffingPolicy())
    5
    >>> minimum_staff("court", "镇", StaffingPolicy())
    3
    """
    if facility_type == POLICE:
        by_kind = {
            KIND_TOWNSHIP: policy.station_min_township,
            KIND_TOWN: policy.station_min_town,
            KIND_STREET: policy.station_min_street,
            KIND_OTHER: policy.station_min_other,
        }
        if township_kind not in by_kind:
            raise ValueError(
                f"unknown township kind {township_kind!r}: expected one of {', '.join(KINDS)}"
            )
        return by_kind[township_kind]
    if facility_type == JUDICIAL:
        return policy.office_min_staff
    if facility_type == COURT:
        return policy.court_min_staff
    raise ValueError(
        f"unknown facility type {facility_type!r}: expected one of {', '.join(FACILITY_TYPES)}"
    )
