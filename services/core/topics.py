"""Creates the catalogue's topics on the broker, and leaves existing ones alone."""

from __future__ import annotations

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
