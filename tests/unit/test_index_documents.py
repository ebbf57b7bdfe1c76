"""The index stage's pure part: bulk actions, external versions, content hashes."""

from newsflow.core.envelope import make_event
from newsflow.index.documents import content_hash, external_version, to_action


def _enriched(fetched_at="2025-06-24T10:00:00.000Z", text="Body"):
    payload = {"url": "https://x.org/a", "final_url": "https://x.org/a", "title": "T", "text": text,
               "fetched_at": fetched_at, "parser_version": "p", "page_type": "article",
               "enrichment": {"version": "e", "language": {"code": "de", "confidence": 0.9}}}
    return make_event("news.enriched/1", "c" * 32, "d" * 32, payload, "enrich")


def test_action_is_idempotent_by_article_id_and_versioned_by_fetch_time():
    action = to_action(_enriched(), "articles", "2025-06-24T11:00:00Z")
    assert action["_id"] == "c" * 32 and action["_index"] == "articles"
    assert action["version_type"] == "external"
    assert action["version"] == external_version("2025-06-24T10:00:00.000Z") == 1750759200000


def test_a_later_fetch_has_a_higher_version():
    assert external_version("2025-06-24T10:00:01Z") > external_version("2025-06-24T10:00:00Z")


def test_content_hash_ignores_when_but_not_what():
    a = to_action(_enriched("2025-06-24T10:00:00Z"), "articles", "x")["_source"]
    b = to_action(_enriched("2025-06-25T10:00:00Z"), "articles", "y")["_source"]
    c = to_action(_enriched(text="Changed body"), "articles", "x")["_source"]
    assert a["content_hash"] == b["content_hash"] != c["content_hash"]
    assert content_hash(a) == a["content_hash"]
