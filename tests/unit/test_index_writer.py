"""The writer's decisions that need no Elasticsearch: what to skip before writing, how
rejections are reported, how long to back off. (Writing itself: tests/integration.)"""

import asyncio

from newsflow.index.writer import BatchResult, _plan, backoff_delay, rejection_reason, write_batch


class StoredDocs:
    """Answers mget like Elasticsearch would, from {id: (content_hash, version)}."""

    def __init__(self, docs):
        self.docs = docs

    async def mget(self, docs, source_includes):
        found = []
        for doc in docs:
            stored = self.docs.get(doc["_id"])
            found.append({"_id": doc["_id"], "found": bool(stored),
                          **({"_version": stored[1], "_source": {"content_hash": stored[0]}} if stored else {})})
        return {"docs": found}


def action(article_id, content, version):
    return {"_index": "articles", "_id": article_id, "version": version, "_source": {"content_hash": content}}


def plan(stored, actions):
    result = BatchResult()
    return asyncio.run(_plan(StoredDocs(stored), actions, result, 1.0)), result


def test_new_and_changed_documents_are_sent():
    send, result = plan({"b": ("old", 1)}, [action("a", "h", 1), action("b", "new", 2)])
    assert send == [0, 1] and result.unchanged == result.conflicts == 0


def test_identical_content_is_skipped_even_when_fetched_later():
    send, result = plan({"a": ("h", 1)}, [action("a", "h", 5)])
    assert send == [] and result.unchanged == 1


def test_an_older_version_with_other_content_counts_as_a_conflict_without_a_request():
    send, result = plan({"a": ("new", 5)}, [action("a", "old", 3)])
    assert send == [] and result.conflicts == 1


def test_repeats_within_a_batch_compare_with_the_earlier_one():
    send, result = plan({}, [action("a", "h", 1), action("a", "h", 2), action("a", "g", 3), action("a", "f", 2)])
    assert send == [0, 2] and result.unchanged == 1 and result.conflicts == 1


def test_the_rejection_reason_keeps_the_cause():
    error = {"type": "document_parsing_exception", "reason": "failed to parse field [url]: " + "x" * 5000,
             "caused_by": {"type": "illegal_argument_exception", "reason": "Document contains at least one immense term"}}
    reason = rejection_reason(400, error)
    assert reason.startswith("400 document_parsing_exception") and "immense term" in reason and len(reason) < 1000


def test_backoff_grows_is_capped_and_jittered():
    assert all(0.25 <= backoff_delay(1) <= 1.0 for _ in range(50))
    delays = {round(backoff_delay(20, 10.0), 3) for _ in range(50)}
    assert max(delays) <= 10.0 and min(delays) >= 5.0 and len(delays) > 1


class FlakyBulk:
    """Just enough of the client for the bulk helper: answers each bulk request with the next
    scripted outcome (an exception, or one status per document)."""

    def __init__(self, *outcomes):
        from elasticsearch.serializer import JsonSerializer

        self.outcomes, self.requests = list(outcomes), []
        self.transport = type("T", (), {"serializers": type("S", (), {"get_serializer": lambda self, _: JsonSerializer()})()})()

    class indices:  # an alias over one unpartitioned index: no month placement
        @staticmethod
        async def get_alias(name):
            return type("R", (), {"body": {f"{name}-v1": {"aliases": {name: {"is_write_index": True}}}}})()

    def options(self, **_):
        return self

    async def bulk(self, operations, **params):
        self.requests.append((len(operations) // 2, params))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        items = [{"index": {"status": s, **({"error": {"type": "es_rejected_execution_exception", "reason": "busy"}}
                                           if s >= 400 else {})}} for s in outcome]
        return type("R", (), {"body": {"errors": any(s >= 300 for s in outcome), "items": items}})()


def write(client, n=3):
    actions = [{**action(f"id{i}", "h", 1), "_op_type": "index"} for i in range(n)]
    return asyncio.run(write_batch(client, actions, skip_unchanged=False, require_alias=True))


def test_429s_and_an_unreachable_server_are_retried_until_every_document_is_in(monkeypatch):
    from elastic_transport import ConnectionError as TransportDown

    monkeypatch.setattr("newsflow.index.writer.backoff_delay", lambda attempt, cap=0: 0)
    client = FlakyBulk(TransportDown("refused"), [201, 429, 201], [429], [201])
    result = write(client)
    assert (result.written, result.retries, result.rejected) == (3, 3, {})
    assert [n for n, _ in client.requests] == [3, 3, 1, 1]   # only what is not in yet is sent again
    assert all(params.get("require_alias") for _, params in client.requests)


def test_a_rejected_document_is_reported_and_the_rest_written(monkeypatch):
    monkeypatch.setattr("newsflow.index.writer.backoff_delay", lambda attempt, cap=0: 0)
    result = write(FlakyBulk([201, 400, 409]))
    assert (result.written, result.conflicts, list(result.rejected)) == (1, 1, [1])
    assert result.rejected[1].startswith("400 es_rejected_execution_exception")
