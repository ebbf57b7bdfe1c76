"""Reading a group's committed offsets waits out a broker whose group coordinator is still
starting (CI's fresh broker answered "coordinator not available" once), and no longer."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError, GroupAuthorizationFailedError
from aiokafka.structs import OffsetAndMetadata

from newsflow.core import kafka


class Admin:
    def __init__(self, failures: list[Exception]):
        self.failures = failures
        self.calls = 0

    async def list_consumer_group_offsets(self, group, partitions=None):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {TopicPartition("t", 0): OffsetAndMetadata(7, ""), TopicPartition("t", 1): OffsetAndMetadata(-1, "")}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    async def sleep(_):
        return None
    monkeypatch.setattr(kafka.asyncio, "sleep", sleep)


def test_coordinator_not_available_is_asked_again():
    admin = Admin([GroupCoordinatorNotAvailableError(), GroupCoordinatorNotAvailableError()])
    assert asyncio.run(kafka.group_offsets(admin, "g")) == {TopicPartition("t", 0): 7}
    assert admin.calls == 3


def test_a_lasting_outage_still_fails(monkeypatch):
    monkeypatch.setattr(kafka, "COORDINATOR_WAIT_S", 0.0)
    with pytest.raises(GroupCoordinatorNotAvailableError):
        asyncio.run(kafka.group_offsets(Admin([GroupCoordinatorNotAvailableError()] * 50), "g"))


def test_a_refusal_is_not_retried():
    admin = Admin([GroupAuthorizationFailedError()])
    with pytest.raises(GroupAuthorizationFailedError):
        asyncio.run(kafka.group_offsets(admin, "g"))
    assert admin.calls == 1
