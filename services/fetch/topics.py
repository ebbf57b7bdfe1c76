"""The fetch service's own compacted topics (its table's changelog, the discovered-URL record),
created before use and waited for until every partition has a leader: a consumer that looks
at a topic mid-creation sees no partitions and faust then refuses the table."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ..core.settings import Settings


async def ensure_compacted_topic(settings: Settings, name: str, partitions: int, wait_s: float = 30.0) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="newsflow-fetch-topics")
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
