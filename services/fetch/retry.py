"""When to try a URL again, and after how long: pure functions."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# 429 Too Many Requests and the 5xx that mean "not now" are retried; other 4xx are permanent
# (the URL is wrong, gone or forbidden, and asking again will not change that).
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds ('120') or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def retry_delay(attempt: int, retry_after: float | None = None, *, base: float = 1.0, cap: float = 60.0,
                rand=random.random) -> float | None:
    """Seconds to wait before retry number `attempt` (1 = the first retry), or None when the
    server asks for a longer pause than `cap`, so the URL fails now instead of stalling a worker.

    Exponential backoff with jitter (between half and all of base * 2^(attempt-1)) spreads
    retries of many URLs; a server's Retry-After is honoured as a floor."""
    if retry_after is not None and retry_after > cap:
        return None
    backoff = min(cap, base * 2 ** (attempt - 1)) * (0.5 + 0.5 * rand())
    return max(backoff, retry_after or 0.0)
