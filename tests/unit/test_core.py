"""The shared core: ids, envelope, schemas and the raw body codec."""

import base64

import orjson
import pytest

from newsflow.core.body import decode_body, encode_body
from newsflow.core.envelope import InvalidEvent, decode, encode, make_event
from newsflow.core.ids import article_id, normalise_url
from newsflow.core.schemas import SchemaError, schema_file, topic_catalogue, validate


def test_tracking_parameters_and_fragment_do_not_change_the_article_id():
    plain = "https://www.example.com/news/story-1?id=7"
    tracked = "HTTPS://WWW.Example.com:443/news/story-1?utm_source=rss&id=7&fbclid=abc&gclid=x#comments"
    assert normalise_url(tracked) == plain
    assert article_id(tracked) == article_id(plain)
    assert len(article_id(plain)) == 32


def test_meaningful_query_parameters_keep_articles_apart():
    assert article_id("https://x.org/a.php?id=1") != article_id("https://x.org/a.php?id=2")


def test_every_catalogue_topic_has_a_schema_file():
    catalogue = topic_catalogue()
    assert set(catalogue) == {"news.fetch.requests", "news.raw", "news.parsed", "news.enriched", "news.dlq", "news.dlq.redrive",
                              "news.enrich.clustering", "news.removed"}
    for spec in catalogue.values():
        assert schema_file(spec.schema).exists(), spec.schema
    assert catalogue["news.raw"].retention_ms == -1, "news.raw is the replay source: kept forever"


def _request(**payload):
    return make_event("news.fetch.request/1", "a" * 32, "b" * 32, {"url": "https://x.org/a", **payload}, "test")


def test_encode_then_decode_round_trips():
    event = _request(source="feed")
    assert decode(encode(event, "news.fetch.request/1"), "news.fetch.request/1") == event


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (orjson.dumps({"schema": "news.fetch.request/2"}), "expected schema"),
])
def test_decode_names_the_reason(data, reason):
    with pytest.raises(InvalidEvent, match=reason):
        decode(data, "news.fetch.request/1")


def test_wrong_types_are_rejected_with_the_path():
    event = _request()
    event["payload"]["url"] = 42
    with pytest.raises(InvalidEvent, match="payload/url"):
        decode(orjson.dumps(event), "news.fetch.request/1")


def test_encode_refuses_an_event_the_next_stage_could_not_read():
    event = _request()
    del event["trace_id"]
    with pytest.raises(SchemaError, match="trace_id"):
        encode(event, "news.fetch.request/1")


def test_unknown_schema_is_an_error():
    with pytest.raises(SchemaError):
        validate({}, "news.nothing/9")


def test_small_bodies_stay_plain_and_large_ones_are_compressed():
    small, large = b"<p>hi</p>", b"<p>" + b"x" * 100_000 + b"</p>"
    text, compression = encode_body(small, 1000)
    assert compression == "none" and base64.b64decode(text) == small
    text, compression = encode_body(large, 1000)
    assert compression == "zstd" and len(text) < len(large) / 10
    assert decode_body(text, compression) == large


def test_the_shared_core_imports_nothing_from_the_stages():
    import ast
    from pathlib import Path

    import newsflow.core

    upward = []
    for module in Path(newsflow.core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level >= 2 or (node.module or "").startswith("newsflow.")):
                if node.level >= 2 and node.module is None:  # names of the package itself
                    targets = [f"newsflow.{a.name}" for a in node.names if a.name != "__version__"]
                else:
                    targets = [node.module if node.level < 2 else f"newsflow.{node.module}"]
                upward += [f"{module.name}: {t}" for t in targets if not t.startswith("newsflow.core")]
            if isinstance(node, ast.Import):
                upward += [f"{module.name}: {a.name}" for a in node.names if a.name.startswith("newsflow.") and not a.name.startswith("newsflow.core")]
    assert upward == []


def test_timestamps_are_not_format_checked_as_before_the_compiled_validator():
    """Producers outside the project send datetime.utcnow().isoformat() (no offset); the Python
    jsonschema never checked formats here (no rfc3339-validator), and jsonschema-rs must not start."""
    event = _request()
    event["produced_at"] = "2024-01-01T00:00:00"
    event["payload"]["requested_at"] = "2024-01-01 00:00:00"
    assert decode(encode(event, "news.fetch.request/1"), "news.fetch.request/1") == event
