"""The fetch service: polite, robust and safe HTTP fetching, and discovery from feeds and sitemaps.

    app.py        the faust app: the stage (news.fetch.requests -> news.raw), its URL state (url_state.py), the poller
    fetcher.py    the stage function: normalised URL, recently-fetched window, conditional GET, raw event
    client.py     Fetcher: one URL -> one page (robots, politeness, redirects, timeouts, limits, retries)
    addresses.py  safety: http(s) only; private/loopback/link-local/metadata addresses refused at connect
    politeness.py per-host concurrency and delay;  robots.py robots.txt per host with a TTL (protego)
    retry.py      backoff with jitter, Retry-After;  content.py content types, decoding, bomb limit, charset
    state.py      per-URL state rules;  errors.py FetchFailed / FetchRefused (the dead letter's error)
    discovery.py  feed and sitemap parsing;  sources.py the sources file;  poller.py polling and submitting
    seen.py       the record of submitted URLs (compacted topic);  topics.py the service's own topics
"""

# What the stage owns: its input topic and the offset of its health/metrics port.
INPUT_TOPICS = ("news.fetch.requests",)
WEB_PORT_OFFSET = 1
