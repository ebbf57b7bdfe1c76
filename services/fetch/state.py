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


def after_fetch(previous: UrlState | None, status: int, headers: dict[str, str], trace_id: str, now: float) -> UrlState:
    """The new state after a 200 or a 304 (a 304 may renew the validators, else keeps them)."""
    state: UrlState = {"fetched_at": now, "trace_id": trace_id, "status": status}
    kept = (previous or {}) if status == 304 else {}
    etag = headers.get("etag") or kept.get("etag")
    modified = headers.get("last-modified") or kept.get("last_modified")
    if etag:
        state["etag"] = etag
    if modified:
        state["last_modified"] = modified
    return state
