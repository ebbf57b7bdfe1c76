"""The sources file: the feeds and sitemaps the fetch service polls, each on its interval.

    sources:
      - name: tagesschau            # optional; recorded as the requests' source
        type: feed                  # feed (RSS, Atom) or sitemap (index, gzip, news sitemap)
        url: https://www.tagesschau.de/index~rss2.xml
        interval: 10m               # 90s, 10m, 2h, 1d or plain seconds; default 15m
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .discovery import FEED, SITEMAP

DEFAULT_INTERVAL_S = 15 * 60
# Polling faster than this is never polite, whatever the file says.
MIN_INTERVAL_S = 1.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


class SourcesError(ValueError):
    """The sources file is not what the fetch service can poll."""


@dataclass(frozen=True)
class Source:
    type: str
    url: str
    interval_s: float = DEFAULT_INTERVAL_S
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.type}:{self.url}"


def parse_interval(value) -> float:
    """'90s', '10m', '2h', '1d', 300 -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _INTERVAL.match(str(value))
        if not match:
            raise SourcesError(f"interval {value!r}: write e.g. 90s, 10m, 2h or 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return max(MIN_INTERVAL_S, seconds)


def parse_sources(data) -> list[Source]:
    """Pure: the YAML document -> sources, with a clear error for each mistake."""
    entries = (data or {}).get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourcesError("expected a top-level 'sources:' list")
    sources = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise SourcesError(f"source {number}: expected a mapping with type and url")
        kind, url = entry.get("type"), entry.get("url")
        if kind not in (FEED, SITEMAP):
            raise SourcesError(f"source {number}: type must be {FEED} or {SITEMAP}, not {kind!r}")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SourcesError(f"source {number}: url must be an http(s) URL, not {url!r}")
        sources.append(Source(kind, url, parse_interval(entry.get("interval", DEFAULT_INTERVAL_S)), entry.get("name")))
    return sources


def load_sources(path: str | Path) -> list[Source]:
    return parse_sources(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def due(sources: list[Source], next_poll: dict[Source, float], now: float) -> list[Source]:
    """Pure: the sources whose time has come (a source never polled is due at once)."""
    return [s for s in sources if next_poll.get(s, 0.0) <= now]
