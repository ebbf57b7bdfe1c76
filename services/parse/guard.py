"""A time limit for one extraction, enforced in whichever thread runs it.

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
        self.deadline = time.monotonic() + seconds
        self.fired = False


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
                now = time.monotonic()
                for guard in self._guards:
                    if guard.deadline <= now:
                        guard.fired = True
                        guard.deadline = now + RESTRIKE_S
                        _set_async_exc(ctypes.c_ulong(guard.thread_id), ctypes.py_object(TimeLimitExceeded))
                next_deadline = min((guard.deadline for guard in self._guards), default=None)
                self._changed.wait(None if next_deadline is None else max(next_deadline - now, 0.001))


_watchdog = _Watchdog()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the current thread if the block runs longer than `seconds`."""
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
