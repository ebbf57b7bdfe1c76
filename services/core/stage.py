"""The thin shell around a stage's pure function: read, validate, call, write, commit.

A stage is described by a `StageSpec`; `handle_message` turns one input message into the
message to write (the output event, or a dead letter), without touching Kafka, so it is
tested like any pure function. A batch stage (the index) gives `handle_batch` instead, which
settles a list of messages at once; a stage whose work is cheaper per batch of events (the
clustering agent: one search and one write per batch) gives `handle_events`, and
`handle_event_batch` decodes, dead-letters and encodes around it as `handle_message` does.
`attach_stage` wires any of them into a faust agent that sends
the messages, waits for Kafka's acknowledgement, and only then finishes the inputs with the
commit path (delivery.py), which commits an offset once everything before it is finished.
Every agent of every service runs through this one shell.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import faust
import orjson
import structlog

from .backoff import backoff_delay
from .dlq import DLQ_SCHEMA, dead_letter_event
from .envelope import InvalidEvent, decode, encode
from .logs import get_logger
from .metrics import DEAD_LETTERS, DEPENDENCY_WAITS, EVENTS_IN, EVENTS_OUT, IN_FLIGHT, PROCESS_SECONDS
from .outage import while_unavailable
from .settings import Settings, get_settings

log = get_logger("newsflow.stage")


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    schema: str


@dataclass(frozen=True)
class StageSpec:
    name: str
    input_topic: str
    input_schema: str
    # The stage's real work: validated input event -> output event for `output_topic`, or None
    # when the input needs no output (e.g. fetch: page unchanged since last time). Sync
    # functions run in a worker thread so CPU-heavy work does not starve the consumer's
    # heartbeats. A batch stage gives `handle_batch` instead (below).
    output_topic: str | None = None
    output_schema: str | None = None
    handle: Callable[[dict], dict | None] | Callable[[dict], Awaitable[dict | None]] | None = None
    time_limit_s: float = 60.0
    is_async: bool = False
    concurrency: int = 1
    # Failures that are the input's fault (a 404, a page with no article): logged as warnings
    # without a traceback. Anything else is a bug worth a traceback at error level.
    expected_errors: tuple[type[Exception], ...] = ()
    # A batch stage: messages -> one Outgoing (dead letter) or None (done) per message, in
    # order; it returns only once every message is settled. Taken up to `batch_size` at a
    # time, or what came within `batch_seconds`.
    handle_batch: Callable[[list], Awaitable[list["Outgoing | None"]]] | None = None
    # Valid events -> one result per event, in order: the output event, None (nothing to emit),
    # or the exception that dead-letters that input. Waited out while a server it needs is
    # down, as `handle` is; `time_limit_s` is for the whole batch.
    handle_events: Callable[[list[dict]], Awaitable[list[dict | None | Exception]]] | None = None
    batch_size: int = 1
    batch_seconds: float = 1.0
    _executor: ThreadPoolExecutor = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        # one thread per concurrent agent, so `concurrency` sync calls really run side by side
        object.__setattr__(self, "_executor", ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.name))


_ID = re.compile(r"^[0-9a-f]{32}$")


def ids_of(raw: bytes | None) -> tuple[str | None, str | None]:
    """Best-effort article and trace id of a message that may not be valid: only well-formed
    ids are taken, so a malformed message cannot break its own dead letter."""
    try:
        event = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(event, dict):
        return None, None
    found = (event.get("id"), event.get("trace_id"))
    return tuple(v if isinstance(v, str) and _ID.match(v) else None for v in found)


async def handle_message(spec: StageSpec, raw: bytes | None, settings: Settings,
                         partition: int | None = None, offset: int | None = None) -> Outgoing | None:
    """One input message -> the message to write: the stage's output or a dead letter, or None
    when the stage handled the input and has nothing to emit.
    Never raises for bad input: everything the stage cannot handle becomes a dead letter."""
    started = time.perf_counter()
    article_id, trace_id = ids_of(raw)
    with structlog.contextvars.bound_contextvars(article_id=article_id, trace_id=trace_id, stage=spec.name,
                                                 partition=partition, offset=offset):
        try:
            event = decode(raw, spec.input_schema)
            return _output(spec, await _call_until_available(spec, event), settings, started)
        except Exception as exc:  # noqa: BLE001 - every failure of one input is that input's dead letter
            return _dead_letter(spec, exc, raw, settings, partition, offset)
        finally:
            PROCESS_SECONDS.labels(spec.name).observe(time.perf_counter() - started)


async def handle_event_batch(spec: StageSpec, messages: list, settings: Settings) -> list[Outgoing | None]:
    """A batch of input messages -> one message to write (or None) per input, in order, through
    `spec.handle_events`: each message is decoded on its own (an invalid one is its own dead
    letter), the valid events go to `handle_events` together, each result is encoded on its own."""
    started = time.perf_counter()
    outs: list[Outgoing | None] = [None] * len(messages)
    valid: list[tuple[int, dict]] = []
    for i, m in enumerate(messages):
        try:
            valid.append((i, decode(m.value, spec.input_schema)))
        except InvalidEvent as exc:
            outs[i] = _in_context(m, _result_out, spec, exc, m, settings, started)
    if valid:
        async def call() -> list:
            return await asyncio.wait_for(spec.handle_events([event for _, event in valid]), spec.time_limit_s)

        try:
            results = await while_unavailable(call, lambda exc: DEPENDENCY_WAITS.labels(spec.name, exc.dependency).inc())
        except Exception as exc:  # noqa: BLE001 - the batch failed as a whole: each input is a dead letter
            results = [exc] * len(valid)
        for (i, _), result in zip(valid, results, strict=True):
            outs[i] = _in_context(messages[i], _result_out, spec, result, messages[i], settings, started)
    share = (time.perf_counter() - started) / len(messages)  # per event, as handle_message counts
    for _ in messages:
        PROCESS_SECONDS.labels(spec.name).observe(share)
    return outs


def _in_context(message, make: Callable[..., Outgoing | None], spec: StageSpec, *args) -> Outgoing | None:
    """`make(spec, *args)` with the message's ids bound to every log line it writes."""
    article_id, trace_id = ids_of(message.value)
    with structlog.contextvars.bound_contextvars(article_id=article_id, trace_id=trace_id, stage=spec.name,
                                                 partition=message.partition, offset=message.offset):
        return make(spec, *args)


def _result_out(spec: StageSpec, result: dict | None | Exception, message, settings: Settings,
                started: float) -> Outgoing | None:
    """One result for a message of a batch -> its output, or its input's dead letter (the result
    is an exception, or the output fails its schema)."""
    if not isinstance(result, Exception):
        try:
            return _output(spec, result, settings, started)
        except Exception as exc:  # noqa: BLE001 - an output that fails its schema dead-letters its input
            result = exc
    return _dead_letter(spec, result, message.value, settings, message.partition, message.offset)


def _output(spec: StageSpec, result: dict | None, settings: Settings, started: float) -> Outgoing | None:
    if result is None:
        log.info("event handled, nothing to emit", ms=round((time.perf_counter() - started) * 1000, 1))
        return None
    out = Outgoing(settings.topic(spec.output_topic), result["id"].encode(), encode(result, spec.output_schema), spec.output_schema)
    log.info("event handled", output_topic=out.topic, ms=round((time.perf_counter() - started) * 1000, 1))
    return out


def _dead_letter(spec: StageSpec, exc: Exception, raw: bytes | None, settings: Settings,
                 partition: int | None, offset: int | None) -> Outgoing:
    article_id, trace_id = ids_of(raw)
    reason = f"no result within {spec.time_limit_s}s" if isinstance(exc, asyncio.TimeoutError) else None
    letter = dead_letter_event(
        stage=spec.name, error=exc, reason=reason, topic=settings.topic(spec.input_topic),
        original=raw, partition=partition, offset=offset, article_id=article_id, trace_id=trace_id,
    )
    expected = isinstance(exc, (InvalidEvent, *spec.expected_errors))
    level = log.warning if expected else log.error
    level("event dead-lettered", error=letter["payload"]["error"], reason=letter["payload"]["reason"][:500],
          exc_info=(type(exc), exc, exc.__traceback__) if not expected else False)
    return Outgoing(settings.topic("news.dlq"), letter["id"].encode(), encode(letter, DLQ_SCHEMA), DLQ_SCHEMA)


