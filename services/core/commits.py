"""At-least-once for faust agents: an offset is committed only once our code handled its message.

faust-streaming 0.15.3 can commit the offset of a message no agent handled, and so lose it.
The chaos test found it (runs of messages missing after a SIGKILL and restart) and
tests/unit/test_commits.py pins down each way:

1. When a rebalance starts, a stream *skips* the messages still buffered for it (flow stopped,
   or fetched under an older generation) and acks them as if handled, so the next commit
   moves past them (faust's own comment: "we want to ack the filtered out message").
2. A jump in the offsets it reads is taken for a gap (compaction, transaction markers) and
   filled in as acked; our input topics have no gaps, so a jump means skipped messages.
3. A message at exactly the committed offset that is not acked yet (still in flight in a
   concurrent agent, or skipped) is not seen as a hole: `min(acked) - committed > 1` is off by one.

The correction, installed by `install()` (core.app does): every agent calls `mark_handled`
once a message's outcome is safe (output acknowledged, document written, dead letter sent);
the consumer records an offset as acked only for marked messages, and commits up to the first
offset that is neither acked nor handled. A skipped message is released unrecorded, so the
seek to committed offsets that follows every rebalance reads it again.
"""

from __future__ import annotations

from weakref import WeakSet

from faust.transport.consumer import Consumer
from faust.types.tuples import Message, ack_lock

from .logs import get_logger

log = get_logger("newsflow.commits")

_handled: WeakSet[Message] = WeakSet()
_faust_ack = Consumer.ack


def mark_handled(message: Message) -> None:
    """Our agent is done with this message: its offset may be committed once acked."""
    _handled.add(message)


def _ack(self: Consumer, message: Message) -> bool:
    if message in _handled or not self.app.topics.acks_enabled_for(message.topic):
        return _faust_ack(self, message)
    with ack_lock:  # skipped by faust, not handled: release it without recording its offset
        if not message.acked:
            message.acked = True
            self._unacked_messages.discard(message)
            log.info("message skipped by faust during a rebalance: offset not committed, it will be read again",
                     topic=message.topic, partition=message.partition, offset=message.offset)
    return False


async def _no_gap(self: Consumer, tp, offset_from: int, offset_to: int) -> None:
    """Offsets that were jumped over are not acked: see 2. above."""


def committable_end(committed: int | None, acked: list[int], in_flight: list[int]) -> int | None:
    """The offset to commit (one past the last handled message), or None for nothing new.
    `acked`: handled offsets not yet committed; `in_flight`: offsets given to an agent and not
    yet handled. The commit stops before the first offset that is neither."""
    if not acked:
        return None
    ordered = sorted(set(acked))
    start = ordered[0]
    if committed is not None and start > committed:
        return None  # the message at `committed` is not handled yet
    end = start
    for offset in ordered[1:]:
        if offset != end + 1:
            break
        end = offset
    if in_flight:
        end = min(end, min(in_flight) - 1)
    return end + 1 if end >= start else None


def _new_offset(self: Consumer, tp) -> int | None:
    acked = self._acked[tp]
    in_flight = [m.offset for m in list(self._unacked_messages) if m.tp == tp and not m.acked]
    new = committable_end(self._committed_offset[tp], acked, in_flight)
    if new is not None:
        acked[:] = sorted(o for o in set(acked) if o >= new)
        self._acked_index[tp].intersection_update(acked)
    return new


def install() -> None:
    Consumer.ack = _ack
    Consumer._add_gap = _no_gap
    Consumer._new_offset = _new_offset
