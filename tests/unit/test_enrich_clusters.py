"""Near-duplicate clustering, pure: MinHash signatures and cluster assignment against a plain
dict standing in for the enrich service's changelogged faust table."""

from __future__ import annotations

import json
from pathlib import Path

from newsflow.core.envelope import make_event
from newsflow.core.ids import article_id
from newsflow.enrich import clusters
from newsflow.enrich.stage import original_link
from newsflow.parse.extract import extract_article

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = REPO.parent / "shared" / "fixtures" / "seed-article"
SEED_URL = json.loads((SEED_DIR / "expected.json").read_text(encoding="utf-8"))["url"]
COPY_URL = "https://mirror.example.org/tech/2025/06/zuckerberg-rekrutiert-ki-talente"
UNRELATED = REPO / "samples" / "site"


def seed() -> dict:
    return extract_article((SEED_DIR / "page.html").read_bytes(), SEED_URL)


def relaid_copy(article: dict) -> str:
    """The seed's text in another site's layout: other markup, navigation, a sidebar, a footer."""
    paragraphs = "".join(f"<p>{p}</p>" for p in article["text"].split("\n") if p.strip())
    return f"""<!doctype html><html lang="de"><head><meta charset="utf-8"><title>{article['title']} | Mirror News</title>
    <meta property="og:title" content="{article['title']}"></head><body>
    <header><nav><a href="/">Start</a> <a href="/tech">Technik</a> <a href="/sport">Sport</a></nav></header>
    <div class="layout"><aside><h3>Meistgelesen</h3><ul><li><a href="/a">Wetter am Wochenende</a></li>
    <li><a href="/b">Bundesliga: die Tabelle</a></li></ul></aside>
    <main><article><h1>{article['title']}</h1><div class="intro"><strong>{article.get('lead') or ''}</strong></div>
    <section class="content">{paragraphs}</section></article></main></div>
    <footer>© Mirror News 2025 · Impressum · Datenschutz</footer></body></html>"""


def unrelated_article() -> dict:
    for page in sorted(UNRELATED.glob("*.html")):
        if "zuckerberg" not in page.name:
            article = extract_article(page.read_bytes(), f"http://127.0.0.1:8765/{page.name}")
            if len(clusters.words(article["text"])) > 50:
                return article
    raise AssertionError("no unrelated sample page")


def event(url: str, article: dict) -> dict:
    """A news.enriched-like event carrying what enrich() puts there for clustering."""
    sig = clusters.signature(article["text"])
    duplicates = {"original_id": original_link({**article, "url": url}), "bands": clusters.band_keys(sig) if sig else []}
    payload = {**article, "url": url, "enrichment": {"cluster_id": article_id(url), "duplicates": duplicates}}
    return make_event("news.enriched/1", article_id(url), "t" * 32, payload, "enrich")


def test_seed_and_a_relaid_copy_share_a_cluster_an_unrelated_article_does_not():
    original = seed()
    copy = extract_article(relaid_copy(original).encode(), COPY_URL)
    sig_a, sig_b = clusters.signature(original["text"]), clusters.signature(copy["text"])
    assert clusters.similarity(sig_a, sig_b) > 0.8

    # The copy names no original: only the text can join them.
    copy.pop("original_url", None)
    store: dict = {}
    first = clusters.settle(event(SEED_URL, original), store)["payload"]["enrichment"]["cluster_id"]
    second = clusters.settle(event(COPY_URL, copy), store)["payload"]["enrichment"]["cluster_id"]
    other = clusters.settle(event("http://127.0.0.1:8765/other", unrelated_article()), store)["payload"]["enrichment"]["cluster_id"]
    assert first == second
    assert other != first and other == article_id("http://127.0.0.1:8765/other")


def test_the_original_url_link_joins_clusters_in_either_arrival_order():
    original_url = "https://znews.vn/hanh-dong-ky-la-cua-mark-zuckerberg-post1563107.html"
    republished = seed()  # the parse stage found ZNews as its original
    assert article_id(republished["original_url"]) == article_id(original_url)
    # The original is in Vietnamese: its text shares no shingle with the German copy.
    original = {**unrelated_article(), "original_url": None}

    for order in ((original_url, SEED_URL), (SEED_URL, original_url)):
        store: dict = {}
        ids = {}
        for url in order:
            article = republished if url == SEED_URL else original
            ids[url] = clusters.settle(event(url, article), store)["payload"]["enrichment"]["cluster_id"]
        assert ids[SEED_URL] == ids[original_url] == article_id(original_url), order


def test_assignment_is_idempotent_and_first_cluster_keeps_its_bands():
    store: dict = {}
    a = event(SEED_URL, {**seed(), "original_url": None})
    assert clusters.settle(a, store)["payload"]["enrichment"]["cluster_id"] == a["id"]
    snapshot = dict(store)
    assert clusters.settle(a, store)["payload"]["enrichment"]["cluster_id"] == a["id"]  # redelivery
    assert store == snapshot
    # A later near-copy joins, and leaves the bands with the first cluster.
    b = event(COPY_URL, {**seed(), "original_url": None})
    assert clusters.settle(b, store)["payload"]["enrichment"]["cluster_id"] == a["id"]
    assert all(store[key] == a["id"] for key in a["payload"]["enrichment"]["duplicates"]["bands"])


def test_short_texts_have_no_signature_and_get_their_own_cluster():
    assert clusters.signature("Kurze Meldung ohne viel Text.") is None
    store: dict = {}
    assert clusters.assign(store, "x" * 32, None, []) == "x" * 32


def test_signatures_are_stable_across_processes():
    # Stored bands are compared across the stream's history: the hashing must never drift.
    sig = clusters.signature(" ".join(f"wort{i}" for i in range(40)))
    assert sig[:3] == [280149558, 17036761, 26197828]
