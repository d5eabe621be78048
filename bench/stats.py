"""Percentiles and timing of a repeated call."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    if not samples:
        raise ValueError("samples: empty")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def timed(call: Callable[[int], Awaitable[object]], count: int) -> list[float]:
    """Milliseconds of ``count`` sequential calls (the argument is the call's index)."""
    out: list[float] = []
    for i in range(count):
        began = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
    }
