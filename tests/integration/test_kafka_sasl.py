"""Kafka with SASL/SCRAM: the test starts its own broker (infra/stack.sh with KAFKA_SASL=1:
SCRAM-SHA-512 on the client port) on other ports under its own NEWSFLOW_VAR, and checks that
the plain clients (topics, producer, offsets) and a faust worker (the parse service) connect
with the credentials from the settings, and are refused without them or with a wrong password."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from newsflow.core.envelope import encode
from newsflow.core.kafka import end_offsets, producer
from newsflow.core.security import kafka_client_options
from newsflow.core.settings import Settings
from newsflow.core.topics import ensure_topics
from newsflow.fetch.fetcher import FetchedPage, raw_event

from .conftest import SAMPLES, ServiceProcess, wait_until
from .ports import listen_port, web_port_base

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broker(stack):
    var = Path(tempfile.mkdtemp(prefix="newsflow-sasl-", dir="/tmp"))
    port, controller = listen_port(), listen_port()
    env = {**os.environ, "NEWSFLOW_VAR": str(var), "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(controller),
           "KAFKA_SASL": "1", "KAFKA_HEAP": "256m"}
    try:
        subprocess.run([str(REPO / "infra" / "stack.sh"), "up", "kafka"], env=env, check=True, timeout=300)
        yield {"bootstrap": f"127.0.0.1:{port}", "password": (var / "kafka" / "newsflow.password").read_text().strip(),
               "var": var}
    finally:
        subprocess.run([str(REPO / "infra" / "stack.sh"), "down", "kafka"], env=env, timeout=120)
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture
def sasl_env(broker, monkeypatch):
    values = {"NEWSFLOW_KAFKA": broker["bootstrap"], "NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
              "NEWSFLOW_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "NEWSFLOW_KAFKA_USERNAME": "newsflow",
              "NEWSFLOW_KAFKA_PASSWORD": broker["password"], "NEWSFLOW_TOPIC_PREFIX": f"sasl{uuid.uuid4().hex[:8]}."}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_plain_clients_connect_with_the_credentials_and_are_refused_without(sasl_env, monkeypatch):
    settings = Settings()
    assert settings.topic("news.raw") in asyncio.run(ensure_topics(settings))

    async def send():
        async with producer(settings) as put:
            await put(settings.topic("news.dlq"), b"k", b"{}")

    asyncio.run(send())
    assert sum(asyncio.run(end_offsets(settings, [settings.topic("news.dlq")])).values()) == 1

    monkeypatch.setenv("NEWSFLOW_KAFKA_PASSWORD", "not-" + sasl_env["NEWSFLOW_KAFKA_PASSWORD"])
    with pytest.raises(KafkaError):
        asyncio.run(end_offsets(Settings(), [settings.topic("news.dlq")]))
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    with pytest.raises(KafkaError):
        asyncio.run(ensure_topics(Settings()))


def test_a_faust_worker_runs_over_scram(sasl_env, broker, tmp_path):
    env = {**os.environ, **sasl_env, "NEWSFLOW_VAR": str(tmp_path), "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
           "NEWSFLOW_LOG_LEVEL": "info"}
    settings = Settings()
    url = "http://127.0.0.1/river-cleanup-volunteers.html"
    fetched = FetchedPage(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                          body=(SAMPLES / "river-cleanup-volunteers.html").read_bytes(),
                          fetched_at="2025-07-01T00:00:00.000Z", elapsed_ms=1.0)
    event = raw_event({"payload": {"url": url, "source": "test"}, "trace_id": "e" * 32}, fetched, settings)
    parse = ServiceProcess("parse", env, tmp_path / "parse.log")
    parse.start()
    try:
        asyncio.run(ensure_topics(settings))

        async def send():
            async with producer(settings) as put:
                await put(settings.topic("news.raw"), event["id"].encode(), encode(event, "news.raw/1"))

        asyncio.run(send())

        async def parsed_ids():
            consumer = AIOKafkaConsumer(settings.topic("news.parsed"), bootstrap_servers=settings.kafka_bootstrap,
                                        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                                        **kafka_client_options(settings))
            await consumer.start()
            try:
                batch = await consumer.getmany(timeout_ms=2000)
                return {orjson.loads(m.value)["id"] for messages in batch.values() for m in messages}
            finally:
                await consumer.stop()

        def done():
            assert parse.alive(), (tmp_path / "parse.log").read_text()[-3000:]
            return event["id"] in asyncio.run(parsed_ids())

        wait_until(done, 180, "the parse worker's output over SASL/SCRAM")
    finally:
        parse.stop()
