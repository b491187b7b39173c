"""Report arithmetic (pure, no I/O): the median and the 90th percentile of durations, averages.

The median of an even count is the mean of the two middle values; the 90th percentile
is the nearest-rank one (the smallest value at least 90 % of the values are at or
below), so it is always a duration that really happened.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile, `share` in (0, 1]: percentile([1..10], 0.9) == 9."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return float(ordered[rank - 1])


def mean(values: Sequence[float]) -> float | None:
    return float(sum(values)) / len(values) if values else None
