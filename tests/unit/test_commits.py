"""The commit rule that keeps faust from committing messages no agent handled (core/commits.py)."""

import faust
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from newsflow.core import commits
from newsflow.core.commits import committable_end, mark_handled

commits.install()


def test_commits_up_to_the_first_offset_not_handled():
    assert committable_end(10, [10, 11, 12, 14], []) == 13
    assert committable_end(None, [3, 4], []) == 5
    assert committable_end(10, [], []) is None


def test_an_unhandled_message_at_the_committed_offset_holds_the_commit():
    # faust's own rule (min(acked) - committed > 1) commits 13 here and loses offset 10
    assert committable_end(10, [11, 12], []) is None


def test_a_message_still_in_flight_holds_the_commit_even_with_no_committed_offset():
    assert committable_end(None, [1, 2, 3], [0]) is None
    assert committable_end(5, [5, 6, 8], [7]) == 7


def _consumer_and_message(offset: int):
    app = faust.App("commits-test", broker="kafka://127.0.0.1:1")
    app.topics._acking_topics.add("in")  # as faust does for a topic an agent reads
    consumer = app.consumer
    tp = TP("in", 0)
    message = ConsumerMessage("in", 0, offset, 0.0, 0, None, None, b"x", None, tp=tp)
    return consumer, tp, message


def test_a_message_faust_skipped_is_released_but_its_offset_is_not_recorded():
    consumer, tp, message = _consumer_and_message(7)
    consumer.track_message(message)
    assert consumer.ack(message) is False
    assert message.acked and message not in consumer._unacked_messages
    assert list(consumer._acked[tp]) == []
    assert consumer._new_offset(tp) is None


def test_a_handled_message_is_recorded_and_committed():
    consumer, tp, message = _consumer_and_message(7)
    consumer.track_message(message)
    mark_handled(message)
    assert consumer.ack(message) is True
    assert consumer._new_offset(tp) == 8
