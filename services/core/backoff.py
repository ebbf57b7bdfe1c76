"""How long to wait before trying again: exponential backoff with jitter."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, cap: float = 10.0, base: float = 0.5) -> float:
    """base * 2^attempt seconds, capped, times a random factor between 0.5 and 1 so that
    replicas do not retry in step."""
    return min(cap, base * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.0)
