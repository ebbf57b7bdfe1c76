"""A time limit for one extraction, enforced in whichever thread runs it.

The parse stage runs extraction in a worker thread, where signals cannot reach: a watchdog
thread raises `TimeLimitExceeded` inside the guarded thread instead (CPython's
PyThreadState_SetAsyncExc). It lands between two bytecodes, so a single long C call (an lxml
parse) finishes first: input size caps elsewhere keep every such call short.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# After the first strike the watchdog strikes again at this interval, in case library code
# swallowed the exception with a bare `except:`.
_RESTRIKE_S = 0.25
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class TimeLimitExceeded(BaseException):
    """Raised inside the guarded code when its time is up.

    A BaseException, so that libraries' `except Exception` blocks do not swallow it."""


class _Watchdog:
    def __init__(self, thread_id: int, seconds: float) -> None:
        self._thread_id = thread_id
        self._seconds = seconds
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="extract-time-limit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        timeout = self._seconds
        while not self._stop.wait(timeout):
            with self._lock:
                if not self._armed:
                    return
                self.fired = True
                _set_async_exc(ctypes.c_ulong(self._thread_id), ctypes.py_object(TimeLimitExceeded))
            timeout = _RESTRIKE_S

    def disarm(self) -> None:
        """Stop the watchdog; clear a strike that was sent but has not landed yet."""
        with self._lock:
            self._armed = False
            if self.fired:
                _set_async_exc(ctypes.c_ulong(self._thread_id), None)
        self._stop.set()


def _disarm(watchdog: _Watchdog) -> None:
    # A strike can land inside disarm() itself; the next one comes only _RESTRIKE_S later,
    # so a second try always gets through.
    try:
        watchdog.disarm()
    except TimeLimitExceeded:
        watchdog.disarm()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the current thread if the block runs longer than `seconds`."""
    watchdog = _Watchdog(threading.get_ident(), seconds)
    watchdog.start()
    try:
        yield
    finally:
        _disarm(watchdog)
    # the strike was cleared before it landed: the block overran all the same
    if watchdog.fired:
        raise TimeLimitExceeded
