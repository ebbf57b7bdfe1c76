"""The shell every stage shares: bad input and failures become dead letters, never crashes."""

import asyncio
import time

import orjson

from newsflow.core.envelope import encode, make_event
from newsflow.core.settings import Settings
from newsflow.core.stage import StageSpec, handle_event_batch, handle_message

SETTINGS = Settings(topic_prefix="t.")


def _request(url="https://x.org/a"):
    return make_event("news.fetch.request/1", "a" * 32, "b" * 32, {"url": url}, "test")


def _echo(event):
    payload = {"url": event["payload"]["url"]}
    return make_event("news.fetch.request/1", event["id"], event["trace_id"], payload, "echo")


def _spec(handle, **kw):
    return StageSpec(name="fetch", input_topic="news.fetch.requests", input_schema="news.fetch.request/1",
                     output_topic="news.raw", output_schema="news.fetch.request/1", handle=handle, **kw)


def _run(spec, raw):
    return asyncio.run(handle_message(spec, raw, SETTINGS, partition=0, offset=7))


def test_a_good_event_goes_to_the_output_topic_keyed_by_article_id():
    out = _run(_spec(_echo), encode(_request(), "news.fetch.request/1"))
    assert out.topic == "t.news.raw" and out.key == b"a" * 32
    assert orjson.loads(out.value)["payload"]["url"] == "https://x.org/a"


def test_malformed_input_becomes_a_dead_letter_with_the_original():
    out = _run(_spec(_echo), b"\xff\xfe not json")
    letter = orjson.loads(out.value)
    assert out.topic == "t.news.dlq"
    assert letter["payload"]["error"] == "InvalidEvent" and "not JSON" in letter["payload"]["reason"]
    assert letter["payload"]["original_encoding"] == "base64"
    assert letter["payload"]["topic"] == "t.news.fetch.requests" and letter["payload"]["offset"] == 7


def test_a_failing_stage_function_dead_letters_its_input_and_keeps_the_ids():
    def boom(event):
        raise RuntimeError("parser exploded")

    letter = orjson.loads(_run(_spec(boom), encode(_request(), "news.fetch.request/1")).value)
    assert letter["payload"]["error"] == "RuntimeError" and letter["payload"]["reason"] == "parser exploded"
    assert letter["id"] == "a" * 32 and letter["trace_id"] == "b" * 32


def test_a_stage_function_over_its_time_limit_is_dead_lettered():
    def slow(event):
        time.sleep(1.0)
        return _echo(event)

    letter = orjson.loads(_run(_spec(slow, time_limit_s=0.1), encode(_request(), "news.fetch.request/1")).value)
    assert letter["payload"]["error"] == "TimeoutError" and "0.1s" in letter["payload"]["reason"]


def test_output_that_breaks_the_output_schema_is_a_dead_letter_not_a_bad_message():
    def wrong(event):
        bad = _echo(event)
        bad["payload"]["url"] = "ftp://nope"
        return bad

    out = _run(_spec(wrong), encode(_request(), "news.fetch.request/1"))
    assert out.topic == "t.news.dlq" and "SchemaError" in orjson.loads(out.value)["payload"]["error"]


def test_ids_of_the_wrong_type_do_not_break_the_dead_letter():
    out = _run(_spec(_echo), orjson.dumps({"schema": "news.raw/9", "id": 1, "trace_id": ["x"]}))
    letter = orjson.loads(out.value)
    assert out.topic == "t.news.dlq" and "expected schema" in letter["payload"]["reason"]
    assert len(letter["id"]) == 32 and len(letter["trace_id"]) == 32


def test_expected_failures_are_dead_lettered_like_any_other():
    class PageGone(Exception):
        pass

    def gone(event):
        raise PageGone("HTTP 404")

    letter = orjson.loads(_run(_spec(gone, expected_errors=(PageGone,)), encode(_request(), "news.fetch.request/1")).value)
    assert letter["payload"]["error"] == "PageGone" and letter["payload"]["reason"] == "HTTP 404"


def test_a_server_down_is_waited_out_and_the_input_handled_not_dead_lettered():
    from newsflow.core.outage import DependencyUnavailable

    calls = []

    def flaky_server(event):
        calls.append(1)
        if len(calls) < 3:
            raise DependencyUnavailable("corenlp", "connection refused")
        return _echo(event)

    out = _run(_spec(flaky_server), encode(_request(), "news.fetch.request/1"))
    assert out.topic == "t.news.raw" and len(calls) == 3


# --- a stage over a batch of events (handle_events: the clustering agent) ---

class _Message:
    def __init__(self, value: bytes, offset: int):
        self.value, self.partition, self.offset, self.topic = value, 0, offset, "t.news.fetch.requests"


def _batch_spec(handle_events, **kw):
    return StageSpec(name="fetch", input_topic="news.fetch.requests", input_schema="news.fetch.request/1",
                     output_topic="news.raw", output_schema="news.fetch.request/1", handle_events=handle_events,
                     batch_size=10, **kw)


def _run_batch(spec, values):
    return asyncio.run(handle_event_batch(spec, [_Message(v, i) for i, v in enumerate(values)], SETTINGS))


def _good(n):
    return encode(make_event("news.fetch.request/1", f"{n:032x}", "b" * 32, {"url": f"https://x.org/{n}"}, "test"),
                  "news.fetch.request/1")


def test_a_batch_gives_one_message_per_input_in_order_and_calls_the_function_once_with_the_valid_events():
    calls = []

    async def settle_all(events):
        calls.append([e["id"] for e in events])
        return [_echo(e) if e["payload"]["url"].endswith("/0") else None if e["payload"]["url"].endswith("/2")
                else ValueError("cannot settle") for e in events]

    outs = _run_batch(_batch_spec(settle_all), [_good(0), b"not json", _good(2), _good(3)])
    assert calls == [[f"{0:032x}", f"{2:032x}", f"{3:032x}"]]
    assert outs[0].topic == "t.news.raw" and outs[0].key == f"{0:032x}".encode()
    assert outs[1].topic == "t.news.dlq" and orjson.loads(outs[1].value)["payload"]["offset"] == 1
    assert outs[2] is None
    letter = orjson.loads(outs[3].value)["payload"]
    assert outs[3].topic == "t.news.dlq" and letter["error"] == "ValueError" and letter["offset"] == 3


def test_a_batch_waits_out_an_unavailable_server_and_dead_letters_every_input_of_a_failed_batch():
    from newsflow.core.outage import DependencyUnavailable

    attempts = []

    async def flaky(events):
        attempts.append(len(events))
        if len(attempts) == 1:
            raise DependencyUnavailable("elasticsearch", "down")
        return [_echo(e) for e in events]

    outs = _run_batch(_batch_spec(flaky), [_good(0), _good(1)])
    assert attempts == [2, 2] and [o.topic for o in outs] == ["t.news.raw", "t.news.raw"]

    async def broken(events):
        raise RuntimeError("bug")

    outs = _run_batch(_batch_spec(broken), [_good(0), _good(1)])
    assert [orjson.loads(o.value)["payload"]["error"] for o in outs] == ["RuntimeError", "RuntimeError"]
