"""Pass rates with Wilson score intervals."""

from __future__ import annotations

import math


def wilson(passes: int, runs: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval for a pass rate; (0, 1) when there are no runs."""
    if runs <= 0:
        return 0.0, 1.0
    p = passes / runs
    denom = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denom
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denom
    return max(0.0, round(centre - half, 6)), min(1.0, round(centre + half, 6))
