"""The enrich stage's pure function: a news.parsed event -> a news.enriched event.

enrich() runs every component within one time budget per article (budget.py): a component
that fails or runs out of time leaves its field empty and says why in enrichment.errors. An
article with no text at all raises, so the shell dead-letters it. Apart from the event it
reads only models and configuration, never the stream's state: the duplicate cluster it
sets is provisional (the original's id, or its own), and the enrich service settles it
against the stream-wide near-duplicate claims (app.py, clusters.py, cluster_state.py).
"""

from __future__ import annotations

from ..core.envelope import make_event
from ..core.ids import article_id, normalise_url
from ..core.language import detect_language
from ..core.settings import get_settings
from ..core.stage import StageSpec
from . import CLUSTERING_TOPIC, clusters, corenlp
from .budget import Budget
from .dates import extract_dates
from .entities import extract_entities
from .keywords import extract_keywords
from .money import extract_money
from .topics import classify_topic

SERVICE = "enrich"
INPUT_SCHEMA = "news.parsed/1"
OUTPUT_SCHEMA = "news.enriched/1"
# Bump when what enrich() adds changes, so a replay can tell old documents from new.
ENRICHMENT_VERSION = "enrich/0.4.0"  # 0.3: entities, languages, dates (issue 13); .1: keywords by yake-rust; .2: CoreNLP CoNLL, MiniLM in onnxruntime; 0.4: fastText language identification, Spanish titles, German competition/place rules


class NothingToEnrich(ValueError):
    """The article has no text: no component could say anything about it."""


def article_text(article: dict) -> str:
    return "\n".join(part for part in (article.get("title"), article.get("lead"), article.get("text")) if part)


def original_link(article: dict) -> str | None:
    """The article id of the original this article says it re-publishes, if another page."""
    original = article.get("original_url")
    if not original:
        return None
    try:
        if normalise_url(original) in {normalise_url(u) for u in (article.get("url"), article.get("canonical_url")) if u}:
            return None
        return article_id(original)
    except Exception:  # noqa: BLE001 - a malformed link is just no link
        return None


def enrich(parsed: dict, *, budget_s: float | None = None, embed: bool | None = None) -> dict:
    """news.parsed/1 -> news.enriched/1; raises NothingToEnrich for an article without text."""
    settings = get_settings()
    article = parsed["payload"]
    text = article_text(article)
    if not text.strip():
        raise NothingToEnrich("the article has no title, lead or text")
    budget = Budget(settings.enrich_time_budget_s if budget_s is None else budget_s)

    detected = budget.run("language", detect_language, text) or {"code": None, "confidence": 0.0}
    # The text's own language decides which models apply; the page's declaration is the fallback.
    declared = (article.get("language") or "").split("-")[0].lower() or None
    language = detected["code"] or declared or "und"

    # The NER server's own timeouts decide how long entities may take (corenlp.py): a slow
    # server is an outage to wait out, not a reason to index the article without entities.
    entities = budget.run("entities", extract_entities, text, language, at_least_s=corenlp.CLIENT_TIMEOUT_S + 5)
    money = budget.run("money", extract_money, text, language)
    dates = budget.run("dates", extract_dates, text, language)
    keywords = budget.run("keywords", extract_keywords, text, language)
    topic = budget.run("topic", classify_topic, text, keywords or [], language)
    sig = budget.run("duplicates", clusters.signature, article.get("text") or text)
    link = original_link(article)

    enrichment = {
        "version": ENRICHMENT_VERSION,
        "language": detected,
        "errors": budget.errors,
        "entities": entities or {"persons": [], "organizations": [], "locations": []},
        "money": money or [],
        "dates": dates or [],
        "keywords": keywords or [],
        "topic": topic,
        # Provisional; the enrich service replaces it with the stream-wide cluster.
        "cluster_id": link or parsed["id"],
        "duplicates": {"original_id": link, "bands": clusters.band_keys(sig) if sig else []},
    }
    if (embed if embed is not None else settings.enrich_embedding):
        _embed(enrichment, article, budget)
    else:
        budget.errors["embedding"] = "disabled by NEWSFLOW_ENRICH_EMBEDDING=0"
    enrichment["timings"] = budget.timings
    payload = {**article, "enrichment": enrichment}
    # The page's declared language stands unless the page declares none.
    if not payload.get("language"):
        payload["language"] = detected["code"]
    return make_event(OUTPUT_SCHEMA, parsed["id"], parsed["trace_id"], payload, SERVICE)


def _embed(enrichment: dict, article: dict, budget: Budget) -> None:
    from . import embedding

    vector = budget.run("embedding", embedding.embed, embedding.embedding_text(article))
    if vector is not None:
        enrichment["embedding"] = vector
        enrichment["embedding_model"] = embedding.model_name()


def stage_spec() -> StageSpec:
    """The enrich stage as the shared shell runs it, in the service and in replays. Its output
    goes through the service's clustering topic, so replayed articles are clustered too."""
    settings = get_settings()
    budget = settings.enrich_time_budget_s
    return StageSpec(name=SERVICE, input_topic="news.parsed", input_schema=INPUT_SCHEMA,
                     output_topic=CLUSTERING_TOPIC, output_schema=OUTPUT_SCHEMA, handle=enrich,
                     time_limit_s=budget + corenlp.CLIENT_TIMEOUT_S + 30.0, expected_errors=(NothingToEnrich,),
                     concurrency=max(1, settings.enrich_concurrency))
