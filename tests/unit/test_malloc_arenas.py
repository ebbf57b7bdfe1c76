"""The services cap glibc's malloc arenas at start (core/memory.py); the effect on RSS is
measured by the 10,000-article bench, this checks the call itself."""

from newsflow.core.memory import limit_malloc_arenas


def test_the_cap_is_taken_by_glibc_and_skipped_when_off_or_set_by_the_environment(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas(0) is False
    assert limit_malloc_arenas(2) is True  # this machine's C library is glibc
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) is False
