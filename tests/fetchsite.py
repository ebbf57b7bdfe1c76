"""A local web site for the fetch tests, served from a thread on a loopback address (127.0.0.x).

Every awkward thing a crawler meets has a path here: robots.txt rules and Crawl-delay, ETags
and 304, redirect chains and loops, 429/503 with Retry-After, a server that trickles, a 30 MB
body, a gzip bomb, a wrong charset, a PDF, compressed pages, feeds and sitemaps. The site
records every request (time, path, headers) so tests can check what the fetcher sent.

    with FetchSite("127.0.0.2", crawl_delay=0.5) as site:
        site.url("/article/1.html")
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import brotli
import zstandard

MB = 1024 * 1024


@dataclass(frozen=True)
class Hit:
    at: float
    path: str
    headers: dict[str, str]


def article_html(n: int, words: int = 300) -> bytes:
    text = " ".join(f"Satz {i} über die Straßenbahn in Berlin." for i in range(words // 6))
    return (f"<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'><title>Artikel {n}</title></head>"
            f"<body><article><h1>Artikel {n}</h1><p>{text}</p></article></body></html>").encode()


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """96 MB of zeros, gzip-compressed to under 100 KB (made once, in about half a second)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join(deflater.compress(block) for _ in range(96)) + deflater.flush()


