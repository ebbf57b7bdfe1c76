"""The dashboard's view of the pipeline, from what the search API can reach wherever the
stages run: it scrapes the stages' Prometheus /metrics URLs (NEWSFLOW_STAGE_METRICS_URLS) every
NEWSFLOW_DASHBOARD_SCRAPE_INTERVAL seconds, reads news.dlq from the beginning and keeps counting
new dead letters, and asks Kafka for the consumer groups' offsets when asked. Every scrape is
also stored in Elasticsearch (history.py), and read back when the monitor starts, so a
restarted search API still shows the last NEWSFLOW_DASHBOARD_HISTORY of events/s.

It starts on the first request for the pipeline's health, so a search API nobody opens the
dashboard of never talks to Kafka; unreachable services and brokers are reported, never
raised."""

from __future__ import annotations

import asyncio
import time

import httpx
from aiokafka import AIOKafkaConsumer

from ..core.security import kafka_client_options
from ..core.backoff import backoff_delay
from ..core.kafka import pipeline_status
from ..core.logs import get_logger
from ..core.settings import Settings
from ..stages import STAGE_INPUTS, WEB_PORT_OFFSETS
from .history import SampleStore
from .stats import DeadLetterTally, RateHistory, counter_totals, dead_letter_reason

log = get_logger("newsflow.search.monitor")


PRUNE_EVERY_S = 60.0
RESTORE_WAIT_S = 15.0


