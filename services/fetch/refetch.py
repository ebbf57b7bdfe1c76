"""The refetch schedule: a page fetched for the first time is fetched again after each delay
of NEWSFLOW_FETCH_REFETCH_SCHEDULE (1 h, 6 h and 24 h by default), with a conditional GET, so
corrections reach the index (a 304 costs nothing) and a page taken down (404 or 410) is marked
removed.

Pure parts: which URLs are due, the refetch requests, and the removal event. The fetch service
runs `due` on a timer over its URL state table and sends the requests to its own input topic;
the handler (fetcher.py) records each refetch in the state, so a request sent twice (after a
restart, or by a standby replica) is fetched once."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from ..core.envelope import make_event, utc_now
from ..core.ids import new_trace_id

REQUEST_SCHEMA = "news.fetch.request/1"
REMOVED_SCHEMA = "news.removed/1"
REMOVED_STATUSES = (404, 410)
SOURCE = "refetch"


def parse_schedule(value: str) -> tuple[float, ...]:
    """"1h,6h,24h" -> seconds after the first fetch, ascending. Units s, m, h, d; a bare number
    is seconds; empty: no refetches. Raises ValueError for anything else."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    delays = []
    for part in value.replace(" ", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        number, unit = (part[:-1], part[-1]) if part[-1] in units else (part, "s")
        seconds = float(number) * units[unit]
        if seconds <= 0:
            raise ValueError(f"refetch delay {part!r} is not positive")
        delays.append(seconds)
    return tuple(sorted(delays))


def due(states: Iterable[tuple[str, dict]], now: float, schedule: tuple[float, ...]) -> list[tuple[str, str, int]]:
    """(article id, url, refetch number) of every URL whose next scheduled refetch is due: the
    n-th refetch (1-based) is due `schedule[n-1]` seconds after the first fetch. Only the next
    one: a URL many refetches behind (the service was down) is refetched once, then the
    following one waits for its own time."""
    found = []
    for key, state in states:
        if not isinstance(state, dict) or state.get("removed") or not state.get("url") or not state.get("first_fetched_at"):
            continue
        done = int(state.get("refetched") or 0)
        if done >= len(schedule):
            continue
        if now - state["first_fetched_at"] >= schedule[done]:
            # skip the points already past, so a late service does not fetch three times in a row
            number = max(n for n in range(done + 1, len(schedule) + 1) if now - state["first_fetched_at"] >= schedule[n - 1])
            found.append((key, state["url"], number))
    return found


def next_due_at(state: dict, schedule: tuple[float, ...]) -> float | None:
    """When the URL's next scheduled refetch falls due (epoch seconds); None when none is left
    (schedule done, page removed, or no URL kept). Stored with the state and indexed, so the
    refetch check asks for `due_at <= now` instead of scanning every URL (url_state.py)."""
    if not isinstance(state, dict) or state.get("removed") or not state.get("url") or not state.get("first_fetched_at"):
        return None
    done = int(state.get("refetched") or 0)
    if done >= len(schedule):
        return None
    return float(state["first_fetched_at"]) + schedule[done]


def check_retention(retention_s: float, schedule: tuple[float, ...], refetch_after_s: float) -> None:
    """The URL state must outlast the refetch schedule and the recently-fetched window, or
    refetches would be forgotten before they fall due. Raises ValueError (stops the service)."""
    needed = max((*schedule, refetch_after_s, 0.0))
    if 0 < retention_s <= needed:
        raise ValueError(f"NEWSFLOW_FETCH_URL_STATE_RETENTION ({retention_s:.0f} s) must exceed the last refetch "
                         f"and the recently-fetched window ({needed:.0f} s)")


def refetch_request(article_id: str, url: str, number: int) -> dict:
    return make_event(REQUEST_SCHEMA, article_id, new_trace_id(),
                      {"url": url, "source": SOURCE, "requested_at": utc_now(), "refetch": number}, "fetch")


def removal_event(request: dict, url: str, status: int, reason: str, now: float) -> dict:
    """news.removed/1: a refetch found the article gone; the index stage marks its document."""
    removed_at = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return make_event(REMOVED_SCHEMA, request["id"], request["trace_id"],
                      {"url": url, "status": status, "reason": reason[:500], "removed_at": removed_at}, "fetch")
