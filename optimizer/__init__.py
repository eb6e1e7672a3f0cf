"""Plan rural police stations, judicial offices and people's courts after a township merger."""

from optimizer.errors import DataError, InfeasibleError, OptimizerError, PolicyError, SolverError
from optimizer.locate import LocationResult, p_median

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "InfeasibleError",
    "LocationResult",
    "OptimizerError",
    "PolicyError",
    "SolverError",
    "__version__",
    "p_median",
]
