"""What the `newsflow` command says when it cannot do its work: one line, for a person, instead
of a traceback. Pure functions: the command line prints what they return."""

from __future__ import annotations

import gzip
import zlib
from urllib.parse import urlsplit


class CliError(Exception):
    """Bad input or a missing server, already said in words: printed as it is."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _chain(exc: BaseException):
    """The exception and every cause and context behind it (a library may wrap the real one)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc: BaseException, *, kafka: str, elasticsearch: str) -> str:
    """One line saying what went wrong and what to check."""
    from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
    from elastic_transport import ApiError, ConnectionError as EsConnectionError, ConnectionTimeout

    for found in _chain(exc):
        if isinstance(found, CliError):
            return str(found)
    for found in _chain(exc):
        if isinstance(found, (KafkaConnectionError, KafkaTimeoutError)):
            return (f"Kafka at {kafka} is unreachable ({type(found).__name__}); "
                    "is it running (infra/stack.sh status), and is NEWSFLOW_KAFKA right?")
        if isinstance(found, KafkaError):
            return f"Kafka at {kafka} answered with an error: {type(found).__name__}: {_short(found)}"
        if isinstance(found, (EsConnectionError, ConnectionTimeout)):
            return (f"Elasticsearch at {elasticsearch} is unreachable ({type(found).__name__}); "
                    "is it running (infra/stack.sh status), and is NEWSFLOW_ELASTICSEARCH right?")
        if isinstance(found, ApiError):
            return f"Elasticsearch at {elasticsearch} answered {found.meta.status}: {_short(found)}"
    return f"{type(exc).__name__}: {_short(exc)} (run `newsflow --traceback ...` to see where)"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def url_problem(url: str) -> str | None:
    """Why a URL cannot be fetched as given, or None when it can be tried."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL" + (f" (scheme {parts.scheme!r})" if parts.scheme else "; give the whole address, e.g. https://example.com/news/1")
    if not parts.hostname:
        return "no host name in the URL"
    if port == 0:
        return "port 0 is not a port"
    if any(c.isspace() for c in url.strip()):
        return "spaces in the URL (encode them as %20)"
    return None


# --- saved pages for `newsflow extract` ----------------------------------------------------------

_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta", b"<article", b"<div", b"<p>",
           b"<p ", b"<h1", b"<main", b"<section", b"<span", b"<a href", b"<br")


def read_page(data: bytes, name: str) -> bytes:
    """The HTML of a saved file (gunzipped when it is gzip), or CliError saying why it is not
    a page `extract` can read."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CliError(f"{name}: not a readable gzip file ({exc})") from None
    problem = html_problem(data)
    if problem:
        raise CliError(f"{name}: not HTML ({problem})")
    return data


def html_problem(data: bytes) -> str | None:
    """Why these bytes are not an HTML page, or None when they look like one: some markup
    (a tag that pages have) near the start, and text rather than binary."""
    if not data.strip():
        return "the file is empty"
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte order mark
        try:
            head = head.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return "binary data"
    if b"\x00" in head[:8192]:
        return "binary data"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    lowered = head.lower()
    if not any(tag in lowered for tag in _MARKUP):
        return "no HTML markup in it"
    return None
