"""The dashboard's stored events/s history against the real Elasticsearch: samples written by one
monitor are read back, in time order, by a new one (as after a restart), and the retention
deletes what is older than the history."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from newsflow.core.es import es_client
from newsflow.search.history import SampleStore, samples_index
from newsflow.search.monitor import PipelineMonitor

pytestmark = pytest.mark.integration


def test_samples_survive_a_new_monitor_and_old_ones_are_pruned(settings):
    url = "http://127.0.0.1:9/metrics"  # nobody answers: only the stored samples count
    # its own samples index: the session's alias also holds what test_dashboard's API stored
    settings = dataclasses.replace(settings, index_alias=f"{settings.index_alias}-history")

    async def go():
        es = es_client(settings)
        try:
            store = SampleStore(es, settings)
            now = time.time()
            old = now - settings.dashboard_history_s - 600
            await store.add([(old, "parse", url, {"in": 1, "out": 1, "dead": 0})])
            await store.add([(now - 60 + i * 10, "parse", url, {"in": 100 + 50 * i, "out": 90 + 50 * i, "dead": i})
                             for i in range(5)])
            await es.indices.refresh(index=samples_index(settings))
            assert [s[0] for s in await store.load(now - 120)] == [now - 60 + i * 10 for i in range(5)]

            monitor = PipelineMonitor(dataclasses.replace(settings, stage_metrics_urls=(f"parse={url}",)), es)
            try:
                first = await monitor.health()  # a new monitor: its first answer has the stored rates
            finally:
                await monitor.close()
            parse = next(s for s in first["stages"] if s["stage"] == "parse")
            assert first["history"]["restored"] == 5 and first["history"]["error"] is None
            assert [p["in"] for p in parse["over_time"]] and all(p["in"] == 5.0 for p in parse["over_time"]), parse["over_time"]

            await es.indices.refresh(index=samples_index(settings))
            assert len(await store.load(0)) == 5, "the monitor deleted the sample older than its history"
            await store.add([(old, "parse", url, {"in": 1, "out": 1, "dead": 0})])
            await es.indices.refresh(index=samples_index(settings))
            assert await store.prune(now - settings.dashboard_history_s) == 1
            assert [s[0] for s in await store.load(0)] == [now - 60 + i * 10 for i in range(5)]
        finally:
            await es.indices.delete(index=samples_index(settings), ignore_unavailable=True)
            await es.close()

    asyncio.run(go())
