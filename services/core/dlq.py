"""Dead letters: what a stage could not handle, with the stage, the error and the original."""

from __future__ import annotations

import base64

from .envelope import make_event, utc_now
from .ids import content_id, new_trace_id

DLQ_SCHEMA = "news.dlq/1"


def dead_letter_event(
    *, stage: str, error: Exception | str, reason: str | None = None, topic: str, original: bytes | None,
    partition: int | None = None, offset: int | None = None, article_id: str | None = None,
    trace_id: str | None = None,
) -> dict:
    original = original or b""
    try:
        text, encoding = original.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(original).decode("ascii"), "base64"
    error_name = error if isinstance(error, str) else type(error).__name__
    payload = {
        "stage": stage,
        "error": error_name,
        "reason": reason if reason is not None else (str(error) or error_name),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "original": text,
        "original_encoding": encoding,
        "failed_at": utc_now(),
    }
    # Unreadable input has no article id: the hash of its bytes stands in, so one bad message
    # replayed twice still has one id.
    return make_event(DLQ_SCHEMA, article_id or content_id(original), trace_id or new_trace_id(), payload, stage)


def dead_letter_of(message, *, stage: str, error: Exception | str, reason: str, event: dict | None = None) -> dict:
    """The dead letter of a consumed Kafka message (faust's or aiokafka's), with the article and
    trace id of its decoded event when there is one."""
    return dead_letter_event(stage=stage, error=error, reason=reason, topic=message.topic, original=message.value,
                             partition=message.partition, offset=message.offset,
                             article_id=event["id"] if event else None, trace_id=event["trace_id"] if event else None)
