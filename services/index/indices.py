"""Names and layout of the physical indices behind the alias, in pure functions (no client):
the index stage, `newsflow indices` and the reindex all name indices here.

Two layouts (NEWSFLOW_INDEX_PARTITIONING):
- "none":  one physical index per generation, `<alias>-v<N>` (the layout before months);
- "month": one per generation and month, `<alias>-v<N>-<YYYY>.<MM>`.

Which month an article lives in is decided once, when it is first indexed: the month of its
`published` day, or of its `fetched_at` when the page gives no usable date. After that the
article is found where it is (by id, in every month of the alias), so a refetch whose
`published` changed, appeared or vanished still lands on the same document, and the external
version (the fetch time) keeps guarding it. A generation (vN) is what a reindex rebuilds: all
its months are swapped into the alias in one atomic alias update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTH_FORMAT = "%Y.%m"
# A `published` later than the fetch by more than this is a wrong date (pages do carry them),
# not a publication: the article goes by its fetch month instead.
FUTURE_TOLERANCE = timedelta(days=2)
# Nor is a publication before the web a usable month (it would make an index per odd year).
EARLIEST = date(1990, 1, 1)


@dataclass(frozen=True, order=True)
class IndexName:
    generation: int
    month: str | None   # "YYYY.MM", or None for the unpartitioned layout


def index_name(alias: str, generation: int, month: str | None = None) -> str:
    return f"{alias}-v{generation}" + (f"-{month}" if month else "")


def parse_index(alias: str, name: str) -> IndexName | None:
    """`articles-v3-2025.06` -> IndexName(3, "2025.06"); None for an index not of this alias."""
    m = re.fullmatch(rf"{re.escape(alias)}-v(\d+)(?:-(\d{{4}}\.\d{{2}}))?", name)
    return IndexName(int(m.group(1)), m.group(2)) if m else None


def next_generation(alias: str, names) -> int:
    """The generation a reindex builds: one above every generation present, either layout."""
    found = [parsed.generation for name in names if (parsed := parse_index(alias, name))]
    return max(found, default=0) + 1


def current_generation(alias: str, names_in_alias) -> int:
    """The generation the alias serves (the highest, should an operator have added an older one)."""
    return max((p.generation for n in names_in_alias if (p := parse_index(alias, n))), default=1)


def _day(value) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def month_of(doc: dict) -> str:
    """The month a new article is filed under: its publication day when usable, else its fetch
    day. `doc` has the article fields (`published`, `fetched_at`, required by the schema); a
    takedown of an article never indexed is filed by its `removed_at`."""
    fetched = datetime.fromisoformat((doc.get("fetched_at") or doc["removed_at"]).replace("Z", "+00:00")).date()
    published = _day(doc.get("published"))
    if published is not None and EARLIEST <= published <= fetched + FUTURE_TOLERANCE:
        return published.strftime(MONTH_FORMAT)
    return fetched.strftime(MONTH_FORMAT)


def first_index(alias: str, partitioning: str, today: date) -> str:
    """The index made with the alias when there is none yet: `<alias>-v1`, or this month's."""
    return index_name(alias, 1, today.strftime(MONTH_FORMAT) if partitioning == "month" else None)


def months_before(alias: str, names, before: str) -> list[str]:
    """The month indices (any generation) of months earlier than `before` ("YYYY.MM"), oldest
    first: what retention drops. Unpartitioned indices are never chosen."""
    if not re.fullmatch(r"\d{4}\.\d{2}", before):
        raise ValueError(f"month must be YYYY.MM, not {before!r}")
    chosen = [(p.month, n) for n in names if (p := parse_index(alias, n)) and p.month and p.month < before]
    return [n for _, n in sorted(chosen)]


def cutoff_month(today: date, keep_months: int) -> str:
    """The first month kept when the last `keep_months` months (this one included) are kept."""
    if keep_months < 1:
        raise ValueError("keep at least one month")
    index = today.year * 12 + today.month - 1 - (keep_months - 1)
    return f"{index // 12:04d}.{index % 12 + 1:02d}"


def swap_actions(alias: str, old: list[str], new: list[str]) -> list[dict]:
    """One `update_aliases` body that moves the alias from every old index to every new one:
    Elasticsearch applies it atomically, so searches see either generation whole. The newest
    new index is the write index (for writers that address the alias itself)."""
    actions = [{"remove": {"index": name, "alias": alias}} for name in old if name not in new]
    newest = max(new, key=lambda n: parse_index(alias, n) or IndexName(0, None))
    actions += [{"add": {"index": name, "alias": alias, "is_write_index": name == newest}} for name in new]
    return actions


def generation_swap_actions(alias: str, serving, new: list[str]) -> list[dict]:
    """`swap_actions` for a reindex of month indices: the old generations' months are removed by
    pattern (`<alias>-vN-*`), so a month the live index stage created in the alias while the
    new generation was being built leaves the alias in the same atomic step."""
    new_generations = {p.generation for n in new if (p := parse_index(alias, n))}
    old = set()
    for name in serving:
        parsed = parse_index(alias, name)
        if parsed and parsed.month and parsed.generation not in new_generations:
            old.add(f"{alias}-v{parsed.generation}-*")
        else:
            old.add(name)
    return swap_actions(alias, sorted(old), new)


def with_cluster_settings(template: dict, alias: str, shards: int, replicas: int) -> dict:
    """The project's template for this alias, with the shards and replicas of the settings."""
    template = {**template, "index_patterns": [f"{alias}-v*"]}
    inner = {**template["template"]}
    inner["settings"] = {**inner.get("settings", {}), "number_of_shards": shards, "number_of_replicas": replicas}
    template["template"] = inner
    return template
