"""A time limit for one extraction, enforced in whichever thread runs it.

The limit is on the thread's own CPU time, not on the wall clock: a page that makes the
extractor work too long is refused on any machine, while a busy machine (other stages, other
processes, a GIL shared with the other worker thread) stretches an ordinary page's wall time
without turning it into a dead letter. Extraction does no I/O, so its CPU time is its work.

The parse stage runs extraction in a worker thread, where signals cannot reach: a watchdog
thread raises `TimeLimitExceeded` inside the guarded thread instead (CPython's
PyThreadState_SetAsyncExc). It lands between two bytecodes, so a single long C call (an lxml
parse) finishes first: the size caps in dom.py keep every such call short.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# After a strike the watchdog strikes again at this interval, in case library code swallowed
# the exception with a bare `except:`.
RESTRIKE_S = 0.25
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class TimeLimitExceeded(BaseException):
    """Raised inside the guarded code when its time is up.

    A BaseException, so that libraries' `except Exception` blocks do not swallow it."""


class _Guard:
    def __init__(self, seconds: float) -> None:
        self.thread_id = threading.get_ident()
        self.clock = time.pthread_getcpuclockid(self.thread_id)
        # CPU seconds of the thread at which to strike
        self.deadline = time.clock_gettime(self.clock) + seconds
        self.fired = False

    def left(self) -> float:
        """CPU seconds left before the strike. A thread's CPU time grows no faster than the
        wall clock, so the watchdog may sleep this long without overshooting."""
        try:
            return self.deadline - time.clock_gettime(self.clock)
        except OSError:  # the thread is gone (its block ended): nothing to strike
            return float("inf")


class _Watchdog:
    """One thread for the whole process, waking at the earliest deadline of the guards."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._guards: set[_Guard] = set()
        self._thread: threading.Thread | None = None

    def arm(self, guard: _Guard) -> None:
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="extract-time-limit", daemon=True)
                self._thread.start()
            self._guards.add(guard)
            self._changed.notify()

    def disarm(self, guard: _Guard) -> None:
        """Forget the guard; clear a strike that was sent but has not landed yet."""
        with self._changed:
            self._guards.discard(guard)
            if guard.fired:
                _set_async_exc(ctypes.c_ulong(guard.thread_id), None)

    def _watch(self) -> None:
        with self._changed:
            while True:
                waits = []
                for guard in self._guards:
                    left = guard.left()
                    if left <= 0:
                        guard.fired = True
                        guard.deadline += RESTRIKE_S - left
                        left = RESTRIKE_S
                        _set_async_exc(ctypes.c_ulong(guard.thread_id), ctypes.py_object(TimeLimitExceeded))
                    waits.append(left)
                self._changed.wait(min(max(min(waits), 0.001), 1.0) if waits else None)


_watchdog = _Watchdog()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the current thread if the block uses more than `seconds` of
    this thread's CPU time."""
    guard = _Guard(seconds)
    _watchdog.arm(guard)
    try:
        yield
    finally:
        _disarm(guard)
    # the strike was cleared before it landed: the block overran all the same
    if guard.fired:
        raise TimeLimitExceeded


def _disarm(guard: _Guard) -> None:
    # A strike can land inside disarm() itself; the next one comes only RESTRIKE_S later,
    # so a second try always gets through.
    try:
        _watchdog.disarm(guard)
    except TimeLimitExceeded:
        _watchdog.disarm(guard)
