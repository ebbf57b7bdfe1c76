"""Reading again what faust skipped.

commits.py keeps faust from committing a message no agent handled; this module makes sure
such a message is read again instead of holding its partition's commit forever. faust 0.15.3
can drop messages between the fetch and the agent around a rebalance (a fetched batch cut
short when the generation changes, a read offset moved past messages never delivered),
and then goes on with later offsets. Our input topics have no gaps (no compaction, no
transactions), so:

- `admit` sees a jump in a partition's offsets as skipped messages: it seeks the partition back
  to the first one missed and refuses the messages until that one comes again (and refuses
  repeats of messages already handled in this generation);
- `watch`, run on a timer, finds a partition with messages waiting that nothing has delivered
  while the agents sat idle, and seeks it back to its committed offset.

Either way a message is read at least once more; the stages are idempotent downstream.
"""

from __future__ import annotations

import time

import faust
from faust.types import TP
from faust.types.tuples import Message

from .logs import get_logger

log = get_logger("newsflow.redelivery")


class Redelivery:
    def __init__(self, app: faust.App, stall_s: float = 30.0, reseek_s: float = 5.0):
        self.app = app
        self.stall_s = stall_s  # no delivery this long, with messages waiting: stalled
        self.reseek_s = reseek_s  # a seek back not answered this long is repeated
        self._generation: int | None = None
        self._next: dict[TP, int] = {}  # next offset due per partition, this generation
        self._seeking: dict[TP, tuple[int, float]] = {}  # partitions sought back: (offset awaited, when)
        self._last_delivery: dict[TP, float] = {}
        self._last_in_topic: dict[str, float] = {}
        self._started = time.monotonic()

    def _committed(self, tp: TP) -> int | None:
        return self.app.consumer._committed_offset.get(tp)

    def _same_generation(self) -> None:
        generation = self.app.consumer_generation_id
        if generation != self._generation:  # a rebalance seeks every partition to its committed offset
            self._generation, self._next, self._seeking = generation, {}, {}

    async def _seek(self, tp: TP, offset: int) -> None:
        self._seeking[tp] = (offset, time.monotonic())
        await self.app.consumer.seek(tp, offset)

    async def admit(self, message: Message) -> bool:
        """True if the agent should handle this message. False for a repeat of one already
        handled, and for one that came after skipped messages: the partition is then sought
        back, and the messages come again in order."""
        self._same_generation()
        tp, now = message.tp, time.monotonic()
        expected = self._next.get(tp, self._committed(tp))
        if expected is not None and message.offset > expected and tp not in self._seeking:
            # Messages before the log's start were deleted by retention, not skipped.
            expected = max(expected, (await self.app.consumer.earliest_offsets(tp)).get(tp) or 0)
            if message.offset > expected:
                log.warning("messages skipped by the consumer: reading them again", topic=tp.topic,
                            partition=tp.partition, expected=expected, got=message.offset)
                await self._seek(tp, expected)
        if expected is not None and message.offset != expected:
            return False
        self._seeking.pop(tp, None)
        self._next[tp] = message.offset + 1
        self._last_delivery[tp] = self._last_in_topic[tp.topic] = now
        return True

    async def watch(self) -> None:
        """Seek back again what a seek did not bring back, and partitions that have messages
        waiting but get none while the others of their topic flow (or the agents sit idle)."""
        consumer = self.app.consumer
        if getattr(self.app, "rebalancing", False) or not self.app.flow_control.is_active():
            return
        busy = any(not m.acked for m in list(consumer._unacked_messages))
        now = time.monotonic()
        for tp in consumer.assignment():
            if not self.app.topics.acks_enabled_for(tp.topic):
                continue
            if tp in self._seeking:
                offset, sought_at = self._seeking[tp]
                if now - sought_at > self.reseek_s:
                    log.warning("seek back not answered: seeking again", topic=tp.topic, partition=tp.partition, offset=offset)
                    await self._seek(tp, offset)
                continue
            position = self._next.get(tp, self._committed(tp)) or 0
            highwater = consumer.highwater(tp)
            quiet_s = now - self._last_delivery.get(tp, self._started)
            topic_flowing = now - self._last_in_topic.get(tp.topic, self._started) < self.stall_s
            if highwater is not None and highwater > position and quiet_s > self.stall_s and (topic_flowing or not busy):
                offset = self._committed(tp) or 0
                log.warning("partition stalled with messages waiting: reading again from the committed offset",
                            topic=tp.topic, partition=tp.partition, offset=offset, highwater=highwater,
                            quiet_s=round(quiet_s, 1))
                self._next.pop(tp, None)
                self._last_delivery[tp] = now
                await self._seek(tp, offset)


def install(app: faust.App, interval_s: float = 5.0) -> Redelivery:
    redelivery = Redelivery(app)

    @app.timer(interval_s, name="newsflow.redelivery.watch")
    async def watch() -> None:
        await redelivery.watch()

    return redelivery
