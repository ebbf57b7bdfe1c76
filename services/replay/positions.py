"""Where a replay starts and stops: `--from`/`--to` given as an offset or a time, resolved to
one offset per partition."""

from __future__ import annotations

from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, TopicPartition


def parse_position(text: str | None) -> int | datetime | None:
    """"123" -> offset 123; "2025-06-24" or "2025-06-24T10:00:00Z" -> a UTC time; None -> open."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an offset or an ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def resolve(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], position: int | datetime | None,
                  *, default: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """One offset per partition: an offset applies to every partition (clamped to what exists),
    a time becomes the first offset at or after it (or the end when there is none)."""
    if position is None:
        return dict(default)
    ends = await consumer.end_offsets(partitions)
    if isinstance(position, int):
        starts = await consumer.beginning_offsets(partitions)
        return {tp: min(max(position, starts[tp]), ends[tp]) for tp in partitions}
    millis = int(position.timestamp() * 1000)
    found = await consumer.offsets_for_times({tp: millis for tp in partitions})
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in partitions}
