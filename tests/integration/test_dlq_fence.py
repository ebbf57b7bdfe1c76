"""Two `newsflow dlq redrive` runs at the same moment, against the real Kafka: the second fences
the first (one transactional.id), and every dead letter reaches its stage's input topic exactly
once, counted as the stages read it (read_uncommitted, like faust's consumers)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer

from newsflow.core.dlq import dead_letter_event
from newsflow.core.envelope import encode
from newsflow.core.kafka import end_offsets
from newsflow.core.topics import ensure_topics
from newsflow.dlq.letters import make_selection
from newsflow.dlq.redrive import RedriveFenced, redrive

from .conftest import REPO
from .helpers import send_raw

pytestmark = pytest.mark.integration

NEWSFLOW = str(REPO / ".venv" / "bin" / "newsflow")


def put_letters(settings, n: int) -> str:
    """n dead letters of the fetch stage with an error name of their own; returns that name."""
    error = f"FenceCheck{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(settings))
    values = [encode(dead_letter_event(stage="fetch", error=error, reason="test", topic=settings.topic("news.fetch.requests"),
                                       original=f'{{"letter": "{error}-{i}"}}'.encode(), article_id=uuid.uuid4().hex,
                                       trace_id=uuid.uuid4().hex), "news.dlq/1")
              for i in range(n)]
    send_raw(settings, "news.dlq", values)
    return error


def originals_on_input(settings, error: str) -> Counter:
    """How often each of these letters' originals is on news.fetch.requests, read to its end as a
    stage reads it (uncommitted records included)."""
    async def go():
        topic = settings.topic("news.fetch.requests")
        ends = await end_offsets(settings, [topic])
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                    isolation_level="read_uncommitted")
        await consumer.start()
        found = Counter()
        try:
            tps = [tp for tp in ends if ends[tp] > 0]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            pending = set(tps)
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=2000)
                for messages in batch.values():
                    found.update(m.value.decode() for m in messages if m.value and error.encode() in m.value)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(go())


@pytest.mark.parametrize("rival_after", ["claimed", "marked"])
def test_a_second_redrive_fences_the_first_and_each_letter_is_sent_once(settings, rival_after):
    """The rival starts inside the first run's first batch, once it is claimed (its originals not
    sent yet) or once it is marked, and runs to its end; the first run is then fenced."""
    error = put_letters(settings, 120)
    selection = make_selection(errors=[error])
    rival = {}

    async def first_then_rival():
        async def on_step(step):
            if step == rival_after and not rival:
                rival["report"] = await redrive(settings, selection, show_progress=False, batch_size=20)

        with pytest.raises(RedriveFenced) as fenced:
            await redrive(settings, selection, show_progress=False, batch_size=20, on_step=on_step)
        return fenced.value.report

    first = asyncio.run(first_then_rival())
    second = rival["report"]
    assert first.total_sent == 20, "the first run sends the one batch it claimed, then is fenced"
    assert second.total_sent == 100 and second.selected == 120
    assert (second.claimed, second.already) == ((20, 0) if rival_after == "claimed" else (0, 20))
    counts = originals_on_input(settings, error)
    assert len(counts) == 120 and set(counts.values()) == {1}, Counter(counts.values())
    again = asyncio.run(redrive(settings, selection, show_progress=False))
    assert again.total_sent == 0 and again.already == 120


def test_two_redrive_commands_started_together_send_each_letter_once(settings, test_env):
    error = put_letters(settings, 1500)
    args = [NEWSFLOW, "dlq", "redrive", "--error", error, "--quiet"]
    procs = [subprocess.Popen(args, env=test_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    done = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for status, out, err in done:
        assert "Traceback" not in err
        if status != 0:  # the one fenced: one clear line
            assert status == 1 and len(err.strip().splitlines()) == 1 and "fenced" in err, err
    assert any(status == 0 for status, _, _ in done), done
    counts = originals_on_input(settings, error)
    assert len(counts) == 1500 and set(counts.values()) == {1}, Counter(counts.values())
