"""`newsflow dlq`'s pure parts: reading dead letters, selecting, counting, showing, and the
redrive plan that sends each letter once, to the input of the stage that failed."""

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from newsflow.core.dlq import dead_letter_event
from newsflow.core.envelope import encode, make_event
from newsflow.dlq.letters import (CLAIM_SCHEMA, REDRIVE_SCHEMA, SelectionError, claim_event, claimed_positions,
                                  count_groups, make_selection, marker_event, parse_letter, parse_marker, parse_moment,
                                  plan_redrive, redrive_headers, redrive_target, redriven_positions, shown)

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=timezone.utc)
ARTICLE = "a" * 32


def letter_bytes(stage="parse", error="ExtractionError", topic="t.news.raw", original=b'{"x": 1}', failed_at=None,
                 article_id=ARTICLE):
    letter = dead_letter_event(stage=stage, error=error, reason="why", topic=topic, original=original,
                               partition=3, offset=9, article_id=article_id, trace_id="b" * 32)
    if failed_at:
        letter["payload"]["failed_at"] = failed_at
    return encode(letter, "news.dlq/1")


def letter(offset=0, **kwargs):
    return parse_letter(letter_bytes(**kwargs), 0, offset)


def test_a_dead_letter_is_read_with_its_original_bytes():
    text = letter(original=b'{"schema": "news.raw/1"}')
    assert (text.position, text.stage, text.error, text.topic, text.source_partition, text.source_offset) == \
        ("0:0", "parse", "ExtractionError", "t.news.raw", 3, 9)
    assert text.original == b'{"schema": "news.raw/1"}'
    binary = letter(original=b"\xff\x00 not utf-8")
    assert binary.envelope["payload"]["original_encoding"] == "base64"
    assert binary.original == b"\xff\x00 not utf-8"


@pytest.mark.parametrize("junk", [b"", b"{not json", b'{"schema": "news.raw/1"}', orjson.dumps([1])])
def test_records_that_are_not_dead_letters_are_left_out(junk):
    assert parse_letter(junk, 0, 1) is None


def test_failure_time_comes_from_the_letter_and_else_from_the_record():
    assert letter(failed_at="2025-06-30T10:00:00.000Z").failed_at == datetime(2025, 6, 30, 10, tzinfo=timezone.utc)
    raw = orjson.loads(letter_bytes())
    del raw["payload"]["failed_at"]
    found = parse_letter(orjson.dumps(raw), 0, 4, timestamp_ms=1_751_371_200_000)
    assert found.failed_at == datetime(2025, 7, 1, 12, tzinfo=timezone.utc)


def test_times_are_iso_or_ages():
    assert parse_moment("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_moment("7d", NOW) == NOW - timedelta(days=7)
    assert parse_moment("2025-06-24", NOW) == datetime(2025, 6, 24, tzinfo=timezone.utc)
    assert parse_moment("2025-06-24T10:00:00+02:00", NOW) == datetime(2025, 6, 24, 8, tzinfo=timezone.utc)
    with pytest.raises(SelectionError, match="age like"):
        parse_moment("yesterday", NOW)


def test_selection_by_stage_error_time_and_id():
    old = letter(0, stage="fetch", error="FetchFailed", topic="t.news.fetch.requests", failed_at="2025-06-01T00:00:00Z")
    new = letter(1, stage="parse", error="ExtractionError", failed_at="2025-06-30T23:00:00Z", article_id="c" * 32)
    letters = [old, new]

    def picked(**kwargs):
        selection = make_selection(now=NOW, **kwargs)
        return [x.position for x in letters if selection.matches(x)]

    assert picked() == ["0:0", "0:1"]
    assert picked(stages=["fetch"]) == ["0:0"]
    assert picked(stages=["fetch,parse"]) == ["0:0", "0:1"]
    assert picked(errors=["extractionerror"]) == ["0:1"]
    assert picked(since="2d") == ["0:1"]
    assert picked(until="2025-06-15") == ["0:0"]
    assert picked(ids=["0:1"]) == ["0:1"]
    assert picked(ids=["c" * 32]) == ["0:1"]
    assert picked(stages=["fetch"], errors=["ExtractionError"]) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"stages": ["fetsch"]}, "unknown stage fetsch"),
    ({"ids": ["17"]}, "not a dead-letter id"),
    ({"since": "soon"}, "not an ISO time"),
    ({"since": "1h", "until": "2h"}, "before --until"),
])
def test_bad_selections_say_why(kwargs, message):
    with pytest.raises(SelectionError, match=message):
        make_selection(now=NOW, **kwargs)


def test_counts_by_stage_and_error_and_day():
    letters = [letter(0, error="A", failed_at="2025-06-01T01:00:00Z"), letter(1, error="A", failed_at="2025-06-02T01:00:00Z"),
               letter(2, error="B", failed_at="2025-06-02T02:00:00Z")]
    rows = count_groups(letters, redriven={"0:1"})
    assert [(r["stage"], r["error"], r["count"], r["redriven"]) for r in rows] == [("parse", "A", 2, 1), ("parse", "B", 1, 0)]
    assert (rows[0]["first"], rows[0]["last"]) == ("2025-06-01T01:00:00Z", "2025-06-02T01:00:00Z")
    per_day = count_groups(letters, per="day")
    assert [(r["day"], r["error"], r["count"]) for r in per_day] == [("2025-06-01", "A", 1), ("2025-06-02", "A", 1), ("2025-06-02", "B", 1)]


