"""A generated news site for the chaos test and the end-to-end benchmark: N article pages, made
up on request from their number (nothing on disk), plus pages built to fail.

    with ArticleSite(2000, failing=20) as site:
        site.article_urls()   # /news/0.html ... /news/1999.html
        site.failing_urls()   # /broken/0.html (404), /broken/1.pdf (not HTML), ...
        site.first_hit(url)   # monotonic time of the first request for that page (fetch start)

The pages are short (about 150 words) but real enough to exercise every stage: a title, an
author, a date, paragraphs in German or English with people, organisations, places and money.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PEOPLE = ("Angela Merkel", "Olaf Scholz", "Mark Zuckerberg", "Ursula von der Leyen", "Elon Musk", "Sundar Pichai",
          "Christine Lagarde", "Annalena Baerbock", "Satya Nadella", "Jensen Huang")
ORGS = ("Siemens", "Deutsche Bahn", "Meta", "Volkswagen", "Google", "Microsoft", "Nvidia", "SAP", "Lufthansa", "BASF")
PLACES = ("Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Leipzig", "Paris", "London", "Wien", "Zürich")
DE = ("{p} traf sich am Montag in {c} mit Vertretern von {o}, um über neue Investitionen zu sprechen.",
      "Nach Angaben von {o} sollen in den kommenden Jahren {m} Millionen Euro in {c} investiert werden.",
      "Kritiker werfen {p} vor, die Folgen für die Beschäftigten in {c} zu unterschätzen.",
      "Die Stadtverwaltung von {c} begrüßte die Pläne und kündigte eine Bürgerversammlung an.",
      "Ein Sprecher von {o} sagte, man wolle die Zusammenarbeit mit Hochschulen deutlich ausbauen.")
EN = ("{p} met representatives of {o} in {c} on Monday to discuss new investments.",
      "According to {o}, about {m} million dollars will be invested in {c} over the coming years.",
      "Critics accuse {p} of underestimating the consequences for workers in {c}.",
      "The city council of {c} welcomed the plans and announced a public hearing.",
      "A spokesperson for {o} said the company wants to expand its work with universities.")


def article_html(n: int) -> bytes:
    rng = random.Random(n)
    lang, sentences = ("de", DE) if n % 3 else ("en", EN)
    fill = lambda s: s.format(p=rng.choice(PEOPLE), o=rng.choice(ORGS), c=rng.choice(PLACES), m=rng.randint(5, 900))
    paragraphs = "".join(f"<p>{' '.join(fill(s) for s in rng.sample(sentences, 3))} (Meldung {n})</p>" for _ in range(3))
    org, place = rng.choice(ORGS), rng.choice(PLACES)
    title = f"{org} in {place}: Bericht {n}" if lang == "de" else f"{org} in {place}: report {n}"
    day = 1 + n % 28
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta name='author' content='{rng.choice(PEOPLE)}'>"
            f"<meta property='article:published_time' content='2025-06-{day:02d}T08:00:00Z'></head>"
            f"<body><nav>Home | Politik | Wirtschaft</nav><article><h1>{title}</h1>{paragraphs}</article>"
            f"<footer>© Testzeitung</footer></body></html>").encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a fetcher SIGKILLed mid-request is expected here
        pass


class ArticleSite:
    def __init__(self, articles: int, failing: int = 0, host: str = "127.0.0.1"):
        self.articles, self.failing = articles, failing
        self._hits: dict[str, float] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site._hits.setdefault(path, time.monotonic())
                status, ctype, body = site._page(path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _QuietServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}"

    def _page(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path.startswith("/news/") and path.endswith(".html"):
            n = path[6:-5]
            if n.isdigit() and int(n) < self.articles:
                return 200, "text/html; charset=utf-8", article_html(int(n))
        if path.startswith("/broken/"):  # built to fail: half missing, half not HTML
            if path.endswith(".pdf"):
                return 200, "application/pdf", b"%PDF-1.4 not an article"
        return 404, "text/html", b"<h1>not found</h1>"

    def article_urls(self) -> list[str]:
        return [f"{self.base}/news/{n}.html" for n in range(self.articles)]

    def failing_urls(self) -> list[str]:
        return [f"{self.base}/broken/{n}.{'pdf' if n % 2 else 'html'}" for n in range(self.failing)]

    def first_hit(self, url: str) -> float | None:
        with self._lock:
            return self._hits.get(urlsplit(url).path)

    def __enter__(self) -> "ArticleSite":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
