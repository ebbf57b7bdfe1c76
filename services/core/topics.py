"""Creates the topics the services need on the broker (the catalogue's, and the compacted
changelogs of faust tables), and leaves existing ones alone. Replication factor,
min.insync.replicas and partitions come from the settings (one node by default)."""

from __future__ import annotations

import asyncio

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .kafka import admin_client
from .schemas import TopicSpec, topic_catalogue
from .settings import Settings


def cluster_config(settings: Settings) -> dict[str, str]:
    """Topic configs every topic the services create gets from the cluster settings."""
    return {"min.insync.replicas": str(settings.kafka_min_insync_replicas)}


def new_topic(settings: Settings, spec: TopicSpec) -> NewTopic:
    """A catalogue topic as the settings want it created."""
    return NewTopic(settings.topic(spec.name), settings.partitions_for(spec.partitions), settings.kafka_replication_factor,
                    topic_configs={**spec.kafka_config(), **cluster_config(settings)})


def new_compacted_topic(settings: Settings, name: str, partitions: int) -> NewTopic:
    """A faust table's changelog: compacted, replicated like every other topic."""
    return NewTopic(name, partitions, settings.kafka_replication_factor,
                    topic_configs={"cleanup.policy": "compact", **cluster_config(settings)})


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic of schemas/topics.yaml that is missing; return the names created."""
    admin = admin_client(settings, "newsflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [new_topic(settings, spec) for spec in topic_catalogue().values()
                   if settings.topic(spec.name) not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:  # another service won the race
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()


# A consumer that looks at a topic mid-creation sees no partitions, and faust then refuses a
# table whose changelog that is: so compacted topics are created and waited for until every
# partition has a leader, before the worker starts.
async def ensure_compacted_topic(settings: Settings, name: str, partitions: int, wait_s: float = 30.0) -> None:
    admin = admin_client(settings, "newsflow-topics")
    await admin.start()
    try:
        if name not in set(await admin.list_topics()):
            try:
                await admin.create_topics([new_compacted_topic(settings, name, partitions)])
            except TopicAlreadyExistsError:
                pass
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            described = (await admin.describe_topics([name]))[0]
            ready = [p for p in described.get("partitions", []) if p.get("leader", -1) >= 0]
            if not described.get("error_code") and len(ready) >= partitions:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"topic {name} has no leader for every partition after {wait_s}s")
    finally:
        await admin.close()
