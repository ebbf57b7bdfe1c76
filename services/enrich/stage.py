"""The enrich stage's pure function: a news.parsed event -> a news.enriched event."""

from __future__ import annotations

from ..core.envelope import make_event
from .language import detect_language

SERVICE = "enrich"
INPUT_SCHEMA = "news.parsed/1"
OUTPUT_SCHEMA = "news.enriched/1"
# Bump when what enrich() adds changes, so a replay can tell old documents from new.
ENRICHMENT_VERSION = "enrich/0.1.0"


def enrich(parsed: dict) -> dict:
    """news.parsed/1 -> news.enriched/1"""
    article = parsed["payload"]
    text = "\n".join(part for part in (article.get("title"), article.get("lead"), article.get("text")) if part)
    language = detect_language(text)
    enrichment = {"version": ENRICHMENT_VERSION, "language": language, "errors": {}}
    payload = {**article, "enrichment": enrichment}
    # The page's declared language stands unless the page declares none.
    if not payload.get("language"):
        payload["language"] = language["code"]
    return make_event(OUTPUT_SCHEMA, parsed["id"], parsed["trace_id"], payload, SERVICE)
