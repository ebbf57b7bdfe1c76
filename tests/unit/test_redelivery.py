"""Reading again what the consumer skipped (core/redelivery.py), against a stand-in consumer."""

import asyncio
import time
from types import SimpleNamespace

from faust.types import TP

from newsflow.core.redelivery import Redelivery

TOPIC = "news.parsed"
P0, P1 = TP(TOPIC, 0), TP(TOPIC, 1)


class StandInConsumer:
    def __init__(self, committed=None, earliest=0, highwater=100):
        self._committed_offset = dict(committed or {})
        self._unacked_messages = set()
        self.earliest, self.high, self.seeks = earliest, highwater, []

    async def seek(self, tp, offset):
        self.seeks.append((tp.partition, offset))

    async def earliest_offsets(self, *tps):
        return {tp: self.earliest for tp in tps}

    def assignment(self):
        return {P0, P1}

    def highwater(self, tp):
        return self.high


def redelivery(consumer, **kwargs):
    app = SimpleNamespace(consumer=consumer, consumer_generation_id=1, rebalancing=False,
                          flow_control=SimpleNamespace(is_active=lambda: True),
                          topics=SimpleNamespace(acks_enabled_for=lambda topic: topic == TOPIC))
    return app, Redelivery(app, **kwargs)


def msg(tp, offset):
    return SimpleNamespace(tp=tp, offset=offset)


def admitted(guard, tp, offsets):
    return [o for o in offsets if asyncio.run(guard.admit(msg(tp, o)))]


def test_messages_in_order_from_the_committed_offset_are_admitted():
    consumer = StandInConsumer({P0: 10})
    _, guard = redelivery(consumer)
    assert admitted(guard, P0, [10, 11, 12]) == [10, 11, 12]
    assert consumer.seeks == []


def test_a_jump_seeks_back_once_and_admits_again_from_the_first_missed():
    consumer = StandInConsumer({P0: 10})
    _, guard = redelivery(consumer)
    # 12..14 arrive after skipped 10 and 11; then the seek brings 10 on again
    assert admitted(guard, P0, [12, 13, 14, 10, 11, 12, 13]) == [10, 11, 12, 13]
    assert consumer.seeks == [(0, 10)]


def test_repeats_of_handled_messages_are_refused():
    _, guard = redelivery(StandInConsumer({P0: 10}))
    assert admitted(guard, P0, [10, 11, 10, 11, 12]) == [10, 11, 12]


def test_messages_deleted_by_retention_are_not_awaited():
    consumer = StandInConsumer({P0: 10}, earliest=50)
    _, guard = redelivery(consumer)
    assert admitted(guard, P0, [50, 51]) == [50, 51]
    assert consumer.seeks == []


def test_a_new_generation_starts_again_from_the_committed_offsets():
    consumer = StandInConsumer({P0: 10})
    app, guard = redelivery(consumer)
    assert admitted(guard, P0, [10, 11]) == [10, 11]
    app.consumer_generation_id, consumer._committed_offset[P0] = 2, 11
    assert admitted(guard, P0, [11]) == [11]


def test_an_unanswered_seek_is_repeated():
    consumer = StandInConsumer({P0: 10})
    _, guard = redelivery(consumer, reseek_s=0.0)
    admitted(guard, P0, [12])
    asyncio.run(guard.watch())
    assert consumer.seeks == [(0, 10), (0, 10)]


def test_a_partition_with_messages_waiting_and_none_delivered_is_sought_back_to_its_commit():
    consumer = StandInConsumer({P0: 10, P1: 20}, highwater=30)
    _, guard = redelivery(consumer, stall_s=0.0)
    asyncio.run(guard.watch())
    assert sorted(consumer.seeks) == [(0, 10), (1, 20)]


def test_a_busy_agent_with_its_topic_quiet_is_left_alone():
    consumer = StandInConsumer({P0: 10, P1: 20}, highwater=30)
    consumer._unacked_messages = [SimpleNamespace(acked=False)]  # e.g. a batch held during an outage
    _, guard = redelivery(consumer, stall_s=0.05)
    time.sleep(0.1)
    asyncio.run(guard.watch())
    assert consumer.seeks == []


def test_a_caught_up_partition_is_left_alone():
    consumer = StandInConsumer({P0: 30, P1: 30}, highwater=30)
    _, guard = redelivery(consumer, stall_s=0.0)
    asyncio.run(guard.watch())
    assert consumer.seeks == []
