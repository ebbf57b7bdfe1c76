"""The services cap glibc's malloc arenas at start and trim its free memory (core/memory.py); the effect on RSS is
measured by the 10,000-article bench, this checks the call itself."""

from newsflow.core.memory import limit_malloc_arenas, trim_malloc


def test_the_cap_is_taken_by_glibc_and_skipped_when_off_or_set_by_the_environment(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas(0) is False
    assert limit_malloc_arenas(2) is True  # this machine's C library is glibc
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) is False


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_trimming_gives_back_memory_freed_in_the_middle_of_the_heap():
    # 100 MB in 4 kB objects (malloc'd by glibc, under its mmap threshold), every 64th kept so
    # the heap's top stays in use: glibc hands none of the freed rest back on its own.
    blocks = [bytes(4096) for _ in range(25_600)]
    kept = blocks[::64]
    del blocks
    before = _rss_mb()
    assert trim_malloc() is True
    after = _rss_mb()
    assert len(kept) == 400
    assert before - after > 50, f"RSS {before:.0f} -> {after:.0f} MB"