async def _call_until_available(spec: StageSpec, event: dict) -> dict | None:
    """The stage's function on one event; while a server it needs is down, wait and call again
    (see outage.py): the agent is busy meanwhile, so consumption pauses."""
    async def call() -> dict | None:
        if spec.is_async:
            return await asyncio.wait_for(spec.handle(event), spec.time_limit_s)
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(spec._executor, spec.handle, event), spec.time_limit_s)

    return await while_unavailable(call, lambda exc: DEPENDENCY_WAITS.labels(spec.name, exc.dependency).inc())


async def send_acknowledged(app: faust.App, out: Outgoing) -> None:
    """Write and wait until the broker has the message (acks=all); while Kafka cannot take
    it, retry with backoff: the input is neither acked nor dropped meanwhile."""
    attempt = 0
    while True:
        try:
            await app.producer.send_and_wait(out.topic, out.key, out.value, partition=None, timestamp=None, headers=None)
            return
        except Exception as exc:  # noqa: BLE001 - broker errors are transient here; retry
            attempt += 1
            delay = backoff_delay(attempt, cap=30.0, base=0.2)
            log.warning("send failed, retrying", topic=out.topic, error=type(exc).__name__, attempt=attempt, delay_s=round(delay, 2))
            await asyncio.sleep(delay)


def attach_stage(app: faust.App, spec: StageSpec, settings: Settings | None = None, *, partitions: int | None = None) -> None:
    """Run `spec` as an agent of `app` over its input topic. The topic is declared without
    faust's acks: its offsets are committed only by the app's commit path (delivery.py)."""
    settings = settings or get_settings()
    topic = settings.topic(spec.input_topic)
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                       acks=False, partitions=partitions)
    app.delivery.own(topic)

    async def settle(messages: list) -> None:
        tokens = [(m, t) for m in messages if (t := await app.delivery.begin(m)) is not None]
        if not tokens:
            return  # not ours any more, or delivered twice: handled where it is due
        EVENTS_IN.labels(spec.name).inc(len(tokens))  # each input counted once, when admitted
        IN_FLIGHT.labels(spec.name).inc(len(tokens))
        taken = [m for m, _ in tokens]
        if spec.handle_batch is not None:
            outs = await spec.handle_batch(taken)
        elif spec.handle_events is not None:
            outs = await handle_event_batch(spec, taken, settings)
        else:
            outs = [await handle_message(spec, m.value, settings, m.partition, m.offset) for m in taken]
        for out in outs:
            if out is None:
                continue
            # Only once the broker has the output may the input offset be committed.
            await send_acknowledged(app, out)
            if out.schema == DLQ_SCHEMA:
                DEAD_LETTERS.labels(spec.name, orjson.loads(out.value)["payload"]["error"]).inc()
            else:
                EVENTS_OUT.labels(spec.name).inc()
        for _, token in tokens:
            app.delivery.finish(token)
        IN_FLIGHT.labels(spec.name).dec(len(tokens))

    async def process(stream):
        if spec.batch_size > 1:
            async for events in stream.take_events(spec.batch_size, within=spec.batch_seconds):
                await settle([event.message for event in events])
        else:
            async for event in stream.events():
                await settle([event.message])

    app.agent(source, name=f"newsflow.{spec.name}", concurrency=spec.concurrency)(process)
