"""What a service holds in memory, for finding a leak: a count of live Python objects per type
(the heap count, always available) and, when NEWSFLOW_MEMORY_TRACE_FRAMES > 0, tracemalloc's
allocations grown since a baseline snapshot. Served on each service's /debug/memory
(core/app.py): `?baseline=1` takes the baseline, a later call shows the growth since.

tracemalloc slows allocation-heavy code and its traces take memory of their own, so it is off
unless asked for; the heap count costs nothing until it is requested (one pass over the
garbage collector's objects, about a second in the enrich service)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import tracemalloc
from collections import Counter
from functools import lru_cache

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h), what MALLOC_ARENA_MAX sets


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library, loaded once (find_library runs ldconfig in a subprocess); None when it is not
    glibc (no mallopt or malloc_trim)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX would, for the threads that start from now on.

    By default a thread that allocates while another holds an arena gets one of its own (up to
    8 per core), and what one arena frees the others do not reuse. Under a backlog the enrich
    service's worker threads (embedding, entities, keywords) grew its RSS by ~140 MB that way,
    with its Python heap flat; with 2 arenas by ~10 MB (README, "Memory over 10,000 articles").
    False (nothing done) off glibc, for 0, or when MALLOC_ARENA_MAX is set already."""
    if arenas <= 0 or os.environ.get("MALLOC_ARENA_MAX") or (libc := _glibc()) is None:
        return False
    return libc.mallopt(M_ARENA_MAX, arenas) == 1


def trim_malloc() -> bool:
    """Give glibc's free memory back to the system (malloc_trim(0)), from the middle of its heaps
    too. glibc returns only a heap's free top on its own, so a backlog's peak (events read ahead,
    each a parsed article) stayed resident after the events were gone. False off glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def heap_counts() -> dict[str, int]:
    """Live objects tracked by the garbage collector, per type name."""
    return dict(Counter(type(o).__qualname__ for o in gc.get_objects()))


def top_types(counts: dict[str, int], top: int = 25) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


class MemoryDebug:
    def __init__(self, trace_frames: int = 0):
        self.trace_frames = trace_frames
        self.baseline: tracemalloc.Snapshot | None = None
        self.baseline_counts: dict[str, int] | None = None
        if trace_frames > 0 and not tracemalloc.is_tracing():
            tracemalloc.start(trace_frames)

    def report(self, take_baseline: bool = False, top: int = 25) -> dict:
        counts = heap_counts()
        out: dict = {"objects": sum(counts.values()), "top_types": top_types(counts, top)}
        if self.baseline_counts is not None:
            grown = {n: counts.get(n, 0) - self.baseline_counts.get(n, 0) for n in counts.keys() | self.baseline_counts.keys()}
            out["grown_types"] = sorted(((n, d) for n, d in grown.items() if d), key=lambda i: (-abs(i[1]), i[0]))[:top]
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")))
            current, peak = tracemalloc.get_traced_memory()
            out["traced_mb"] = round(current / 2**20, 1)
            out["traced_peak_mb"] = round(peak / 2**20, 1)
            if self.baseline is not None:
                out["grown_since_baseline"] = [
                    {"where": str(stat.traceback), "kb": round(stat.size_diff / 1024, 1), "blocks": stat.count_diff}
                    for stat in snapshot.compare_to(self.baseline, "lineno")[:top]]
            if take_baseline:
                self.baseline = snapshot
        if take_baseline:
            self.baseline_counts = counts
        return out
