"""The event envelope every topic carries: schema, id, trace_id, produced_at, producer, payload."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

from .. import __version__
from .schemas import SchemaError, validate


class InvalidEvent(ValueError):
    """Input that is not a valid event of the expected schema (bad JSON, wrong version, ...)."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_seconds(timestamp: str | None) -> float | None:
    """An event's timestamp (ISO 8601, as utc_now writes it) in epoch seconds; None if unparsable."""
    try:
        return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def make_event(schema: str, article_id: str, trace_id: str, payload: dict[str, Any], service: str) -> dict:
    return {
        "schema": schema,
        "id": article_id,
        "trace_id": trace_id,
        "produced_at": utc_now(),
        "producer": {"service": service, "version": __version__},
        "payload": payload,
    }


def encode(event: dict, schema: str) -> bytes:
    """Validate an outgoing event against its schema and serialise it: a stage never writes
    what the next one could not read."""
    validate(event, schema)
    return orjson.dumps(event)


def decode(data: bytes | None, schema: str) -> dict:
    """Parse and validate an incoming event, or raise InvalidEvent with the reason."""
    if not data:
        raise InvalidEvent("empty message")
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise InvalidEvent(f"not a JSON object but {type(event).__name__}")
    found = event.get("schema")
    if found != schema:
        raise InvalidEvent(f"expected schema {schema}, got {found!r}")
    try:
        validate(event, schema)
    except SchemaError as exc:
        raise InvalidEvent(str(exc)) from None
    return event
