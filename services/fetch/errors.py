"""Why a URL gave no page. The class name becomes the dead letter's `error`, the message its
`reason` (with the HTTP status when there was one)."""

from __future__ import annotations


class FetchFailed(Exception):
    """The URL gave no page: network error, HTTP error status, timeout.

    `retryable` says whether trying again later may help (network errors, 5xx, 429);
    `retry_after` is the server's Retry-After in seconds, when it sent one."""

    def __init__(self, reason: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class FetchRefused(FetchFailed):
    """We chose not to fetch or keep it: robots.txt, a refused address or scheme, a content
    type we do not take, a body over the size limit. Never retried."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason, status=status, retryable=False)
