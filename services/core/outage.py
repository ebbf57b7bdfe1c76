"""The one outage policy: a server a stage needs being down is not the input's fault.

A stage's function raises `DependencyUnavailable` when a server it depends on cannot answer
(unreachable, refusing, overloaded). The stage shell then neither dead-letters the input nor
lets an emptied field through: it backs off and tries the same input again, and meanwhile
consumes nothing more (its agents are busy waiting), so nothing is committed that the
server's absence would have spoiled. Failures caused by one input's content are different:
they empty only that component's field, with the reason, or dead-letter the input.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

from .backoff import backoff_delay
from .logs import get_logger

T = TypeVar("T")
log = get_logger("newsflow.outage")


class DependencyUnavailable(RuntimeError):
    def __init__(self, dependency: str, reason: str):
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


async def while_unavailable(call: Callable[[], Awaitable[T]],
                            on_wait: Callable[[DependencyUnavailable], None] | None = None) -> T:
    """`await call()`, waited out and called again for as long as it raises DependencyUnavailable."""
    attempt = 0
    while True:
        try:
            return await call()
        except DependencyUnavailable as exc:
            attempt += 1
            delay = backoff_delay(attempt, cap=30.0, base=0.5)
            if on_wait:
                on_wait(exc)
            log.warning("dependency unavailable: waiting before trying the input again", dependency=exc.dependency,
                        reason=exc.reason[:300], attempt=attempt, delay_s=round(delay, 2))
            await asyncio.sleep(delay)
