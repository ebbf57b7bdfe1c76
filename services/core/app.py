"""The faust app every service is built on: broker, commit path, web endpoints, logging."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import faust
from aiohttp import web as aiohttp_web
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import delivery
from .backoff import backoff_delay
from .kafka import group_id
from .logs import configure_logging, get_logger, logging_config
from .memory import MemoryDebug, trim_malloc
from .security import faust_app_options
from .settings import Settings, get_settings
from .topics import ensure_compacted_topic, ensure_topics

log = get_logger("newsflow.app")


def create_app(service: str, web_port_offset: int, settings: Settings | None = None) -> faust.App:
    """The service's faust app; its health and metrics answer on web_port_base + web_port_offset
    (each stage owns its offset)."""
    settings = settings or get_settings()
    delivery.check_faust()  # refuse to start on a faust the commit path was not checked against
    datadir = settings.var_dir / "faust" / service
    datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        group_id(service, settings),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        web_host="127.0.0.1",
        web_port=settings.web_port_base + web_port_offset,
        web_in_thread=False,
        **faust_app_options(settings),  # replication factor, partitions, broker credentials
        topic_disable_leader=True,
        # The stages' input offsets are committed by core/delivery.py, not by faust.
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=10 * 1024 * 1024,
        producer_acks=-1,
        consumer_max_fetch_size=16 * 1024 * 1024,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.conf.newsflow_service = service
    # Every agent's offsets go through it: see delivery.py for the path of an offset.
    app.delivery = delivery.install(app, settings)

    @app.page("/health")
    async def health(web, request):
        return web.json({"status": "ok", "service": service})

    memory = MemoryDebug(settings.memory_trace_frames)

    @app.page("/debug/memory")
    async def debug_memory(web, request):
        """Heap count per type (and tracemalloc's growth when traced); ?baseline=1 marks the start."""
        return web.json(memory.report(take_baseline=request.query.get("baseline") == "1"))

    if settings.malloc_trim_s > 0:
        @app.timer(settings.malloc_trim_s)
        async def give_back_free_memory():
            trim_malloc()

    @app.page("/metrics")
    async def metrics(web, request):
        return aiohttp_web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return app


async def _ensure_changelogs(app: faust.App, settings: Settings) -> None:
    for table in app.tables.values():
        await ensure_compacted_topic(settings, table.changelog_topic.get_topic_name(), table.partitions or 1)


async def _prepare_broker(app: faust.App, settings: Settings, prepare: Callable[[], Awaitable[None]] | None) -> None:
    """Create the topics the worker needs, waiting for the broker as long as it takes: a service
    (re)started while Kafka is down or restarting waits for it instead of dying."""
    attempt = 0
    while True:
        try:
            created = await ensure_topics(settings)
            if created:
                log.info("topics created", topics=created)
            await _ensure_changelogs(app, settings)
            if prepare:
                await prepare()
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            attempt += 1
            delay = backoff_delay(attempt, cap=10.0)
            log.warning("broker not ready, will retry", error=type(exc).__name__, attempt=attempt, delay_s=round(delay, 2))
            await asyncio.sleep(delay)


def run_worker(app: faust.App, settings: Settings | None = None,
               prepare: Callable[[], Awaitable[None]] | None = None) -> None:
    """Create missing topics (and whatever `prepare` makes), then run the faust worker in the
    foreground until stopped."""
    settings = settings or get_settings()
    service = app.conf.newsflow_service
    configure_logging(settings.log_level, service)
    asyncio.run(_prepare_broker(app, settings, prepare))
    worker = faust.Worker(app, loglevel=settings.log_level, logging_config=logging_config(settings.log_level, service))
    worker.execute_from_commandline()
