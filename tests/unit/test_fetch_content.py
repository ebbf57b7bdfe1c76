"""Response bodies: content types, decoding with a decompression-bomb limit, the charset hint."""

import gzip
import zlib

import brotli
import pytest
import zstandard

from newsflow.fetch.content import (BodyTooLarge, Kind, body_decoder, charset_hint, decode_all, gunzip_limited,
                                    looks_like_html, media_type, type_allowed)
from newsflow.fetch.errors import FetchRefused

PAGE = ("<html><body>" + "<p>Grüße aus Berlin</p>" * 5000 + "</body></html>").encode()
ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress, "identity": lambda b: b}


@pytest.mark.parametrize("coding", list(ENCODERS))
@pytest.mark.parametrize("chunk", [1, 997, 1 << 20])
def test_each_encoding_decodes_in_any_chunking(coding, chunk):
    data = ENCODERS[coding](PAGE)
    decoder = body_decoder(coding, 10 << 20)
    out = b"".join(decoder.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)) + decoder.flush()
    assert out == PAGE


def test_raw_deflate_is_read_too():
    assert decode_all(zlib.compress(PAGE)[2:-4], "deflate", 10 << 20) == PAGE


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
def test_a_decompression_bomb_stops_at_the_limit(coding):
    fast = {"br": lambda b: brotli.compress(b, quality=1), "gzip": lambda b: gzip.compress(b, 1),
            "deflate": lambda b: zlib.compress(b, 1)}
    bomb = fast.get(coding, ENCODERS[coding])(bytes(64 << 20))  # 64 MB of zeros: a few hundred KB at most
    assert len(bomb) < 400_000
    with pytest.raises(BodyTooLarge, match="decompressed body larger than 1048576"):
        decode_all(bomb, coding, 1 << 20)


def test_unknown_encodings_are_refused():
    with pytest.raises(FetchRefused, match="unsupported content-encoding"):
        body_decoder("compress", 100)


def test_gunzip_limited_for_gzip_sitemaps():
    assert gunzip_limited(gzip.compress(b"<urlset/>"), 100) == b"<urlset/>"
    with pytest.raises(BodyTooLarge):
        gunzip_limited(gzip.compress(bytes(10_000)), 100)


def test_content_types_per_kind():
    assert media_type("Text/HTML; charset=UTF-8") == "text/html" and media_type(None) is None
    assert type_allowed(Kind.ARTICLE, "text/html; charset=utf-8")
    assert type_allowed(Kind.ARTICLE, "application/xhtml+xml")
    assert not type_allowed(Kind.ARTICLE, "application/pdf")
    assert not type_allowed(Kind.ARTICLE, "application/rss+xml")
    assert not type_allowed(Kind.ARTICLE, "image/jpeg")
    assert type_allowed(Kind.ARTICLE, None)  # judged by looks_like_html once read
    for feedish in ("application/rss+xml", "application/atom+xml", "text/xml", "application/xml",
                    "application/x-gzip", "application/vnd.custom+xml"):
        assert type_allowed(Kind.DISCOVERY, feedish)
    assert not type_allowed(Kind.DISCOVERY, "text/html") and not type_allowed(Kind.DISCOVERY, "application/pdf")


def test_looks_like_html():
    assert looks_like_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>")
    assert looks_like_html(b"<html><head><title>x")
    assert not looks_like_html(b"%PDF-1.4 ...") and not looks_like_html(b"\x89PNG\r\n") and not looks_like_html(b"")


@pytest.mark.parametrize("content_type, body, expected", [
    ("text/html; charset=utf-8", "Grüße".encode("utf-8"), "utf-8"),
    ("text/html; charset=iso-8859-1", "Grüße".encode("utf-8"), "utf-8"),  # declared Latin-1, is UTF-8
    ("text/html; charset=UTF-8", "Grüße".encode("cp1252"), "windows-1252"),  # declared UTF-8, is not
    ("text/html", "<meta charset='iso-8859-15'>Grüße".encode("iso-8859-15"), "iso8859-15"),
    ("text/html; charset=windows-1251", "Привет".encode("cp1251"), "cp1251"),
    ("text/html; charset=shift_jis", b"<p>plain ascii</p>", "shift_jis"),
    ("text/html", b"<p>plain ascii</p>", None),
    ("text/html; charset=nonsense", b"<p>ascii</p>", None),
    ("text/html; charset=iso-8859-1", b"\xef\xbb\xbf<p>bom</p>", "utf-8"),
])
def test_charset_hint_trusts_the_bytes_over_a_wrong_declaration(content_type, body, expected):
    assert charset_hint(content_type, body) == expected
