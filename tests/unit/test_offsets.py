"""Which offset of a partition may be committed (core/offsets.py): the pure bookkeeping of the
commit path. The real consumer is exercised in tests/integration/test_delivery.py."""

import faust
import pytest

from newsflow.core import delivery
from newsflow.core.offsets import PartitionOffsets, committable_end


def test_the_commit_ends_before_the_first_offset_not_done():
    assert committable_end(10, {10, 11, 12, 14}) == 13
    assert committable_end(10, set()) == 10
    assert committable_end(10, {11, 12}) == 10  # the message at 10 is still out


def test_a_group_that_never_committed_starts_from_the_log_start_not_the_lowest_offset_seen():
    part = PartitionOffsets(committed=0)  # the log start, as the commit path reads it on assignment
    for offset in (3, 4, 5):  # 0..2 skipped by the consumer, 3..5 handled
        assert part.begin(offset)
        part.finish(offset)
    assert part.commit_point() is None
    assert part.first_missing() == 0


def test_a_message_in_flight_holds_back_the_later_ones_done():
    part = PartitionOffsets(committed=5)
    for offset in range(5, 10):
        part.begin(offset)
    for offset in (6, 7, 8, 9):
        part.finish(offset)
    assert part.commit_point() is None and part.in_flight() == 1
    part.finish(5)
    assert part.commit_point() == 10
    part.committed_to(10)
    assert part.begun == set() and part.done == set() and part.in_flight() == 0


def test_a_message_that_comes_twice_is_handled_once_per_assignment():
    part = PartitionOffsets(committed=5)
    assert part.begin(5)
    assert not part.begin(5)      # a redelivery after a seek back
    assert not part.begin(4)      # before the committed offset
    assert part.next_expected() == 6


def test_a_hole_is_found_only_when_later_offsets_were_begun():
    part = PartitionOffsets(committed=0)
    part.begin(0)
    part.begin(1)
    assert part.first_missing() is None
    part.begin(3)
    assert part.first_missing() == 2


def test_finishing_an_offset_never_begun_changes_nothing():
    part = PartitionOffsets(committed=0)
    part.finish(0)
    assert part.commit_point() is None


def test_the_worker_refuses_a_faust_whose_commit_internals_were_not_checked(monkeypatch):
    delivery.check_faust()  # the pinned faust passes
    monkeypatch.setattr(faust, "__version__", "0.99.0")
    with pytest.raises(delivery.FaustMismatch, match="0.99.0"):
        delivery.check_faust()


def test_the_worker_refuses_a_faust_without_the_commit_it_calls(monkeypatch):
    from faust.transport.consumer import Consumer

    monkeypatch.delattr(Consumer, "_commit")
    with pytest.raises(delivery.FaustMismatch, match="_commit"):
        delivery.check_faust()