class PipelineMonitor:
    def __init__(self, settings: Settings, es=None):
        self.settings = settings
        self.targets = stage_metrics(settings)
        self.history = RateHistory(keep_s=settings.dashboard_history_s)
        self.store = SampleStore(es, settings) if es is not None else None
        self.history_state = {"stored_in": self.store.index if self.store else None, "restored": 0, "error": None}
        self._restored: asyncio.Event | None = None
        self.scrapes: dict[str, dict] = {url: {"stage": stage, "url": url, "up": None, "error": None, "at": None}
                                         for stage, url in self.targets}
        self.tally = DeadLetterTally()
        self.dlq = {"reading": False, "error": None}
        self._tasks: list[asyncio.Task] = []

    def ensure_started(self) -> None:
        if not self._tasks:
            self._restored = asyncio.Event()
            self._tasks = [asyncio.create_task(self._scrape_forever(), name="dashboard-scrape"),
                           asyncio.create_task(self._read_dead_letters(), name="dashboard-dlq")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _scrape_forever(self) -> None:
        await self._restore()
        pruned = 0.0
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                found = await asyncio.gather(*(self._scrape(client, stage, url) for stage, url in self.targets))
                due = time.time() - pruned >= PRUNE_EVERY_S
                await self._store([sample for sample in found if sample], prune=due)
                pruned = time.time() if due else pruned
                await asyncio.sleep(self.settings.dashboard_scrape_interval_s)

    async def _restore(self) -> None:
        """The samples an earlier search API (or this one before a restart) stored, oldest first,
        before the first scrape of this one."""
        try:
            if self.store is not None:
                samples = await self.store.load(time.time() - self.history.keep_s)
                known = {url for _, url in self.targets}
                for t, _, url, totals in samples:
                    if url in known:
                        self.history.add(t, url, totals)
                self.history_state.update(restored=len(samples), error=None)
        except Exception as exc:  # noqa: BLE001 - Elasticsearch away: the history starts empty
            self.history_state["error"] = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("dashboard history not restored", reason=self.history_state["error"])
        finally:
            self._restored.set()

    async def _store(self, samples: list, prune: bool) -> None:
        if self.store is None:
            return
        try:
            await self.store.add(samples)
            if prune:
                await self.store.prune(time.time() - self.history.keep_s)
            self.history_state["error"] = None
        except Exception as exc:  # noqa: BLE001 - Elasticsearch away: kept in memory meanwhile
            self.history_state["error"] = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("dashboard history not stored", reason=self.history_state["error"])

    async def _scrape(self, client: httpx.AsyncClient, stage: str, url: str):
        """Scrape one stage instance; its sample (t, stage, url, totals), or None when it is down."""
        state = self.scrapes[url]
        try:
            response = await client.get(url)
            response.raise_for_status()
            totals = counter_totals(response.text).get(stage, {"in": 0.0, "out": 0.0, "dead": 0.0})
        except Exception as exc:  # noqa: BLE001 - a stage that is down is shown as down
            state.update(up=False, error=f"{type(exc).__name__}: {exc}"[:200])
            return None
        now = time.time()
        self.history.add(now, url, totals)
        state.update(up=True, error=None, at=now, totals=totals)
        return now, stage, url, totals

    async def _read_dead_letters(self) -> None:
        """Count every dead letter on news.dlq, from the beginning, then follow the topic. After
        an error it starts again from the beginning with a fresh count."""
        attempt = 0
        while True:
            consumer = AIOKafkaConsumer(self.settings.topic("news.dlq"), bootstrap_servers=self.settings.kafka_bootstrap,
                                        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                        metadata_max_age_ms=30_000, **kafka_client_options(self.settings))
            try:
                await consumer.start()
                tally = DeadLetterTally()
                self.tally, self.dlq = tally, {"reading": True, "error": None}
                attempt = 0
                while True:
                    batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                    for messages in batch.values():
                        for message in messages:
                            tally.add(message.timestamp, dead_letter_reason(message.value))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker away: say so, wait, start again
                attempt += 1
                self.dlq = {"reading": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
                log.warning("dashboard cannot read news.dlq, will retry", reason=self.dlq["error"])
                await asyncio.sleep(backoff_delay(attempt, 30))
            finally:
                await consumer.stop()

    async def _offsets(self) -> dict:
        try:
            return await asyncio.wait_for(pipeline_status(self.settings, STAGE_INPUTS), 20)
        except Exception as exc:  # noqa: BLE001 - Kafka away: the rest of the page still answers
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}

    async def health(self) -> dict:
        self.ensure_started()
        try:  # the first answer of a restarted API already has the stored history
            await asyncio.wait_for(asyncio.shield(self._restored.wait()), RESTORE_WAIT_S)
        except asyncio.TimeoutError:
            pass
        status = await self._offsets()
        now = time.time()
        window = self.settings.dashboard_rate_window_s
        step = max(self.settings.dashboard_scrape_interval_s, self.history.keep_s / 120)  # the last hour in 120 points
        stages = []
        for stage in dict.fromkeys([*WEB_PORT_OFFSETS, *(s for s, _ in self.targets)]):
            urls = [url for s, url in self.targets if s == stage]
            rates = [r for url in urls if (r := self.history.rate(url, now, window))]
            inputs = [row for row in status.get("stages", []) if row["stage"] == stage]
            stages.append({
                "stage": stage,
                "events_per_s": {kind: round(sum(r[kind] for r in rates), 3) for kind in ("in", "out", "dead")} if rates else None,
                "lag": sum(row["lag"] for row in inputs) if inputs else None,
                "inputs": inputs,
                "instances": [{k: v for k, v in self.scrapes[url].items() if k != "totals"} for url in urls],
                "over_time": _summed([self.history.series(url, step) for url in urls]),
            })
        return {
            "stages": stages,
            "kafka_error": status.get("error"),
            "documents": status.get("documents"),
            "rate_window_s": window,
            "history": {**self.history_state, "seconds": self.history.keep_s},
            "dead_letters": {**self.tally.summary(), **self.dlq},
        }


def _summed(series: list[list[dict]]) -> list[dict]:
    """Several instances' events/s of one stage, point by point (the shortest decides)."""
    series = [s for s in series if s]
    if not series:
        return []
    return [{"t": points[0]["t"], **{kind: round(sum(p[kind] for p in points), 3) for kind in ("in", "out")}}
            for points in zip(*series)]


def stage_metrics(settings: Settings) -> list[tuple[str, str]]:
    """(stage, metrics URL) of every stage instance the dashboard scrapes: NEWSFLOW_STAGE_METRICS_URLS,
    or each stage on this host at NEWSFLOW_WEB_PORT_BASE + its offset."""
    if not settings.stage_metrics_urls:
        return [(stage, f"http://127.0.0.1:{settings.web_port_base + offset}/metrics")
                for stage, offset in WEB_PORT_OFFSETS.items()]
    pairs = []
    for item in settings.stage_metrics_urls:
        stage, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ValueError(f"NEWSFLOW_STAGE_METRICS_URLS: {item!r} is not stage=http(s)://host:port/metrics")
        pairs.append((stage, url))
    return pairs
