"""What a response body may be, and how it is read: content types, content-encoding decoders
with a decompression-bomb limit, and the charset hint for the parse stage."""

from __future__ import annotations

import codecs
import re
import zlib
from enum import Enum

import brotli
import zstandard

from .errors import FetchRefused

# Pages the pipeline can parse.
ARTICLE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds and sitemaps (gzip sitemaps are often served as a generic binary type).
DISCOVERY_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
    "application/x-gzip", "application/gzip", "application/octet-stream", "text/plain",
})


class Kind(str, Enum):
    """What a fetch is for: it decides the content types taken."""
    ARTICLE = "article"
    DISCOVERY = "discovery"
    ROBOTS = "robots"


def media_type(content_type: str | None) -> str | None:
    """'text/html; charset=UTF-8' -> 'text/html'"""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def type_allowed(kind: Kind, content_type: str | None) -> bool:
    """An unlabelled body is taken for now; `looks_like_html` judges it once read."""
    mtype = media_type(content_type)
    if kind is Kind.ROBOTS or mtype is None:
        return True
    if kind is Kind.ARTICLE:
        return mtype in ARTICLE_TYPES
    return mtype in DISCOVERY_TYPES or mtype.endswith("+xml")


def looks_like_html(body: bytes) -> bool:
    """For pages sent without a Content-Type: markup at the start, not a PDF or an image."""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and any(tag in head for tag in (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title"))


# --- content-encoding -------------------------------------------------------------------------

class BodyTooLarge(FetchRefused):
    """More bytes than the limit, on the wire or once decompressed."""


class _Limited:
    """Counts decoded bytes and refuses the body as soon as the limit is passed."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0

    def count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge(f"decompressed body larger than {self.limit} bytes (decompression bomb?)")
        return data


class _Identity(_Limited):
    def feed(self, data: bytes) -> bytes:
        return self.count(data)

    def flush(self) -> bytes:
        return b""


class _Zlib(_Limited):
    """gzip and deflate. zlib's max_length bounds each step's output, so a bomb is stopped
    having produced at most the limit plus one step."""

    STEP = 256 * 1024

    def __init__(self, limit: int, wbits: int):
        super().__init__(limit)
        self.inflater = zlib.decompressobj(wbits)
        # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate: the first
        # two bytes tell (a zlib header is method 8 and a multiple of 31).
        self.head = b"" if wbits == zlib.MAX_WBITS else None

    def feed(self, data: bytes) -> bytes:
        if self.head is not None:
            self.head += data
            if len(self.head) < 2:
                return b""
            data, self.head, cmf, flg = self.head, None, self.head[0], self.head[1]
            if cmf & 0x0F != 8 or (cmf * 256 + flg) % 31:
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflate(data)

    def _inflate(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self.count(self.inflater.decompress(data, self.STEP)))
            data = self.inflater.unconsumed_tail
        return b"".join(out)

    def flush(self) -> bytes:
        return self.count(self.inflater.flush())


class _Brotli(_Limited):
    STEP = 256 * 1024

    def __init__(self, limit: int):
        super().__init__(limit)
        self.decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        # output_buffer_limit bounds each step; the rest is drained with empty input, one
        # bounded step at a time, until the decoder has nothing more to give for now.
        step = self.count(self.decompressor.process(data, output_buffer_limit=self.STEP))
        out = [step]
        while not self.decompressor.is_finished() and (step or not self.decompressor.can_accept_more_data()):
            step = self.count(self.decompressor.process(b"", output_buffer_limit=self.STEP))
            out.append(step)
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


class _Zstd(_Limited):
    """zstd's stream writer hands over output in bounded pieces as it decompresses; counting
    them stops a bomb before it fills memory."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.out: list[bytes] = []
        self.writer = zstandard.ZstdDecompressor().stream_writer(self, write_size=256 * 1024, write_return_read=True)

    def write(self, data: bytes) -> int:  # called by the zstd stream writer
        self.out.append(self.count(bytes(data)))
        return len(data)

    def feed(self, data: bytes) -> bytes:
        self.writer.write(data)
        out, self.out = b"".join(self.out), []
        return out

    def flush(self) -> bytes:
        return b""


def body_decoder(content_encoding: str | None, limit: int):
    """A decoder with feed(bytes) -> bytes and flush() -> bytes for the response's encoding."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return _Identity(limit)
    if coding in ("gzip", "x-gzip"):
        return _Zlib(limit, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Zlib(limit, zlib.MAX_WBITS)
    if coding == "br":
        return _Brotli(limit)
    if coding == "zstd":
        return _Zstd(limit)
    raise FetchRefused(f"unsupported content-encoding {content_encoding!r}")


def decode_all(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    decoder = body_decoder(content_encoding, limit)
    return decoder.feed(data) + decoder.flush()


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """A gzip file (e.g. sitemap.xml.gz) inflated up to `limit` bytes; over it: BodyTooLarge."""
    return decode_all(data, "gzip", limit)


# --- charset -------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{2,40})""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
SAMPLE_BYTES = 256 * 1024


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def _codec(label: str | None) -> str | None:
    try:
        return codecs.lookup(label).name if label else None
    except LookupError:
        return None


def _is_utf8(sample: bytes) -> bool:
    try:  # not final: a sample cut in the middle of a character is still UTF-8
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return True
    except UnicodeDecodeError:
        return False


def charset_hint(content_type: str | None, body: bytes) -> str | None:
    """The charset the body is most likely in: a BOM, else UTF-8 when the bytes are valid
    UTF-8 with non-ASCII text (legacy encodings almost never are), else the declared charset
    (header, then <meta>) unless the bytes contradict it. Servers often declare the wrong one."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    sample = body[:SAMPLE_BYTES]
    declared = [c for c in (_codec(header_charset(content_type)), _codec(_meta_charset(sample))) if c]
    if not sample.isascii() and _is_utf8(sample):
        return "utf-8"
    legacy = [c for c in declared if c != "utf-8"]
    if legacy:
        return legacy[0]
    if declared and not sample.isascii():
        return "windows-1252"  # declared UTF-8 but is not: the usual culprit
    return declared[0] if declared else None


def _meta_charset(sample: bytes) -> str | None:
    match = _META_CHARSET.search(sample[:8192])
    return match.group(1).decode("ascii").lower() if match else None
