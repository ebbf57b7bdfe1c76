"""The commit path every agent shares: offsets tracked per partition and committed explicitly.

faust's own offset bookkeeping is switched off for the stages' input topics (they are declared
with `acks=False`, so faust records no acks for them and never commits them); faust still
fetches, buffers and delivers. This module owns the rest, like a Kafka Connect sink task:

1. On assignment it reads the group's committed offsets from the broker (the log start for a
   partition the group never committed) and starts a `PartitionOffsets` for each partition.
2. The stage shell calls `begin(message)` before handling a message and `finish(token)` once
   its outcome is safe (output acknowledged, document written, dead letter sent).
3. Soon after a message is finished (and at least every NEWSFLOW_COMMIT_INTERVAL), it commits,
   per partition, the end of the unbroken run of finished offsets (`offsets.committable_end`),
   so nothing is committed past a message in flight or a message never delivered, and little
   is read twice after a crash.
4. On revocation it waits for the revoked partitions' messages in flight (bounded), commits
   what is safe, and forgets them; their unfinished messages are read again by the next owner.
5. A message faust never delivered leaves a hole that holds its partition's commit: the timer
   seeks the partition back to the hole (public `Consumer.seek`), and `begin` refuses the
   messages that come twice.

One faust internal is called (never replaced): `Consumer._commit(offsets)`, the transport's
commit of explicit offsets, because faust's public `commit()` commits only its own acks.
`check_faust()` verifies it at start-up and the worker refuses to start when it differs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass

import faust
from faust.types import TP

from .backoff import backoff_delay
from .kafka import committed_offsets
from .logs import get_logger
from .offsets import PartitionOffsets
from .settings import Settings

log = get_logger("newsflow.delivery")

# The faust-streaming versions whose `Consumer._commit(offsets)` this module was checked against.
FAUST_VERSIONS = ("0.15.3",)


class FaustMismatch(RuntimeError):
    """The installed faust is not the one the commit path was built on."""


def check_faust() -> None:
    """Refuse to run on a faust whose commit internals differ from the ones checked."""
    from faust.transport.consumer import Consumer

    if faust.__version__ not in FAUST_VERSIONS:
        raise FaustMismatch(f"faust-streaming {faust.__version__} is not one of {FAUST_VERSIONS}: check "
                            "services/core/delivery.py against it (Consumer._commit) before running")
    commit = getattr(Consumer, "_commit", None)
    if commit is None or not inspect.iscoroutinefunction(commit) or \
            list(inspect.signature(commit).parameters) != ["self", "offsets"]:
        raise FaustMismatch("faust's Consumer._commit(offsets) is missing or changed: the commit path cannot run")


@dataclass(frozen=True)
class Token:
    """One message given to an agent: finishing it marks its offset in the assignment it began in."""
    part: PartitionOffsets
    offset: int


class Delivery:
    def __init__(self, app: faust.App, settings: Settings, *, stall_s: float = 30.0, hole_grace_s: float = 3.0,
                 reseek_s: float = 5.0, drain_s: float | None = None):
        self.app, self.settings = app, settings
        self.stall_s = stall_s          # no delivery this long with messages waiting: stalled
        self.hole_grace_s = hole_grace_s  # a hole older than this was skipped, not just overtaken
        self.reseek_s = reseek_s        # a seek back not answered this long is repeated
        # How long a revocation waits for messages in flight: well inside the session timeout.
        self.drain_s = drain_s if drain_s is not None else max(1.0, settings.session_timeout_s * 0.5)
        self.topics: set[str] = set()
        self.parts: dict[TP, PartitionOffsets] = {}
        self._ready = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._finished = asyncio.Event()
        self._holes: dict[TP, tuple[int, float]] = {}
        self._seeking: dict[TP, tuple[int, float]] = {}
        self._last_delivery: dict[TP, float] = {}
        self._last_in_topic: dict[str, float] = {}
        self._started = time.monotonic()

    def own(self, topic: str) -> None:
        """Offsets of `topic` are committed here (its faust topic must have acks=False)."""
        self.topics.add(topic)

    # --- the stage shell's side ---

    async def begin(self, message) -> Token | None:
        """A token if the agent should handle this message; None for one that is not ours
        (revoked meanwhile) or that came twice."""
        await self._ready.wait()
        tp = message.tp
        part = self.parts.get(tp)
        if part is None:
            return None
        now = time.monotonic()
        self._last_delivery[tp] = self._last_in_topic[tp.topic] = now
        sought = self._seeking.get(tp)
        if sought and message.offset == sought[0]:
            del self._seeking[tp]
        if not part.begin(message.offset):
            return None
        return Token(part, message.offset)

    def finish(self, token: Token) -> None:
        token.part.finish(token.offset)
        self._finished.set()

    def in_flight(self) -> int:
        return sum(part.in_flight() for part in self.parts.values())

    # --- committing ---

    async def commit(self, tps: set[TP] | None = None) -> dict[TP, int]:
        """Commit every partition's safe offset; returns what was committed."""
        async with self._commit_lock:
            parts = {tp: part for tp, part in self.parts.items() if tps is None or tp in tps}
            offsets = {tp: end for tp, part in parts.items() if (end := part.commit_point()) is not None}
            if not offsets:
                return {}
            if not await self.app.consumer._commit(offsets):
                log.warning("commit refused (rebalancing): the offsets will be read again", offsets=_show(offsets))
                return {}
            for tp, end in offsets.items():
                parts[tp].committed_to(end)
            return offsets

    async def keep_committing(self, min_gap_s: float = 0.02) -> None:
        """Commit soon after messages finish, at most every `min_gap_s`, and at least every
        commit interval."""
        while True:
            try:
                await asyncio.wait_for(self._finished.wait(), timeout=self.settings.commit_interval_s)
            except asyncio.TimeoutError:
                pass
            self._finished.clear()
            try:
                await self.commit()
            except Exception as exc:  # noqa: BLE001 - the next round commits the same offsets, or more
                log.warning("commit failed, will retry", error=type(exc).__name__, reason=str(exc)[:300])
            await asyncio.sleep(min_gap_s)

    # --- rebalances ---

    async def on_assigned(self, assigned: set[TP]) -> None:
        ours = sorted((tp for tp in assigned if tp.topic in self.topics), key=lambda tp: (tp.topic, tp.partition))
        committed, earliest = await self._positions(ours)
        # Messages before the log start were deleted by retention: nothing to wait for there.
        self.parts = {tp: PartitionOffsets(max(committed.get(tp, 0), earliest.get(tp) or 0)) for tp in ours}
        self._holes.clear()
        self._seeking.clear()
        now = time.monotonic()
        for tp in ours:
            self._last_delivery[tp] = now
        log.info("partitions assigned", positions=_show({tp: p.committed for tp, p in self.parts.items()}))
        self._ready.set()

    async def on_revoked(self, revoked: set[TP]) -> None:
        self._ready.clear()
        ours = {tp for tp in revoked if tp in self.parts}
        in_flight = sum(self.parts[tp].in_flight() for tp in ours)
        deadline = time.monotonic() + self.drain_s
        while any(self.parts[tp].in_flight() for tp in ours) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        left = sum(self.parts[tp].in_flight() for tp in ours)
        committed = await self.commit(ours) if ours else {}
        log.info("partitions revoked", in_flight=in_flight, committed=_show(committed), still_in_flight=left)
        for tp in ours:
            self.parts.pop(tp, None)

    async def _positions(self, tps: list[TP]) -> tuple[dict[TP, int], dict[TP, int]]:
        """Committed offsets and log starts, asked again while the broker cannot answer (it may
        be restarting in the middle of the rebalance)."""
        attempt = 0
        while True:
            try:
                committed = await self._committed_offsets(tps)
                earliest = await self.app.consumer.earliest_offsets(*tps) if tps else {}
                return committed, earliest
            except Exception as exc:  # noqa: BLE001 - broker unavailable: wait, within the rebalance
                attempt += 1
                if attempt >= 10:
                    raise
                delay = backoff_delay(attempt, cap=5.0)
                log.warning("committed offsets not readable, will retry", error=type(exc).__name__, delay_s=round(delay, 2))
                await asyncio.sleep(delay)

    async def _committed_offsets(self, tps: list[TP]) -> dict[TP, int]:
        if not tps:
            return {}
        found = await committed_offsets(self.settings, self.app.conf.id, tps)
        return {TP(tp.topic, tp.partition): offset for tp, offset in found.items()}

    # --- messages faust did not deliver ---

    async def watch(self) -> None:
        """Seek back to holes (a message skipped while later ones came) and stalled partitions
        (messages waiting, none delivered while the rest of the topic flows or the agents idle)."""
        if getattr(self.app, "rebalancing", False) or not self.app.flow_control.is_active() or not self._ready.is_set():
            return
        now = time.monotonic()
        busy = self.in_flight() > 0
        for tp, part in list(self.parts.items()):
            if tp in self._seeking:
                offset, sought_at = self._seeking[tp]
                if now - sought_at > self.reseek_s:
                    log.warning("seek back not answered: seeking again", topic=tp.topic, partition=tp.partition, offset=offset)
                    await self._seek(tp, offset)
                continue
            hole = part.first_missing()
            if hole is not None:
                seen = self._holes.get(tp)
                if seen is None or seen[0] != hole:
                    self._holes[tp] = (hole, now)
                elif now - seen[1] > self.hole_grace_s:
                    log.warning("message skipped by the consumer: reading again from it", topic=tp.topic,
                                partition=tp.partition, offset=hole)
                    await self._seek(tp, hole)
                continue
            self._holes.pop(tp, None)
            position = part.next_expected()
            highwater = self.app.consumer.highwater(tp)
            quiet_s = now - self._last_delivery.get(tp, self._started)
            topic_flowing = now - self._last_in_topic.get(tp.topic, self._started) < self.stall_s
            if highwater is not None and highwater > position and quiet_s > self.stall_s and (topic_flowing or not busy):
                log.warning("partition stalled with messages waiting: reading again", topic=tp.topic,
                            partition=tp.partition, offset=position, highwater=highwater, quiet_s=round(quiet_s, 1))
                self._last_delivery[tp] = now
                await self._seek(tp, position)

    async def _seek(self, tp: TP, offset: int) -> None:
        self._seeking[tp] = (offset, time.monotonic())
        self._holes.pop(tp, None)
        await self.app.consumer.seek(tp, offset)


def _show(offsets: dict[TP, int]) -> dict[str, int]:
    return {f"{tp.topic}:{tp.partition}": offset for tp, offset in offsets.items()}


def install(app: faust.App, settings: Settings) -> Delivery:
    """Attach the commit path to the app: rebalance signals and the commit/watch timers."""
    delivery = Delivery(app, settings)

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        await delivery.on_assigned(set(assigned))

    @app.on_partitions_revoked.connect
    async def _revoked(sender, revoked, **kwargs) -> None:
        await delivery.on_revoked(set(revoked))

    @app.task
    async def _commit() -> None:
        await delivery.keep_committing()

    @app.timer(1.0, name="newsflow.delivery.watch")
    async def _watch() -> None:
        try:
            await delivery.watch()
        except Exception as exc:  # noqa: BLE001 - a seek that failed is tried again next tick
            log.warning("redelivery check failed", error=type(exc).__name__, reason=str(exc)[:300])

    return delivery