def test_show_decodes_the_original_event():
    event = make_event("news.fetch.request/1", ARTICLE, "b" * 32, {"url": "https://x.org/a"}, "test")
    view = shown(letter(original=orjson.dumps(event)), None)
    assert view["original_as"] == "json" and view["original"] == event
    assert "original" not in view["dead_letter"]["payload"]
    assert shown(letter(original=b"<html>"), None)["original"] == "<html>"
    assert shown(letter(original=b"\xff\xfe"), None)["original_as"] == "base64"


def test_a_letter_goes_back_to_the_topic_its_stage_read_it_from():
    assert redrive_target(letter(stage="fetch", topic="t.news.fetch.requests"), "t.") == "t.news.fetch.requests"
    assert redrive_target(letter(stage="enrich", topic="t.news.enrich.clustering"), "t.") == "t.news.enrich.clustering"
    assert redrive_target(letter(stage="index", topic="t.news.enriched"), "t.") == "t.news.enriched"
    # a topic that is not one of the stage's inputs (here: another prefix): the stage's main input
    assert redrive_target(letter(stage="enrich", topic="other.news.parsed"), "t.") == "t.news.parsed"
    headers = dict(redrive_headers(letter(3), "t.news.dlq"))
    assert headers["newsflow.redrive.letter"] == b"t.news.dlq:0:3"


def test_a_marker_makes_a_letter_redriven_once():
    letters = [letter(0), letter(1), letter(2, stage="index", topic="t.news.enriched")]
    selection = make_selection(now=NOW)
    first = plan_redrive(letters, selection, set(), "t.")
    assert [(x.position, target) for x, target in first.send] == [("0:0", "t.news.raw"), ("0:1", "t.news.raw"), ("0:2", "t.news.enriched")]
    markers = {}
    for x, target in first.send[:2]:  # the first two were sent, then the command stopped
        marker = parse_marker(encode(marker_event(x, target, 1, 7), REDRIVE_SCHEMA))
        markers[marker["payload"]["letter"]] = marker
    done = redriven_positions(letters, markers)
    assert done == {"0:0", "0:1"}
    again = plan_redrive(letters, selection, done, "t.")
    assert [x.position for x, _ in again.send] == ["0:2"] and again.already == 2
    assert first.by_target() == {"t.news.raw": 2, "t.news.enriched": 1}


def test_a_marker_counts_only_for_the_letter_it_was_written_for():
    before = letter(0, failed_at="2025-06-01T00:00:00.000Z")
    marker = parse_marker(encode(marker_event(before, "t.news.raw", 0, 1), REDRIVE_SCHEMA))
    # news.dlq deleted and created again: a new letter at the same position
    after = letter(0, failed_at="2025-06-20T00:00:00.000Z")
    assert redriven_positions([after], {"0:0": marker}) == set()
    assert redriven_positions([before], {"0:0": marker}) == {"0:0"}


def test_a_live_claim_leaves_a_letter_to_its_claimer_and_a_stale_one_is_sent_again():
    letters = [letter(0), letter(1), letter(2)]
    markers = {}
    for x, when in ((letters[0], NOW - timedelta(seconds=30)), (letters[1], NOW - timedelta(seconds=700))):
        claim = parse_marker(encode(claim_event(x, "t.news.raw", "run-a", when), CLAIM_SCHEMA))
        assert claim is not None and claim["schema"] == CLAIM_SCHEMA
        markers[x.position] = claim
    claimed = claimed_positions(letters, markers, NOW, timeout_s=600)
    assert claimed == {"0:0"}                                   # 0:1's claimer died 700 s ago
    assert redriven_positions(letters, markers) == set()        # a claim is not a redrive
    plan = plan_redrive(letters, make_selection(now=NOW), set(), "t.", claimed)
    assert [x.position for x, _ in plan.send] == ["0:1", "0:2"] and plan.claimed == 1
    # the claimer's marker, written after its originals, replaces the claim (the last record of the key)
    markers["0:0"] = parse_marker(encode(marker_event(letters[0], "t.news.raw", 0, 5), REDRIVE_SCHEMA))
    assert claimed_positions(letters, markers, NOW, 600) == set() and redriven_positions(letters, markers) == {"0:0"}


def test_show_with_body_decompresses_the_page_of_a_raw_original():
    from newsflow.core.body import encode_body

    page = "<html><body><p>Grüße aus der Altstadt</p></body></html>" * 50
    body, compression = encode_body(page.encode(), compress_over=100)
    assert compression == "zstd"
    raw = make_event("news.raw/1", ARTICLE, "b" * 32, {"url": "https://x.org/a", "body": body,
                                                        "body_compression": compression}, "test")
    view = shown(letter(original=orjson.dumps(raw)), None, with_body=True)
    assert view["original_body"] == page
    assert view["original"]["payload"]["body"] == body  # the event itself stays as it was
    raw["payload"]["body"] = "not base64 !"
    assert "cannot be decoded" in shown(letter(original=orjson.dumps(raw)), None, with_body=True)["original_body"]
    assert shown(letter(original=b"{junk"), None, with_body=True)["original_body"] is None


def test_an_empty_selection_is_everything():
    assert make_selection(now=NOW).is_everything()
    assert not make_selection(stages=["parse"], now=NOW).is_everything()
    assert not make_selection(since="1h", now=NOW).is_everything()
