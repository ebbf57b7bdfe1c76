# TEMPORARY smoke stand-in (main session); helper-1 replaces this file.
import trafilatura

PARSER_VERSION = "smoke/0"
class ExtractionError(Exception): pass

def extract_article(html, url=None, *, charset_hint=None, time_limit_s=10.0):
    if isinstance(html, bytes): html = html.decode("utf-8", "replace")
    r = trafilatura.bare_extraction(html, url=url, with_metadata=True, as_dict=True)
    if not r or not r.get("text"): raise ExtractionError("no text")
    return {"title": r.get("title"), "lead": r.get("description"), "text": r["text"], "author": r.get("author"), "authors": [r["author"]] if r.get("author") else [],
            "published": r.get("date"), "modified": None, "language": r.get("language"), "site_name": r.get("sitename"), "canonical_url": None,
            "original_url": None, "images": [], "section": None, "tags": [], "page_type": "article", "parser_version": "smoke/0"}

