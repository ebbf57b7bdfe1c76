"""The parse stage's pure function: a news.raw event -> a news.parsed event."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..core.body import decode_body
from ..core.envelope import make_event
from ..core.settings import get_settings
from ..core.stage import StageSpec
from ..core.ids import article_id, normalise_url
from .extract import PARSER_VERSION, ExtractionError, extract_article

SERVICE = "parse"
INPUT_SCHEMA = "news.raw/1"
OUTPUT_SCHEMA = "news.parsed/1"


def _host(url: str | None) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    return host.removeprefix("www.")


def _article_id_for(raw_id: str, final_url: str, canonical_url: str | None) -> str:
    """The article id follows the canonical URL when the page names one on its own site; a
    canonical link to another host marks a re-publication (kept as original_url), not an alias."""
    if canonical_url and _host(canonical_url) == _host(final_url):
        try:
            return article_id(canonical_url)
        except ValueError:
            return raw_id
    return raw_id


def parse(raw: dict) -> dict:
    """news.raw/1 -> news.parsed/1. Raises ExtractionError when no article can be made."""
    page = raw["payload"]
    if not 200 <= page["status"] < 300:
        raise ExtractionError(f"HTTP status {page['status']} carries no article")
    body = decode_body(page["body"], page["body_compression"])
    article = extract_article(body, page["final_url"], charset_hint=page.get("charset_hint"))
    canonical = article.get("canonical_url")
    payload = {
        **article,
        "url": page["url"],
        "final_url": page["final_url"],
        "canonical_url": normalise_url(canonical) if canonical else None,
        "site": _host(page["final_url"]),
        "fetched_at": page["fetched_at"],
        "parser_version": PARSER_VERSION,
    }
    return make_event(OUTPUT_SCHEMA, _article_id_for(raw["id"], page["final_url"], canonical), raw["trace_id"], payload, SERVICE)


def stage_spec() -> StageSpec:
    """The parse stage as the shared shell runs it, in the service and in replays."""
    return StageSpec(name=SERVICE, input_topic="news.raw", input_schema=INPUT_SCHEMA,
                     # a backstop only: extraction refuses a page on its own CPU-time limit
                     # (guard.py), which a busy machine does not shorten
                     output_topic="news.parsed", output_schema=OUTPUT_SCHEMA, handle=parse, time_limit_s=120.0,
                     expected_errors=(ExtractionError,), concurrency=max(1, get_settings().parse_concurrency))
