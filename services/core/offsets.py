"""Which offset of a partition may be committed: pure bookkeeping, no Kafka.

Like a Kafka Connect sink task's `preCommit`, each partition's progress is tracked explicitly:
the offset the group has committed, the offsets given to an agent (begun) and those whose
outcome is safe (done: output acknowledged by the broker, document written, dead letter sent).
An offset is committable only when every message before it in its partition is done, so a
message still in flight, or one that was never delivered, holds the commit back.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def committable_end(committed: int, done: set[int]) -> int:
    """One past the last offset of the unbroken run of done offsets that starts at `committed`
    (`committed` itself when the message there is not done)."""
    end = committed
    while end in done:
        end += 1
    return end


@dataclass
class PartitionOffsets:
    """One partition's progress within one assignment. `committed` is where the group's
    position stood when the partition was assigned (its committed offset, or the log start
    for a group that never committed), then each offset committed since."""

    committed: int
    begun: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def begin(self, offset: int) -> bool:
        """True if the message at `offset` is new to this assignment and should be handled;
        False for one before the committed offset or already begun (a redelivery after a seek)."""
        if offset < self.committed or offset in self.begun:
            return False
        self.begun.add(offset)
        return True

    def finish(self, offset: int) -> None:
        if offset in self.begun:
            self.done.add(offset)

    def in_flight(self) -> int:
        return len(self.begun) - len(self.done)

    def commit_point(self) -> int | None:
        """The offset to commit now, or None when nothing new is safe."""
        end = committable_end(self.committed, self.done)
        return end if end > self.committed else None

    def committed_to(self, end: int) -> None:
        """The broker took `end`: forget what lies before it."""
        self.committed = max(self.committed, end)
        self.begun = {o for o in self.begun if o >= self.committed}
        self.done = {o for o in self.done if o >= self.committed}

    def first_missing(self) -> int | None:
        """The first offset at or after `committed` that no agent was given, while a later one
        was: a hole that only a seek back can fill. None when the begun offsets are unbroken."""
        end = self.next_expected()
        return end if self.begun and end < max(self.begun) else None

    def next_expected(self) -> int:
        """The first offset at or after `committed` not begun: where reading must resume."""
        return committable_end(self.committed, self.begun)
