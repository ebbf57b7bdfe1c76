"""The commit path (core/delivery.py) through a real consumer on the real broker: a worker of a
probe stage (probe_stage.py) in its own process, killed or joined by a second one while
messages are in flight. Both tests go red when the stage's offsets are left to faust's own
acks (checked by hand once: see the README's section on offsets)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from newsflow.core.envelope import encode, make_event, utc_now
from newsflow.core.ids import article_id, new_trace_id
from newsflow.core.kafka import admin_client, committed_offsets, end_offsets
from newsflow.core.settings import Settings

from .conftest import REPO, wait_until
from .helpers import run_stem
from .ports import web_port_base

pytestmark = pytest.mark.integration
PROBE = Path(__file__).with_name("probe_stage.py")


class Probe:
    """A probe worker process under its own topic prefix, with its journal and log."""

    def __init__(self, tmp: Path, prefix: str, name: str):
        self.prefix, self.name = prefix, name
        self.journal = tmp / "journal.txt"
        self.log = tmp / f"{name}.log"
        self.env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": prefix, "PROBE_JOURNAL": str(self.journal),
                    "NEWSFLOW_VAR": str(tmp / name), "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
                    "NEWSFLOW_LOG_LEVEL": "info"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Probe":
        self.proc = subprocess.Popen([sys.executable, str(PROBE)], env=self.env, cwd=REPO,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def logged(self, event: str) -> list[dict]:
        import orjson

        lines = []
        for line in self.log.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("event") == event:
                lines.append(record)
        return lines


def journal(path: Path) -> list[tuple[str, str, int]]:
    if not path.exists():
        return []
    return [(w, i, int(p)) for w, i, p in (line.split() for line in path.read_text().splitlines() if line.strip())]


def done_ids(path: Path) -> set[str]:
    return {i for w, i, _ in journal(path) if w == "done"}


def begun_ids(path: Path) -> set[str]:
    return {i for w, i, _ in journal(path) if w == "begin"}


def request(tag: str, sleep_s: float) -> tuple[str, bytes]:
    url = f"http://probe.example/{tag}-{uuid.uuid4().hex[:8]}?sleep={sleep_s}"
    event = make_event("news.fetch.request/1", article_id(url), new_trace_id(), {"url": url, "requested_at": utc_now()}, "test")
    return event["id"], encode(event, "news.fetch.request/1")


async def send_to(settings: Settings, topic: str, partition: int, values: list[bytes]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        return [(await producer.send_and_wait(topic, value, partition=partition)).offset for value in values]
    finally:
        await producer.stop()


@pytest.fixture
def probe_prefix(stack) -> str:
    return f"{run_stem('probe')}."


def topic_ready(settings: Settings, topic: str) -> bool:
    async def go():
        admin = admin_client(settings)
        await admin.start()
        try:
            if topic not in await admin.list_topics():
                return False
            described = (await admin.describe_topics([topic]))[0]
            return len([p for p in described["partitions"] if p["leader"] >= 0]) == 6
        finally:
            await admin.close()

    return asyncio.run(go())


def test_a_slow_message_at_the_head_holds_its_partition_commit_through_a_sigkill(tmp_path, probe_prefix):
    settings = Settings().replace(topic_prefix=probe_prefix)
    topic, group = settings.topic("news.fetch.requests"), f"{probe_prefix}newsflow-probe"
    worker = Probe(tmp_path, probe_prefix, "a").start()
    try:
        wait_until(lambda: topic_ready(settings, topic), 60, "the probe's topics")
        # A warm-up on partition 1 proves the worker commits at all.
        warm_id, warm = request("warm", 0)
        [warm_offset] = asyncio.run(send_to(settings, topic, 1, [warm]))
        wait_until(lambda: warm_id in done_ids(worker.journal), 90, "the warm-up request handled")
        head_id, head = request("head", 600)
        rest = [request(f"next{n}", 0) for n in range(9)]
        offsets = asyncio.run(send_to(settings, topic, 0, [head] + [value for _, value in rest]))
        rest_ids = {i for i, _ in rest}
        wait_until(lambda: rest_ids <= done_ids(worker.journal) and head_id in begun_ids(worker.journal), 90,
                   "the nine later messages handled while the head sleeps")
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        wait_until(lambda: asyncio.run(committed_offsets(settings, group)).get(tp1) == warm_offset + 1, 30,
                   "the warm-up's offset committed")
        time.sleep(3 * settings.commit_interval_s)  # several commit rounds with the later messages done
        assert head_id not in done_ids(worker.journal), "the kill must hit the head message in flight"
        worker.kill()
        position = asyncio.run(committed_offsets(settings, group)).get(tp0, -1)
        assert position <= offsets[0], f"committed {position} past the head message at {offsets[0]} still in flight"

        # A new worker reads the head again (and the later ones, which is the price of at-least-once).
        restarted = Probe(tmp_path, probe_prefix, "b").start()
        try:
            wait_until(lambda: head_id in done_ids(worker.journal), 120, "the head message handled after the restart")
            wait_until(lambda: asyncio.run(committed_offsets(settings, group)).get(tp0) == offsets[-1] + 1, 60,
                       "partition 0 committed to its end")
        finally:
            restarted.kill()
    finally:
        worker.kill()


def test_a_rebalance_with_messages_in_flight_loses_none(tmp_path, probe_prefix):
    settings = Settings().replace(topic_prefix=probe_prefix)
    topic, group = settings.topic("news.fetch.requests"), f"{probe_prefix}newsflow-probe"
    first = Probe(tmp_path, probe_prefix, "a").start()
    second = Probe(tmp_path, probe_prefix, "b")
    try:
        wait_until(lambda: topic_ready(settings, topic), 60, "the probe's topics")
        # A message that outlasts the rebalance sits at the head of partition 0; the first
        # worker's other agent works through the rest meanwhile.
        head_id, head = request("head", 600)
        sent = {head_id}
        asyncio.run(send_to(settings, topic, 0, [head]))
        wait_until(lambda: head_id in begun_ids(first.journal), 90, "the head message in flight")
        for partition in range(6):
            batch = [request(f"p{partition}m{n}", 0.5) for n in range(8)]
            asyncio.run(send_to(settings, topic, partition, [value for _, value in batch]))
            sent |= {i for i, _ in batch}
        wait_until(lambda: len(done_ids(first.journal)) >= 4, 90, "the first worker under way")
        second.start()  # the group rebalances while the first worker has messages in flight
        wait_until(lambda: sent <= done_ids(first.journal), 240, "every message handled")
        ends = asyncio.run(end_offsets(settings, [topic]))
        wait_until(lambda: asyncio.run(committed_offsets(settings, group)) == ends, 60, "every partition committed to its end")
        assert {pid for _, _, pid in journal(first.journal)} == {first.proc.pid, second.proc.pid}, "both workers took part"
        revoked = first.logged("partitions revoked")
        assert any(r["in_flight"] for r in revoked), f"no message was in flight at the rebalance: {revoked}"
    finally:
        first.kill()
        second.kill()
