"""The live gate's bounds and the tolerance of numeric agreement: plain settings, importable without pandas
(the drift job's command line builds them before it imports anything heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

DEFAULT_ATOL = 1e-6
DEFAULT_RTOL = 0.01
"""As the service's `SHADOW_ATOL` / `SHADOW_RTOL`, so the gate and the report count what its metrics count."""
DEFAULT_MIN_ROWS = 1000
DEFAULT_MIN_AGREEMENT = 0.99
DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_WINDOW = "7d"


@dataclass(frozen=True)
class Tolerance:
    """When two numeric outputs count as the same answer: |shadow - production| <= atol + rtol * |production|."""

    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL


@dataclass(frozen=True)
class LiveBounds:
    """What the live gate requires of a Challenger's shadow rows, and where it reads them."""

    capture_uri: str
    min_rows: int = DEFAULT_MIN_ROWS
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    window: timedelta = timedelta(days=7)
    tolerance: Tolerance = field(default_factory=Tolerance)

    def as_tags(self) -> dict[str, str]:
        return {
            "min_rows": str(self.min_rows),
            "min_agreement": str(self.min_agreement),
            "max_error_rate": str(self.max_error_rate),
            "capture_uri": self.capture_uri,
            "atol": str(self.tolerance.atol),
            "rtol": str(self.tolerance.rtol),
        }
