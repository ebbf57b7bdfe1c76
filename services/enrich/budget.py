"""Runs an article's enrichment components one after another within one time budget.

A component that raises, or is still running when the budget is spent, yields None and a
reason; the article goes on with the next component. A component whose server is down
(DependencyUnavailable) stops the article instead: see core/outage.py. Python cannot stop a thread, so a
timed-out call is abandoned to finish in the background pool (its result is dropped); the
CoreNLP client has its own HTTP timeout, so such stragglers end.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

from ..core.outage import DependencyUnavailable

# A few workers: one runs the current component, the others absorb abandoned stragglers.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="enrich-component")


class Budget:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.errors: dict[str, str] = {}
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[..., Any], *args, at_least_s: float = 0.0, **kwargs) -> Any:
        """fn(*args) within what is left of the budget, or `at_least_s` for a component that
        waits on a server with timeouts of its own; None (and errors[name]) on failure."""
        left = max(self.deadline - time.monotonic(), at_least_s)
        if left <= 0:
            self.errors[name] = f"skipped: the article's time budget of {self.seconds:g}s was spent"
            return None
        started = time.perf_counter()
        future = _pool.submit(fn, *args, **kwargs)
        try:
            return future.result(timeout=left)
        except DependencyUnavailable:
            raise  # a server down is not this article's fault: the stage waits and tries again
        except FutureTimeout:
            self.errors[name] = f"timed out: the article's time budget of {self.seconds:g}s was spent"
            return None
        except Exception as exc:  # noqa: BLE001 - one component's failure empties only its field
            self.errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            return None
        finally:
            self.timings[name] = round(time.perf_counter() - started, 4)
