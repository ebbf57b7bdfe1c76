"""The command line's words for failures: URLs, saved files, and exceptions from the clients."""

import gzip

import pytest
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError
from elastic_transport import ApiResponseMeta, ConnectionError as EsConnectionError, HttpHeaders, NodeConfig
from elasticsearch import NotFoundError

from newsflow.clierrors import CliError, explain, html_problem, read_page, url_problem

SERVERS = {"kafka": "k:9092", "elasticsearch": "http://e:9200"}


@pytest.mark.parametrize("url", ["https://example.com/a", "http://127.0.0.1:8080/x?y=1", "HTTPS://EXAMPLE.COM"])
def test_good_urls_pass(url):
    assert url_problem(url) is None


@pytest.mark.parametrize("url, reason", [
    ("not-a-url", "not an http(s) URL"),
    ("example.com/news", "not an http(s) URL"),
    ("ftp://example.com/a", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("http://", "no host"),
    ("http://example.com:port/", "not a valid URL"),
    ("http://example.com/a b", "spaces"),
])
def test_bad_urls_say_why(url, reason):
    assert reason in url_problem(url)


def test_pages_and_not_pages():
    assert html_problem(b"<!DOCTYPE html><html><body><p>Hi</p></body></html>") is None
    assert html_problem(b"\xef\xbb\xbf\n<!-- saved -->\n<div class=x><p>text</p></div>") is None
    assert html_problem("<html><p>Grüße</p></html>".encode("utf-16")) is None
    assert html_problem(b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n") == "no HTML markup in it"
    assert html_problem(b"%PDF-1.7\n<html>") == "a PDF document"
    assert html_problem(b"\x89PNG\r\n\x1a\n\x00\x00<html>") == "binary data"
    assert html_problem(b" \n ") == "the file is empty"


def test_read_page_gunzips_and_refuses_what_is_not_html():
    page = b"<html><body><p>x</p></body></html>"
    assert read_page(gzip.compress(page), "a.html.gz") == page
    with pytest.raises(CliError, match=r"^/etc/passwd: not HTML \(no HTML markup in it\)$"):
        read_page(b"root:x:0:0:root:/root:/bin/bash\n", "/etc/passwd")
    with pytest.raises(CliError, match="not a readable gzip file"):
        read_page(b"\x1f\x8b\x08garbage", "b.html.gz")


def _es_meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "e", 9200))


def test_client_exceptions_become_one_line_naming_the_server():
    kafka = explain(KafkaConnectionError("Unable to bootstrap from [...]"), **SERVERS)
    assert kafka.startswith("Kafka at k:9092 is unreachable") and "NEWSFLOW_KAFKA" in kafka
    es = explain(EsConnectionError("refused"), **SERVERS)
    assert es.startswith("Elasticsearch at http://e:9200 is unreachable") and "NEWSFLOW_ELASTICSEARCH" in es
    assert "answered 404" in explain(NotFoundError("index_not_found_exception", _es_meta(404), {}), **SERVERS)
    assert explain(UnknownTopicOrPartitionError(), **SERVERS).startswith("Kafka at k:9092 answered with an error")
    for line in (kafka, es):
        assert "\n" not in line


def test_a_wrapped_cause_is_found_and_our_own_words_win():
    try:
        try:
            raise KafkaConnectionError("down")
        except KafkaConnectionError as exc:
            raise RuntimeError("replay failed") from exc
    except RuntimeError as wrapped:
        assert explain(wrapped, **SERVERS).startswith("Kafka at k:9092 is unreachable")
    assert explain(CliError("x.html: no such file"), **SERVERS) == "x.html: no such file"
    assert "--traceback" in explain(ZeroDivisionError("division by zero"), **SERVERS)
