"""The one outage policy: a server a stage needs being down is not the input's fault.

A stage's function raises `DependencyUnavailable` when a server it depends on cannot answer
(unreachable, refusing, overloaded). The stage shell then neither dead-letters the input nor
lets an emptied field through: it backs off and tries the same input again, and meanwhile
consumes nothing more (its agents are busy waiting), so nothing is committed that the
server's absence would have spoiled. Failures caused by one input's content are different:
they empty only that component's field, with the reason, or dead-letter the input.
"""

from __future__ import annotations


class DependencyUnavailable(RuntimeError):
    def __init__(self, dependency: str, reason: str):
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason
