"""What the fetch stage remembers per URL: when it was last fetched (the "recently fetched"
window), by which request, and the validators for a conditional GET (ETag, Last-Modified).

In the service this lives in a faust table (changelogged to Kafka, so it survives restarts),
keyed by the request's article id; here it is plain dicts and pure functions."""

from __future__ import annotations

from typing import TypedDict


class UrlState(TypedDict, total=False):
    fetched_at: float        # epoch seconds of the last fetch (200 or 304)
    trace_id: str            # the request that fetched it
    status: int
    etag: str
    last_modified: str
    url: str                 # the normalised URL, for the refetch schedule
    first_fetched_at: float  # epoch seconds of the first fetch that got the page
    refetched: int           # how many of the scheduled refetches were made (see refetch.py)
    removed: bool            # a refetch found it gone (404/410): no more refetches


def is_redelivery(state: UrlState | None, trace_id: str) -> bool:
    """The same request again (a consumer restart before its offset was committed): it must
    be fetched and emitted again, or at-least-once delivery would lose it."""
    return bool(state) and state.get("trace_id") == trace_id


def unchanged_before(state: UrlState | None, trace_id: str) -> bool:
    """A redelivered request that was answered 304 the first time: it had nothing to emit,
    so there is nothing to fetch again either."""
    return is_redelivery(state, trace_id) and state.get("status") == 304


def recently_fetched(state: UrlState | None, trace_id: str, now: float, window_s: float) -> bool:
    """Another request for a URL fetched less than `window_s` ago: not fetched again."""
    if not state or is_redelivery(state, trace_id) or window_s <= 0:
        return False
    return now - state.get("fetched_at", 0.0) < window_s


def validators(state: UrlState | None, trace_id: str) -> dict | None:
    """Validators for If-None-Match / If-Modified-Since; none for a redelivery, which needs
    the full page again."""
    if not state or is_redelivery(state, trace_id):
        return None
    found = {k: state[k] for k in ("etag", "last_modified") if state.get(k)}
    return found or None


def after_fetch(previous: UrlState | None, status: int, headers: dict[str, str], trace_id: str, now: float,
                url: str | None = None, refetch: int | None = None) -> UrlState:
    """The new state after a 200 or a 304 (a 304 may renew the validators, else keeps them).
    The first fetch's time and the refetches made carry over; `refetch` is the number of the
    scheduled refetch this fetch was."""
    state: UrlState = {"fetched_at": now, "trace_id": trace_id, "status": status}
    previous = previous or {}
    state["first_fetched_at"] = previous.get("first_fetched_at") or now
    state["refetched"] = max(int(previous.get("refetched") or 0), refetch or 0)
    if url or previous.get("url"):
        state["url"] = url or previous["url"]
    kept = previous if status == 304 else {}
    etag = headers.get("etag") or kept.get("etag")
    modified = headers.get("last-modified") or kept.get("last_modified")
    if etag:
        state["etag"] = etag
    if modified:
        state["last_modified"] = modified
    return state


def expired(state: UrlState | None, now: float, retention_s: float) -> bool:
    """State kept longer than NEWSFLOW_FETCH_URL_STATE_RETENTION after the URL's last fetch is
    forgotten: read as absent before the sweep deletes it, so behaviour never depends on when
    the sweep ran. `retention_s <= 0` keeps state forever."""
    if not state or retention_s <= 0:
        return False
    return now - float(state.get("fetched_at") or 0.0) > retention_s
