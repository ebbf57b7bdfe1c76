"""Well-known organisations (data/gazetteer.yaml) and non-entities (data/non_entities.yaml)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import regex
import yaml

from .mention import ORG, Mention

_DATA = Path(__file__).with_name("data")
# A name stands alone: no letter or digit glued on either side, except a genitive ending.
_GENITIVE = r"(?:s|'s|’s|')?"


@lru_cache(maxsize=1)
def _organisations() -> tuple[dict[str, int], regex.Pattern]:
    """alias -> group number, and one pattern matching any alias (longest first)."""
    entries = yaml.safe_load((_DATA / "gazetteer.yaml").read_text(encoding="utf-8"))["organizations"]
    group_of: dict[str, int] = {}
    for number, entry in enumerate(entries):
        for alias in [entry] if isinstance(entry, str) else entry:
            group_of.setdefault(alias, number)
    aliases = sorted(group_of, key=len, reverse=True)
    # Nor is it part of a hyphenated compound ("EU-Politik", "Ex-Nokia-Chef"): a compound
    # names something else (GermEval 2014 tags it *part, not the organisation).
    pattern = regex.compile(
        r"(?<![\p{L}\p{N}])(?<!\p{L}-)(?P<n>" + "|".join(regex.escape(a) for a in aliases) + r")" + _GENITIVE
        + r"(?![\p{L}\p{N}])(?!-\p{L})"
    )
    return group_of, pattern


def entry_names() -> list[str]:
    """One name per entry (its first spelling), as the benchmark's ablations call them."""
    group_of, _ = _organisations()
    first: dict[int, str] = {}
    for alias, number in group_of.items():
        first.setdefault(number, alias)
    return [first[n] for n in sorted(first)]


def gazetteer_mentions(text: str, skip: frozenset[str] = frozenset()) -> list[Mention]:
    """ORG mentions of listed names; `skip` holds "gazetteer:<entry>" names left out (benchmark)."""
    group_of, pattern = _organisations()
    skipped = {group_of[name.split(":", 1)[1]] for name in skip if name.startswith("gazetteer:")} & set(group_of.values())
    return [
        Mention(m.group("n"), ORG, m.start("n"), m.end("n"), "gazetteer")
        for m in pattern.finditer(text)
        if group_of[m.group("n")] not in skipped
    ]


def organisation_group(name: str) -> int | None:
    """The gazetteer entry a spelling belongs to, so "WSJ" and "Wall Street Journal" merge."""
    return _organisations()[0].get(name)


@lru_cache(maxsize=None)
def non_entities(language: str) -> frozenset[str]:
    table = yaml.safe_load((_DATA / "non_entities.yaml").read_text(encoding="utf-8"))
    return frozenset(table.get(language, []))
