"""Discovery without network: feed and sitemap parsing, URL filtering, the sources file."""

import gzip

import pytest

from newsflow.fetch.discovery import article_candidates, feed_links, sitemap_links
from newsflow.fetch.sources import Source, SourcesError, due, parse_interval, parse_sources
from tests.fetchsite import atom_feed, news_sitemap, rss_feed, sitemap_index, urlset

BASE = "http://news.example"


def test_rss_entries_resolved_against_the_feed_url():
    links = feed_links(rss_feed(BASE).encode(), f"{BASE}/feed.xml")
    assert links == [f"{BASE}/article/1.html?utm_source=rss&utm_medium=feed", f"{BASE}/article/2.html",
                     f"{BASE}/article/3.html#comments", f"{BASE}/doc.pdf"]


def test_atom_entries():
    assert feed_links(atom_feed(BASE).encode(), f"{BASE}/atom.xml") == [f"{BASE}/article/5.html", f"{BASE}/article/6.html"]


def test_a_permalink_guid_stands_in_for_a_missing_link():
    rss = b"""<rss version="2.0"><channel><item><guid isPermaLink="true">http://news.example/g</guid></item>
              <item><guid isPermaLink="false">urn:x</guid></item></channel></rss>"""
    assert feed_links(rss, BASE) == ["http://news.example/g"]


def test_candidates_are_normalised_deduplicated_and_files_skipped():
    links = feed_links(rss_feed(BASE).encode(), f"{BASE}/feed.xml") + [f"{BASE}/article/2.html?fbclid=abc", "ftp://x/y",
                                                                         "mailto:a@b", f"{BASE}/img/a.JPG"]
    assert article_candidates(links) == [f"{BASE}/article/1.html", f"{BASE}/article/2.html", f"{BASE}/article/3.html"]
    assert article_candidates(links, limit=2) == [f"{BASE}/article/1.html", f"{BASE}/article/2.html"]


def test_sitemap_index_lists_child_sitemaps():
    pages, children = sitemap_links(sitemap_index(BASE).encode(), f"{BASE}/sitemap-index.xml")
    assert pages == [] and children == [f"{BASE}/sitemap-pages.xml", f"{BASE}/sitemap-more.xml.gz",
                                        f"{BASE}/sitemap-news.xml", f"{BASE}/sitemap-missing.xml"]


def test_urlset_gzip_and_news_sitemaps():
    assert sitemap_links(urlset(BASE, [1, 2]).encode(), BASE) == ([f"{BASE}/article/1.html", f"{BASE}/article/2.html"], [])
    assert sitemap_links(gzip.compress(urlset(BASE, [3]).encode()), BASE) == ([f"{BASE}/article/3.html"], [])
    pages, _ = sitemap_links(news_sitemap(BASE).encode(), BASE)
    assert pages == [f"{BASE}/article/25.html"]  # the image:loc inside is not a page


def test_text_sitemap_and_junk():
    assert sitemap_links(b"http://a.example/1\n\nhttps://a.example/2\nnot a url\n", BASE) == (
        ["http://a.example/1", "https://a.example/2"], [])
    assert sitemap_links(b"<html><body>not a sitemap</body></html>", BASE) == ([], [])


def test_sitemap_xml_entities_are_not_resolved():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://a.example/&x;</loc></url></urlset>"""
    pages, _ = sitemap_links(xxe, BASE)
    assert all("root:" not in p for p in pages)


def test_sources_file_and_intervals():
    data = {"sources": [
        {"type": "feed", "url": "https://a.example/rss", "interval": "10m", "name": "a"},
        {"type": "sitemap", "url": "https://b.example/sitemap.xml", "interval": 3600},
        {"type": "feed", "url": "https://c.example/atom"},
    ]}
    sources = parse_sources(data)
    assert sources[0] == Source("feed", "https://a.example/rss", 600.0, "a")
    assert sources[1].interval_s == 3600.0 and sources[1].label == "sitemap:https://b.example/sitemap.xml"
    assert sources[2].interval_s == 900.0
    assert [parse_interval(v) for v in ("90s", "2h", "1d", "1.5m", 0)] == [90.0, 7200.0, 86400.0, 90.0, 1.0]


@pytest.mark.parametrize("data, message", [
    ({}, "sources"), ({"sources": [{"type": "html", "url": "https://a"}]}, "type"),
    ({"sources": [{"type": "feed", "url": "file:///etc/passwd"}]}, "url"),
    ({"sources": [{"type": "feed", "url": "https://a", "interval": "often"}]}, "interval"),
])
def test_sources_file_mistakes_are_named(data, message):
    with pytest.raises(SourcesError, match=message):
        parse_sources(data)


def test_due_sources():
    a, b = Source("feed", "https://a/rss", 60), Source("feed", "https://b/rss", 60)
    assert due([a, b], {}, 0.0) == [a, b]
    assert due([a, b], {a: 100.0, b: 50.0}, 60.0) == [b]


def test_the_sample_sources_file_is_valid():
    from pathlib import Path

    from newsflow.fetch.sources import load_sources

    assert load_sources(Path(__file__).resolve().parents[2] / "samples" / "sources.yaml")
