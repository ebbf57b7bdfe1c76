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


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = field(default_factory=lambda: _env("NEWSFLOW_KAFKA", f"127.0.0.1:{_env('KAFKA_PORT', '9092')}"))
    elasticsearch_url: str = field(default_factory=lambda: _env("NEWSFLOW_ELASTICSEARCH", f"http://127.0.0.1:{_env('ES_PORT', '9200')}"))
    # Where services keep table state and logs; the infra scripts use the same folder.
    var_dir: Path = field(default_factory=lambda: Path(_env("NEWSFLOW_VAR", str(REPO_DIR / ".var"))))
    log_level: str = field(default_factory=lambda: _env("NEWSFLOW_LOG_LEVEL", "info"))
    # Topic names can be prefixed so that test runs never touch a user's data.
    topic_prefix: str = field(default_factory=lambda: _env("NEWSFLOW_TOPIC_PREFIX", ""))
    index_alias: str = field(default_factory=lambda: _env("NEWSFLOW_INDEX_ALIAS", "articles"))
    # Per-service web ports (health and Prometheus metrics).
    web_port_base: int = field(default_factory=lambda: int(_env("NEWSFLOW_WEB_PORT_BASE", "6060")))
    search_port: int = field(default_factory=lambda: int(_env("NEWSFLOW_SEARCH_PORT", "8000")))
    fetch_timeout_s: float = field(default_factory=lambda: float(_env("NEWSFLOW_FETCH_TIMEOUT", "20")))
    fetch_max_bytes: int = field(default_factory=lambda: int(_env("NEWSFLOW_FETCH_MAX_BYTES", str(10 * 1024 * 1024))))
    user_agent: str = field(default_factory=lambda: _env("NEWSFLOW_USER_AGENT", "newsflow/0.1 (+https://github.com/newsflow)"))
    # Bodies above this size are zstd-compressed in news.raw so messages stay small.
    compress_over_bytes: int = field(default_factory=lambda: int(_env("NEWSFLOW_COMPRESS_OVER_BYTES", "16384")))
    index_batch_size: int = field(default_factory=lambda: int(_env("NEWSFLOW_INDEX_BATCH_SIZE", "200")))
    index_batch_seconds: float = field(default_factory=lambda: float(_env("NEWSFLOW_INDEX_BATCH_SECONDS", "1.0")))
    # Faust commits acked offsets at this interval; a crash replays at most this much.
    commit_interval_s: float = field(default_factory=lambda: float(_env("NEWSFLOW_COMMIT_INTERVAL", "1.0")))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
