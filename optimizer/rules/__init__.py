"""The work plan's thresholds as validated policy objects, and the screens they define."""

from optimizer.rules.policy import (
    CourtPolicy,
    JudicialPolicy,
    PolicePolicy,
    Policy,
    SolverSettings,
    TravelSettings,
    load_scenario,
)
from optimizer.rules.staffing import StaffingPolicy

__all__ = [
    "CourtPolicy",
    "JudicialPolicy",
    "PolicePolicy",
    "Policy",
    "SolverSettings",
    "StaffingPolicy",
    "TravelSettings",
    "load_scenario",
]