class FetchSite:
    def __init__(self, host: str = "127.0.0.1", *, crawl_delay: float | None = None, robots: str | None = None,
                 robots_status: int = 200):
        self.host, self.crawl_delay, self.robots_status = host, crawl_delay, robots_status
        self.robots = robots if robots is not None else "User-agent: *\nDisallow: /private/\n" + (
            f"Crawl-delay: {crawl_delay}\n" if crawl_delay else "")
        self.hits: list[Hit] = []
        self.counters: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        self.server = _QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "FetchSite":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FetchSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def count(self, key: str) -> int:
        """How often a keyed path (e.g. a flaky one) has been asked for so far, this one included."""
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up mid-body are what several tests are about


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: FetchSite

    def log_message(self, *args) -> None:  # keep test output readable
        pass

    # --- helpers ---

    def send(self, status: int, body: bytes = b"", content_type: str | None = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (a limit did its job)

    def redirect(self, status: int, location: str) -> None:
        self.send(status, b"", None, {"Location": location})

    def stream(self, chunks, content_type: str = "text/html; charset=utf-8", delay: float = 0.0,
               headers: dict[str, str] | None = None) -> None:
        """A body without Content-Length, sent chunk by chunk until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in chunks:
                if self.site.stopping.is_set():
                    return
                self.wfile.write(chunk)
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # --- routes ---

    def do_GET(self) -> None:  # noqa: C901 - one branch per test page reads best as a table
        site = self.site
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with site.lock:
            site.hits.append(Hit(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}))
        key = query.get("id", [""])[0]

        if path == "/robots.txt":
            if site.robots_status != 200:
                return self.send(site.robots_status, b"", "text/plain")
            return self.send(200, site.robots.encode(), "text/plain")
        if path.startswith("/article/") or path.startswith("/private/"):
            n = int("".join(c for c in path if c.isdigit()) or 0)
            etag = f'"article-{n}-v1"'
            modified = "Tue, 24 Jun 2025 10:00:00 GMT"
            if self.headers.get("If-None-Match") == etag or self.headers.get("If-Modified-Since") == modified:
                return self.send(304, b"", None, {"ETag": etag, "Last-Modified": modified})
            return self.send(200, article_html(n), headers={"ETag": etag, "Last-Modified": modified})
        if path.startswith("/chain/"):  # /chain/3 -> /chain/2 -> /chain/1 -> /chain/0 -> the article
            n = int(path.rsplit("/", 1)[1])
            return self.redirect(301 if n % 2 else 302, f"/chain/{n - 1}" if n > 0 else "/article/7.html")
        if path == "/loop/a":
            return self.redirect(302, "/loop/b")
        if path == "/loop/b":
            return self.redirect(307, f"{site.base}/loop/a")
        if path == "/redirect":  # ?to=URL: one hop anywhere (another host, another scheme)
            return self.redirect(302, query["to"][0])
        if path == "/flaky/429":  # 429 with Retry-After on the first request of each id, then the page
            if site.count(f"429-{key}") == 1:
                return self.send(429, b"slow down", "text/plain", {"Retry-After": query.get("after", ["1"])[0]})
            return self.send(200, article_html(429))
        if path == "/flaky/503":  # 503 with Retry-After as an HTTP date, twice, then the page
            if site.count(f"503-{key}") <= 2:
                when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 1))
                return self.send(503, b"maintenance", "text/plain", {"Retry-After": when})
            return self.send(200, article_html(503))
        if path == "/always/503":
            site.count(f"always-{key}")
            return self.send(503, b"down", "text/plain", {"Retry-After": query.get("after", ["0"])[0]})
        if path == "/gone":
            site.count(f"gone-{key}")
            return self.send(404, b"not here", "text/plain")
        if path == "/trickle":  # a byte every 0.2 s, for up to a minute: only a total timeout ends it
            return self.stream((b"<" if i == 0 else b"p" for i in range(300)), delay=0.2)
        if path == "/big":  # 30 MB, no Content-Length: the limit must hold while streaming
            return self.stream(bytes(MB) for _ in range(30))
        if path == "/big-declared":  # 30 MB announced up front: refused before reading
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(30 * MB))
            self.end_headers()
            try:
                for _ in range(30):
                    self.wfile.write(bytes(MB))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if path == "/bomb":
            return self.send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})
        if path == "/wrong-charset":  # says Latin-1, is UTF-8
            body = "<html><head><title>Grüße aus Köln</title></head><body><p>Größere Straßen, schöne Grüße.</p></body></html>"
            return self.send(200, body.encode("utf-8"), "text/html; charset=iso-8859-1")
        if path == "/latin1":  # says UTF-8 in <meta>, is windows-1252
            body = "<html><head><meta charset='utf-8'><title>Grüße</title></head><body>Größe</body></html>"
            return self.send(200, body.encode("cp1252"), "text/html")
        if path == "/cookie":  # a session cookie the fetcher must not send back
            return self.send(200, article_html(12), headers={"Set-Cookie": "session=abc; Path=/"})
        if path == "/no-type":
            return self.send(200, article_html(9), None)
        if path == "/doc.pdf":
            return self.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF", "application/pdf")
        if path.startswith("/encoded/"):  # the article in the encoding the path names
            coding = path.rsplit("/", 1)[1]
            raw = article_html(11, words=3000)
            body = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress,
                    "deflate": zlib.compress}[coding](raw)
            return self.send(200, body, headers={"Content-Encoding": coding})
        if path == "/feed.xml":
            return self.send(200, rss_feed(site.base).encode(), "application/rss+xml; charset=utf-8",
                             {"ETag": '"feed-v1"'} if "etag" in query else None)
        if path == "/atom.xml":
            return self.send(200, atom_feed(site.base).encode(), "application/atom+xml")
        if path == "/sitemap-index.xml":
            return self.send(200, sitemap_index(site.base).encode(), "application/xml")
        if path == "/sitemap-pages.xml":
            return self.send(200, urlset(site.base, range(20, 23)).encode(), "text/xml")
        if path == "/sitemap-more.xml.gz":
            return self.send(200, gzip.compress(urlset(site.base, range(23, 25)).encode()), "application/x-gzip")
        if path == "/sitemap-news.xml":
            return self.send(200, news_sitemap(site.base).encode(), "application/xml")
        return self.send(404, b"no such page", "text/plain")


def rss_feed(base: str) -> str:
    items = "".join(f"<item><title>Artikel {n}</title><link>{link}</link><guid>{base}/article/{n}.html</guid></item>"
                    for n, link in ((1, f"{base}/article/1.html?utm_source=rss&amp;utm_medium=feed"),
                                    (2, "/article/2.html"), (3, f"{base}/article/3.html#comments"),
                                    (4, f"{base}/doc.pdf")))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Testfeed</title><link>{base}/</link>{items}</channel></rss>"""


def atom_feed(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title><id>{base}/atom</id><updated>2025-06-24T10:00:00Z</updated>
<entry><title>Fünf</title><id>urn:5</id><updated>2025-06-24T10:00:00Z</updated><link rel="alternate" href="{base}/article/5.html"/></entry>
<entry><title>Sechs</title><id>urn:6</id><updated>2025-06-24T10:00:00Z</updated><link href="/article/6.html"/></entry>
</feed>"""


def sitemap_index(base: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap>
<sitemap><loc>{base}/sitemap-more.xml.gz</loc></sitemap>
<sitemap><loc>{base}/sitemap-news.xml</loc></sitemap>
<sitemap><loc>{base}/sitemap-missing.xml</loc></sitemap>
</sitemapindex>"""


def urlset(base: str, numbers) -> str:
    urls = "".join(f"<url><loc>{base}/article/{n}.html</loc><lastmod>2025-06-24</lastmod></url>" for n in numbers)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>"""


def news_sitemap(base: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
<url><loc>{base}/article/25.html</loc>
  <news:news><news:publication><news:name>Test</news:name><news:language>de</news:language></news:publication>
  <news:publication_date>2025-06-24T10:00:00+02:00</news:publication_date><news:title>25</news:title></news:news>
  <image:image><image:loc>{base}/img/25.jpg</image:loc></image:image>
</url>
</urlset>"""
