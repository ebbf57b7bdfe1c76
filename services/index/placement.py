"""Which physical month index each document goes to, when the alias's indices are partitioned
by month (services/index/indices.py has the names and the rule).

An article already indexed stays where it is: its id is looked up in every month index of the
generation with one realtime `mget` (it sees writes not yet refreshed), which also yields the
stored content hash and version the writer compares with. A new article goes to the month of
its publication (or fetch), whose index is created on first use from the project's template.
While a reindex builds the next generation, an article not in it yet goes to the month it is in
in the generation the alias serves, so it keeps its month across the rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from .documents import HISTORY_FIELDS
from .indices import current_generation, index_name, month_of, parse_index
from ..core.logs import get_logger

log = get_logger("newsflow.index.placement")

# Items per mget request (ids x months): bounded so a long history does not make one huge request.
MGET_ITEMS = 10_000


@dataclass
class Layout:
    alias: str
    generation: int
    months: list[str]        # the generation's month indices that exist
    in_alias: bool           # new month indices join the alias (False while a reindex builds them)
    # While a reindex builds a generation: the month indices the alias serves now, so an article
    # lands in the same month it is in there (its month was decided when it was first indexed).
    previous: list[str] = field(default_factory=list)


async def month_layout(es: AsyncElasticsearch, target: str, generation: int | None = None) -> Layout | None:
    """The month layout behind `target` (an alias), or None when it is not partitioned by month
    (a physical index, or an alias of `<alias>-vN` indices). With `generation`, the layout of
    that generation, in the alias or not (a reindex builds the next one beside the alias)."""
    if generation is not None:
        found = await es.indices.get(index=f"{target}-v{generation}-*", allow_no_indices=True, expand_wildcards="all")
        months = [n for n in found if (p := parse_index(target, n)) and p.generation == generation and p.month]
        serving = await month_layout(es, target)
        previous = serving.months if serving is not None and serving.generation != generation else []
        return Layout(target, generation, sorted(months), in_alias=False, previous=previous)
    try:
        names = list((await es.indices.get_alias(name=target)).body)
    except NotFoundError:
        return None
    if not any((p := parse_index(target, n)) and p.month for n in names):
        return None
    generation = current_generation(target, names)
    months = [n for n in names if (p := parse_index(target, n)) and p.generation == generation and p.month]
    return Layout(target, generation, sorted(months), in_alias=True)


async def _find(es: AsyncElasticsearch, layout: Layout, ids: list[str]) -> dict[str, tuple[str, str | None, int, dict]]:
    """id -> (index, content hash, version, history fields) of the ids stored in the layout's months."""
    found: dict[str, tuple[str, str | None, int, dict]] = {}
    docs = [{"_index": index, "_id": doc_id} for index in layout.months for doc_id in ids]
    for start in range(0, len(docs), MGET_ITEMS):
        reply = await es.mget(docs=docs[start:start + MGET_ITEMS], source_includes=HISTORY_FIELDS, realtime=True)
        for doc in reply["docs"]:
            if not doc.get("found"):
                continue
            source = doc.get("_source", {})
            stored = (doc["_index"], source.get("content_hash"), int(doc.get("_version", 0)), source)
            if doc["_id"] in found:  # should never be: say so, and keep the newest
                log.warning("article in more than one month index", article_id=doc["_id"],
                            indices=[found[doc["_id"]][0], stored[0]])
                stored = max(stored, found[doc["_id"]], key=lambda s: s[2])
            found[doc["_id"]] = stored
    return found


async def _create_month(es: AsyncElasticsearch, layout: Layout, name: str) -> None:
    """Create a month index (from the template), in the alias unless a reindex builds it."""
    aliases = {layout.alias: {}} if layout.in_alias else None
    try:
        await es.indices.create(index=name, aliases=aliases)
        log.info("month index created", index=name, alias=layout.alias if layout.in_alias else None)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
        if layout.in_alias:  # made by another replica, maybe not yet in the alias: idempotent
            await es.indices.put_alias(index=name, name=layout.alias)
    layout.months = sorted({*layout.months, name})


async def place(es: AsyncElasticsearch, layout: Layout, actions: list[dict]) -> list[tuple[str, int, dict] | None]:
    """Point each action's `_index` at its article's month index, creating the new months'
    indices; returns each action's stored (content hash, version, history fields), None where
    there is none.
    All actions of one article in the batch go to the same index."""
    ids = list(dict.fromkeys(a["_id"] for a in actions))
    found = await _find(es, layout, ids) if layout.months else {}
    home = {doc_id: stored[0] for doc_id, stored in found.items()}
    missing = [doc_id for doc_id in ids if doc_id not in home]
    if layout.previous and missing:  # a reindex: the month the alias has it in now
        before = await _find(es, Layout(layout.alias, 0, layout.previous, in_alias=True), missing)
        for doc_id, stored in before.items():
            home[doc_id] = index_name(layout.alias, layout.generation, parse_index(layout.alias, stored[0]).month)
    for action in actions:
        if action["_id"] not in home:
            home[action["_id"]] = index_name(layout.alias, layout.generation, month_of(action["_source"]))
    for name in sorted(set(home.values()) - set(layout.months)):
        await _create_month(es, layout, name)
    stored: list[tuple[str, int, dict] | None] = []
    for action in actions:
        action["_index"] = home[action["_id"]]
        hit = found.get(action["_id"])
        stored.append((hit[1], hit[2], hit[3]) if hit else None)
    return stored
