"""Creates the topics the services need on the broker (the catalogue's, and the compacted
changelogs of faust tables), and leaves existing ones alone."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .schemas import topic_catalogue
from .settings import Settings


async def ensure_topics(settings: Settings, replication_factor: int = 1) -> list[str]:
    """Create every topic of schemas/topics.yaml that is missing; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="newsflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(settings.topic(spec.name), spec.partitions, replication_factor, topic_configs=spec.kafka_config())
            for spec in topic_catalogue().values()
            if settings.topic(spec.name) not in existing
        ]
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
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="newsflow-topics")
    await admin.start()
    try:
        if name not in set(await admin.list_topics()):
            try:
                await admin.create_topics([NewTopic(name, partitions, 1, topic_configs={"cleanup.policy": "compact"})])
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
