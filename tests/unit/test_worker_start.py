"""A service started while Kafka is down waits for it instead of dying (core/app.py)."""

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError

from newsflow.core import app as core_app
from newsflow.core.settings import Settings


class StandInApp:
    tables: dict = {}


def test_topics_are_prepared_once_the_broker_answers(monkeypatch):
    attempts, prepared = [], []

    async def ensure_topics(settings):
        attempts.append(1)
        if len(attempts) < 3:
            raise KafkaConnectionError("Unable to bootstrap")
        return []

    async def no_sleep(_):
        return None

    async def prepare():
        prepared.append(True)

    monkeypatch.setattr(core_app, "ensure_topics", ensure_topics)
    monkeypatch.setattr(core_app.asyncio, "sleep", no_sleep)
    asyncio.run(core_app._prepare_broker(StandInApp(), Settings(), prepare))
    assert len(attempts) == 3 and prepared == [True]


def test_a_bug_is_not_taken_for_a_broker_outage(monkeypatch):
    async def ensure_topics(settings):
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(core_app, "ensure_topics", ensure_topics)
    with pytest.raises(ValueError):
        asyncio.run(core_app._prepare_broker(StandInApp(), Settings(), None))
